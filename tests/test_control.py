"""The control API under /_sandbox/: reset, world, request journal, clock, health, access.

Every response here goes through the contract-checking test client, which also insists that
control responses are JSON envelopes (the YAML dump of the world is the one exception).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import huskyvoice_sandbox
import pytest
import yaml
from huskyvoice_sandbox.resources import default_world_path
from huskyvoice_sandbox.worlds.world import parse_document

from helpers import REMOTE

WRITE_KEY = "sk_test_demo_write"
WRITE = {"Authorization": f"Bearer {WRITE_KEY}"}
DOC_ID = "appt_a1b2c3d4e5"
ADMIN = "X-Sandbox-Admin-Token"

SMALL_WORLD = """\
version: 1
description: A one-appointment world for the control API tests.
clock: "2026-07-01T08:00:00.000Z"
organizations:
  - id: org_small
    name: Small Clinic
    timezone: Europe/London
    api_keys:
      - {key: sk_test_small, scopes: [appointments:read, appointments:write]}
    services:
      - {id: 11111111-2222-4333-8444-555555555555, name: Checkup}
    branches:
      - {id: small_branch, name: Only Branch}
    calendar_windows:
      - {id: small_window, branch_id: small_branch, day: wednesday, session: Morning, batch: M1,
         start_time: "09:00", end_time: "12:00", max_slots: 2, ai_slots: 1}
    appointments:
      - {appointment_id: appt_small_1, appointment_type: 11111111-2222-4333-8444-555555555555,
         branch_id: small_branch, date: "2026-07-01", session: Morning, batch: M1,
         patient_name: Sam, parent_phone: "+441234", status: confirmed,
         created_at: "2026-06-30T08:00:00.000Z", updated_at: "2026-06-30T08:00:00.000Z"}
"""
SMALL = {"Authorization": "Bearer sk_test_small"}


def data(response) -> Any:
    body = response.get_json()
    assert body["success"] is True, body
    return body["data"]


def error(response) -> dict[str, Any]:
    body = response.get_json()
    assert body["success"] is False, body
    return body["error"]


def get_doc(client) -> dict[str, Any]:
    response = client.get(f"/v1/appointments/{DOC_ID}", headers=WRITE)
    assert response.status_code == 200
    return data(response)


def patch_doc(client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.patch(f"/v1/appointments/{DOC_ID}", json=body, headers=WRITE)
    assert response.status_code == 200, response.get_json()
    return data(response)


# -- reset ------------------------------------------------------------------------------------

def test_reset_undoes_patches_and_the_clock(client, dump) -> None:
    original = dump(client)
    patch_doc(client, {"appointment_date": "2026-06-15T14:30:00.000Z", "notes": "moved"})
    assert client.put("/_sandbox/clock", json={"now": "2027-01-01T00:00:00.000Z"}).status_code == 200
    assert dump(client) != original

    response = client.post("/_sandbox/reset")
    assert response.status_code == 200
    summary = data(response)
    assert summary["organizations"] == 2 and summary["appointments"] == 10
    assert summary["clock"] == {"now": "2026-05-26T11:00:00.000Z", "frozen": True}
    assert dump(client) == original
    assert get_doc(client)["session"] == "Morning"


def test_reset_clears_rate_limit_history(make_client) -> None:
    client = make_client()
    other = {"Authorization": "Bearer sk_test_other_write"}
    codes = [client.get("/v1/appointments/appt_9z8y7x6w5v", headers=other).status_code
             for _ in range(6)]
    assert codes == [200] * 5 + [429]
    assert client.post("/_sandbox/reset").status_code == 200
    assert client.get("/v1/appointments/appt_9z8y7x6w5v", headers=other).status_code == 200


def test_reset_returns_to_the_world_last_put_not_the_first(client, dump) -> None:
    assert client.put("/_sandbox/world", data=SMALL_WORLD,
                      content_type="application/yaml").status_code == 200
    loaded = dump(client)
    response = client.patch("/v1/appointments/appt_small_1", json={"status": "cancelled"},
                            headers=SMALL)
    assert response.status_code == 200
    assert client.put("/_sandbox/clock", json={"advance_seconds": 3600}).status_code == 200

    assert client.post("/_sandbox/reset").status_code == 200
    assert dump(client) == loaded
    again = client.get("/v1/appointments/appt_small_1", headers=SMALL)
    assert data(again)["status"] == "confirmed"
    assert client.get(f"/v1/appointments/{DOC_ID}", headers=WRITE).status_code == 401


# -- replacing and reading the world ----------------------------------------------------------

@pytest.mark.parametrize("content_type", ["application/yaml", "application/x-yaml", "text/yaml"])
def test_put_world_as_yaml_replaces_the_world(client, dump, content_type) -> None:
    response = client.put("/_sandbox/world", data=SMALL_WORLD, content_type=content_type)
    assert response.status_code == 200
    summary = data(response)
    assert (summary["organizations"], summary["appointments"]) == (1, 1)
    assert summary["clock"] == {"now": "2026-07-01T08:00:00.000Z", "frozen": True}

    assert client.get(f"/v1/appointments/{DOC_ID}", headers=WRITE).status_code == 401
    small = client.get("/v1/appointments/appt_small_1", headers=SMALL)
    assert small.status_code == 200 and data(small)["patient_name"] == "Sam"
    world = dump(client)
    assert [o["id"] for o in world["organizations"]] == ["org_small"]
    assert world["description"] == "A one-appointment world for the control API tests."


def test_put_world_as_json_replaces_the_world(client, dump) -> None:
    document = parse_document(SMALL_WORLD, "small")
    response = client.put("/_sandbox/world", data=json.dumps(document),
                          content_type="application/json; charset=utf-8")
    assert response.status_code == 200
    assert [o["id"] for o in dump(client)["organizations"]] == ["org_small"]
    assert client.get("/v1/appointments/appt_small_1", headers=SMALL).status_code == 200


def test_put_world_then_patch_uses_the_new_worlds_rules(client) -> None:
    """The new world's timezone and windows apply: 09:30 London (BST) is 08:30 UTC."""
    assert client.put("/_sandbox/world", data=SMALL_WORLD,
                      content_type="application/yaml").status_code == 200
    moved = client.patch("/v1/appointments/appt_small_1",
                         json={"appointment_date": "2026-07-08T08:30:00.000Z"}, headers=SMALL)
    assert moved.status_code == 200
    assert (data(moved)["date"], data(moved)["updated_at"]) == ("2026-07-08", "2026-07-01T08:00:00.000Z")
    early = client.patch("/v1/appointments/appt_small_1",
                         json={"appointment_date": "2026-07-08T07:30:00.000Z"}, headers=SMALL)
    assert (early.status_code, error(early)["code"]) == (422, "OUTSIDE_AVAILABILITY")


def bad_world_text() -> str:
    document = parse_document(default_world_path().read_bytes(), "default")
    document["organizations"][0]["appointments"][3]["branch_id"] = "x"
    document["organizations"][0]["calendar_windows"][0]["ai_slots"] = 99
    document["organizations"][1]["timezone"] = "Nowhere/Land"
    return yaml.safe_dump(document, sort_keys=False)


@pytest.mark.parametrize("content_type", ["application/yaml", "application/json"])
def test_bad_world_gets_400_with_every_problem_and_the_old_world_keeps_serving(
        client, dump, content_type) -> None:
    patch_doc(client, {"notes": "kept", "assigned_doctor": "Dr. Kept"})
    before = dump(client)
    text = bad_world_text()
    body = text if content_type == "application/yaml" else json.dumps(yaml.safe_load(text))

    response = client.put("/_sandbox/world", data=body, content_type=content_type)
    assert response.status_code == 400
    err = error(response)
    assert err["code"] == "INVALID_WORLD"
    assert "3 problems" in err["message"]
    assert sorted(f"{d['location']}: {d['message']}" for d in err["details"]) == sorted([
        "organizations[0].appointments[3].branch_id: unknown branch 'x'",
        "organizations[0].calendar_windows[0].ai_slots: ai_slots (99) exceeds max_slots (20)",
        "organizations[1].timezone: unknown timezone 'Nowhere/Land' (use an IANA name such as "
        "UTC or Asia/Kolkata)",
    ])

    assert dump(client) == before  # not replaced, and not reset either
    assert get_doc(client)["assigned_doctor"] == "Dr. Kept"
    assert client.post("/_sandbox/reset").status_code == 200
    assert get_doc(client)["assigned_doctor"] is None  # reset still goes to the old world


def test_world_with_yaml_syntax_error_gets_400_located_by_line(client, dump) -> None:
    before = dump(client)
    response = client.put("/_sandbox/world", data="version: 1\norganizations: [\n",
                          content_type="application/yaml")
    assert response.status_code == 400
    err = error(response)
    assert err["code"] == "INVALID_WORLD"
    [detail] = err["details"]
    assert detail["location"].startswith("line ")
    assert "not valid YAML" in detail["message"]
    assert dump(client) == before


@pytest.mark.parametrize("body", ["", "null", "[]", "version: 1\n"], ids=repr)
def test_empty_or_shapeless_world_gets_400(client, dump, body) -> None:
    before = dump(client)
    response = client.put("/_sandbox/world", data=body, content_type="application/yaml")
    assert response.status_code == 400
    assert error(response)["code"] == "INVALID_WORLD"
    assert error(response)["details"]
    assert dump(client) == before


def test_world_in_another_media_type_gets_400(client, dump) -> None:
    before = dump(client)
    response = client.put("/_sandbox/world", data=SMALL_WORLD, content_type="text/plain")
    assert response.status_code == 400
    err = error(response)
    assert err["code"] == "VALIDATION_ERROR"
    assert [d["location"] for d in err["details"]] == ["header.Content-Type"]
    assert dump(client) == before


def test_get_world_is_the_current_state_as_a_world_document(client, dump) -> None:
    patch_doc(client, {"notes": "Patient requested morning slot"})
    response = client.get("/_sandbox/world")
    assert response.status_code == 200 and response.mimetype == "application/json"
    world = data(response)
    assert world["version"] == 1
    assert world["clock"] == "2026-05-26T11:00:00.000Z"
    assert [o["id"] for o in world["organizations"]] == ["org_demo", "org_lakeview"]
    documented = next(a for a in world["organizations"][0]["appointments"]
                      if a["appointment_id"] == DOC_ID)
    assert documented["notes"] == "Patient requested morning slot"
    keys = [k["key"] for k in world["organizations"][0]["api_keys"]]
    assert "YOUR_API_KEY" in keys and WRITE_KEY in keys


def test_get_world_as_yaml_by_query_or_accept_header(client, dump) -> None:
    for response in (client.get("/_sandbox/world?format=yaml"),
                     client.get("/_sandbox/world", headers={"Accept": "application/yaml"})):
        assert response.status_code == 200
        assert response.mimetype == "application/yaml"
        assert parse_document(response.get_data(), "dump") == dump(client)


# -- the request journal ----------------------------------------------------------------------

def test_journal_records_requests_with_masked_keys_newest_last(client) -> None:
    patch_doc(client, {"notes": "hello"})
    client.get("/v1/appointments/appt_zzzzzzzzzz", headers=WRITE)
    client.get(f"/v1/appointments/{DOC_ID}", headers={"Authorization": "Bearer sk_test_not_a_real_key"})
    client.patch(f"/v1/appointments/{DOC_ID}", json={"status": "rescheduled"}, headers=WRITE)
    client.get(f"/v1/appointments/{DOC_ID}")

    response = client.get("/_sandbox/requests")
    assert response.status_code == 200
    entries = data(response)
    summary = [(e["method"], e["path"], e["response"]["status"], e["response"]["code"])
               for e in entries]
    assert summary == [
        ("PATCH", f"/v1/appointments/{DOC_ID}", 200, None),
        ("GET", "/v1/appointments/appt_zzzzzzzzzz", 404, "NOT_FOUND"),
        ("GET", f"/v1/appointments/{DOC_ID}", 401, "UNAUTHORIZED"),
        ("PATCH", f"/v1/appointments/{DOC_ID}", 400, "VALIDATION_ERROR"),
        ("GET", f"/v1/appointments/{DOC_ID}", 401, "UNAUTHORIZED"),
    ]
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert entries[0]["request"]["body"] == {"notes": "hello"}
    assert entries[0]["response"]["body"]["data"]["appointment_id"] == DOC_ID
    assert entries[4]["key"] is None

    masked = [e["key"] for e in entries[:4]]
    assert all(masked), masked
    text = response.get_data(as_text=True)
    for full in (WRITE_KEY, "sk_test_not_a_real_key"):
        assert full not in text
        assert json.dumps(full) not in text
    assert masked[0] != masked[2]  # still enough to tell keys apart
    for shown, full in zip(masked, [WRITE_KEY, WRITE_KEY, "sk_test_not_a_real_key", WRITE_KEY], strict=True):
        assert shown != full and len(shown.replace("\u2026", "")) < len(full)


def test_journal_limit_returns_the_newest(client) -> None:
    for suffix in "abc":
        client.get(f"/v1/appointments/appt_{suffix}", headers=WRITE)
    entries = data(client.get("/_sandbox/requests?limit=2"))
    assert [e["path"] for e in entries] == ["/v1/appointments/appt_b", "/v1/appointments/appt_c"]


def test_journal_is_bounded_by_journal_size(make_client) -> None:
    client = make_client(journal_size=3)
    for n in range(7):
        client.get(f"/v1/appointments/appt_{n}", headers=WRITE)
    entries = data(client.get("/_sandbox/requests"))
    assert [e["path"] for e in entries] == [f"/v1/appointments/appt_{n}" for n in (4, 5, 6)]


def test_delete_clears_the_journal(client) -> None:
    for _ in range(3):
        client.get(f"/v1/appointments/{DOC_ID}", headers=WRITE)
    response = client.delete("/_sandbox/requests")
    assert response.status_code == 200
    assert data(response) == {"cleared": 3}
    assert data(client.get("/_sandbox/requests")) == []
    client.get(f"/v1/appointments/{DOC_ID}", headers=WRITE)
    assert len(data(client.get("/_sandbox/requests"))) == 1


# -- the clock --------------------------------------------------------------------------------

def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def test_clock_starts_at_the_worlds_clock(client) -> None:
    response = client.get("/_sandbox/clock")
    assert response.status_code == 200
    assert data(response) == {"now": "2026-05-26T11:00:00.000Z", "frozen": True}


def test_frozen_clock_sets_updated_at(client) -> None:
    response = client.put("/_sandbox/clock", json={"now": "2026-06-01T09:15:30.250Z"})
    assert response.status_code == 200
    assert data(response) == {"now": "2026-06-01T09:15:30.250Z", "frozen": True}
    assert data(client.get("/_sandbox/clock"))["now"] == "2026-06-01T09:15:30.250Z"
    assert patch_doc(client, {"notes": "a"})["updated_at"] == "2026-06-01T09:15:30.250Z"


def test_clock_accepts_plus_zero_offset(client) -> None:
    response = client.put("/_sandbox/clock", json={"now": "2026-06-01T09:00:00+00:00"})
    assert response.status_code == 200
    assert data(response)["now"] == "2026-06-01T09:00:00.000Z"


def test_advance_seconds_moves_a_frozen_clock(client) -> None:
    response = client.put("/_sandbox/clock", json={"advance_seconds": 90})
    assert response.status_code == 200
    assert data(response) == {"now": "2026-05-26T11:01:30.000Z", "frozen": True}
    assert patch_doc(client, {"notes": "b"})["updated_at"] == "2026-05-26T11:01:30.000Z"
    back = client.put("/_sandbox/clock", json={"advance_seconds": -30.5})
    assert data(back)["now"] == "2026-05-26T11:00:59.500Z"


def test_now_null_returns_to_real_time(client) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    response = client.put("/_sandbox/clock", json={"now": None})
    assert response.status_code == 200
    assert data(response)["frozen"] is False
    stamp = patch_doc(client, {"notes": "c"})["updated_at"]
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert before <= parse_stamp(data(response)["now"]) <= after
    assert before <= parse_stamp(stamp) <= after
    assert data(client.get("/_sandbox/clock"))["frozen"] is False


BAD_CLOCK_BODIES = [
    ({}, "body"),
    ({"now": "2026-06-15"}, "body.now"),
    ({"now": "2026-06-15T09:00:00"}, "body.now"),
    ({"now": "2026-06-15T09:00:00+05:30"}, "body.now"),
    ({"now": "2026-13-45T09:00:00Z"}, "body.now"),
    ({"now": 1718442000}, "body.now"),
    ({"advance_seconds": "60"}, "body.advance_seconds"),
    ({"advance_seconds": True}, "body.advance_seconds"),
    ({"advance_seconds": None}, "body.advance_seconds"),
    ({"now": None, "advance_seconds": 1}, "body"),
    (["now"], "body"),
    (None, "body"),
]


@pytest.mark.parametrize("body, location", BAD_CLOCK_BODIES, ids=[json.dumps(b[0]) for b in BAD_CLOCK_BODIES])
def test_bad_clock_input_gets_400_and_leaves_the_clock(client, body, location) -> None:
    response = client.put("/_sandbox/clock", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    err = error(response)
    assert err["code"] == "VALIDATION_ERROR"
    assert location in [d["location"] for d in err["details"]]
    assert data(client.get("/_sandbox/clock")) == {"now": "2026-05-26T11:00:00.000Z", "frozen": True}


@pytest.mark.parametrize("raw, content_type", [("not json", "application/json"),
                                               ('{"now": null}', "text/plain")])
def test_clock_body_must_be_json(client, raw, content_type) -> None:
    response = client.put("/_sandbox/clock", data=raw, content_type=content_type)
    assert response.status_code == 400
    assert error(response)["code"] == "VALIDATION_ERROR"


def test_advancing_a_real_time_clock_gets_400(client) -> None:
    assert client.put("/_sandbox/clock", json={"now": None}).status_code == 200
    response = client.put("/_sandbox/clock", json={"advance_seconds": 60})
    assert response.status_code == 400
    assert [d["location"] for d in error(response)["details"]] == ["body.advance_seconds"]


@pytest.mark.parametrize("start, seconds", [
    (None, 1e20),
    ("9999-12-31T23:59:00.000Z", 120),
    ("0001-01-01T00:00:30.000Z", -60),
], ids=["huge", "past-9999", "before-year-1"])
def test_advance_out_of_range_gets_400(client, start, seconds) -> None:
    if start:
        assert client.put("/_sandbox/clock", json={"now": start}).status_code == 200
    response = client.put("/_sandbox/clock", json={"advance_seconds": seconds})
    assert response.status_code == 400
    assert error(response)["code"] == "VALIDATION_ERROR"


# -- health -----------------------------------------------------------------------------------

def test_health(client) -> None:
    response = client.get("/_sandbox/health")
    assert response.status_code == 200
    health = data(response)
    assert health["status"] == "ok"
    assert health["version"] == huskyvoice_sandbox.__version__
    assert (health["organizations"], health["appointments"]) == (2, 10)
    assert health["clock"] == {"now": "2026-05-26T11:00:00.000Z", "frozen": True}


# -- access control ---------------------------------------------------------------------------

CONTROL_REQUESTS = [
    ("GET", "/_sandbox/health", {}),
    ("POST", "/_sandbox/reset", {}),
    ("GET", "/_sandbox/world", {}),
    ("PUT", "/_sandbox/world", {"data": SMALL_WORLD, "content_type": "application/yaml"}),
    ("GET", "/_sandbox/requests", {}),
    ("DELETE", "/_sandbox/requests", {}),
    ("GET", "/_sandbox/clock", {}),
    ("PUT", "/_sandbox/clock", {"json": {"now": None}}),
]
CONTROL_IDS = [f"{m} {p}" for m, p, _ in CONTROL_REQUESTS]


@pytest.mark.parametrize("method, path, kwargs", CONTROL_REQUESTS, ids=CONTROL_IDS)
def test_remote_clients_are_refused_without_admin_token(client, dump, method, path, kwargs) -> None:
    before = dump(client)
    response = client.open(path, method=method, environ_base=REMOTE, **kwargs)
    assert response.status_code == 403
    assert error(response)["code"] == "FORBIDDEN"
    assert dump(client) == before


def test_remote_clients_still_get_the_api(client) -> None:
    response = client.get(f"/v1/appointments/{DOC_ID}", headers=WRITE, environ_base=REMOTE)
    assert response.status_code == 200


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "::1"])
def test_loopback_clients_are_served(client, address) -> None:
    response = client.get("/_sandbox/health", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200


def test_ipv4_mapped_loopback_client_is_served(client) -> None:
    response = client.get("/_sandbox/health", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"})
    assert response.status_code == 200


@pytest.fixture
def token_client(make_client):
    return make_client(admin_token="t0ken-s3cret")


@pytest.mark.parametrize("method, path, kwargs", CONTROL_REQUESTS, ids=CONTROL_IDS)
def test_with_admin_token_every_control_request_needs_it_even_from_loopback(
        token_client, method, path, kwargs) -> None:
    for headers in ({}, {ADMIN: "wrong"}, {ADMIN: "t0ken-s3cret "}, {ADMIN: ""}):
        response = token_client.open(path, method=method, headers=headers, **kwargs)
        assert response.status_code == 403, headers
        assert error(response)["code"] == "FORBIDDEN"
    response = token_client.open(path, method=method, headers={ADMIN: "t0ken-s3cret"}, **kwargs)
    assert response.status_code == 200


def test_remote_client_with_admin_token_is_served(token_client) -> None:
    ok = {ADMIN: "t0ken-s3cret"}
    response = token_client.put("/_sandbox/world", data=SMALL_WORLD, content_type="application/yaml",
                                headers=ok, environ_base=REMOTE)
    assert response.status_code == 200
    world = token_client.get("/_sandbox/world", headers=ok, environ_base=REMOTE)
    assert [o["id"] for o in data(world)["organizations"]] == ["org_small"]
    refused = token_client.get("/_sandbox/world", environ_base=REMOTE)
    assert refused.status_code == 403


def test_admin_token_does_not_guard_the_api(token_client) -> None:
    assert token_client.get(f"/v1/appointments/{DOC_ID}", headers=WRITE).status_code == 200


# -- --control-from: networks the operator opens the control features to -------------------------

BRIDGE = {"REMOTE_ADDR": "10.88.0.1"}  # the host, as a container on podman's bridge sees it
ELSEWHERE = {"REMOTE_ADDR": "192.168.7.20"}


@pytest.mark.parametrize("method, path, kwargs", CONTROL_REQUESTS, ids=CONTROL_IDS)
def test_control_from_a_network_serves_it_and_loopback_and_no_one_else(
        make_client, dump, method, path, kwargs) -> None:
    client = make_client(control_from=["10.88.0.0/16"])
    before = dump(client)
    refused = client.open(path, method=method, environ_base=ELSEWHERE, **kwargs)
    assert refused.status_code == 403
    assert error(refused)["message"] == ("The control API is served only to loopback clients and to "
                                         "10.88.0.0/16; this client is 192.168.7.20.")
    assert dump(client) == before  # refused: nothing changed
    for peer in (BRIDGE, {"REMOTE_ADDR": "127.0.0.1"}):
        assert client.open(path, method=method, environ_base=peer, **kwargs).status_code == 200


@pytest.mark.parametrize("networks, served, refused", [
    (["any"], ["10.88.0.1", "192.168.7.20", "2001:db8::1", "::ffff:10.1.2.3"], []),
    (["10.88.0.1, 172.17.0.0/16"], ["10.88.0.1", "172.17.3.4"], ["10.88.0.2", "172.18.0.1"]),
    (["10.88.0.1", "fd00::/8"], ["10.88.0.1", "fd00::5", "::ffff:10.88.0.1"], ["fe80::1", "10.0.0.1"]),
])
def test_control_from_takes_addresses_networks_and_any(make_client, networks, served, refused) -> None:
    client = make_client(control_from=networks)
    for address in served:
        assert client.get("/_sandbox/health", environ_base={"REMOTE_ADDR": address}).status_code == 200, address
    for address in refused:
        assert client.get("/_sandbox/health", environ_base={"REMOTE_ADDR": address}).status_code == 403, address


def test_control_from_and_an_admin_token_need_both(make_client) -> None:
    client = make_client(admin_token="t0ken-s3cret", control_from=["10.88.0.0/16"])
    ok = {ADMIN: "t0ken-s3cret"}
    assert client.get("/_sandbox/health", headers=ok, environ_base=BRIDGE).status_code == 200
    assert client.get("/_sandbox/health", headers=ok).status_code == 200  # loopback, with the token
    assert client.get("/_sandbox/health", environ_base=BRIDGE).status_code == 403  # no token
    elsewhere = client.get("/_sandbox/health", headers=ok, environ_base=ELSEWHERE)
    assert elsewhere.status_code == 403 and "10.88.0.0/16" in error(elsewhere)["message"]


def test_control_from_opens_the_force_header_too(make_client) -> None:
    client = make_client(control_from=["10.88.0.0/16"])
    forced = client.get(f"/v1/appointments/{DOC_ID}", headers={**WRITE, "X-Sandbox-Force": "status=500"},
                        environ_base=BRIDGE)
    assert forced.status_code == 500
    refused = client.get(f"/v1/appointments/{DOC_ID}", headers={**WRITE, "X-Sandbox-Force": "status=500"},
                         environ_base=ELSEWHERE)
    assert refused.status_code == 400
    assert error(refused)["details"] == [{"location": "header.X-Sandbox-Force", "message": "is a control feature"}]


@pytest.mark.parametrize("networks", [["localhost"], ["10.88.0.0/33"], ["any,nope"], ["10.0.0.1/8/2"]])
def test_a_bad_control_from_is_refused_when_the_app_is_made(make_app, networks) -> None:
    with pytest.raises(ValueError, match="is not an address, a network .* or 'any'"):
        make_app(control_from=networks)


# -- envelopes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/_sandbox/nope", 404, "NOT_FOUND"),
    ("POST", "/_sandbox/health", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/_sandbox/reset", 405, "METHOD_NOT_ALLOWED"),
    ("DELETE", "/_sandbox/world", 405, "METHOD_NOT_ALLOWED"),
])
def test_control_errors_are_json_envelopes(client, method, path, status, code) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert error(response)["code"] == code
    if status == 405:
        assert method not in response.headers["Allow"]


# -- limits and parameters --------------------------------------------------------------------

def test_put_world_accepts_a_world_larger_than_an_api_request_body(client) -> None:
    document = yaml.safe_load(default_world_path().read_text(encoding="utf-8"))
    document["organizations"][0]["calendar_windows"][0]["ai_slots"] = 2000
    document["organizations"][0]["calendar_windows"][0]["max_slots"] = 2000
    seed = document["organizations"][0]["appointments"][0]
    document["organizations"][0]["appointments"] += [
        {**seed, "appointment_id": f"appt_bulk{i:05d}", "patient_name": f"Bulk {i}",
         "parent_phone": f"+91{i:010d}"} for i in range(1000)]
    body = json.dumps(document)
    assert len(body) > 64 * 1024
    response = client.put("/_sandbox/world", data=body, content_type="application/json")
    assert response.status_code == 200, response.get_json()
    assert data(response)["appointments"] == 1010


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5"])
def test_journal_limit_must_be_a_positive_integer(client, limit) -> None:
    response = client.get(f"/_sandbox/requests?limit={limit}")
    assert response.status_code == 400
    assert error(response)["details"][0]["location"] == "query.limit"


@pytest.mark.parametrize("key", ["YOUR_API_KEY", "sk_test_demo_write", "abcdefghi", "k1"])
def test_journal_shows_at_most_a_third_of_a_key(client, key) -> None:
    client.get("/v1/appointments/appt_a1b2c3d4e5", headers={"Authorization": f"Bearer {key}"})
    masked = data(client.get("/_sandbox/requests?limit=1"))[0]["key"]
    visible = masked.replace("…", "")
    assert key not in masked
    assert len(visible) <= len(key) / 3


@pytest.mark.parametrize("now", ["20260615T093000Z", "2026-W25-1T09:30Z", "2026-06-15T09Z",
                                 "2026-06-15T09:30:00+05:30", "2026-06-15"])
def test_clock_takes_only_the_api_s_utc_datetime_form(client, now) -> None:
    response = client.put("/_sandbox/clock", json={"now": now})
    assert response.status_code == 400
    assert error(response)["details"][0]["location"] == "body.now"


def test_every_control_route_is_described_by_the_control_spec_and_back(app) -> None:
    """/_sandbox/openapi.yaml describes the control API: its operations are the routes served."""
    from helpers import control_contract

    served = {(method, rule.rule.replace("<", "{").replace(">", "}"))
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/_sandbox/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(op.method, op.path) for op in control_contract().operations.values()}
    assert served == described


def test_the_control_spec_is_served_and_valid(client) -> None:
    from openapi_spec_validator import validate

    response = client.get("/_sandbox/openapi.yaml")
    assert response.status_code == 200 and "yaml" in response.mimetype
    validate(yaml.safe_load(response.get_data(as_text=True)))
