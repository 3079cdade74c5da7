"""The booking workflow over HTTP: createAppointment, searchAppointments, getAvailability,
listServices and getAppointmentConfig, a search served from the index, and the /v1 routes
registered one to one from openapi.yaml.

The default world (org_demo, UTC; Main Branch unless said):
  Mon 2026-06-15  East MA 08-10 (3 places; Anya, rescheduled), Main MA 09-11 (10; Aadhi 09:30),
                  MB 11-12 (2; Kabir's cancelled follow-up), AA 14-17 (5; Kabir), EA 17-19 inactive
  Tue 2026-06-16  MA 09-12 (1 place; Meera has it)
  Wed 2026-06-17  MA 09-12, closed that date (Arjun, cancelled)
  Thu 2026-06-18  VA 09-12, Vaccination only (Diya)
  Fri 2026-06-19  AA 14-17 (Ishaan, completed)
  Mon 2026-06-22  MA (Aadhi's next checkup)
Lakeview (org_lakeview, Asia/Kolkata, 5 requests a minute): Rohan on Monday 2026-06-15.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import huskyvoice_sandbox.domain.index
import pytest
import yaml
from flask.testing import FlaskClient
from huskyvoice_sandbox import create_app
from huskyvoice_sandbox.resources import default_world_path, spec_path
from huskyvoice_sandbox.spec.contract import Contract
from huskyvoice_sandbox.web.call import SpecMismatch
from huskyvoice_sandbox.web.pipeline import flask_rule
from werkzeug.test import TestResponse

from helpers import (
    NO_SCOPE_KEY,
    OTHER_ORG_KEY,
    READ_KEY,
    WRITE_KEY,
    appointment_in,
    error_of,
)

AADHI = "appt_a1b2c3d4e5"            # confirmed, Mon 06-15 09:30 Main MA, General Checkup
AADHI_NEXT = "appt_b2c3d4e5f6"       # confirmed, Mon 06-22 Main MA, General Checkup
MEERA = "appt_c3d4e5f6a7"            # confirmed, Tue 06-16 MA (1 of 1)
KABIR_CANCELLED = "appt_d4e5f6a7b8"  # cancelled, Mon 06-15 MB, Follow-up
KABIR = "appt_e5f6a7b8c9"            # confirmed, Mon 06-15 AA, Follow-up
DIYA = "appt_f6a7b8c9d0"             # confirmed, Thu 06-18 VA, Vaccination
ARJUN = "appt_0a1b2c3d4e"            # cancelled, Wed 06-17 MA (a closed date)
ISHAAN = "appt_1b2c3d4e5f"           # completed, Fri 06-19 AA, Follow-up
ANYA = "appt_2c3d4e5f6a"             # rescheduled, East Mon 06-15 MA, General Checkup
ROHAN = "appt_9z8y7x6w5v"            # Lakeview

# org_demo's appointments by start time (then id): what an unfiltered search lists.
ALL_DEMO = [ANYA, AADHI, KABIR_CANCELLED, KABIR, MEERA, ARJUN, DIYA, ISHAAN, AADHI_NEXT]

GENERAL_CHECKUP = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
FOLLOW_UP = "6f1c2b9a-3d4e-4f5a-8b7c-9d0e1f2a3b4c"
VACCINATION = "0b8e7d6c-5a4f-4e3d-9c2b-1a0f9e8d7c6b"
LAKEVIEW_CHECKUP = "3c9a1e5b-7d2f-4a6c-8e0b-2d4f6a8c0e1f"
MAIN = "branch_uuid_here"
EAST = "5a7c3e1f-2b4d-4c6e-8f0a-1b3d5e7f9a2c"
SLOTS_KEY = "sk_test_demo_slots"  # added to org_demo by slots_key_world(): slots:read only

# The default world's calendar windows (Main Branch unless said).
MON_MA = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
MON_MB = "7c1e2d3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
MON_AA = "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091"
MON_EA = "3c4d5e6f-7081-4923-8b4c-5d6e7f809102"  # inactive
EAST_MA = "8192a3b4-c5d6-4e78-9091-021324354657"  # East Branch, Monday
TUE_MA = "4d5e6f70-8192-4a34-9c5d-6e7f80910213"
WED_MA = "5e6f7081-92a3-4b45-8d6e-7f8091021324"
THU_VA = "6f708192-a3b4-4c56-9e7f-809102132435"  # Vaccination only
FRI_AA = "708192a3-b4c5-4d67-8f80-910213243546"

CLOCK = "2026-05-26T11:00:00.000Z"
ID = re.compile(r"^appt_[a-z0-9]{10}$")
PUBLIC_FIELDS = [
    "appointment_id", "appointment_type", "branch_id", "date", "session", "batch", "token",
    "patient_name", "parent_phone", "assigned_doctor", "status", "external_reference_id",
    "created_at", "updated_at",
]
NEW_PATIENT = {  # Tara, in Monday Morning MA at Main
    "appointment_type": GENERAL_CHECKUP, "appointment_date": "2026-06-15T10:00:00.000Z",
    "patient_name": "Tara", "parent_phone": "+919800011111", "branch_id": MAIN,
}
REQUIRED = ["appointment_type", "appointment_date", "patient_name", "parent_phone"]


def auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def book(client: FlaskClient, key: str | None = WRITE_KEY, **changes: Any) -> TestResponse:
    """POST /v1/appointments: Tara's booking with `changes`."""
    return client.post("/v1/appointments", json={**NEW_PATIENT, **changes}, headers=auth(key))


def created(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["data"]


def search(client: FlaskClient, key: str = WRITE_KEY, query: str = "") -> TestResponse:
    return client.get(f"/v1/appointments{'?' + query if query else ''}", headers=auth(key))


def found(response: TestResponse) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [a["appointment_id"] for a in response.get_json()["data"]]


def availability(client: FlaskClient, query: str, key: str = READ_KEY) -> TestResponse:
    return client.get(f"/v1/appointment-slots/availability?{query}", headers=auth(key))


def slots(client: FlaskClient, query: str, key: str = READ_KEY) -> list[dict[str, Any]]:
    response = availability(client, query, key)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["slots"]


def slot_of(client: FlaskClient, on: str, calendar_id: str, key: str = READ_KEY) -> dict[str, Any]:
    return next(s for s in slots(client, f"date={on}", key) if s["calendar_id"] == calendar_id)


def locations(error: dict[str, Any]) -> list[str]:
    return [d["location"] for d in error["details"]]


def default_document() -> dict[str, Any]:
    return yaml.safe_load(default_world_path().read_text(encoding="utf-8"))


def demo_of(world: dict[str, Any]) -> dict[str, Any]:
    return next(org for org in world["organizations"] if org["id"] == "org_demo")


def window_of(world: dict[str, Any], day: str) -> dict[str, Any]:
    return next(w for w in demo_of(world)["calendar_windows"] if w["day"] == day)


# -- createAppointment: the 201 -------------------------------------------------------------

def test_create_answers_201_with_the_documented_envelope(client) -> None:
    response = book(client)
    assert response.status_code == 201
    body = response.get_json()
    assert list(body) == ["success", "appointment_id", "token", "data"]
    assert body["success"] is True and body["token"] is None
    assert list(body["data"]) == PUBLIC_FIELDS
    assert ID.fullmatch(body["appointment_id"])
    assert body["data"]["appointment_id"] == body["appointment_id"]
    assert body["data"] == {
        "appointment_id": body["appointment_id"], "appointment_type": GENERAL_CHECKUP,
        "branch_id": MAIN, "date": "2026-06-15", "session": "Morning", "batch": "MA",
        "token": None, "patient_name": "Tara", "parent_phone": "+919800011111",
        "assigned_doctor": None, "status": "confirmed", "external_reference_id": None,
        "created_at": CLOCK, "updated_at": CLOCK,
    }


def test_create_keeps_the_optional_fields(client, dump) -> None:
    data = created(book(client, assigned_doctor="Dr. Rao", notes="first visit",
                        external_reference_id="crm-7"))
    assert (data["assigned_doctor"], data["external_reference_id"]) == ("Dr. Rao", "crm-7")
    assert appointment_in(dump(client), data["appointment_id"])["notes"] == "first visit"


def test_create_timestamps_are_the_sandbox_clock(client) -> None:
    assert client.put("/_sandbox/clock", json={"now": "2026-06-01T08:15:30.250Z"}).status_code == 200
    now = client.get("/_sandbox/clock").get_json()["data"]["now"]
    data = created(book(client))
    assert data["created_at"] == data["updated_at"] == now == "2026-06-01T08:15:30.250Z"


@pytest.mark.parametrize("name, service_id, moment", [
    ("GENERAL checkup", GENERAL_CHECKUP, "2026-06-15T10:00:00.000Z"),
    ("general checkup", GENERAL_CHECKUP, "2026-06-15T10:00:00.000Z"),
    ("  Follow-UP Visit ", FOLLOW_UP, "2026-06-15T10:00:00.000Z"),
    ("VACCINATION", VACCINATION, "2026-06-18T10:00:00.000Z"),
])
def test_service_sent_by_name_in_any_case_is_stored_as_its_uuid(client, dump, name, service_id,
                                                                 moment) -> None:
    data = created(book(client, appointment_type=name, appointment_date=moment))
    assert data["appointment_type"] == service_id
    assert appointment_in(dump(client), data["appointment_id"])["appointment_type"] == service_id


def test_one_branch_is_filled_in(make_client) -> None:
    world = default_document()
    lakeview = next(org for org in world["organizations"] if org["id"] == "org_lakeview")
    lakeview["rate_limit_per_minute"] = None
    client = make_client(world)
    response = client.post("/v1/appointments", headers=auth(OTHER_ORG_KEY), json={
        "appointment_type": "general checkup", "appointment_date": "2026-06-15T04:00:00.000Z",
        "patient_name": "Nila", "parent_phone": "+919800022222"})
    data = created(response)
    assert (data["branch_id"], data["appointment_type"]) == ("branch_lakeview", LAKEVIEW_CHECKUP)
    assert (data["date"], data["session"], data["batch"]) == ("2026-06-15", "Morning", "MA")


PATIENTS = ["Tara", "Veda", "Zoya"]


def book_three(client: FlaskClient) -> list[str]:
    return [created(book(client, patient_name=name))["appointment_id"] for name in PATIENTS]


def test_ids_are_distinct_and_restart_with_the_world(client) -> None:
    first = book_three(client)
    assert len(set(first)) == 3 and all(ID.fullmatch(i) for i in first)
    assert not set(first) & set(ALL_DEMO)
    assert client.post("/_sandbox/reset").status_code == 200
    assert book_three(client) == first


def test_a_refused_create_draws_no_id(client) -> None:
    first = created(book(client))["appointment_id"]
    client.post("/_sandbox/reset")
    error_of(book(client, appointment_date="2026-06-16T10:00:00.000Z"), 409, "SLOT_FULL")
    error_of(book(client, branch_id="branch_west"), 400, "VALIDATION_ERROR")
    assert created(book(client))["appointment_id"] == first


# -- createAppointment: 400 ------------------------------------------------------------------

def test_branch_id_is_required_with_two_branches(client) -> None:
    body = {k: v for k, v in NEW_PATIENT.items() if k != "branch_id"}
    response = client.post("/v1/appointments", json=body, headers=auth(WRITE_KEY))
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert locations(error) == ["body.branch_id"]
    assert "2 branches" in error["details"][0]["message"]


@pytest.mark.parametrize("changes, where, named", [
    ({"branch_id": "branch_west"}, "body.branch_id", "branch_west"),
    ({"branch_id": "branch_lakeview"}, "body.branch_id", "branch_lakeview"),  # another org's
    ({"appointment_type": "Dental Cleaning"}, "body.appointment_type", "Dental Cleaning"),
    ({"appointment_type": LAKEVIEW_CHECKUP}, "body.appointment_type", LAKEVIEW_CHECKUP),
], ids=["unknown branch", "other org's branch", "unknown service", "other org's service"])
def test_unknown_branch_or_service_is_400_at_its_field(client, changes, where, named) -> None:
    error = error_of(book(client, **changes), 400, "VALIDATION_ERROR")
    assert locations(error) == [where]
    assert named in error["details"][0]["message"]


@pytest.mark.parametrize("missing", REQUIRED)
def test_a_missing_required_field_is_named(client, missing) -> None:
    body = {k: v for k, v in NEW_PATIENT.items() if k != missing}
    error = error_of(client.post("/v1/appointments", json=body, headers=auth(WRITE_KEY)), 400,
                     "VALIDATION_ERROR")
    assert error["details"] == [{"location": f"body.{missing}", "message": "is required"}]


def test_every_missing_required_field_is_named(client) -> None:
    response = client.post("/v1/appointments", json={"branch_id": MAIN}, headers=auth(WRITE_KEY))
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"location": f"body.{name}", "message": "is required"}
                                for name in REQUIRED]


@pytest.mark.parametrize("moment", [
    "2026-06-15",
    "2026-06-15T10:00:00+05:30",
    "2026-06-15T10:00:00.000-01:00",
    "2026-06-15T10:00:00",
    "2026-06-15T10:00Z",
    "2026-06-15T10:00:00.000z",
])
def test_appointment_date_needs_a_time_in_utc(client, moment) -> None:
    error = error_of(book(client, appointment_date=moment), 400, "VALIDATION_ERROR")
    assert locations(error) == ["body.appointment_date"]


@pytest.mark.parametrize("moment", ["2026-06-15T10:00:00Z", "2026-06-15T10:00:00.000+00:00"])
def test_utc_written_either_way_is_accepted(client, moment) -> None:
    assert created(book(client, appointment_date=moment))["date"] == "2026-06-15"


# -- createAppointment: session and batch ---------------------------------------------------

@pytest.mark.parametrize("changes", [
    {"session": "Afternoon"},
    {"batch": "MB"},
    {"session": "Morning", "batch": "MB"},
    {"appointment_date": "2026-06-15T11:30:00.000Z", "batch": "MA"},
    {"appointment_date": "2026-06-15T14:30:00.000Z", "session": "Morning"},
    {"appointment_date": "2026-06-15T08:30:00.000Z", "branch_id": EAST, "batch": "MB"},
])
def test_session_or_batch_that_disagree_with_the_window_are_422(client, dump, changes) -> None:
    before = dump(client)
    error_of(book(client, **changes), 422, "OUTSIDE_AVAILABILITY")
    assert dump(client) == before


@pytest.mark.parametrize("changes, batch", [
    ({"session": "Morning"}, "MA"),
    ({"batch": "MA"}, "MA"),
    ({"appointment_date": "2026-06-15T11:30:00.000Z", "session": "Morning", "batch": "MB"}, "MB"),
])
def test_session_and_batch_that_agree_are_booked(client, changes, batch) -> None:
    data = created(book(client, **changes))
    assert (data["session"], data["batch"]) == ("Morning", batch)


# -- createAppointment: the documented example ----------------------------------------------

def documented_example(contract: Contract) -> dict[str, Any]:
    post = contract.spec["paths"]["/v1/appointments"]["post"]
    return post["requestBody"]["content"]["application/json"]["examples"]["documented"]["value"]


def test_documented_create_example_is_a_duplicate_in_the_default_world(client, contract, dump
                                                                       ) -> None:
    before = dump(client)
    response = client.post("/v1/appointments", data=json.dumps(documented_example(contract)),
                           content_type="application/json", headers=auth(WRITE_KEY))
    error = error_of(response, 409, "DUPLICATE_BOOKING")
    assert AADHI in error["message"]
    assert dump(client) == before


def test_documented_create_example_for_another_patient_books_monday_morning_ma(client, contract
                                                                               ) -> None:
    body = {**documented_example(contract), "patient_name": "Ishita"}
    data = created(client.post("/v1/appointments", json=body, headers=auth(WRITE_KEY)))
    assert (data["date"], data["session"], data["batch"], data["branch_id"]) == \
        ("2026-06-15", "Morning", "MA", MAIN)
    assert (data["appointment_type"], data["status"]) == (GENERAL_CHECKUP, "confirmed")


# -- createAppointment: unknown fields ------------------------------------------------------

def test_unknown_and_read_only_fields_are_ignored_and_named(client) -> None:
    response = book(client, colour="red", status="cancelled", appointment_id="appt_mine000000")
    data = created(response)
    assert response.headers["X-Sandbox-Ignored-Fields"] == "colour, status, appointment_id"
    assert data["status"] == "confirmed" and data["appointment_id"] != "appt_mine000000"


def test_no_header_when_nothing_was_ignored(client) -> None:
    assert "X-Sandbox-Ignored-Fields" not in book(client).headers


def test_a_body_of_unknown_fields_only_is_400_naming_them(client) -> None:
    response = client.post("/v1/appointments", json={"colour": "red", "size": 2},
                           headers=auth(WRITE_KEY))
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert locations(error) == [f"body.{name}" for name in REQUIRED] + ["body.colour", "body.size"]


# -- createAppointment: the order of the checks, and nothing changes when refused ------------

AADHI_BODY = {"patient_name": "Aadhi", "parent_phone": "+919840XXXXXX"}
MEERA_BODY = {"patient_name": "Meera", "parent_phone": "+919811100001"}
REFUSED_CREATES = {
    # Monday 17:30 is the inactive Evening window, and Aadhi has a checkup that day.
    "422 session mismatch before SLOT_INACTIVE and DUPLICATE": (
        WRITE_KEY, {**AADHI_BODY, "appointment_date": "2026-06-15T17:30:00.000Z",
                    "session": "Morning"}, 422, "OUTSIDE_AVAILABILITY"),
    "SLOT_INACTIVE before DUPLICATE": (
        WRITE_KEY, {**AADHI_BODY, "appointment_date": "2026-06-15T17:30:00.000Z"}, 409,
        "SLOT_INACTIVE"),
    "SLOT_INACTIVE on a closed date": (
        WRITE_KEY, {"appointment_date": "2026-06-17T10:00:00.000Z"}, 409, "SLOT_INACTIVE"),
    # Tuesday Morning is full, and Meera has the checkup that day.
    "DUPLICATE before SLOT_FULL": (
        WRITE_KEY, {**MEERA_BODY, "appointment_date": "2026-06-16T10:00:00.000Z"}, 409,
        "DUPLICATE_BOOKING"),
    "DUPLICATE with another name case, spacing": (
        WRITE_KEY, {"patient_name": "  aADHI ", "parent_phone": "+919840XXXXXX"}, 409,
        "DUPLICATE_BOOKING"),
    "SLOT_FULL": (WRITE_KEY, {"appointment_date": "2026-06-16T10:00:00.000Z"}, 409, "SLOT_FULL"),
    "400 before 422": (
        WRITE_KEY, {"appointment_type": "Dental Cleaning",
                    "appointment_date": "2026-06-15T08:00:00.000Z"}, 400, "VALIDATION_ERROR"),
    "403 before 400": (READ_KEY, {"appointment_date": "2026-06-15"}, 403, "INSUFFICIENT_SCOPE"),
    "401 before 403": (None, {"appointment_date": "2026-06-15"}, 401, "UNAUTHORIZED"),
    "422 outside every window": (
        WRITE_KEY, {"appointment_date": "2026-06-15T08:00:00.000Z"}, 422, "OUTSIDE_AVAILABILITY"),
    "422 window of another service": (
        WRITE_KEY, {"appointment_date": "2026-06-18T10:00:00.000Z"}, 422, "OUTSIDE_AVAILABILITY"),
}


@pytest.mark.parametrize("key, changes, status, code", REFUSED_CREATES.values(),
                         ids=REFUSED_CREATES.keys())
def test_refused_creates_in_the_documented_order_change_nothing(client, dump, key, changes,
                                                                status, code) -> None:
    before = dump(client)
    error_of(book(client, key, **changes), status, code)
    assert dump(client) == before


def test_slot_inactive_before_duplicate_and_full(make_client, dump) -> None:
    """Tuesday Morning closed on 2026-06-16, full, and Meera's checkup there."""
    world = default_document()
    window_of(world, "tuesday")["closed_dates"] = ["2026-06-16"]
    client = make_client(world)
    before = dump(client)
    response = book(client, **MEERA_BODY, appointment_date="2026-06-16T10:00:00.000Z")
    error_of(response, 409, "SLOT_INACTIVE")
    assert dump(client) == before


# -- createAppointment: the new appointment everywhere --------------------------------------

def test_created_appointment_is_read_searched_and_counted(client) -> None:
    assert slot_of(client, "2026-06-15", MON_MA)["filled_slots"] == 1
    data = created(book(client))
    read = client.get(f"/v1/appointments/{data['appointment_id']}", headers=auth(READ_KEY))
    assert read.status_code == 200 and read.get_json()["data"] == data
    assert found(search(client, query="date=2026-06-15")) == [ANYA, AADHI, data["appointment_id"],
                                                              KABIR_CANCELLED, KABIR]
    ma = slot_of(client, "2026-06-15", MON_MA)
    assert (ma["filled_slots"], ma["available_slots"]) == (2, 8)


def test_a_reset_forgets_the_created_appointment(client) -> None:
    new_id = created(book(client))["appointment_id"]
    client.post("/_sandbox/reset")
    error_of(client.get(f"/v1/appointments/{new_id}", headers=auth(READ_KEY)), 404, "NOT_FOUND")
    assert found(search(client)) == ALL_DEMO


LATE_SERVICE = "9e0c6f3a-1b2d-4c5e-8f70-8192a3b4c5d6"


def late_world() -> dict[str, Any]:
    """One UTC clinic with a Monday window from 22:00 to midnight."""
    return {"version": 1, "clock": CLOCK, "organizations": [{
        "id": "org_late", "name": "Late Clinic", "timezone": "UTC",
        "api_keys": [{"key": "sk_test_late", "scopes": ["appointments:read", "appointments:write"]}],
        "services": [{"id": LATE_SERVICE, "name": "General Checkup"}],
        "branches": [{"id": "branch_late", "name": "Late"}],
        "calendar_windows": [{
            "id": "win-late", "branch_id": "branch_late", "day": "monday", "session": "Evening",
            "batch": "EL", "start_time": "22:00", "end_time": "24:00", "max_slots": 4,
            "ai_slots": 4}]}]}


def book_late(client: FlaskClient, moment: str) -> TestResponse:
    return client.post("/v1/appointments", headers=auth("sk_test_late"), json={
        "appointment_type": LATE_SERVICE, "appointment_date": moment, "patient_name": moment,
        "parent_phone": "+10000000001"})


def test_a_window_to_midnight_takes_its_last_millisecond(make_client) -> None:
    client = make_client(late_world())
    assert created(book_late(client, "2026-06-15T23:59:59.999Z"))["batch"] == "EL"
    error_of(book_late(client, "2026-06-16T00:00:00.000Z"), 422, "OUTSIDE_AVAILABILITY")


def test_a_window_to_midnight_takes_its_last_microsecond(make_client) -> None:
    client = make_client(late_world())
    data = created(book_late(client, "2026-06-15T23:59:59.999999Z"))
    assert (data["date"], data["batch"]) == ("2026-06-15", "EL")


# -- searchAppointments ---------------------------------------------------------------------

def test_search_defaults_to_page_1_of_50_cancelled_included(client) -> None:
    response = search(client)
    assert found(response) == ALL_DEMO
    assert response.get_json()["pagination"] == {"page": 1, "limit": 50, "total": 9,
                                                 "total_pages": 1, "has_more": False}


@pytest.mark.parametrize("query, expected, pagination", [
    ("limit=2", [ANYA, AADHI], {"page": 1, "limit": 2, "total": 9, "total_pages": 5, "has_more": True}),
    ("limit=2&page=2", [KABIR_CANCELLED, KABIR],
     {"page": 2, "limit": 2, "total": 9, "total_pages": 5, "has_more": True}),
    ("limit=2&page=5", [AADHI_NEXT],
     {"page": 5, "limit": 2, "total": 9, "total_pages": 5, "has_more": False}),
    ("limit=2&page=6", [], {"page": 6, "limit": 2, "total": 9, "total_pages": 5, "has_more": False}),
    ("limit=200", ALL_DEMO, {"page": 1, "limit": 200, "total": 9, "total_pages": 1, "has_more": False}),
    ("limit=9", ALL_DEMO, {"page": 1, "limit": 9, "total": 9, "total_pages": 1, "has_more": False}),
    ("date=2030-01-01", [], {"page": 1, "limit": 50, "total": 0, "total_pages": 0, "has_more": False}),
    ("status=cancelled&limit=1&page=2", [ARJUN],
     {"page": 2, "limit": 1, "total": 2, "total_pages": 2, "has_more": False}),
])
def test_search_pages(client, query, expected, pagination) -> None:
    response = search(client, query=query)
    assert found(response) == expected
    assert response.get_json()["pagination"] == pagination


@pytest.mark.parametrize("query, where", [
    ("limit=201", "query.limit"),
    ("limit=0", "query.limit"),
    ("limit=ten", "query.limit"),
    ("page=0", "query.page"),
    ("page=-1", "query.page"),
    ("status=confirmed&status=cancelled", "query.status"),
    ("date=2026-06-15&date=2026-06-16", "query.date"),
    ("status=pending", "query.status"),
    ("date=2026-02-30", "query.date"),
    ("date=15-06-2026", "query.date"),
    ("session=Night", "query.session"),
])
def test_bad_search_parameters_are_400_at_their_place(client, query, where) -> None:
    error = error_of(search(client, query=query), 400, "VALIDATION_ERROR")
    assert set(locations(error)) == {where}  # a bad date breaks its format and its pattern


def test_unknown_search_parameters_are_ignored(client) -> None:
    assert found(search(client, query="date=2026-06-15&colour=red&sort=desc")) == \
        found(search(client, query="date=2026-06-15"))


@pytest.mark.parametrize("query, expected", [
    ("date=2026-06-15", [ANYA, AADHI, KABIR_CANCELLED, KABIR]),
    ("date=2026-06-16", [MEERA]),
    ("status=confirmed", [AADHI, KABIR, MEERA, DIYA, AADHI_NEXT]),
    ("status=cancelled", [KABIR_CANCELLED, ARJUN]),
    ("status=rescheduled", [ANYA]),
    ("status=completed", [ISHAAN]),
    (f"appointment_type={FOLLOW_UP}", [KABIR_CANCELLED, KABIR, ISHAAN]),
    (f"appointment_type={VACCINATION}", [DIYA]),
    ("appointment_type=Vaccination", []),  # the UUID, not the name
    (f"branch_id={EAST}", [ANYA]),
    (f"branch_id={MAIN}", [a for a in ALL_DEMO if a != ANYA]),
    ("branch_id=branch_lakeview", []),
    ("session=Afternoon", [KABIR, ISHAAN]),
    ("session=Evening", []),
    ("batch=MA", [ANYA, AADHI, MEERA, ARJUN, AADHI_NEXT]),
    ("batch=MB", [KABIR_CANCELLED]),
    ("batch=VA", [DIYA]),
])
def test_each_filter_alone(client, query, expected) -> None:
    assert found(search(client, query=query)) == expected


@pytest.mark.parametrize("query, expected", [
    ("date=2026-06-15&status=confirmed", [AADHI, KABIR]),
    (f"date=2026-06-15&branch_id={MAIN}&session=Morning", [AADHI, KABIR_CANCELLED]),
    (f"appointment_type={GENERAL_CHECKUP}&status=cancelled", [ARJUN]),
])
def test_filters_combine(client, query, expected) -> None:
    assert found(search(client, query=query)) == expected


def test_search_lists_only_the_keys_organization(client) -> None:
    assert ROHAN not in found(search(client, READ_KEY))
    assert found(search(client, OTHER_ORG_KEY)) == [ROHAN]


def test_same_start_is_ordered_by_id(client) -> None:
    """Two bookings at 10:00 sit between Aadhi (09:30) and Kabir's MB (11:00), by id."""
    new = [created(book(client, patient_name=name))["appointment_id"] for name in ("Tara", "Veda")]
    assert found(search(client, query="date=2026-06-15")) == \
        [ANYA, AADHI, *sorted(new), KABIR_CANCELLED, KABIR]


def test_search_follows_a_reschedule_to_another_day(client) -> None:
    response = client.patch(f"/v1/appointments/{AADHI}", headers=auth(WRITE_KEY),
                            json={"appointment_date": "2026-06-19T15:00:00.000Z"})
    assert response.status_code == 200
    assert found(search(client, query="date=2026-06-15")) == [ANYA, KABIR_CANCELLED, KABIR]
    assert found(search(client, query="date=2026-06-19")) == [ISHAAN, AADHI]
    assert found(search(client, query="status=rescheduled")) == [ANYA, AADHI]
    assert found(search(client, query="session=Afternoon")) == [KABIR, ISHAAN, AADHI]


def test_search_follows_a_move_to_an_earlier_window(client) -> None:
    response = client.patch(f"/v1/appointments/{KABIR}", headers=auth(WRITE_KEY),
                            json={"session": "Morning", "batch": "MB"})
    assert response.status_code == 200
    assert found(search(client, query="date=2026-06-15")) == [ANYA, AADHI, KABIR_CANCELLED, KABIR]
    assert found(search(client, query="session=Afternoon")) == [ISHAAN]


INDIA_SERVICE = "7b9d1f3b-5c7e-4a9c-8e1a-3c5e7a9c1e3a"


def india_world() -> dict[str, Any]:
    """A clinic on India time: its Tuesday 00:00-02:00 window is Monday 18:30-20:30 in UTC."""
    windows = [("win-mon", "monday", "Morning", "MA", "09:00", "12:00"),
               ("win-tue-night", "tuesday", "Morning", "NA", "00:00", "02:00"),
               ("win-tue", "tuesday", "Morning", "MA", "09:00", "12:00")]
    appointments = [("appt_india00001", "2026-06-15", "MA", "Asha"),     # 03:30Z on the 15th
                    ("appt_india00002", "2026-06-16", "NA", "Bala"),     # 18:30Z on the 15th
                    ("appt_india00003", "2026-06-16", "MA", "Chitra")]   # 03:30Z on the 16th
    return {"version": 1, "clock": CLOCK, "organizations": [{
        "id": "org_india", "name": "India Clinic", "timezone": "Asia/Kolkata",
        "api_keys": [{"key": "sk_test_india", "scopes": ["appointments:read", "appointments:write"]}],
        "services": [{"id": INDIA_SERVICE, "name": "General Checkup"}],
        "branches": [{"id": "branch_india", "name": "India"}],
        "calendar_windows": [
            {"id": i, "branch_id": "branch_india", "day": d, "session": s, "batch": b,
             "start_time": start, "end_time": end, "max_slots": 4, "ai_slots": 4}
            for i, d, s, b, start, end in windows],
        "appointments": [
            {"appointment_id": i, "appointment_type": INDIA_SERVICE, "branch_id": "branch_india",
             "date": on, "session": "Morning", "batch": b, "patient_name": name,
             "parent_phone": f"+9198000{n:05d}"}
            for n, (i, on, b, name) in enumerate(appointments)]}]}


def test_date_is_a_utc_day_not_the_local_date(make_client) -> None:
    client = make_client(india_world())
    monday = search(client, "sk_test_india", "date=2026-06-15")
    assert found(monday) == ["appt_india00001", "appt_india00002"]
    assert [a["date"] for a in monday.get_json()["data"]] == ["2026-06-15", "2026-06-16"]
    assert found(search(client, "sk_test_india", "date=2026-06-16")) == ["appt_india00003"]


def test_a_booking_after_1830_utc_is_found_on_its_utc_day(make_client) -> None:
    client = make_client(india_world())
    response = client.post("/v1/appointments", headers=auth("sk_test_india"), json={
        "appointment_type": INDIA_SERVICE, "appointment_date": "2026-06-15T19:00:00.000Z",
        "patient_name": "Devi", "parent_phone": "+919800099999"})
    data = created(response)
    assert (data["date"], data["batch"]) == ("2026-06-16", "NA")
    assert found(search(client, "sk_test_india", "date=2026-06-15"))[-1] == data["appointment_id"]
    assert data["appointment_id"] not in found(search(client, "sk_test_india", "date=2026-06-16"))
    night = slot_of(client, "2026-06-16", "win-tue-night", "sk_test_india")
    assert night["filled_slots"] == 2


def slots_key_world() -> dict[str, Any]:
    """The default world with a slots:read-only key in org_demo."""
    world = default_document()
    demo_of(world)["api_keys"].append({"key": SLOTS_KEY, "scopes": ["slots:read"]})
    return world


@pytest.mark.parametrize("key, status", [(READ_KEY, 200), (WRITE_KEY, 200),
                                         (NO_SCOPE_KEY, 403), (SLOTS_KEY, 403)])
def test_search_needs_appointments_read(make_client, key, status) -> None:
    response = search(make_client(slots_key_world()), key)
    if status == 200:
        assert found(response) == ALL_DEMO
    else:
        error = error_of(response, 403, "INSUFFICIENT_SCOPE")
        assert "appointments:read" in error["message"]


def test_search_without_a_key_is_401(client) -> None:
    error_of(client.get("/v1/appointments"), 401, "UNAUTHORIZED")


# -- searchAppointments reads the index, not every appointment ------------------------------

BIG_KEY = "sk_test_big_read"
BIG_SERVICE = "1d3f5b7d-9e1a-4c3e-8a5c-7e9a1c3e5a7c"
BIG_START = date(2027, 1, 4)
BIG_TOTAL = 100_000
PER_DAY = 100  # 1,000 dates
CANCELLED_EVERY = 50  # 2 a day


def big_id(i: int) -> str:
    return f"appt_{i:010d}"


def big_world() -> dict[str, Any]:
    """100,000 appointments of one organization, 100 a day, each a different patient."""
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    appointments = [
        {"appointment_id": big_id(i), "appointment_type": BIG_SERVICE, "branch_id": "branch_big",
         "date": (BIG_START + timedelta(days=i // PER_DAY)).isoformat(), "session": "Morning",
         "batch": "MA", "patient_name": f"Patient {i}", "parent_phone": f"+91{i:010d}",
         "status": "cancelled" if i % CANCELLED_EVERY == 0 else "confirmed"}
        for i in range(BIG_TOTAL)]
    return {"version": 1, "clock": CLOCK, "organizations": [{
        "id": "org_big", "name": "Big Clinic", "timezone": "UTC",
        "api_keys": [{"key": BIG_KEY, "scopes": ["appointments:read"]}],
        "services": [{"id": BIG_SERVICE, "name": "General Checkup"}],
        "branches": [{"id": "branch_big", "name": "Big"}],
        "calendar_windows": [
            {"id": f"win-{day}", "branch_id": "branch_big", "day": day, "session": "Morning",
             "batch": "MA", "start_time": "09:00", "end_time": "12:00", "max_slots": PER_DAY,
             "ai_slots": PER_DAY} for day in days],
        "appointments": appointments}]}


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every index entry a search reads to fill its page, in order."""
    read: list[str] = []
    real = huskyvoice_sandbox.domain.index._in_all

    def counting(appointment_id: str, sets: list[set[str]]) -> bool:
        read.append(appointment_id)
        return real(appointment_id, sets)

    monkeypatch.setattr(huskyvoice_sandbox.domain.index, "_in_all", counting)
    return read


def test_search_reads_the_index_not_every_appointment(make_client, monkeypatch) -> None:
    client = make_client(big_world())
    read = count_reads(monkeypatch)
    day = 7  # 2027-01-11: appointments 700 to 799
    on = (BIG_START + timedelta(days=day)).isoformat()
    that_day = [big_id(i) for i in range(day * PER_DAY, (day + 1) * PER_DAY)]

    # Two conditions: only that day's list is read, each of its appointments once.
    response = search(client, BIG_KEY, f"date={on}&status=confirmed&limit=200")
    assert found(response) == [i for i in that_day if int(i[5:]) % CANCELLED_EVERY]
    assert response.get_json()["pagination"]["total"] == PER_DAY - 2
    assert read == that_day

    # Two broad conditions (each matches almost everything): the page is read, not the world,
    # and the total is still exact.
    read.clear()
    response = search(client, BIG_KEY, "status=confirmed&session=Morning&limit=3")
    assert found(response) == [big_id(i) for i in (1, 2, 3)]
    assert response.get_json()["pagination"]["total"] == BIG_TOTAL - 2_000
    assert read == [big_id(i) for i in (1, 2, 3)]  # the shorter (confirmed) list, three entries of it

    # One condition: its list is the answer, paged without reading an entry.
    read.clear()
    response = search(client, BIG_KEY, f"date={on}&limit=30&page=2")
    assert found(response) == that_day[30:60]
    assert response.get_json()["pagination"] == {"page": 2, "limit": 30, "total": PER_DAY,
                                                 "total_pages": 4, "has_more": True}
    response = search(client, BIG_KEY, "status=cancelled&limit=200&page=10")
    assert found(response) == [big_id(i) for i in range(90_000, BIG_TOTAL, CANCELLED_EVERY)]
    assert response.get_json()["pagination"] == {"page": 10, "limit": 200, "total": 2_000,
                                                 "total_pages": 10, "has_more": False}
    assert read == []


# -- getAvailability ------------------------------------------------------------------------

def window_slot(calendar_id: str, branch_id: str, session: str, batch: str, hours: tuple[str, str],
                places: tuple[int, int], filled: int, on: str = "2026-06-15",
                day: str = "monday") -> dict[str, Any]:
    max_slots, ai_slots = places
    return {"slot_id": f"{calendar_id}||{on}", "calendar_id": calendar_id, "branch_id": branch_id,
            "day": day, "session": session, "batch": batch, "start_time": hours[0],
            "end_time": hours[1], "appointment_type": None, "max_slots": max_slots,
            "ai_slots": ai_slots, "filled_slots": filled, "available_slots": ai_slots - filled,
            "status": "OPEN", "created_at": CLOCK, "updated_at": CLOCK}


MONDAY_SLOTS = [  # by start time, then branch, then batch
    window_slot(EAST_MA, EAST, "Morning", "MA", ("08:00", "10:00"), (6, 3), 1),   # Anya, rescheduled
    window_slot(MON_MA, MAIN, "Morning", "MA", ("09:00", "11:00"), (20, 10), 1),  # Aadhi
    window_slot(MON_MB, MAIN, "Morning", "MB", ("11:00", "12:00"), (4, 2), 0),    # Kabir cancelled
    window_slot(MON_AA, MAIN, "Afternoon", "AA", ("14:00", "17:00"), (10, 5), 1),  # Kabir
]


def test_monday_slots_field_for_field(client) -> None:
    response = availability(client, "date=2026-06-15")
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["success", "date", "slots"]  # no `data` wrapper
    assert (body["success"], body["date"]) == (True, "2026-06-15")
    assert body["slots"] == MONDAY_SLOTS
    assert all(len(s) == 16 for s in body["slots"])


def test_inactive_windows_and_other_weekdays_are_absent(client) -> None:
    listed = [s["calendar_id"] for s in slots(client, "date=2026-06-15")]
    assert MON_EA not in listed and TUE_MA not in listed and FRI_AA not in listed


@pytest.mark.parametrize("on, expected", [
    ("2026-06-16", [TUE_MA]),
    ("2026-06-17", []),          # Wednesday Morning is closed that date
    ("2026-06-24", [WED_MA]),    # and open the week after
    ("2026-06-18", [THU_VA]),
    ("2026-06-19", [FRI_AA]),
    ("2026-06-20", []),          # Saturday
    ("2026-06-22", [EAST_MA, MON_MA, MON_MB, MON_AA]),
])
def test_the_windows_open_on_each_date(client, on, expected) -> None:
    listed = slots(client, f"date={on}")
    assert [s["calendar_id"] for s in listed] == expected
    assert all(s["slot_id"] == f"{s['calendar_id']}||{on}" for s in listed)


def test_a_service_restricted_window_names_its_service(client) -> None:
    thursday = slots(client, "date=2026-06-18")
    assert [(s["appointment_type"], s["filled_slots"]) for s in thursday] == [(VACCINATION, 1)]


def test_filled_slots_count_confirmed_and_rescheduled_only(client) -> None:
    assert slot_of(client, "2026-06-19", FRI_AA)["filled_slots"] == 0   # Ishaan, completed
    assert slot_of(client, "2026-06-15", MON_MB)["filled_slots"] == 0   # Kabir, cancelled
    assert slot_of(client, "2026-06-15", EAST_MA)["filled_slots"] == 1  # Anya, rescheduled
    client.patch(f"/v1/appointments/{AADHI}", json={"status": "completed"}, headers=auth(WRITE_KEY))
    assert slot_of(client, "2026-06-15", MON_MA)["filled_slots"] == 0
    client.patch(f"/v1/appointments/{AADHI}", json={"status": "confirmed"}, headers=auth(WRITE_KEY))
    assert slot_of(client, "2026-06-15", MON_MA)["filled_slots"] == 1


def test_available_slots_reach_0_exactly_when_a_booking_is_full(client) -> None:
    """Monday Morning MB (2 places) fills up booking by booking."""
    for n in range(2):
        mb = slot_of(client, "2026-06-15", MON_MB)
        assert (mb["filled_slots"], mb["available_slots"]) == (n, 2 - n)
        created(book(client, patient_name=f"Patient {n}", appointment_date="2026-06-15T11:30:00.000Z"))
    mb = slot_of(client, "2026-06-15", MON_MB)
    assert (mb["filled_slots"], mb["available_slots"]) == (2, 0)
    error_of(book(client, appointment_date="2026-06-15T11:30:00.000Z"), 409, "SLOT_FULL")


def test_a_full_window_shows_0_and_refuses(client) -> None:
    assert slot_of(client, "2026-06-16", TUE_MA)["available_slots"] == 0
    error_of(book(client, appointment_date="2026-06-16T10:00:00.000Z"), 409, "SLOT_FULL")


def test_a_window_without_api_places_shows_0_and_refuses(make_client) -> None:
    world = default_document()
    friday = window_of(world, "friday")
    friday["ai_slots"] = 0
    demo_of(world)["appointments"] = [a for a in demo_of(world)["appointments"]
                                      if a["appointment_id"] != ISHAAN]
    client = make_client(world)
    fri = slot_of(client, "2026-06-19", FRI_AA)
    assert (fri["ai_slots"], fri["filled_slots"], fri["available_slots"]) == (0, 0, 0)
    error_of(book(client, appointment_date="2026-06-19T15:00:00.000Z"), 409, "SLOT_FULL")


def test_available_slots_are_never_negative(client) -> None:
    for offset in range(14):
        on = (date(2026, 6, 15) + timedelta(days=offset)).isoformat()
        for s in slots(client, f"date={on}"):
            assert s["available_slots"] == max(0, s["ai_slots"] - s["filled_slots"]) >= 0


@pytest.mark.parametrize("query, expected", [
    (f"branch_id={EAST}", [EAST_MA]),
    (f"branch_id={MAIN}", [MON_MA, MON_MB, MON_AA]),
    ("branch_id=branch_lakeview", []),
    ("session=Morning", [EAST_MA, MON_MA, MON_MB]),
    ("session=Afternoon", [MON_AA]),
    ("session=Evening", []),  # the inactive one
    (f"branch_id={MAIN}&session=Morning", [MON_MA, MON_MB]),
])
def test_availability_filters(client, query, expected) -> None:
    listed = slots(client, f"date=2026-06-15&{query}")
    assert [s["calendar_id"] for s in listed] == expected


@pytest.mark.parametrize("query, where", [
    ("", "query.date"),
    ("branch_id=branch_uuid_here", "query.date"),
    ("date=2026-02-30", "query.date"),
    ("date=2026-6-15", "query.date"),
    ("date=2026-06-15T00:00:00Z", "query.date"),
    ("date=2026-06-15&session=Night", "query.session"),
    ("date=2026-06-15&date=2026-06-16", "query.date"),
])
def test_bad_availability_parameters_are_400(client, query, where) -> None:
    error = error_of(availability(client, query), 400, "VALIDATION_ERROR")
    assert set(locations(error)) == {where}


@pytest.mark.parametrize("key", [SLOTS_KEY, READ_KEY, WRITE_KEY])
def test_availability_takes_slots_read_or_appointments_read(make_client, key) -> None:
    assert slots(make_client(slots_key_world()), "date=2026-06-15", key) == MONDAY_SLOTS


def test_availability_refuses_other_keys(client) -> None:
    error = error_of(availability(client, "date=2026-06-15", NO_SCOPE_KEY), 403, "INSUFFICIENT_SCOPE")
    assert "slots:read or appointments:read" in error["message"]
    error_of(client.get("/v1/appointment-slots/availability?date=2026-06-15"), 401, "UNAUTHORIZED")


# -- listServices and getAppointmentConfig --------------------------------------------------

def test_services_are_the_organizations_in_order(client) -> None:
    response = client.get("/v1/services", headers=auth(READ_KEY))
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "data": [
        {"service_id": GENERAL_CHECKUP, "name": "General Checkup"},
        {"service_id": FOLLOW_UP, "name": "Follow-up Visit"},
        {"service_id": VACCINATION, "name": "Vaccination"},
    ]}


def test_services_of_another_organization(client) -> None:
    response = client.get("/v1/services", headers=auth(OTHER_ORG_KEY))
    assert response.get_json() == {"success": True, "data": [
        {"service_id": LAKEVIEW_CHECKUP, "name": "General Checkup"}]}


@pytest.mark.parametrize("key, config", [
    (READ_KEY, {"allow_cancellation": True, "cancellation_notice_hours": 24, "timezone": "UTC"}),
    (OTHER_ORG_KEY, {"allow_cancellation": False, "cancellation_notice_hours": 0,
                     "timezone": "Asia/Kolkata"}),
])
def test_appointment_config(client, key, config) -> None:
    response = client.get("/v1/appointment-config", headers=auth(key))
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "data": config}


@pytest.mark.parametrize("path", ["/v1/services", "/v1/appointment-config"])
@pytest.mark.parametrize("key, status, code", [
    (None, 401, "UNAUTHORIZED"),
    ("sk_test_nobody", 401, "UNAUTHORIZED"),
    (NO_SCOPE_KEY, 403, "INSUFFICIENT_SCOPE"),
    (SLOTS_KEY, 403, "INSUFFICIENT_SCOPE"),
])
def test_services_and_config_refusals(make_client, path, key, status, code) -> None:
    client = make_client(slots_key_world())
    error_of(client.get(path, headers=auth(key)), status, code)


# -- the routes are the spec's operations ---------------------------------------------------

def spec_document() -> dict[str, Any]:
    return yaml.safe_load(spec_path().read_text(encoding="utf-8"))


def write_spec(tmp_path: Path, spec: dict[str, Any]) -> Contract:
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return Contract(path)


def test_an_operation_without_a_view_fails_app_creation(tmp_path) -> None:
    spec = spec_document()
    extra = copy.deepcopy(spec["paths"]["/v1/services"]["get"])
    extra["operationId"] = "listReminders"
    spec["paths"]["/v1/reminders"] = {"get": extra}
    with pytest.raises(SpecMismatch, match=r"no view for the spec's listReminders"):
        create_app(contract=write_spec(tmp_path, spec))


def test_a_view_without_an_operation_fails_app_creation(tmp_path) -> None:
    spec = spec_document()
    del spec["paths"]["/v1/appointment-config"]
    with pytest.raises(SpecMismatch, match=r"no operation in the spec for the view getAppointmentConfig"):
        create_app(contract=write_spec(tmp_path, spec))


def test_v1_routes_are_exactly_the_spec_operations(app, contract) -> None:
    routes = {(method, rule.rule, rule.endpoint) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/v1") for method in rule.methods - {"HEAD", "OPTIONS"}}
    paths = [op.path for op in contract.operations.values()]
    operations = {(op.method, flask_rule(op.path, paths), f"api.{op.operation_id}")
                  for op in contract.operations.values()}
    assert routes == operations


@pytest.mark.parametrize("path", ["/v1/appointments?date=0000-01-01",
                                  "/v1/appointment-slots/availability?date=0000-02-29"])
def test_year_zero_is_not_a_date(client, path: str) -> None:
    """The fast validator's date format takes year 0000, which no date can hold: the spec's
    pattern refuses it, located, instead of a 500."""
    error = error_of(client.get(path, headers=auth(WRITE_KEY)), 400, "VALIDATION_ERROR")
    assert {d["location"] for d in error["details"]} == {"query.date"}
