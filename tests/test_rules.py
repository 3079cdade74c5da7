"""The booking rules on the default world: issue 2, section 3, items 5-9.

Calendar of the default world (Main Branch, org_demo, UTC):
  Mon 2026-06-15 / 06-22   Morning MA 09-11 (10 places), Morning MB 11-12 (2),
                           Afternoon AA 14-17 (5), Evening EA 17-19 (inactive)
  Tue 2026-06-16           Morning MA 09-12 (1 place; Meera has it)
  Wed 2026-06-17 / 06-24   Morning MA 09-12 (closed on 2026-06-17 only)
  Thu 2026-06-18 / 06-25   Morning VA 09-12 (Vaccination only)
  Fri 2026-06-19           Afternoon AA 14-17
Lakeview (org_lakeview, Asia/Kolkata): Mon Morning MA 09-12, Afternoon AA 14-18 local time.
"""

from __future__ import annotations

import re

import pytest
import yaml
from huskyvoice_sandbox.resources import default_world_path

from helpers import appointment_in, error_of

WRITE_KEY = "sk_test_demo_write"
LAKEVIEW_KEY = "sk_test_other_write"

AADHI = "appt_a1b2c3d4e5"          # confirmed, Mon 06-15 Morning MA, General Checkup
AADHI_NEXT = "appt_b2c3d4e5f6"     # confirmed, Mon 06-22 Morning MA, General Checkup
MEERA = "appt_c3d4e5f6a7"          # confirmed, Tue 06-16 Morning MA (window full: 1 of 1)
KABIR_CANCELLED = "appt_d4e5f6a7b8"  # cancelled, Mon 06-15 Morning MB, Follow-up
KABIR = "appt_e5f6a7b8c9"          # confirmed, Mon 06-15 Afternoon AA, Follow-up
DIYA = "appt_f6a7b8c9d0"           # confirmed, Thu 06-18 Morning VA, Vaccination
ARJUN = "appt_0a1b2c3d4e"          # cancelled, Wed 06-17 (a closed date)
ISHAAN = "appt_1b2c3d4e5f"         # completed, Fri 06-19 Afternoon AA
ANYA = "appt_2c3d4e5f6a"           # rescheduled, East Branch Mon 06-15 Morning MA
ROHAN = "appt_9z8y7x6w5v"          # Lakeview, confirmed, Mon 06-15 Morning MA (IST)

PUBLIC_FIELDS = [
    "appointment_id", "appointment_type", "branch_id", "date", "session", "batch", "token",
    "patient_name", "parent_phone", "assigned_doctor", "status", "external_reference_id",
    "created_at", "updated_at",
]
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CLOCK = "2026-05-26T11:00:00.000Z"  # the default world's frozen clock


@pytest.fixture
def update(client, auth):
    """update(appointment_id, body, key=WRITE_KEY) -> response."""

    def send(appointment_id: str, body: dict, key: str = WRITE_KEY):
        return client.patch(f"/v1/appointments/{appointment_id}", json=body, headers=auth(key))

    return send


@pytest.fixture
def read(client, auth):
    def send(appointment_id: str, key: str = WRITE_KEY) -> dict:
        response = client.get(f"/v1/appointments/{appointment_id}", headers=auth(key))
        assert response.status_code == 200
        return response.get_json()["data"]

    return send


def ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is True
    return body["data"]




def slot(data: dict) -> tuple[str, str, str]:
    return data["date"], data["session"], data["batch"]




def default_world() -> dict:
    return yaml.safe_load(default_world_path().read_text(encoding="utf-8"))


def org_of(world: dict, org_id: str) -> dict:
    return next(org for org in world["organizations"] if org["id"] == org_id)


# -- 404 NOT_FOUND ---------------------------------------------------------------------------

@pytest.mark.parametrize("appointment_id", ["appt_zzzzzzzzzz", "APPT_A1B2C3D4E5", "appt_a1b2c3d4e",
                                            ROHAN, "x" * 100])
def test_patch_on_an_unknown_appointment_is_404(update, appointment_id) -> None:
    error = error_of(update(appointment_id, {"status": "cancelled"}), 404, "NOT_FOUND")
    assert len(error["message"]) < 200


def test_not_found_message_clips_a_long_id(update) -> None:
    error = error_of(update("y" * 120, {"notes": "x"}), 404, "NOT_FOUND")
    assert "y" * 65 not in error["message"]


# -- 6. rescheduling: the four rules, in order ----------------------------------------------

REFUSED_RESCHEDULES = {
    "no window at 08:00 on Monday": (AADHI, "2026-06-15T08:00:00.000Z", 422,
                                     "OUTSIDE_AVAILABILITY"),
    "Monday after the last window": (AADHI, "2026-06-15T19:00:00.000Z", 422,
                                     "OUTSIDE_AVAILABILITY"),
    "Monday Morning MB ends at 12:00 (exclusive)": (AADHI, "2026-06-15T12:00:00.000Z", 422,
                                                    "OUTSIDE_AVAILABILITY"),
    "no window on Saturday": (AADHI, "2026-06-20T10:00:00.000Z", 422, "OUTSIDE_AVAILABILITY"),
    "Thursday window serves Vaccination only": (AADHI, "2026-06-18T10:00:00.000Z", 422,
                                                "OUTSIDE_AVAILABILITY"),
    "East Branch window is not this branch's": (AADHI, "2026-06-15T08:30:00.000Z", 422,
                                                "OUTSIDE_AVAILABILITY"),
    "Monday Evening is inactive": (AADHI, "2026-06-15T17:30:00.000Z", 409, "SLOT_INACTIVE"),
    "Wednesday Morning is closed on 2026-06-17": (AADHI, "2026-06-17T10:00:00.000Z", 409,
                                                  "SLOT_INACTIVE"),
    "Aadhi already has a checkup on 2026-06-22": (AADHI, "2026-06-22T09:30:00.000Z", 409,
                                                  "DUPLICATE_BOOKING"),
    "duplicate in another window of the same date": (AADHI, "2026-06-22T14:30:00.000Z", 409,
                                                     "DUPLICATE_BOOKING"),
    "Tuesday Morning is full (1 of 1)": (AADHI, "2026-06-16T10:00:00.000Z", 409, "SLOT_FULL"),
}


@pytest.mark.parametrize("appointment_id, moment, status, code", REFUSED_RESCHEDULES.values(),
                         ids=REFUSED_RESCHEDULES.keys())
def test_refused_reschedules(update, dump, client, appointment_id, moment, status, code) -> None:
    before = dump(client)
    error_of(update(appointment_id, {"appointment_date": moment}), status, code)
    assert dump(client) == before, "a refused reschedule must change nothing"


def test_another_patients_booking_is_no_duplicate(update) -> None:
    # Ishaan's follow-up onto Monday afternoon, where Kabir has an active follow-up.
    data = ok(update(ISHAAN, {"appointment_date": "2026-06-15T14:30:00.000Z"}))
    assert slot(data) == ("2026-06-15", "Afternoon", "AA")


def test_outside_availability_names_the_local_time(update) -> None:
    error = error_of(update(AADHI, {"appointment_date": "2026-06-15T08:00:00.000Z"}), 422,
                     "OUTSIDE_AVAILABILITY")
    assert "08:00" in error["message"]


def test_service_restricted_window_serves_its_own_service(update) -> None:
    data = ok(update(DIYA, {"appointment_date": "2026-06-25T10:00:00.000Z"}))
    assert slot(data) == ("2026-06-25", "Morning", "VA")


def test_open_window_on_another_week_of_a_closed_date(update) -> None:
    data = ok(update(AADHI, {"appointment_date": "2026-06-24T10:00:00.000Z"}))
    assert slot(data) == ("2026-06-24", "Morning", "MA")


@pytest.mark.parametrize("moment, expected", [
    ("2026-06-15T09:00:00.000Z", ("2026-06-15", "Morning", "MA")),      # start is inclusive
    ("2026-06-15T10:59:59.999Z", ("2026-06-15", "Morning", "MA")),
    ("2026-06-15T11:00:00.000Z", ("2026-06-15", "Morning", "MB")),      # MA's end is exclusive
    ("2026-06-15T14:00:00.000Z", ("2026-06-15", "Afternoon", "AA")),
    ("2026-06-19T16:59:00.000Z", ("2026-06-19", "Afternoon", "AA")),
])
def test_reschedule_takes_date_session_and_batch_from_the_window(update, moment, expected) -> None:
    data = ok(update(AADHI, {"appointment_date": moment}))
    assert slot(data) == expected
    assert data["status"] == "rescheduled"


@pytest.mark.parametrize("status", ["confirmed", "completed", "cancelled"])
def test_reschedule_with_status_keeps_the_status_sent(update, status) -> None:
    data = ok(update(AADHI, {"appointment_date": "2026-06-15T14:30:00.000Z", "status": status}))
    assert slot(data) == ("2026-06-15", "Afternoon", "AA")
    assert data["status"] == status


def test_reschedule_is_stored(update, read, dump, client) -> None:
    written = ok(update(AADHI, {"appointment_date": "2026-06-19T15:00:00.000Z"}))
    assert read(AADHI) == written
    stored = appointment_in(dump(client), AADHI)
    assert (stored["date"], stored["session"], stored["batch"], stored["status"]) == \
        ("2026-06-19", "Afternoon", "AA", "rescheduled")


def test_moving_within_a_full_window_does_not_count_against_itself(update) -> None:
    data = ok(update(MEERA, {"appointment_date": "2026-06-16T11:30:00.000Z"}))
    assert slot(data) == ("2026-06-16", "Morning", "MA")


def test_rescheduling_to_the_same_date_is_not_a_duplicate_of_itself(update) -> None:
    data = ok(update(AADHI, {"appointment_date": "2026-06-15T09:30:00.000Z"}))
    assert slot(data) == ("2026-06-15", "Morning", "MA")
    assert data["status"] == "rescheduled"


def test_cancelled_booking_is_not_a_duplicate(update) -> None:
    # Kabir's cancelled follow-up sits in Monday Morning MB on 06-15; his active one moves there.
    data = ok(update(KABIR, {"appointment_date": "2026-06-15T11:15:00.000Z"}))
    assert slot(data) == ("2026-06-15", "Morning", "MB")


def test_cancelling_frees_a_place_for_another_appointment(update) -> None:
    error_of(update(AADHI, {"appointment_date": "2026-06-16T10:00:00.000Z"}), 409, "SLOT_FULL")
    ok(update(MEERA, {"status": "cancelled"}))
    data = ok(update(AADHI, {"appointment_date": "2026-06-16T10:00:00.000Z"}))
    assert slot(data) == ("2026-06-16", "Morning", "MA")


def test_moving_away_frees_the_old_place(update) -> None:
    ok(update(MEERA, {"appointment_date": "2026-06-19T15:00:00.000Z"}))
    ok(update(AADHI, {"appointment_date": "2026-06-16T10:00:00.000Z"}))


def test_completing_frees_a_place(update) -> None:
    ok(update(MEERA, {"status": "completed"}))
    ok(update(AADHI, {"appointment_date": "2026-06-16T10:00:00.000Z"}))


# Variants of the default world for the rules the default world cannot show on its own.

def test_duplicate_compares_names_case_insensitively_and_trimmed(make_client, auth) -> None:
    world = default_world()
    demo = org_of(world, "org_demo")
    next_checkup = next(a for a in demo["appointments"] if a["appointment_id"] == AADHI_NEXT)
    next_checkup["patient_name"] = "  aADHI "
    client = make_client(world)
    response = client.patch(f"/v1/appointments/{AADHI}", headers=auth(WRITE_KEY),
                            json={"appointment_date": "2026-06-22T09:30:00.000Z"})
    error_of(response, 409, "DUPLICATE_BOOKING")


@pytest.mark.parametrize("change", [
    {"parent_phone": "+919840000000"},
    {"patient_name": "Aadhira"},
    {"appointment_type": "6f1c2b9a-3d4e-4f5a-8b7c-9d0e1f2a3b4c"},
    {"status": "cancelled"},
    {"status": "completed"},
])
def test_not_a_duplicate_when_phone_name_service_or_activity_differ(make_client, auth,
                                                                    change) -> None:
    world = default_world()
    demo = org_of(world, "org_demo")
    next_checkup = next(a for a in demo["appointments"] if a["appointment_id"] == AADHI_NEXT)
    next_checkup.update(change)
    client = make_client(world)
    response = client.patch(f"/v1/appointments/{AADHI}", headers=auth(WRITE_KEY),
                            json={"appointment_date": "2026-06-22T09:30:00.000Z"})
    assert slot(ok(response)) == ("2026-06-22", "Morning", "MA")


def test_duplicate_before_full(make_client, auth) -> None:
    """Both rules broken at once: DUPLICATE_BOOKING is reported (the documented order)."""
    world = default_world()
    demo = org_of(world, "org_demo")
    meera = next(a for a in demo["appointments"] if a["appointment_id"] == MEERA)
    meera.update(patient_name="Aadhi", parent_phone="+919840XXXXXX")
    client = make_client(world)
    response = client.patch(f"/v1/appointments/{AADHI}", headers=auth(WRITE_KEY),
                            json={"appointment_date": "2026-06-16T10:00:00.000Z"})
    error_of(response, 409, "DUPLICATE_BOOKING")


def test_inactive_before_duplicate_and_full(make_client, auth) -> None:
    """An inactive window that is also full and would make a duplicate: SLOT_INACTIVE first."""
    world = default_world()
    demo = org_of(world, "org_demo")
    tuesday = next(w for w in demo["calendar_windows"] if w["day"] == "tuesday")
    tuesday["active"] = False
    meera = next(a for a in demo["appointments"] if a["appointment_id"] == MEERA)
    meera.update(patient_name="Aadhi", parent_phone="+919840XXXXXX")
    client = make_client(world)
    response = client.patch(f"/v1/appointments/{AADHI}", headers=auth(WRITE_KEY),
                            json={"appointment_date": "2026-06-16T10:00:00.000Z"})
    error_of(response, 409, "SLOT_INACTIVE")


def test_time_outside_a_full_windows_hours_is_outside_availability(update) -> None:
    error_of(update(AADHI, {"appointment_date": "2026-06-16T13:00:00.000Z"}), 422,
             "OUTSIDE_AVAILABILITY")


# -- 7. session / batch -------------------------------------------------------------------

@pytest.mark.parametrize("body, expected", [
    ({"session": "Afternoon"}, ("2026-06-15", "Afternoon", "AA")),
    ({"batch": "MB"}, ("2026-06-15", "Morning", "MB")),
    ({"session": "Morning", "batch": "MB"}, ("2026-06-15", "Morning", "MB")),
    ({"session": "Afternoon", "batch": "AA"}, ("2026-06-15", "Afternoon", "AA")),
    ({"session": "Morning"}, ("2026-06-15", "Morning", "MA")),  # where it already is
])
def test_session_and_batch_move_within_the_same_date(update, read, body, expected) -> None:
    data = ok(update(AADHI, body))
    assert slot(data) == expected
    assert data["status"] == "confirmed"
    assert slot(read(AADHI)) == expected


@pytest.mark.parametrize("body, status, code", [
    ({"session": "Evening"}, 409, "SLOT_INACTIVE"),
    ({"batch": "ZZ"}, 422, "OUTSIDE_AVAILABILITY"),
    ({"batch": "AA"}, 422, "OUTSIDE_AVAILABILITY"),  # AA is an Afternoon batch, not Morning
    ({"session": "Afternoon", "batch": "MB"}, 422, "OUTSIDE_AVAILABILITY"),
    ({"session": "Morning", "batch": "EA"}, 422, "OUTSIDE_AVAILABILITY"),
])
def test_session_and_batch_run_the_same_checks(update, client, dump, body, status, code) -> None:
    before = dump(client)
    error_of(update(AADHI, body), status, code)
    assert dump(client) == before


def test_session_on_a_date_without_that_session_is_422(update) -> None:
    error_of(update(MEERA, {"session": "Afternoon"}), 422, "OUTSIDE_AVAILABILITY")


def test_batch_of_a_window_restricted_to_another_service_is_422(update) -> None:
    # Thursday's only window (VA) is Vaccination-only; Diya has it. A Morning MA does not exist.
    error_of(update(DIYA, {"batch": "MA"}), 422, "OUTSIDE_AVAILABILITY")


def test_session_move_into_a_window_of_another_service_is_422(make_client, auth) -> None:
    """A Vaccination-only batch on Monday morning does not take a General Checkup."""
    world = default_world()
    org_of(world, "org_demo")["calendar_windows"].append({
        "id": "0f0f0f0f-0000-4000-8000-000000000003", "branch_id": "branch_uuid_here",
        "day": "monday", "session": "Morning", "batch": "MV", "start_time": "09:00",
        "end_time": "11:00", "max_slots": 4, "ai_slots": 2,
        "appointment_type": "0b8e7d6c-5a4f-4e3d-9c2b-1a0f9e8d7c6b", "active": True,
        "closed_dates": []})
    client = make_client(world)
    headers = auth(WRITE_KEY)
    response = client.patch(f"/v1/appointments/{AADHI}", headers=headers, json={"batch": "MV"})
    error_of(response, 422, "OUTSIDE_AVAILABILITY")
    response = client.patch(f"/v1/appointments/{AADHI}", headers=headers,
                            json={"appointment_date": "2026-06-15T09:30:00.000Z", "batch": "MV"})
    error_of(response, 422, "OUTSIDE_AVAILABILITY")
    # The restricted window does not hide the general one at the same time.
    response = client.patch(f"/v1/appointments/{AADHI}", headers=headers,
                            json={"appointment_date": "2026-06-15T09:30:00.000Z"})
    assert slot(ok(response)) == ("2026-06-15", "Morning", "MA")


def test_session_move_into_a_full_window_is_slot_full(update) -> None:
    # Fill Monday 06-15 Morning MB (2 places): Aadhi and Kabir move in; then Meera tries.
    ok(update(AADHI, {"batch": "MB"}))
    ok(update(KABIR, {"session": "Morning", "batch": "MB"}))
    ok(update(MEERA, {"appointment_date": "2026-06-15T14:30:00.000Z"}))
    error_of(update(MEERA, {"session": "Morning", "batch": "MB"}), 409, "SLOT_FULL")


def test_session_move_on_a_closed_date_is_slot_inactive(make_client, auth) -> None:
    world = default_world()
    demo = org_of(world, "org_demo")
    demo["calendar_windows"].append({
        "id": "0f0f0f0f-0000-4000-8000-000000000001", "branch_id": "branch_uuid_here",
        "day": "monday", "session": "Afternoon", "batch": "AB", "start_time": "12:00",
        "end_time": "14:00", "max_slots": 4, "ai_slots": 2, "appointment_type": None,
        "active": True, "closed_dates": ["2026-06-15"]})
    client = make_client(world)
    response = client.patch(f"/v1/appointments/{AADHI}", headers=auth(WRITE_KEY),
                            json={"session": "Afternoon", "batch": "AB"})
    error_of(response, 409, "SLOT_INACTIVE")


@pytest.mark.parametrize("body", [
    {"appointment_date": "2026-06-15T09:30:00.000Z", "session": "Morning"},
    {"appointment_date": "2026-06-15T09:30:00.000Z", "batch": "MA"},
    {"appointment_date": "2026-06-15T09:30:00.000Z", "session": "Morning", "batch": "MA"},
    {"appointment_date": "2026-06-15T14:30:00.000Z", "session": "Afternoon", "batch": "AA"},
])
def test_session_and_batch_that_agree_with_the_date_are_accepted(update, body) -> None:
    data = ok(update(AADHI, body))
    assert data["session"] == body.get("session", data["session"])
    assert data["batch"] == body.get("batch", data["batch"])
    assert data["status"] == "rescheduled"


@pytest.mark.parametrize("body", [
    {"appointment_date": "2026-06-15T09:30:00.000Z", "session": "Afternoon"},
    {"appointment_date": "2026-06-15T09:30:00.000Z", "batch": "MB"},
    {"appointment_date": "2026-06-15T09:30:00.000Z", "session": "Morning", "batch": "MB"},
    {"appointment_date": "2026-06-15T14:30:00.000Z", "session": "Morning"},
    {"appointment_date": "2026-06-15T11:30:00.000Z", "batch": "MA"},
])
def test_session_or_batch_that_disagree_with_the_date_are_422(update, client, dump,
                                                              body) -> None:
    before = dump(client)
    error_of(update(AADHI, body), 422, "OUTSIDE_AVAILABILITY")
    assert dump(client) == before


# -- 8. status -----------------------------------------------------------------------------

@pytest.mark.parametrize("appointment_id, current", [
    (AADHI, "confirmed"), (ANYA, "rescheduled"), (ISHAAN, "completed"),
    (KABIR_CANCELLED, "cancelled"),
])
@pytest.mark.parametrize("target", ["completed", "cancelled"])
def test_inactive_statuses_can_be_set_from_any_status(update, read, appointment_id, current,
                                                      target) -> None:
    assert read(appointment_id)["status"] == current
    data = ok(update(appointment_id, {"status": target}))
    assert data["status"] == target
    assert read(appointment_id)["status"] == target


@pytest.mark.parametrize("appointment_id", [AADHI, ANYA, ISHAAN])
def test_confirmed_can_be_set_from_confirmed_rescheduled_and_completed(update, appointment_id
                                                                       ) -> None:
    assert ok(update(appointment_id, {"status": "confirmed"}))["status"] == "confirmed"


def test_confirmed_can_be_set_from_cancelled(update) -> None:
    ok(update(AADHI, {"status": "cancelled"}))
    assert ok(update(AADHI, {"status": "confirmed"}))["status"] == "confirmed"


@pytest.mark.parametrize("appointment_id, status", [(AADHI, "confirmed"), (ISHAAN, "completed")])
def test_setting_the_status_it_already_has_is_200(update, appointment_id, status) -> None:
    data = ok(update(appointment_id, {"status": status}))
    assert data["status"] == status
    assert data["updated_at"] == CLOCK


@pytest.mark.parametrize("appointment_id", [KABIR_CANCELLED, ARJUN])
def test_cancelling_a_cancelled_appointment_is_200_and_changes_nothing(update, read, appointment_id) -> None:
    """The cancelling page: a repeated cancel is safe, and returns the record as it is."""
    before = read(appointment_id)
    data = ok(update(appointment_id, {"status": "cancelled"}))
    assert data == before and data["updated_at"] != CLOCK


def test_reconfirming_an_appointment_in_a_full_window_is_200(update) -> None:
    """Meera fills her window; confirming her again is not a second booking."""
    assert ok(update(MEERA, {"status": "confirmed"}))["status"] == "confirmed"


def test_status_change_keeps_the_slot(update) -> None:
    data = ok(update(AADHI, {"status": "completed"}))
    assert slot(data) == ("2026-06-15", "Morning", "MA")


def test_reactivating_a_duplicate_is_refused(update, client, dump) -> None:
    before = dump(client)
    error_of(update(KABIR_CANCELLED, {"status": "confirmed"}), 409, "DUPLICATE_BOOKING")
    assert dump(client) == before


def test_reactivating_on_a_closed_date_is_refused(update, client, dump) -> None:
    before = dump(client)
    error_of(update(ARJUN, {"status": "confirmed"}), 409, "SLOT_INACTIVE")
    assert dump(client) == before


def test_reactivation_is_allowed_once_the_duplicate_is_gone(update) -> None:
    ok(update(KABIR, {"status": "cancelled"}))
    assert ok(update(KABIR_CANCELLED, {"status": "confirmed"}))["status"] == "confirmed"
    error_of(update(KABIR, {"status": "confirmed"}), 409, "DUPLICATE_BOOKING")


@pytest.mark.parametrize("inactive", ["cancelled", "completed"])
def test_reactivating_into_a_full_window_is_slot_full(update, client, dump, inactive) -> None:
    ok(update(MEERA, {"status": inactive}))
    ok(update(AADHI, {"appointment_date": "2026-06-16T10:00:00.000Z"}))
    before = dump(client)
    error_of(update(MEERA, {"status": "confirmed"}), 409, "SLOT_FULL")
    assert dump(client) == before


def test_completed_to_confirmed_reruns_the_duplicate_check(update) -> None:
    ok(update(KABIR, {"status": "completed"}))
    ok(update(KABIR_CANCELLED, {"status": "confirmed"}))
    error_of(update(KABIR, {"status": "confirmed"}), 409, "DUPLICATE_BOOKING")


def test_rescheduling_a_cancelled_appointment_reactivates_it(update) -> None:
    data = ok(update(KABIR_CANCELLED, {"appointment_date": "2026-06-19T15:00:00.000Z"}))
    assert slot(data) == ("2026-06-19", "Afternoon", "AA")
    assert data["status"] == "rescheduled"


def test_rescheduling_a_cancelled_appointment_onto_a_duplicate_is_refused(update) -> None:
    error_of(update(KABIR_CANCELLED, {"appointment_date": "2026-06-15T15:00:00.000Z"}), 409,
             "DUPLICATE_BOOKING")


def test_reactivating_with_a_new_date_checks_the_new_date(update) -> None:
    data = ok(update(ARJUN, {"status": "confirmed",
                             "appointment_date": "2026-06-24T10:00:00.000Z"}))
    assert slot(data) == ("2026-06-24", "Morning", "MA")
    assert data["status"] == "confirmed"


def test_no_sequence_overbooks_tuesday(update, client, dump) -> None:
    """Cancel, move in, re-confirm, re-schedule: Tuesday 06-16 never holds two active."""
    steps = [
        (MEERA, {"status": "cancelled"}),
        (AADHI, {"appointment_date": "2026-06-16T10:00:00.000Z"}),
        (MEERA, {"status": "confirmed"}),
        (MEERA, {"appointment_date": "2026-06-16T09:00:00.000Z"}),
        (KABIR, {"appointment_date": "2026-06-16T09:30:00.000Z", "status": "confirmed"}),
        (AADHI, {"status": "completed"}),
        (MEERA, {"status": "confirmed"}),
        (AADHI, {"status": "confirmed"}),
    ]
    for appointment_id, body in steps:
        update(appointment_id, body)
        tuesday = [a for a in org_of(dump(client), "org_demo")["appointments"]
                   if a["date"] == "2026-06-16" and a["status"] in ("confirmed", "rescheduled")]
        assert len(tuesday) <= 1, (appointment_id, body, tuesday)


# -- 9. the success body --------------------------------------------------------------------

def test_success_body_has_exactly_the_documented_fields_in_order(update) -> None:
    response = update(AADHI, {"notes": "Patient requested morning slot",
                              "assigned_doctor": "Dr. Priya Sharma"})
    body = response.get_json()
    assert list(body) == ["success", "data"]
    assert list(body["data"]) == PUBLIC_FIELDS
    assert "notes" not in body["data"]


def test_get_has_exactly_the_documented_fields_in_order(client, auth) -> None:
    body = client.get(f"/v1/appointments/{AADHI}", headers=auth(WRITE_KEY)).get_json()
    assert body["success"] is True
    assert list(body["data"]) == PUBLIC_FIELDS


def test_notes_are_stored_and_shown_by_the_control_api(update, read, client, dump) -> None:
    ok(update(AADHI, {"notes": "Patient requested morning slot"}))
    assert appointment_in(dump(client), AADHI)["notes"] == "Patient requested morning slot"
    assert "notes" not in read(AADHI)


def test_fields_not_sent_are_left_alone(update, client, dump) -> None:
    ok(update(KABIR, {"notes": "bring reports"}))
    before = appointment_in(dump(client), KABIR)
    ok(update(KABIR, {"status": "confirmed"}))
    after = appointment_in(dump(client), KABIR)
    assert after == before
    assert after["assigned_doctor"] == "Dr. Rao" and after["notes"] == "bring reports"


def test_updated_at_is_the_sandbox_clock(client, update) -> None:
    moved = client.put("/_sandbox/clock", json={"now": "2026-06-01T08:15:30.250Z"})
    assert moved.status_code == 200
    data = ok(update(AADHI, {"assigned_doctor": "Dr. Rao"}))
    assert data["updated_at"] == "2026-06-01T08:15:30.250Z"
    assert data["created_at"] == "2026-05-26T10:00:00.000Z"


def test_updated_at_follows_the_clock_as_it_advances(client, update) -> None:
    assert ok(update(AADHI, {"notes": "one"}))["updated_at"] == CLOCK
    client.put("/_sandbox/clock", json={"advance_seconds": 90.5})
    assert ok(update(AADHI, {"notes": "two"}))["updated_at"] == "2026-05-26T11:01:30.500Z"


def test_updated_at_is_milliseconds_even_when_the_clock_is_finer(client, update) -> None:
    client.put("/_sandbox/clock", json={"now": "2026-06-01T08:15:30.123456Z"})
    data = ok(update(AADHI, {"status": "confirmed"}))
    assert TIMESTAMP.fullmatch(data["updated_at"])
    assert data["updated_at"].startswith("2026-06-01T08:15:30.12")


def test_timestamps_have_the_documented_format_on_real_time(client, update) -> None:
    client.put("/_sandbox/clock", json={"now": None})
    data = ok(update(AADHI, {"status": "confirmed"}))
    assert TIMESTAMP.fullmatch(data["updated_at"]) and TIMESTAMP.fullmatch(data["created_at"])


@pytest.mark.parametrize("appointment_id", [AADHI, MEERA, KABIR_CANCELLED, ISHAAN, ANYA])
def test_timestamps_are_milliseconds_and_z(read, appointment_id) -> None:
    data = read(appointment_id)
    assert TIMESTAMP.fullmatch(data["created_at"]) and TIMESTAMP.fullmatch(data["updated_at"])


def test_failed_update_does_not_touch_updated_at(update, read) -> None:
    error_of(update(AADHI, {"appointment_date": "2026-06-16T10:00:00.000Z",
                            "notes": "should not stick"}), 409, "SLOT_FULL")
    assert read(AADHI)["updated_at"] == "2026-05-26T10:00:00.000Z"


# -- timezones ------------------------------------------------------------------------------

@pytest.mark.parametrize("moment, expected", [
    ("2026-06-15T03:30:00.000Z", ("2026-06-15", "Morning", "MA")),   # 09:00 IST, start inclusive
    ("2026-06-15T04:00:00.000Z", ("2026-06-15", "Morning", "MA")),   # 09:30 IST
    ("2026-06-15T09:00:00.000Z", ("2026-06-15", "Afternoon", "AA")),  # 14:30 IST, not Morning
    ("2026-06-15T12:29:59.000Z", ("2026-06-15", "Afternoon", "AA")),  # 17:59:59 IST
])
def test_lakeview_reschedule_resolves_in_india_time(update, moment, expected) -> None:
    data = ok(update(ROHAN, {"appointment_date": moment}, key=LAKEVIEW_KEY))
    assert slot(data) == expected
    assert data["status"] == "rescheduled"


@pytest.mark.parametrize("moment", [
    "2026-06-15T03:29:59.000Z",   # 08:59:59 IST
    "2026-06-15T06:30:00.000Z",   # 12:00 IST, Morning's end is exclusive
    "2026-06-15T12:30:00.000Z",   # 18:00 IST, Afternoon's end is exclusive
    "2026-06-14T22:00:00.000Z",   # Sunday in UTC, Monday 03:30 IST
])
def test_lakeview_times_outside_india_windows_are_422(update, moment) -> None:
    error_of(update(ROHAN, {"appointment_date": moment}, key=LAKEVIEW_KEY), 422,
             "OUTSIDE_AVAILABILITY")


def test_local_date_is_used_when_utc_date_differs(make_client, auth) -> None:
    """19:00 UTC on Monday is 00:30 on Tuesday in India: the appointment lands on Tuesday."""
    world = default_world()
    lakeview = org_of(world, "org_lakeview")
    lakeview["calendar_windows"].append({
        "id": "0f0f0f0f-0000-4000-8000-000000000002", "branch_id": "branch_lakeview",
        "day": "tuesday", "session": "Morning", "batch": "NA", "start_time": "00:00",
        "end_time": "02:00", "max_slots": 2, "ai_slots": 1, "appointment_type": None,
        "active": True, "closed_dates": []})
    client = make_client(world)
    response = client.patch(f"/v1/appointments/{ROHAN}", headers=auth(LAKEVIEW_KEY),
                            json={"appointment_date": "2026-06-15T19:00:00.000Z"})
    assert slot(ok(response)) == ("2026-06-16", "Morning", "NA")


# -- GET returns what PATCH wrote -----------------------------------------------------------

@pytest.mark.parametrize("appointment_id, body", [
    (AADHI, {"assigned_doctor": "Dr. Priya Sharma", "notes": "Patient requested morning slot"}),
    (AADHI, {"appointment_date": "2026-06-19T14:30:00.000Z"}),
    (AADHI, {"session": "Afternoon"}),
    (KABIR, {"assigned_doctor": None}),
    (ISHAAN, {"status": "cancelled"}),
])
def test_get_returns_what_patch_wrote(update, read, appointment_id, body) -> None:
    written = ok(update(appointment_id, body))
    assert read(appointment_id) == written
    assert read(appointment_id, key="sk_test_demo_read") == written


def test_lakeview_get_returns_what_patch_wrote(update, read) -> None:
    written = ok(update(ROHAN, {"appointment_date": "2026-06-15T09:00:00.000Z"}, key=LAKEVIEW_KEY))
    assert read(ROHAN, key=LAKEVIEW_KEY) == written
