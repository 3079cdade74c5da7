"""The first and the last dates the API's patterns allow (0001-01-01, 9999-12-31), in every
operation that takes a date or a range, and with the clock at either end, for clinics west and
east of UTC: a located refusal or an answer, never a 500 (issue 21). Every answer is checked
against openapi.yaml by the test client.

Near the ends, a UTC moment's local date may not exist (0001-01-01T00:00Z is year 0 in Los
Angeles, 9999-12-31T23:00Z year 10000 in India), and a default range may run past the last date.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from huskyvoice_sandbox.resources import default_world_path

from helpers import WRITE_KEY

WRITE = {"Authorization": f"Bearer {WRITE_KEY}"}
EDGES = ["0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31"]
TIMES = ["T00:00:00.000Z", "T23:59:59.999Z"]
ZONES = ["America/Los_Angeles", "UTC", "Pacific/Kiritimati"]  # UTC-8, UTC, UTC+14
WINDOW = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"  # the default world's Monday Morning MA
DATE_PATTERN = r"^(?!0000)\d{4}-\d{2}-\d{2}$"


def world_in(zone: str) -> dict[str, Any]:
    """The default world with its first clinic in `zone` (appointments at their windows' starts)."""
    document = yaml.safe_load(default_world_path().read_text(encoding="utf-8"))
    document["organizations"][0]["timezone"] = zone
    for appointment in document["organizations"][0]["appointments"]:
        appointment.pop("start_time", None)  # given in UTC for India; the window's start instead
    return document


@pytest.fixture(params=ZONES)
def client(request: pytest.FixtureRequest, make_client):
    return make_client(world_in(request.param))


def requests_on(day: str) -> list[tuple[str, str, Any]]:
    """A request of every operation that takes a date, on `day`: (method, path, body)."""
    booking = {"appointment_type": "General Checkup", "patient_name": "Edge", "parent_phone": "+15550100",
               "branch_id": "branch_uuid_here"}
    found: list[tuple[str, str, Any]] = [
        ("GET", f"/v1/appointments?date={day}", None),
        ("GET", f"/v1/appointment-slots/availability?date={day}", None),
        ("GET", f"/v1/appointment-slots/schedule-tracking?date_from={day}", None),
        ("GET", f"/v1/appointment-slots/schedule-tracking?date_to={day}", None),
        ("GET", f"/v1/appointment-slots/schedule-tracking?date_from={day}&date_to={day}", None),
        ("PATCH", f"/v1/appointment-slots/tracking/{WINDOW}||{day}", {"status": "CLOSED"}),
        ("PATCH", f"/v1/appointment-slots/tracking/{WINDOW}||{day}", {"ai_slots": 3}),
    ]
    for time in TIMES:
        found.append(("POST", "/v1/appointments", {**booking, "appointment_date": day + time}))
        found.append(("PATCH", "/v1/appointments/appt_a1b2c3d4e5", {"appointment_date": day + time}))
    return found


def test_every_operation_that_takes_a_date_is_tried(contract) -> None:
    """The list above covers every query parameter the spec patterns as a date, and every
    operation whose body carries appointment_date or whose path carries a date."""
    dated = {op.operation_id for op in contract.operations.values()
             for p in op.query if contract.resolve(p.schema_pointer).get("pattern") == DATE_PATTERN}
    dated |= {op.operation_id for op in contract.operations.values()
              if op.body_pointer and "appointment_date" in str(contract.resolve(op.body_pointer))}
    dated.add("updateScheduleTracking")  # its slot_id carries the date
    tried = {contract.operation_for(method, path.split("?")[0]).operation_id
             for method, path, _ in requests_on("2026-06-15")}
    assert dated == tried


@pytest.mark.parametrize("day", EDGES)
def test_the_ends_of_the_calendar_are_answered_never_with_a_500(client, day: str) -> None:
    for method, path, body in requests_on(day):
        response = client.open(path, method=method, json=body, headers=WRITE)
        assert response.status_code < 500, (method, path, body, response.get_data(as_text=True))
        if response.status_code >= 400:  # a refusal says where and why
            assert response.get_json()["error"]["message"], (method, path)
        client.post("/_sandbox/reset")


def test_a_tracking_range_from_the_last_date_ends_there(client) -> None:
    response = client.get("/v1/appointment-slots/schedule-tracking?date_from=9999-12-30", headers=WRITE)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["date_from"], body["date_to"]) == ("9999-12-30", "9999-12-31")
    assert {record["date"] for record in body["data"]} <= {"9999-12-30", "9999-12-31"}
    assert any(record["date"] == "9999-12-31" for record in body["data"])  # a Friday: windows


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"])
def test_with_the_clock_at_either_end_every_date_default_holds(client, moment: str) -> None:
    assert client.put("/_sandbox/clock", json={"now": moment}).status_code == 200
    tracking = client.get("/v1/appointment-slots/schedule-tracking", headers=WRITE)
    assert tracking.status_code == 200, tracking.get_data(as_text=True)
    first, last = tracking.get_json()["date_from"], tracking.get_json()["date_to"]
    assert re.fullmatch(r"0001-01-0[1-7]|9999-12-(2[5-9]|3[01])", first) and first <= last
    for method, path, body in (("GET", "/v1/appointments", None),
                               ("PATCH", "/v1/appointments/appt_a1b2c3d4e5", {"notes": "edge"}),
                               ("PATCH", "/v1/appointments/appt_d4e5f6a7b8", {"status": "cancelled"}),
                               ("PATCH", "/v1/appointments/appt_a1b2c3d4e5", {"status": "cancelled"})):
        response = client.open(path, method=method, json=body, headers=WRITE)
        assert response.status_code < 500, (method, path, response.get_data(as_text=True))
