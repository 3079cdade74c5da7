"""Adding appointments to a live session (POST /_sandbox/appointments, the plugin's
add_appointments), and the world format they share: the cancellation settings, window
timestamps and appointment start times, checked by `huskyvoice-sandbox validate`, dumped by
GET /_sandbox/world and loaded back by PUT /_sandbox/world.

The default world's Monday 2026-06-15 (org_demo, UTC): Morning MA 09:00-11:00 (10 API places,
Aadhi holds one), Morning MB 11:00-12:00 (2 places, free), Tuesday 2026-06-16 Morning MA full.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from huskyvoice_sandbox.testing.pytest_plugin import SandboxControlError

from helpers import DOC_ID, WRITE_KEY, appointment_in, error_of

CHECKUP = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
FOLLOW_UP = "6f1c2b9a-3d4e-4f5a-8b7c-9d0e1f2a3b4c"
CLOCK = "2026-05-26T11:00:00.000Z"  # the default world's frozen clock
MONDAY = "2026-06-15"
SESSION = "X-Sandbox-Session"
AUTH = {"Authorization": f"Bearer {WRITE_KEY}"}

Dump = Callable[[FlaskClient], dict[str, Any]]


def new(appointment_id: str, **fields: Any) -> dict[str, Any]:
    """A new org_demo appointment as a world file writes it: Monday 2026-06-15 Morning MA."""
    return {"appointment_id": appointment_id, "appointment_type": CHECKUP,
            "branch_id": "branch_uuid_here", "date": MONDAY, "session": "Morning", "batch": "MA",
            "patient_name": f"Patient {appointment_id}", "parent_phone": f"+1-{appointment_id}",
            **fields}


def add(client: FlaskClient, appointments: list[dict[str, Any]], organization: str = "org_demo",
        session: str | None = None) -> Any:
    headers = {SESSION: session} if session else {}
    return client.post("/_sandbox/appointments", headers=headers,
                       json={"organization": organization, "appointments": appointments})


def added(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is True
    assert body["data"]["added"] == len(body["data"]["appointments"])
    return body["data"]["appointments"]


def get(client: FlaskClient, appointment_id: str, session: str | None = None) -> Any:
    headers = {**AUTH, **({SESSION: session} if session else {})}
    return client.get(f"/v1/appointments/{appointment_id}", headers=headers)


def found(client: FlaskClient, query: str) -> list[str]:
    response = client.get(f"/v1/appointments?{query}", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [a["appointment_id"] for a in response.get_json()["data"]]


def filled(client: FlaskClient, day: str = MONDAY) -> dict[str, int]:
    response = client.get(f"/v1/appointment-slots/availability?date={day}", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {f"{s['session']} {s['batch']}": s["filled_slots"] for s in response.get_json()["slots"]}


def problems(response: Any) -> list[str]:
    """The located problems of a refused add, as 'location: message' lines."""
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert "none was added" in error["message"] or "JSON" in error["message"]
    return [f"{d['location']}: {d['message']}" for d in error["details"]]


def listed(lines: list[str], location: str, fragment: str) -> None:
    assert any(line.startswith(f"{location}: ") and fragment in line[len(location) + 2:]
               for line in lines), f"no problem at {location!r} mentioning {fragment!r} in {lines}"


# -- 1. adding to a session ---------------------------------------------------------------------

def test_added_appointments_come_back_as_world_documents(client) -> None:
    appointments = added(add(client, [new("appt_new_1"),
                                      new("appt_new_2", start_time="2026-06-15T10:15:00.000Z",
                                          status="rescheduled", notes="seeded")]))
    assert [a["appointment_id"] for a in appointments] == ["appt_new_1", "appt_new_2"]
    first, second = appointments
    assert first == {**new("appt_new_1"), "token": None, "assigned_doctor": None, "notes": None,
                     "status": "confirmed", "external_reference_id": None,
                     "start_time": "2026-06-15T09:00:00.000Z",  # the window's start
                     "created_at": CLOCK, "updated_at": CLOCK}
    assert (second["start_time"], second["status"], second["notes"]) == \
        ("2026-06-15T10:15:00.000Z", "rescheduled", "seeded")


def test_adding_keeps_the_world_and_only_adds(client, dump: Dump) -> None:
    before = dump(client)
    one = added(add(client, [new("appt_new_1", created_at="2026-05-01T00:00:00.000Z")]))[0]
    after = dump(client)
    demo = after["organizations"][0]
    assert demo["appointments"][-1] == one
    demo["appointments"].pop()
    assert after == before
    assert one["updated_at"] == "2026-05-01T00:00:00.000Z"  # defaults to created_at


def test_added_appointments_are_readable_searchable_and_hold_places(client) -> None:
    before = filled(client)
    added(add(client, [new("appt_new_1"), new("appt_new_2", batch="MB", session="Morning")]))
    data = get(client, "appt_new_1").get_json()["data"]
    assert (data["status"], data["session"], data["batch"]) == ("confirmed", "Morning", "MA")
    assert get(client, "appt_new_2").status_code == 200
    assert {"appt_new_1", "appt_new_2"} <= set(found(client, f"date={MONDAY}"))
    assert "appt_new_2" in found(client, "batch=MB")
    after = filled(client)
    assert (after["Morning MA"], after["Morning MB"]) == (before["Morning MA"] + 1, before["Morning MB"] + 1)


def test_an_added_appointment_takes_part_in_the_rules(client) -> None:
    # Morning MB has 2 API places: two added ones fill it for the API.
    added(add(client, [new("appt_mb_1", batch="MB"), new("appt_mb_2", batch="MB")]))
    move = {"appointment_date": "2026-06-15T11:30:00.000Z"}
    error_of(client.patch(f"/v1/appointments/{DOC_ID}", json=move, headers=AUTH), 409, "SLOT_FULL")


def test_another_session_does_not_see_them(client) -> None:
    added(add(client, [new("appt_new_1")], session="a"))
    assert get(client, "appt_new_1", session="a").status_code == 200
    error_of(get(client, "appt_new_1"), 404, "NOT_FOUND")
    error_of(get(client, "appt_new_1", session="b"), 404, "NOT_FOUND")
    # Each session checks its own appointments: the id is free in session b.
    added(add(client, [new("appt_new_1", patient_name="Someone else")], session="b"))


def test_reset_removes_them(client, dump: Dump) -> None:
    pristine = dump(client)
    added(add(client, [new("appt_new_1")]))
    assert client.post("/_sandbox/reset").status_code == 200
    error_of(get(client, "appt_new_1"), 404, "NOT_FOUND")
    assert dump(client) == pristine


def test_snapshots_keep_them(client) -> None:
    added(add(client, [new("appt_new_1")]))
    saved = client.post("/_sandbox/snapshots", json={"name": "seeded"})
    assert saved.status_code == 201
    assert saved.get_json()["data"]["appointments"] == 11
    client.post("/_sandbox/reset")
    error_of(get(client, "appt_new_1"), 404, "NOT_FOUND")
    assert client.post("/_sandbox/snapshots/seeded/restore").status_code == 200
    assert get(client, "appt_new_1").status_code == 200


# -- 2. all or nothing, every problem located ---------------------------------------------------

def without(item: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != name}


BAD_ITEMS = {  # a bad second item after a good one: (the item, the location, a message fragment)
    "unknown branch": (new("appt_bad", branch_id="nowhere"),
                       "body.appointments[1].branch_id", "unknown branch 'nowhere'"),
    "unknown service": (new("appt_bad", appointment_type="Massage"),
                        "body.appointments[1].appointment_type", "unknown service"),
    "missing field": (without(new("appt_bad"), "patient_name"),
                      "body.appointments[1].patient_name", "is required"),
    "impossible date": (new("appt_bad", date="2026-02-30"), "body.appointments[1].date", "2026-02-30"),
    "start_time without a zone": (new("appt_bad", start_time="2026-06-15T09:30:00"),
                                  "body.appointments[1].start_time", "2026-06-15T09:30:00"),
    "unknown field": (new("appt_bad", colour="red"), "body.appointments[1]", "unknown field 'colour'"),
    "bad status": (new("appt_bad", status="pending"), "body.appointments[1].status", "pending"),
    "an id in the world": (new(DOC_ID, patient_name="Zed"), "body.appointments[1].appointment_id",
                           "already in the session"),
    "another organization's id": (new("appt_9z8y7x6w5v", patient_name="Zed"),
                                  "body.appointments[1].appointment_id", "already in the session"),
    "a full window": (new("appt_bad", date="2026-06-16"), "body.appointments[1]", "SLOT_FULL"),
    "a duplicate booking": (new("appt_bad", patient_name="Aadhi", parent_phone="+919840XXXXXX"),
                            "body.appointments[1]", "DUPLICATE_BOOKING"),
    "no window that day": (new("appt_bad", date="2026-06-20"), "body.appointments[1]",
                           "matches no calendar window"),
    "no window with that batch": (new("appt_bad", batch="ZZ"), "body.appointments[1]",
                                  "matches no calendar window"),
    "start_time outside its window": (new("appt_bad", start_time="2026-06-15T11:30:00.000Z"),
                                      "body.appointments[1].start_time", "not within its window"),
    "start_time on another date": (new("appt_bad", start_time="2026-06-22T09:30:00.000Z"),
                                   "body.appointments[1].start_time", "not within its window"),
}


@pytest.mark.parametrize("item, location, fragment", BAD_ITEMS.values(), ids=BAD_ITEMS.keys())
def test_one_bad_item_refuses_them_all(client, dump: Dump, item: dict[str, Any], location: str,
                                       fragment: str) -> None:
    before = dump(client)
    lines = problems(add(client, [new("appt_good"), item]))
    listed(lines, location, fragment)
    assert not any(line.startswith("body.appointments[0]") for line in lines), lines
    assert dump(client) == before, "a refused add must add nothing"
    error_of(get(client, "appt_good"), 404, "NOT_FOUND")


def test_an_unknown_organization_is_located(client, dump: Dump) -> None:
    before = dump(client)
    lines = problems(add(client, [new("appt_good")], organization="org_nowhere"))
    assert lines == ["body.organization: no organization 'org_nowhere' in this session's world"]
    assert dump(client) == before


def test_an_organization_sees_only_its_own_branches_and_services(client) -> None:
    lines = problems(add(client, [new("appt_x")], organization="org_lakeview"))
    listed(lines, "body.appointments[0].branch_id", "unknown branch 'branch_uuid_here'")
    listed(lines, "body.appointments[0].appointment_type", "unknown service")


def test_two_new_ones_with_one_id_are_refused(client, dump: Dump) -> None:
    before = dump(client)
    lines = problems(add(client, [new("appt_good"), new("appt_twin"), new("appt_twin", patient_name="B")]))
    assert lines == ["body.appointments[2].appointment_id: duplicate appointment id 'appt_twin' "
                     "(also at body.appointments[1])"]
    assert dump(client) == before


def test_new_ones_that_together_overbook_a_window_are_refused(client, dump: Dump) -> None:
    before = dump(client)
    lines = problems(add(client, [new(f"appt_mb_{i}", batch="MB") for i in range(3)]))
    assert len(lines) == 1
    listed(lines, "body.appointments[2]", "SLOT_FULL")
    assert dump(client) == before


def test_new_ones_that_duplicate_each_other_are_refused(client) -> None:
    twins = [new("appt_one", patient_name="Ravi", parent_phone="+1-ravi"),
             new("appt_two", patient_name="ravi ", parent_phone="+1-ravi", batch="MB")]
    listed(problems(add(client, twins)), "body.appointments[1]", "DUPLICATE_BOOKING")


def test_inactive_new_ones_hold_no_place(client) -> None:
    # Tuesday Morning is full; a cancelled or completed appointment there takes no place.
    extra = [new("appt_c", date="2026-06-16", status="cancelled"),
             new("appt_d", date="2026-06-16", status="completed")]
    assert len(added(add(client, extra))) == 2
    assert filled(client, "2026-06-16")["Morning MA"] == 1


def test_every_rule_problem_of_one_request_is_listed(client) -> None:
    items = [new("appt_good"), new("appt_b1", branch_id="nowhere"), new(DOC_ID),
             new("appt_b3", date="2026-06-16"), new("appt_b4", start_time="2026-06-15T12:00:00.000Z")]
    lines = problems(add(client, items))
    assert [line.split(": ")[0] for line in lines] == [
        "body.appointments[1].branch_id", "body.appointments[2].appointment_id",
        "body.appointments[3]", "body.appointments[4].start_time"]


def test_every_schema_problem_of_one_request_is_listed(client) -> None:
    items = [without(new("appt_a"), "date"), new("appt_b", date="15/06/2026")]
    locations = [line.split(": ")[0] for line in problems(add(client, items))]
    assert list(dict.fromkeys(locations)) == ["body.appointments[0].date", "body.appointments[1].date"]


def test_schema_and_rule_problems_are_listed_together(client) -> None:
    items = [new("appt_good"), new("appt_b1", branch_id="nowhere"), without(new("appt_b2"), "batch")]
    lines = problems(add(client, items))
    listed(lines, "body.appointments[2].batch", "is required")
    listed(lines, "body.appointments[1].branch_id", "unknown branch 'nowhere'")


@pytest.mark.parametrize("body, location", [
    ([], "body"),
    ({"organization": "org_demo", "appointments": []}, "body.appointments"),
    ({"appointments": [new("appt_x")]}, "body.organization"),
    ({"organization": "org_demo", "appointments": [new("appt_x")], "world": {}}, "body"),
], ids=["not-an-object", "no-appointments", "no-organization", "unknown-field"])
def test_a_malformed_request_is_located(client, dump: Dump, body: Any, location: str) -> None:
    before = dump(client)
    response = client.post("/_sandbox/appointments", json=body)
    assert location in [line.split(": ")[0] for line in problems(response)]
    assert dump(client) == before


# -- 3. the world format ------------------------------------------------------------------------

SERVICE = "9d1f3b5a-7c2e-4a4b-8d6f-0a2b4c6e8f10"


def kolkata_world() -> dict[str, Any]:
    """Every new field: the policy, window timestamps (given, partly given, left out) and
    appointments with and without start_time, in India time (UTC+05:30)."""
    def window(window_id: str, session: str, batch: str, start: str, end: str, **stamps: str) -> dict[str, Any]:
        return {"id": window_id, "branch_id": "b1", "day": "monday", "session": session,
                "batch": batch, "start_time": start, "end_time": end, "max_slots": 4,
                "ai_slots": 2, **stamps}

    def appointment(appointment_id: str, session: str, batch: str, **fields: str) -> dict[str, Any]:
        return {"appointment_id": appointment_id, "appointment_type": SERVICE, "branch_id": "b1",
                "date": MONDAY, "session": session, "batch": batch, "patient_name": appointment_id,
                "parent_phone": "+91-1", **fields}

    return {"version": 1, "clock": "2026-06-01T08:00:00.000Z", "organizations": [{
        "id": "org_kol", "name": "Kolkata Clinic", "timezone": "Asia/Kolkata",
        "allow_cancellation": False, "cancellation_notice_hours": 1.5,
        "api_keys": [{"key": "sk_test_kol", "scopes": ["appointments:read", "appointments:write"]}],
        "services": [{"id": SERVICE, "name": "Checkup"}],
        "branches": [{"id": "b1", "name": "Main"}],
        "calendar_windows": [
            window("w-night", "Morning", "NA", "00:00", "02:00"),
            window("w-am", "Morning", "MA", "09:00", "12:00", created_at="2026-01-02T03:04:05.006Z"),
            window("w-pm", "Afternoon", "AA", "14:00", "18:00", created_at="2026-01-01T00:00:00.000Z",
                   updated_at="2026-03-01T00:00:00.000Z")],
        "appointments": [
            appointment("appt_am", "Morning", "MA"),
            # 00:15 in India on 2026-06-15 is still 2026-06-14 in UTC.
            appointment("appt_night", "Morning", "NA", start_time="2026-06-14T18:45:00.000Z"),
            appointment("appt_pm", "Afternoon", "AA", start_time="2026-06-15T10:00:00.000Z")]}]}


def cli() -> list[str]:
    script = shutil.which("huskyvoice-sandbox")
    return [script] if script else [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()"]


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli() + ["validate", *map(str, paths)], capture_output=True, text=True,
                          timeout=60)


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def spoiled(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    document = kolkata_world()
    change(document["organizations"][0])
    return document


def test_validate_accepts_the_new_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "kolkata.yaml", kolkata_world())
    result = validate(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{path}: ok (1 organizations, 3 appointments)"]


def test_validate_refuses_bad_new_fields_located(tmp_path: Path) -> None:
    org = "organizations[0]"
    yes = tmp_path / "yes.yaml"  # YAML 1.1 would read a bare yes as true; worlds do not
    yes.write_text(yaml.safe_dump(kolkata_world(), sort_keys=False)
                   .replace("allow_cancellation: false", "allow_cancellation: yes"), encoding="utf-8")
    cases = {
        yes: f"{org}.allow_cancellation: 'yes' is not of type 'boolean'",
        write(tmp_path / "quoted.yaml", spoiled(lambda o: o.update(allow_cancellation="false"))):
            f"{org}.allow_cancellation: 'false' is not of type 'boolean'",
        write(tmp_path / "negative.yaml", spoiled(lambda o: o.update(cancellation_notice_hours=-1))):
            f"{org}.cancellation_notice_hours: -1 is less than the minimum of 0",
        # 10:00 UTC is 15:30 in India: not in the 09:00-12:00 window.
        write(tmp_path / "outside.yaml", spoiled(lambda o: o["appointments"][0].update(
            start_time="2026-06-15T10:00:00.000Z"))): f"{org}.appointments[0].start_time: ",
        write(tmp_path / "other-date.yaml", spoiled(lambda o: o["appointments"][0].update(
            start_time="2026-06-22T04:00:00.000Z"))): f"{org}.appointments[0].start_time: ",
    }
    result = validate(*cases)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"{len(cases)} of {len(cases)} world files have problems"
    reports = result.stderr.split("\n" + str(tmp_path))
    for path, line in cases.items():
        report = next(r for r in reports if f"{path.name}: the world has 1 problem;" in r)
        assert f"\n  {line}" in report, (path.name, report)
    for name in ("outside.yaml", "other-date.yaml"):
        report = next(r for r in reports if f"{name}: " in r)
        assert "is not within its window Monday Morning MA on 2026-06-15 (09:00 to 12:00 Asia/Kolkata)" in report


def test_the_dump_has_the_settings_window_stamps_and_start_times(make_client, dump: Dump) -> None:
    world = dump(make_client(kolkata_world()))
    org = world["organizations"][0]
    assert (org["allow_cancellation"], org["cancellation_notice_hours"]) == (False, 1.5)
    stamps = {w["id"]: (w["created_at"], w["updated_at"]) for w in org["calendar_windows"]}
    assert stamps == {
        "w-night": ("2026-06-01T08:00:00.000Z", "2026-06-01T08:00:00.000Z"),  # the world's clock
        "w-am": ("2026-01-02T03:04:05.006Z", "2026-01-02T03:04:05.006Z"),     # updated = created
        "w-pm": ("2026-01-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z")}
    starts = {a["appointment_id"]: a["start_time"] for a in org["appointments"]}
    assert starts == {"appt_am": "2026-06-15T03:30:00.000Z",  # 09:00 in India
                      "appt_night": "2026-06-14T18:45:00.000Z",
                      "appt_pm": "2026-06-15T10:00:00.000Z"}


def test_the_default_dump_states_both_policies(client, dump: Dump) -> None:
    world = dump(client)
    policies = {o["id"]: (o["allow_cancellation"], o["cancellation_notice_hours"])
                for o in world["organizations"]}
    assert policies == {"org_demo": (True, 24), "org_lakeview": (False, 0)}
    assert appointment_in(world, DOC_ID)["start_time"] == "2026-06-15T09:30:00.000Z"
    assert all("start_time" in a for o in world["organizations"] for a in o["appointments"])
    assert all(w["created_at"] == w["updated_at"] == CLOCK
               for o in world["organizations"] for w in o["calendar_windows"])


def round_trip(client: FlaskClient, dump: Dump) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the dump, the dump after PUT /_sandbox/world of it)."""
    before = dump(client)
    response = client.put("/_sandbox/world", json=before)
    assert response.status_code == 200, response.get_data(as_text=True)
    return before, dump(client)


def test_a_dump_loads_back_to_the_same_dump(make_client, dump: Dump) -> None:
    before, after = round_trip(make_client(kolkata_world()), dump)
    assert after == before


def test_a_dump_after_changes_loads_back_to_the_same_state(client, dump: Dump) -> None:
    created = client.post("/v1/appointments", headers=AUTH, json={
        "appointment_type": "General Checkup", "appointment_date": "2026-06-22T10:15:30.123Z",
        "branch_id": "branch_uuid_here", "patient_name": "Zara", "parent_phone": "+1-zara"})
    assert created.status_code == 201, created.get_data(as_text=True)
    new_id = created.get_json()["appointment_id"]
    for appointment_id, body in ((DOC_ID, {"appointment_date": "2026-06-19T15:45:00.000Z"}),
                                 ("appt_e5f6a7b8c9", {"session": "Morning", "batch": "MB"}),
                                 ("appt_c3d4e5f6a7", {"status": "cancelled", "notes": "moved"})):
        response = client.patch(f"/v1/appointments/{appointment_id}", json=body, headers=AUTH)
        assert response.status_code == 200, response.get_data(as_text=True)
    added(add(client, [new("appt_new_1", start_time="2026-06-15T10:45:00.000Z")]))
    client.put("/_sandbox/clock", json={"advance_seconds": 90.25})
    reads = {i: get(client, i).get_json() for i in (DOC_ID, new_id, "appt_new_1")}
    before, after = round_trip(client, dump)
    assert after == before
    assert appointment_in(after, new_id)["start_time"] == "2026-06-22T10:15:30.123Z"
    assert appointment_in(after, DOC_ID)["start_time"] == "2026-06-19T15:45:00.000Z"
    assert appointment_in(after, "appt_e5f6a7b8c9")["start_time"] == "2026-06-15T11:00:00.000Z"
    assert {i: get(client, i).get_json() for i in reads} == reads


def test_a_loaded_dump_keeps_the_cancellation_policy(make_client, dump: Dump) -> None:
    client = make_client(kolkata_world())
    round_trip(client, dump)
    response = client.patch("/v1/appointments/appt_am", json={"status": "cancelled"},
                            headers={"Authorization": "Bearer sk_test_kol"})
    error_of(response, 409, "CANCELLATION_NOT_ALLOWED")


# -- 4. the pytest plugin's handle ----------------------------------------------------------------

def test_the_handle_books_searches_and_reads_the_configuration(huskyvoice) -> None:
    services = huskyvoice.services()
    assert services.status == 200
    assert [s["name"] for s in services.data] == ["General Checkup", "Follow-up Visit", "Vaccination"]
    assert huskyvoice.appointment_config().data == \
        {"allow_cancellation": True, "cancellation_notice_hours": 24, "timezone": "UTC"}
    slots = huskyvoice.availability(MONDAY, session="Morning").json["slots"]
    places = {s["batch"]: s["available_slots"] for s in slots}
    created = huskyvoice.create_appointment({
        "appointment_type": "General Checkup", "appointment_date": "2026-06-15T10:00:00.000Z",
        "branch_id": "branch_uuid_here", "patient_name": "Lina", "parent_phone": "+1-lina"})
    assert created.status == 201, created.json
    new_id = created.json["appointment_id"]
    assert new_id in [a["appointment_id"] for a in huskyvoice.search_appointments(date=MONDAY, batch="MA").data]
    after = {s["batch"]: s["available_slots"] for s in huskyvoice.availability(MONDAY, session="Morning").json["slots"]}
    assert after["MA"] == places["MA"] - 1
    huskyvoice.assert_called("createAppointment", times=1, status=201)
    huskyvoice.assert_called("searchAppointments", times=1)
    huskyvoice.assert_called("getAvailability", times=2)
    huskyvoice.assert_called("listServices", times=1)
    huskyvoice.assert_called("getAppointmentConfig", times=1)


def test_the_handle_adds_appointments(huskyvoice) -> None:
    stored = huskyvoice.add_appointments("org_demo", [new("appt_new_1"), new("appt_new_2", batch="MB")])
    assert [(a["appointment_id"], a["start_time"]) for a in stored] == [
        ("appt_new_1", "2026-06-15T09:00:00.000Z"), ("appt_new_2", "2026-06-15T11:00:00.000Z")]
    assert huskyvoice.get_appointment("appt_new_2").data["batch"] == "MB"
    assert appointment_in(huskyvoice.world(), "appt_new_1") == stored[0]
    huskyvoice.assert_not_called("createAppointment")  # a control call, not an API one
    huskyvoice.assert_called("getAppointment", times=1)


def test_a_refused_add_raises_with_the_located_problems(huskyvoice) -> None:
    before = huskyvoice.world()
    with pytest.raises(SandboxControlError) as refused:
        huskyvoice.add_appointments("org_demo", [new("appt_good"), new("appt_bad", branch_id="nowhere")])
    error = refused.value
    assert not isinstance(error, AssertionError)
    assert (error.code, error.reply.status) == ("VALIDATION_ERROR", 400)
    assert error.details == [{"location": "body.appointments[1].branch_id",
                              "message": "unknown branch 'nowhere'"}]
    assert str(error).splitlines() == [
        "POST /_sandbox/appointments -> 400 VALIDATION_ERROR: The appointments were refused; none was added.",
        "  body.appointments[1].branch_id: unknown branch 'nowhere'"]
    assert huskyvoice.world() == before


@pytest.mark.huskyvoice_world("fixtures/scenarios/cancellation-policy.yaml")
def test_the_handle_sees_the_policy_of_its_world(huskyvoice) -> None:
    strict = "sk_test_strict_write"
    assert huskyvoice.appointment_config(key=strict).data["allow_cancellation"] is False
    reply = huskyvoice.update_appointment("appt_s1t2r3i4c5", {"status": "cancelled"}, key=strict)
    assert (reply.status, reply.code) == (409, "CANCELLATION_NOT_ALLOWED")
    huskyvoice.assert_called("updateAppointment", times=1, code="CANCELLATION_NOT_ALLOWED")


def test_handle_replies_are_json(huskyvoice) -> None:
    reply = huskyvoice.search_appointments(status="cancelled")
    assert json.loads(reply.body) == reply.json
    assert {a["status"] for a in reply.data} == {"cancelled"}
