"""Stateful run: sequences of calls that follow the spec's OpenAPI links (create -> get ->
patch -> search, and back). What a successful create or update answered must be what every
later read of that appointment (a GET, or a search that lists it) returns.

On a sandbox the run books appointments too; on a deployment it never creates (every
appointment it booked would stay), and it changes only the appointments lent with
--allow-writes --appointment-id.
"""

from __future__ import annotations

from typing import Any

import pytest
from huskyvoice_contract_kit.target import Target
from hypothesis import settings

WRITES = ("POST", "PATCH")


def test_what_was_written_is_what_is_read_back(target: Target, stateful_schema: Any,
                                               pytestconfig: pytest.Config) -> None:
    if not target.writes_ok:
        pytest.skip("the stateful run changes appointments: needs a sandbox, or "
                    "--allow-writes with --appointment-id")
    followed: list[str] = []

    class Workflow(stateful_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            if target.is_sandbox:
                target.reset()  # a fresh world per scenario (Schemathesis pitfall P4)
            self.known: dict[str, dict[str, Any]] = {}  # appointment id -> what was written

        def before_call(self, case: Any) -> None:
            if not target.is_sandbox and case.method.upper() == "PATCH":
                # The machine draws ids freely: a deployment's PATCH goes to a lent appointment.
                case.path_parameters["appointment_id"] = target.writable_id
            target.confine(case)

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            if response.status_code not in (200, 201):
                return
            body = response.json()
            method = case.method.upper()
            if method in WRITES and isinstance(body.get("data"), dict):
                self.known[body["data"]["appointment_id"]] = body["data"]
            elif method == "GET":
                self._compare(case.formatted_path, body.get("data"))

        def _compare(self, where: str, data: Any) -> None:
            for read in data if isinstance(data, list) else [data]:
                if not isinstance(read, dict):
                    continue
                written = self.known.get(read.get("appointment_id", ""))
                if written is not None:
                    followed.append(read["appointment_id"])
                    assert read == written, (
                        f"GET {where} reads {read}, but the last successful write of that "
                        f"appointment answered {written}")

    examples = max(10, pytestconfig.getoption("--examples") // 2)
    Workflow.run(settings=settings(Workflow.TestCase.settings, max_examples=examples,
                                   stateful_step_count=6, derandomize=True, database=None))
    assert followed, "the run never read back an appointment it had written"
