"""What our code relies on, checked in-process against the clinic's world (fast: no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from clinic_world import DASHBOARD_KEY, NEHA, REMINDERS_KEY, RIYA


def test_the_reminders_key_writes_and_the_dashboard_key_only_reads(huskyvoice):
    assert huskyvoice.key == REMINDERS_KEY  # the first key that can read and write

    riya = huskyvoice.get_appointment(RIYA, key=DASHBOARD_KEY)
    assert riya.status == 200
    assert riya.data["date"] == "2026-06-15" and riya.data["session"] == "Morning"

    refused = huskyvoice.update_appointment(RIYA, {"notes": "bring the vaccination card"}, key=DASHBOARD_KEY)
    assert (refused.status, refused.code) == (403, "INSUFFICIENT_SCOPE")


def test_a_reschedule_is_stamped_with_the_sandbox_clock(huskyvoice):
    huskyvoice.freeze_clock(datetime(2026, 6, 2, 9, 0, tzinfo=UTC))
    moved = huskyvoice.update_appointment(RIYA, {"appointment_date": "2026-06-19T10:00:00.000Z"})
    assert moved.data["status"] == "rescheduled"
    assert moved.data["updated_at"] == "2026-06-02T09:00:00.000Z"

    huskyvoice.advance_clock(3600)
    cancelled = huskyvoice.update_appointment(RIYA, {"status": "cancelled"})
    assert cancelled.data["updated_at"] == "2026-06-02T10:00:00.000Z"


def test_a_snapshot_puts_the_week_back(huskyvoice):
    huskyvoice.snapshot("week")
    for appointment_id in (RIYA, NEHA):
        assert huskyvoice.update_appointment(appointment_id, {"status": "cancelled"}).status == 200

    huskyvoice.restore("week")

    assert [huskyvoice.get_appointment(a).data["status"] for a in (RIYA, NEHA)] == ["confirmed", "confirmed"]
    huskyvoice.assert_called("updateAppointment", times=2, status=200)  # the journal is kept


def test_tuesday_morning_is_full(huskyvoice):
    refused = huskyvoice.update_appointment(RIYA, {"appointment_date": "2026-06-16T10:00:00.000Z"})

    assert (refused.status, refused.code) == (409, "SLOT_FULL")
    huskyvoice.assert_called("updateAppointment", times=1, code="SLOT_FULL", appointment_id=RIYA)
    huskyvoice.assert_not_called("updateAppointment", status=200)
    assert huskyvoice.get_appointment(RIYA).data["date"] == "2026-06-15"


@pytest.mark.huskyvoice_world("worlds/full_day.yaml")
def test_the_full_day_world_has_no_place_on_monday(huskyvoice):
    assert "fully booked" in huskyvoice.world()["description"]
    for when in ("2026-06-15T10:00:00.000Z", "2026-06-15T15:00:00.000Z"):
        assert huskyvoice.update_appointment(RIYA, {"appointment_date": when}).code == "SLOT_FULL"
