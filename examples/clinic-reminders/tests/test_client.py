"""The client against the sandbox (in process and served), with answers forced where the real API
would need bad luck: a 429, a dropped connection."""

from __future__ import annotations

import pytest
from clinic_reminders import (
    ApiUnavailable,
    AppointmentNotFound,
    RateLimited,
    SlotUnavailable,
)
from clinic_world import RIYA


def test_errors_come_back_as_their_own_exceptions(client):
    with pytest.raises(SlotUnavailable) as full:
        client.reschedule(RIYA, "2026-06-16T10:00:00.000Z")  # Tuesday: Neha has the one place
    with pytest.raises(SlotUnavailable) as closed:
        client.reschedule(RIYA, "2026-06-17T10:00:00.000Z")  # Wednesday: closed that date
    with pytest.raises(AppointmentNotFound):
        client.get("appt_nobody")

    assert (full.value.code, closed.value.code) == ("SLOT_FULL", "SLOT_INACTIVE")
    assert client.get(RIYA)["status"] == "confirmed"


def test_a_429_is_retried_after_its_retry_after(client, naps, sandbox):
    sandbox.force(429, operation="updateAppointment", headers={"Retry-After": 1})

    appointment = client.assign_doctor(RIYA, "Dr. Menon")

    assert appointment["assigned_doctor"] == "Dr. Menon"
    assert naps == [1]
    sandbox.assert_called("updateAppointment", times=2)
    assert [call.status for call in sandbox.calls(forced=True)] == [429]


def test_the_client_gives_up_after_two_retries(client, naps, sandbox):
    sandbox.force(429, operation="updateAppointment", times=5, headers={"Retry-After": 2})

    with pytest.raises(RateLimited) as refused:
        client.cancel(RIYA)

    assert refused.value.retry_after == 2
    assert naps == [2, 2]
    assert sandbox.call_count("updateAppointment") == 3
    assert sandbox.forced()[0]["remaining"] == 2


def test_a_dropped_connection_is_api_unavailable_and_not_retried(client, naps, sandbox):
    sandbox.force(operation="updateAppointment", drop=True)

    with pytest.raises(ApiUnavailable):
        client.cancel(RIYA)

    [call] = sandbox.journal()
    assert call.dropped and call.forced
    assert naps == []
    assert client.get(RIYA)["status"] == "confirmed"  # a forced answer changes nothing
