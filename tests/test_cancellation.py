"""The cancellation policy of PATCH /v1/appointments/{id} with {"status": "cancelled"}:
`allow_cancellation`, `cancellation_notice_hours` (measured from the appointment's start), the
repeated cancel, the place a cancel frees, and the default world's two organizations.

Most tests serve a small world built here (`clinic(...)`), one UTC organization unless told:
  Monday Morning MA 09:00-12:00 (2 API places), Monday Afternoon AA 14:00-17:00 (1 place),
  Monday Evening EA 17:00-19:00 (inactive). 2026-06-15 and 2026-06-22 are Mondays.
The clock starts frozen at 2026-06-01T08:00Z and is moved with PUT /_sandbox/clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from helpers import OTHER_ORG_KEY, WRITE_KEY, appointment_in, error_of

SERVICE = "9d1f3b5a-7c2e-4a4b-8d6f-0a2b4c6e8f10"
KEY = "sk_test_policy_write"
READ = "sk_test_policy_read"
CLOCK = "2026-06-01T08:00:00.000Z"
MONDAY = "2026-06-15"

DOC = "appt_a1b2c3d4e5"       # default world: org_demo, starts 2026-06-15T09:30Z (24 h notice)
ROHAN = "appt_9z8y7x6w5v"     # default world: Lakeview, which allows no cancellations


# -- a small world ----------------------------------------------------------------------------

def appt(appointment_id: str, **fields: Any) -> dict[str, Any]:
    """An appointment of `clinic`, on Monday 2026-06-15 Morning MA unless told."""
    return {"appointment_id": appointment_id, "appointment_type": SERVICE, "branch_id": "b1",
            "date": MONDAY, "session": "Morning", "batch": "MA",
            "patient_name": f"Patient {appointment_id}", "parent_phone": f"+1-{appointment_id}",
            "created_at": "2026-05-20T09:00:00.000Z", **fields}


def window(window_id: str, session: str, batch: str, start: str, end: str, places: int,
           active: bool = True) -> dict[str, Any]:
    return {"id": window_id, "branch_id": "b1", "day": "monday", "session": session,
            "batch": batch, "start_time": start, "end_time": end, "max_slots": places + 2,
            "ai_slots": places, "active": active}


def clinic(*appointments: dict[str, Any], allow: bool = True, notice: float | None = None,
           zone: str = "UTC") -> dict[str, Any]:
    org: dict[str, Any] = {
        "id": "org_policy", "name": "Policy Clinic", "timezone": zone, "allow_cancellation": allow,
        "api_keys": [{"key": KEY, "scopes": ["appointments:read", "appointments:write"]},
                     {"key": READ, "scopes": ["appointments:read"]}],
        "services": [{"id": SERVICE, "name": "Checkup"}],
        "branches": [{"id": "b1", "name": "Main"}],
        "calendar_windows": [window("w-am", "Morning", "MA", "09:00", "12:00", 2),
                             window("w-pm", "Afternoon", "AA", "14:00", "17:00", 1),
                             window("w-eve", "Evening", "EA", "17:00", "19:00", 2, active=False)],
        "appointments": list(appointments)}
    if notice is not None:
        org["cancellation_notice_hours"] = notice
    return {"version": 1, "clock": CLOCK, "organizations": [org]}


# -- requests ---------------------------------------------------------------------------------

def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def patch(client: FlaskClient, appointment_id: str, body: Any, key: str = KEY) -> Any:
    return client.patch(f"/v1/appointments/{appointment_id}", json=body, headers=bearer(key))


def cancel(client: FlaskClient, appointment_id: str, key: str = KEY) -> Any:
    return patch(client, appointment_id, {"status": "cancelled"}, key)


def read(client: FlaskClient, appointment_id: str, key: str = KEY) -> dict[str, Any]:
    return ok(client.get(f"/v1/appointments/{appointment_id}", headers=bearer(key)))


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is True
    return body["data"]


def at(client: FlaskClient, now: str) -> None:
    """Freeze the session's clock at `now`."""
    response = client.put("/_sandbox/clock", json={"now": now})
    assert response.status_code == 200 and response.get_json()["data"]["now"] == now


def advance(client: FlaskClient, seconds: float) -> str:
    response = client.put("/_sandbox/clock", json={"advance_seconds": seconds})
    assert response.status_code == 200
    return response.get_json()["data"]["now"]


def slots(client: FlaskClient, day: str = MONDAY, key: str = KEY) -> dict[str, tuple[int, int]]:
    """(filled_slots, available_slots) of each open window that day, by batch."""
    response = client.get(f"/v1/appointment-slots/availability?date={day}", headers=bearer(key))
    assert response.status_code == 200, response.get_data(as_text=True)
    return {s["batch"]: (s["filled_slots"], s["available_slots"]) for s in response.get_json()["slots"]}


def create(client: FlaskClient, moment: str, patient: str, key: str = KEY) -> Any:
    return client.post("/v1/appointments", headers=bearer(key), json={
        "appointment_type": SERVICE, "appointment_date": moment, "patient_name": patient,
        "parent_phone": f"+1-{patient}"})


def refused(response: Any, code: str) -> str:
    """The message of a 409 refusal with that code."""
    return error_of(response, 409, code)["message"]


def unchanged(client: FlaskClient, dump: Callable[[FlaskClient], dict[str, Any]],
              request: Callable[[], Any], status: int, code: str) -> dict[str, Any]:
    """Send `request`, expect that error, and that the state is as it was."""
    before = dump(client)
    error = error_of(request(), status, code)
    assert dump(client) == before, f"a refused request ({code}) changed the state"
    return error


# -- 1. allow_cancellation false --------------------------------------------------------------

@pytest.mark.parametrize("status", ["confirmed", "rescheduled", "completed"])
def test_no_cancellation_refuses_every_status_that_is_not_cancelled(make_client, dump,
                                                                    status: str) -> None:
    client = make_client(clinic(appt("appt_x", status=status), allow=False))
    error = unchanged(client, dump, lambda: cancel(client, "appt_x"), 409, "CANCELLATION_NOT_ALLOWED")
    assert "Policy Clinic" in error["message"] and "allow_cancellation" in error["message"]
    assert read(client, "appt_x")["status"] == status


def test_a_refused_cancel_applies_none_of_the_other_fields(make_client, dump) -> None:
    client = make_client(clinic(appt("appt_x"), allow=False))
    body = {"status": "cancelled", "notes": "called", "assigned_doctor": "Dr. Rao"}
    unchanged(client, dump, lambda: patch(client, "appt_x", body), 409, "CANCELLATION_NOT_ALLOWED")
    stored = appointment_in(dump(client), "appt_x")
    assert (stored["notes"], stored["assigned_doctor"], stored["status"]) == (None, None, "confirmed")


def test_the_same_fields_without_the_cancel_are_applied(make_client) -> None:
    client = make_client(clinic(appt("appt_x"), allow=False))
    data = ok(patch(client, "appt_x", {"status": "completed", "assigned_doctor": "Dr. Rao"}))
    assert (data["status"], data["assigned_doctor"]) == ("completed", "Dr. Rao")


def test_an_unknown_appointment_is_404_before_the_policy(make_client) -> None:
    client = make_client(clinic(appt("appt_x"), allow=False))
    error_of(cancel(client, "appt_unknown"), 404, "NOT_FOUND")


def test_a_read_only_key_is_403_before_the_policy(make_client) -> None:
    client = make_client(clinic(appt("appt_x"), allow=False))
    error_of(cancel(client, "appt_x", key=READ), 403, "INSUFFICIENT_SCOPE")


@pytest.mark.parametrize("body", [
    {"status": "cancelled", "appointment_date": "2026-06-15"},     # a date without a time
    {"status": "canceled"},                                         # not a status
    {"status": "cancelled", "notes": 5},
], ids=["date-only", "misspelt-status", "notes-not-text"])
def test_a_bad_body_is_400_before_the_policy(make_client, dump, body: dict[str, Any]) -> None:
    client = make_client(clinic(appt("appt_x"), allow=False))
    unchanged(client, dump, lambda: patch(client, "appt_x", body), 400, "VALIDATION_ERROR")


MOVES = {  # a move of appt_x (Monday Morning) that placement refuses, and how
    "outside every window": ("2026-06-15T13:00:00.000Z", 422, "OUTSIDE_AVAILABILITY"),
    "into the inactive evening": ("2026-06-15T17:30:00.000Z", 409, "SLOT_INACTIVE"),
    "into the full afternoon": ("2026-06-15T14:30:00.000Z", 409, "SLOT_FULL"),
}
POLICIES = {  # a world whose policy refuses cancelling appt_x at the clock, and the code
    "not allowed": ({"allow": False}, "CANCELLATION_NOT_ALLOWED"),
    "inside the notice": ({"notice": 400}, "CANCELLATION_NOTICE_PERIOD"),  # 400 h > 14 days
}


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
@pytest.mark.parametrize("move", MOVES.values(), ids=MOVES.keys())
def test_the_policy_refusal_comes_before_the_placement_errors_of_a_move(
        make_client, dump, policy: tuple[dict[str, Any], str], move: tuple[str, int, str]) -> None:
    settings, code = policy
    moment, status, placement_code = move
    afternoon = appt("appt_pm", session="Afternoon", batch="AA")  # fills the afternoon
    client = make_client(clinic(appt("appt_x"), afternoon, **settings))
    # The move alone is refused by placement ...
    unchanged(client, dump, lambda: patch(client, "appt_x", {"appointment_date": moment}),
              status, placement_code)
    # ... and with a cancel, the policy speaks first.
    body = {"status": "cancelled", "appointment_date": moment}
    unchanged(client, dump, lambda: patch(client, "appt_x", body), 409, code)


# -- 2. cancellation_notice_hours -------------------------------------------------------------

def test_the_notice_boundary_is_exact(make_client, dump) -> None:
    # Starts 2026-06-15T10:00Z; 24 h notice: the last moment to cancel is 2026-06-14T10:00:00.000Z.
    client = make_client(clinic(appt("appt_x", start_time="2026-06-15T10:00:00.000Z"), notice=24))
    at(client, "2026-06-14T10:00:01.000Z")
    unchanged(client, dump, lambda: cancel(client, "appt_x"), 409, "CANCELLATION_NOTICE_PERIOD")
    assert advance(client, -1) == "2026-06-14T10:00:00.000Z"
    data = ok(cancel(client, "appt_x"))
    assert (data["status"], data["updated_at"]) == ("cancelled", "2026-06-14T10:00:00.000Z")


def test_one_millisecond_inside_the_notice_is_refused(make_client) -> None:
    client = make_client(clinic(appt("appt_x", start_time="2026-06-15T10:00:00.000Z"), notice=24))
    at(client, "2026-06-14T10:00:00.001Z")
    refused(cancel(client, "appt_x"), "CANCELLATION_NOTICE_PERIOD")


def test_fractional_notice_hours_are_honoured(make_client, dump) -> None:
    client = make_client(clinic(appt("appt_x", start_time="2026-06-15T10:00:00.000Z"), notice=1.5))
    config = ok(client.get("/v1/appointment-config", headers=bearer(KEY)))
    assert config == {"allow_cancellation": True, "cancellation_notice_hours": 1.5, "timezone": "UTC"}
    at(client, "2026-06-15T08:30:01.000Z")  # 1 h 29 min 59 s before the start
    message = unchanged(client, dump, lambda: cancel(client, "appt_x"), 409,
                        "CANCELLATION_NOTICE_PERIOD")["message"]
    assert "2026-06-15T10:00:00.000Z" in message and "1.5 hours'" in message
    advance(client, -1)  # exactly 1.5 hours before
    assert ok(cancel(client, "appt_x"))["status"] == "cancelled"


def test_the_start_time_given_in_the_world_is_the_start(make_client) -> None:
    # Booked at 11:30 in a 09:00-12:00 window: from the window's start, 2026-06-14T11:00Z would
    # be 22 hours' notice (refused); from 11:30 it is 24.5 hours (allowed).
    world = clinic(appt("appt_late", start_time="2026-06-15T11:30:00.000Z"),
                   appt("appt_open"), notice=24)
    client = make_client(world)
    at(client, "2026-06-14T11:00:00.000Z")
    message = refused(cancel(client, "appt_open"), "CANCELLATION_NOTICE_PERIOD")
    assert "starts at 2026-06-15T09:00:00.000Z" in message  # no start_time: the window's start
    assert ok(cancel(client, "appt_late"))["status"] == "cancelled"


def test_the_start_time_given_is_used_to_the_second(make_client) -> None:
    client = make_client(clinic(appt("appt_late", start_time="2026-06-15T11:30:00.000Z"), notice=24))
    at(client, "2026-06-14T11:30:01.000Z")
    message = refused(cancel(client, "appt_late"), "CANCELLATION_NOTICE_PERIOD")
    assert "starts at 2026-06-15T11:30:00.000Z" in message and "24 hours'" in message


def assert_notice_measured_from(client, appointment_id: str, start: str, at_time: str) -> None:
    """One second inside 24 hours' notice of `start` the cancel is refused naming it; one
    second earlier it goes through."""
    at(client, at_time)
    message = refused(cancel(client, appointment_id), "CANCELLATION_NOTICE_PERIOD")
    assert f"starts at {start}" in message
    advance(client, -1)
    assert ok(cancel(client, appointment_id))["status"] == "cancelled"


def test_without_a_start_time_the_window_opens_in_the_organizations_timezone(make_client,
                                                                              dump) -> None:
    # Kolkata's Monday Morning opens at 09:00 IST = 03:30Z. Read as UTC it would open at 09:00Z,
    # and a cancel at 2026-06-14T03:30:01Z would have 29.5 hours' notice.
    client = make_client(clinic(appt("appt_x"), notice=24, zone="Asia/Kolkata"))
    assert appointment_in(dump(client), "appt_x")["start_time"] == "2026-06-15T03:30:00.000Z"
    assert_notice_measured_from(client, "appt_x", "2026-06-15T03:30:00.000Z", at_time="2026-06-14T03:30:01.000Z")


def test_after_a_reschedule_the_start_is_the_new_appointment_date(make_client) -> None:
    # Moved from Monday 09:00 (window start) to 15:00 the same day (Afternoon opens at 14:00).
    client = make_client(clinic(appt("appt_x"), notice=24))
    data = ok(patch(client, "appt_x", {"appointment_date": "2026-06-15T15:00:00.000Z"}))
    assert (data["session"], data["status"]) == ("Afternoon", "rescheduled")
    assert_notice_measured_from(client, "appt_x", "2026-06-15T15:00:00.000Z", at_time="2026-06-14T15:00:01.000Z")


def test_a_reschedule_onto_a_later_date_allows_a_cancel_the_old_date_refused(make_client) -> None:
    client = make_client(clinic(appt("appt_x"), notice=24))
    at(client, "2026-06-14T12:00:00.000Z")  # 21 hours before 2026-06-15T09:00Z
    refused(cancel(client, "appt_x"), "CANCELLATION_NOTICE_PERIOD")
    ok(patch(client, "appt_x", {"appointment_date": "2026-06-22T10:00:00.000Z"}))
    assert ok(cancel(client, "appt_x"))["status"] == "cancelled"


def test_an_appointment_that_already_started_is_refused(make_client, dump) -> None:
    client = make_client(clinic(appt("appt_x", start_time="2026-06-15T10:00:00.000Z"), notice=1))
    at(client, "2026-06-15T10:00:01.000Z")
    message = unchanged(client, dump, lambda: cancel(client, "appt_x"), 409,
                        "CANCELLATION_NOTICE_PERIOD")["message"]
    assert "2026-06-15T10:00:00.000Z" in message and "already started" in message
    assert "1 hour's" in message


def test_notice_zero_allows_a_cancel_right_up_to_the_start(make_client) -> None:
    client = make_client(clinic(appt("appt_x", start_time="2026-06-15T10:00:00.000Z"), notice=0))
    at(client, "2026-06-15T10:00:00.000Z")
    assert ok(cancel(client, "appt_x"))["status"] == "cancelled"


@pytest.mark.parametrize("notice", [0, None], ids=["notice-0", "notice-absent"])
def test_notice_zero_allows_cancelling_a_past_appointment(make_client, notice: float | None) -> None:
    client = make_client(clinic(appt("appt_x", start_time="2026-06-15T10:00:00.000Z"), notice=notice))
    at(client, "2026-06-15T10:00:00.001Z")
    assert ok(cancel(client, "appt_x"))["status"] == "cancelled"


def test_the_notice_is_not_checked_for_other_changes(make_client) -> None:
    client = make_client(clinic(appt("appt_x", start_time="2026-06-15T10:00:00.000Z"), notice=24))
    at(client, "2026-06-15T09:00:00.000Z")
    data = ok(patch(client, "appt_x", {"status": "completed", "assigned_doctor": "Dr. Rao"}))
    assert data["status"] == "completed"


# -- 3. the repeated cancel -------------------------------------------------------------------

def test_a_repeated_cancel_returns_the_record_as_it_is(make_client, dump) -> None:
    client = make_client(clinic(appt("appt_x")))
    first = ok(cancel(client, "appt_x"))
    assert first["updated_at"] == CLOCK
    advance(client, 7200)
    before, state = read(client, "appt_x"), dump(client)
    again = ok(cancel(client, "appt_x"))
    assert again == before == first
    assert again["updated_at"] == CLOCK, "a repeated cancel must not move updated_at"
    assert dump(client) == state


@pytest.mark.parametrize("settings", [{"allow": False}, {"notice": 24}],
                         ids=["not-allowed", "inside-the-notice"])
def test_a_repeated_cancel_does_not_check_the_policy(make_client, dump,
                                                     settings: dict[str, Any]) -> None:
    seeded = appt("appt_x", status="cancelled", start_time="2026-06-15T10:00:00.000Z",
                  updated_at="2026-05-21T09:00:00.000Z")
    client = make_client(clinic(seeded, **settings))
    at(client, "2026-06-15T09:59:00.000Z")  # one minute before the start
    before, state = read(client, "appt_x"), dump(client)
    assert ok(cancel(client, "appt_x")) == before
    assert before["updated_at"] == "2026-05-21T09:00:00.000Z"
    assert dump(client) == state


def test_a_repeated_cancel_with_unknown_fields_is_still_a_repeated_cancel(make_client) -> None:
    client = make_client(clinic(appt("appt_x", status="cancelled"), allow=False))
    before = read(client, "appt_x")
    advance(client, 60)
    response = patch(client, "appt_x", {"status": "cancelled", "reason": "moved away"})
    assert ok(response) == before
    assert response.headers["X-Sandbox-Ignored-Fields"] == "reason"


@pytest.mark.parametrize("settings", [{"allow": False}, {"notice": 24}, {}],
                         ids=["not-allowed", "inside-the-notice", "allowed"])
def test_a_repeated_cancel_with_another_field_is_applied(make_client, dump,
                                                         settings: dict[str, Any]) -> None:
    seeded = appt("appt_x", status="cancelled", start_time="2026-06-15T10:00:00.000Z",
                  updated_at="2026-05-21T09:00:00.000Z")
    client = make_client(clinic(seeded, **settings))
    at(client, "2026-06-15T09:00:00.000Z")
    data = ok(patch(client, "appt_x", {"status": "cancelled", "notes": "called back",
                                       "assigned_doctor": "Dr. Rao"}))
    assert (data["status"], data["assigned_doctor"]) == ("cancelled", "Dr. Rao")
    assert data["updated_at"] == "2026-06-15T09:00:00.000Z"
    stored = appointment_in(dump(client), "appt_x")
    assert (stored["notes"], stored["updated_at"]) == ("called back", "2026-06-15T09:00:00.000Z")


def test_a_cancel_releases_its_place_once(make_client) -> None:
    # Morning MA has 2 API places, both taken.
    client = make_client(clinic(appt("appt_a"), appt("appt_b")))
    assert slots(client)["MA"] == (2, 0)
    ok(cancel(client, "appt_a"))
    assert slots(client)["MA"] == (1, 1)
    ok(cancel(client, "appt_a"))                                            # repeated
    ok(patch(client, "appt_a", {"status": "cancelled", "notes": "again"}))  # repeated, with notes
    assert slots(client)["MA"] == (1, 1), "a repeated cancel released the place again"
    assert create(client, "2026-06-15T10:00:00.000Z", "Nina").status_code == 201
    assert slots(client)["MA"] == (2, 0)
    error_of(create(client, "2026-06-15T10:30:00.000Z", "Omar"), 409, "SLOT_FULL")


def test_a_refused_cancel_keeps_the_place(make_client) -> None:
    client = make_client(clinic(appt("appt_a"), appt("appt_b"), allow=False))
    refused(cancel(client, "appt_a"), "CANCELLATION_NOT_ALLOWED")
    assert slots(client)["MA"] == (2, 0)
    error_of(create(client, "2026-06-15T10:00:00.000Z", "Nina"), 409, "SLOT_FULL")


# -- 4. a cancel frees the place; the cancelled appointment stays ------------------------------

def test_a_cancel_frees_the_place_for_a_create(make_client) -> None:
    client = make_client(clinic(appt("appt_pm", session="Afternoon", batch="AA")))
    error_of(create(client, "2026-06-15T15:00:00.000Z", "Nina"), 409, "SLOT_FULL")
    ok(cancel(client, "appt_pm"))
    created = create(client, "2026-06-15T15:00:00.000Z", "Nina")
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["data"]["session"] == "Afternoon"


def test_a_cancel_frees_the_place_for_a_reschedule(make_client) -> None:
    client = make_client(clinic(appt("appt_pm", session="Afternoon", batch="AA"), appt("appt_am")))
    move = {"appointment_date": "2026-06-15T14:30:00.000Z"}
    error_of(patch(client, "appt_am", move), 409, "SLOT_FULL")
    ok(cancel(client, "appt_pm"))
    data = ok(patch(client, "appt_am", move))
    assert (data["session"], data["status"]) == ("Afternoon", "rescheduled")


def search(client: FlaskClient, query: str = "") -> list[tuple[str, str]]:
    response = client.get(f"/v1/appointments{query}", headers=bearer(KEY))
    assert response.status_code == 200, response.get_data(as_text=True)
    return [(a["appointment_id"], a["status"]) for a in response.get_json()["data"]]


def test_a_cancelled_appointment_stays_readable_and_searchable(make_client) -> None:
    client = make_client(clinic(appt("appt_a"), appt("appt_b", start_time="2026-06-15T10:00:00.000Z")))
    ok(cancel(client, "appt_a"))
    assert read(client, "appt_a")["status"] == "cancelled"
    assert search(client) == [("appt_a", "cancelled"), ("appt_b", "confirmed")]
    assert search(client, f"?date={MONDAY}") == [("appt_a", "cancelled"), ("appt_b", "confirmed")]
    assert search(client, "?status=cancelled") == [("appt_a", "cancelled")]
    assert search(client, "?status=confirmed") == [("appt_b", "confirmed")]


# -- 5. the default world ---------------------------------------------------------------------

def test_default_world_cancels_the_documented_appointment_at_its_clock(client) -> None:
    data = ok(cancel(client, DOC, key=WRITE_KEY))
    assert (data["status"], data["updated_at"]) == ("cancelled", "2026-05-26T11:00:00.000Z")


def test_default_world_allows_the_cancel_24_hours_before_its_start(client) -> None:
    at(client, "2026-06-14T09:30:00.000Z")
    assert ok(cancel(client, DOC, key=WRITE_KEY))["status"] == "cancelled"


def test_default_world_refuses_the_cancel_inside_24_hours(client, dump) -> None:
    at(client, "2026-06-15T00:00:00.000Z")
    message = unchanged(client, dump, lambda: cancel(client, DOC, key=WRITE_KEY), 409,
                        "CANCELLATION_NOTICE_PERIOD")["message"]
    assert "starts at 2026-06-15T09:30:00.000Z" in message and "24 hours'" in message


@pytest.mark.parametrize("now", [None, "2026-06-01T00:00:00.000Z", "2026-07-01T00:00:00.000Z"])
def test_lakeview_refuses_every_cancel(client, dump, now: str | None) -> None:
    if now:
        at(client, now)
    unchanged(client, dump, lambda: cancel(client, ROHAN, key=OTHER_ORG_KEY), 409,
              "CANCELLATION_NOT_ALLOWED")
    body = {"status": "cancelled", "appointment_date": "2026-06-15T09:00:00.000Z"}
    unchanged(client, dump, lambda: patch(client, ROHAN, body, key=OTHER_ORG_KEY), 409,
              "CANCELLATION_NOT_ALLOWED")


def test_lakeview_refuses_the_cancel_of_a_rescheduled_appointment(client) -> None:
    moved = ok(patch(client, ROHAN, {"appointment_date": "2026-06-22T05:00:00.000Z"}, key=OTHER_ORG_KEY))
    assert moved["status"] == "rescheduled"
    refused(cancel(client, ROHAN, key=OTHER_ORG_KEY), "CANCELLATION_NOT_ALLOWED")


@pytest.mark.parametrize("key, expected", [
    (WRITE_KEY, {"allow_cancellation": True, "cancellation_notice_hours": 24, "timezone": "UTC"}),
    (OTHER_ORG_KEY, {"allow_cancellation": False, "cancellation_notice_hours": 0,
                     "timezone": "Asia/Kolkata"}),
], ids=["org_demo", "org_lakeview"])
def test_default_world_configuration_states_the_policy(client, key: str,
                                                       expected: dict[str, Any]) -> None:
    assert ok(client.get("/v1/appointment-config", headers=bearer(key))) == expected


def test_configuration_follows_the_world(make_client) -> None:
    client = make_client(clinic(allow=False, notice=12, zone="Asia/Kolkata"))
    assert ok(client.get("/v1/appointment-config", headers=bearer(READ))) == \
        {"allow_cancellation": False, "cancellation_notice_hours": 12, "timezone": "Asia/Kolkata"}


@pytest.mark.parametrize("body", [{"batch": "MA"}, {"session": "Morning"}, {"session": "Morning", "batch": "MA"}])
def test_naming_the_window_it_is_in_keeps_its_start(make_client, dump, body) -> None:
    """A PATCH that leaves the appointment in its window does not move its start (and so the
    notice a cancel needs is measured as before)."""
    client = make_client(clinic(appt("appt_x", start_time="2026-06-15T10:30:00.000Z"), notice=24))
    ok(patch(client, "appt_x", body))
    assert appointment_in(dump(client), "appt_x")["start_time"] == "2026-06-15T10:30:00.000Z"
    at(client, "2026-06-14T10:15:00.000Z")  # 24 h 15 min before 10:30: enough notice
    assert ok(cancel(client, "appt_x"))["status"] == "cancelled"
