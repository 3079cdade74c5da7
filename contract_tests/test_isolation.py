"""Isolation between organizations: another organization's key must not see this one's
appointments (documented: an appointment of another organization is a 404 NOT_FOUND, as if it
did not exist), nor this one's key see theirs.

Against a sandbox the kit uses its default world's second organization (Lakeview Clinic,
sk_test_other_write, five requests a minute) unless --other-key names another, and also checks
that the other key cannot change an appointment. Against a deployment it needs --other-key (a key
of another organization with appointments:read) and sends GET requests only.
"""

from __future__ import annotations

from typing import Any

import pytest
from huskyvoice_contract_kit.coverage import Coverage
from huskyvoice_contract_kit.scenarios import mismatches
from huskyvoice_contract_kit.target import Target
from huskyvoice_sandbox.remote.reply import Reply

SEARCH = "/v1/appointments?limit=200"  # the largest page: one request sees the most
BY_ID = 2  # own appointments read with the other key (the lent one first)
NOT_FOUND = {"status": 404, "code": "NOT_FOUND"}
KIT_NOTE = {"notes": "written with another organization's key"}


def _ids(reply: Reply) -> list[str]:
    body = reply.json
    data = body.get("data") if isinstance(body, dict) else None
    return [a["appointment_id"] for a in data or [] if isinstance(a, dict) and isinstance(a.get("appointment_id"), str)]


class Isolation:
    def __init__(self, target: Target, coverage: Coverage) -> None:
        self.target = target
        self.coverage = coverage
        self.problems: list[str] = []

    def send(self, method: str, path: str, key: str, body: Any = None) -> Reply:
        reply = self.target.patiently(method, path, key=key, body=body)
        self.coverage.record(method, path, reply.status, reply.json)
        return reply

    def expect(self, what: str, method: str, path: str, key: str, expect: dict[str, Any],
               body: Any = None) -> Reply:
        reply = self.send(method, path, key, body)
        found = mismatches(expect, reply, self.coverage.contract, method, path)
        if found:
            self.problems.append(f"{what}: {method} {path}\n    " + "\n    ".join(found) +
                                 f"\n    reproduce: {self.target.curl(method, path, key, body)}"
                                 f"\n    got {reply.status}: {reply.text[:1000]}")
        return reply


def test_another_organization_sees_none_of_this_ones_appointments(target: Target, coverage: Coverage) -> None:
    other = target.other_key
    if not other:
        pytest.skip("needs --other-key (HUSKYVOICE_OTHER_KEY): a key of another organization, "
                    "with appointments:read")
    if target.is_sandbox:
        target.reset()  # the other organization's requests a minute, counted afresh
    check = Isolation(target, coverage)
    own = check.send("GET", SEARCH, target.api_key)
    assert own.status == 200, f"GET {SEARCH} with the kit's key answered {own.status}: {own.text[:500]}"
    ours = list(dict.fromkeys([*target.appointment_ids, *_ids(own)]))
    if not ours:
        pytest.skip("this organization has no appointment to look for: lend one with --appointment-id")

    theirs = check.expect("another organization's search", "GET", SEARCH, other, {"status": 200})
    if theirs.status in (401, 403):
        pytest.fail(f"--other-key was refused ({theirs.status}): the isolation check needs a valid key "
                    f"of another organization, with appointments:read. Got: {theirs.text[:300]}")
    leaked = [i for i in _ids(theirs) if i in ours]
    if leaked:
        check.problems.append(
            f"another organization's search lists {len(leaked)} of this organization's appointments "
            f"({', '.join(leaked[:5])}); if --other-key is a key of this same organization, give one "
            f"of another\n    reproduce: {target.curl('GET', SEARCH, other)}")
    for appointment in ours[:BY_ID]:
        check.expect("this organization's appointment, read with another organization's key",
                     "GET", f"/v1/appointments/{appointment}", other, NOT_FOUND)
    for appointment in [i for i in _ids(theirs) if i not in ours][:1]:
        check.expect("another organization's appointment, read with this organization's key",
                     "GET", f"/v1/appointments/{appointment}", target.api_key, NOT_FOUND)
    if target.is_sandbox:  # a write: never sent to a deployment
        path = f"/v1/appointments/{ours[0]}"
        before = check.send("GET", path, target.api_key)
        check.expect("this organization's appointment, changed with another organization's key",
                     "PATCH", path, other, NOT_FOUND, KIT_NOTE)
        after = check.send("GET", path, target.api_key)
        if before.data != after.data:
            check.problems.append(f"{path} changed after another organization's PATCH was refused: "
                                  f"{before.text[:500]} -> {after.text[:500]}")
    if check.problems:
        pytest.fail("\n\n".join(check.problems), pytrace=False)
