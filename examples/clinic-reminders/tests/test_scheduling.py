"""move_to_next_free_slot against the sandbox (in process and served): real full and closed windows, a forced
SLOT_FULL, and a world where nothing is free."""

from __future__ import annotations

import pytest
from clinic_reminders import NoFreeSlot, move_to_next_free_slot
from clinic_world import RIYA

TUESDAY = "2026-06-16T10:00:00.000Z"  # full
WEDNESDAY = "2026-06-17T10:00:00.000Z"  # closed that date
MONDAY_AFTERNOON = "2026-06-15T15:00:00.000Z"
FRIDAY = "2026-06-19T10:00:00.000Z"


def test_full_and_closed_days_are_skipped(client, sandbox):
    moved = move_to_next_free_slot(client, RIYA, [TUESDAY, WEDNESDAY, FRIDAY])

    assert moved.when == FRIDAY
    assert moved.skipped == ((TUESDAY, "SLOT_FULL"), (WEDNESDAY, "SLOT_INACTIVE"))
    assert (moved.appointment["date"], moved.appointment["status"]) == ("2026-06-19", "rescheduled")
    sandbox.assert_called("updateAppointment", times=3, appointment_id=RIYA)


def test_a_slot_taken_in_the_meantime_is_skipped(client, sandbox):
    # Monday afternoon is free in the world; someone else takes it just before we ask.
    sandbox.force(409, example="SLOT_FULL", operation="updateAppointment", appointment_id=RIYA)

    moved = move_to_next_free_slot(client, RIYA, [MONDAY_AFTERNOON, FRIDAY])

    assert moved.when == FRIDAY and moved.skipped == ((MONDAY_AFTERNOON, "SLOT_FULL"),)
    sandbox.assert_called("updateAppointment", times=1, code="SLOT_FULL", forced=True)


@pytest.mark.huskyvoice_world("worlds/full_day.yaml")
def test_no_free_slot_lists_what_was_tried(client):
    with pytest.raises(NoFreeSlot) as none:
        move_to_next_free_slot(client, RIYA, ["2026-06-15T09:30:00.000Z", MONDAY_AFTERNOON])

    assert [code for _, code in none.value.skipped] == ["SLOT_FULL", "SLOT_FULL"]
    assert client.get(RIYA)["date"] == "2026-06-19"
