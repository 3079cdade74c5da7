# Generated from openapi.yaml by `python -m huskyvoice_sandbox.testing.generate`: do not edit.
"""The pytest handle's typed helpers, one per operation of openapi.yaml, each sending its
operation through `call()` (the spec's method and path; the world's first key whose scopes the
operation accepts, unless `key=` is given; `key=""` sends none). `SandboxHandle` inherits them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .replies import Reply


class OperationHelpers:
    """A helper per operation of the spec; the class that mixes them in provides `call()`."""

    def call(self, operation_id: str, *, path: Mapping[str, Any] | None = None,
             query: Mapping[str, Any] | None = None, json: Any = None, key: str | None = None,
             headers: Mapping[str, str] | None = None) -> Reply:
        raise NotImplementedError

    def create_appointment(self, body: Mapping[str, Any], *, key: str | None = None,
                           headers: Mapping[str, str] | None = None) -> Reply:
        """Book an appointment: `POST /v1/appointments`."""
        return self.call("createAppointment", json=dict(body), key=key, headers=headers)

    def search_appointments(self, *, date: str | None = None, status: str | None = None,
                            appointment_type: str | None = None, branch_id: str | None = None,
                            session: str | None = None, batch: str | None = None, page: int | None = None,
                            limit: int | None = None, key: str | None = None,
                            headers: Mapping[str, str] | None = None) -> Reply:
        """Search appointments: `GET /v1/appointments`."""
        return self.call("searchAppointments",
                         query={"date": date, "status": status, "appointment_type": appointment_type,
                                "branch_id": branch_id, "session": session, "batch": batch, "page": page,
                                "limit": limit}, key=key, headers=headers)

    def get_appointment(self, appointment_id: str, *, key: str | None = None,
                        headers: Mapping[str, str] | None = None) -> Reply:
        """Get one appointment: `GET /v1/appointments/{appointment_id}`."""
        return self.call("getAppointment", path={"appointment_id": appointment_id}, key=key, headers=headers)

    def update_appointment(self, appointment_id: str, body: Mapping[str, Any], *, key: str | None = None,
                           headers: Mapping[str, str] | None = None) -> Reply:
        """Update, reschedule, complete or cancel an appointment: `PATCH /v1/appointments/{appointment_id}`."""
        return self.call("updateAppointment", path={"appointment_id": appointment_id}, json=dict(body), key=key,
                         headers=headers)

    def get_availability(self, *, date: str, branch_id: str | None = None, session: str | None = None,
                         key: str | None = None, headers: Mapping[str, str] | None = None) -> Reply:
        """Open calendar windows on a date, with live counts: `GET /v1/appointment-slots/availability`."""
        return self.call("getAvailability", query={"date": date, "branch_id": branch_id, "session": session}, key=key,
                         headers=headers)

    def create_calendar_window(self, body: Mapping[str, Any], *, key: str | None = None,
                               headers: Mapping[str, str] | None = None) -> Reply:
        """Create a calendar window: `POST /v1/appointment-slots`."""
        return self.call("createCalendarWindow", json=dict(body), key=key, headers=headers)

    def update_calendar_window(self, slot_id: str, body: Mapping[str, Any], *, key: str | None = None,
                               headers: Mapping[str, str] | None = None) -> Reply:
        """Update a calendar window: `PATCH /v1/appointment-slots/{slot_id}`."""
        return self.call("updateCalendarWindow", path={"slot_id": slot_id}, json=dict(body), key=key, headers=headers)

    def disable_calendar_window(self, slot_id: str, *, key: str | None = None,
                                headers: Mapping[str, str] | None = None) -> Reply:
        """Disable a calendar window: `DELETE /v1/appointment-slots/{slot_id}`."""
        return self.call("disableCalendarWindow", path={"slot_id": slot_id}, key=key, headers=headers)

    def get_schedule_tracking(self, *, date_from: str | None = None, date_to: str | None = None,
                              branch_id: str | None = None, session: str | None = None, key: str | None = None,
                              headers: Mapping[str, str] | None = None) -> Reply:
        """Per-date schedule-tracking records: `GET /v1/appointment-slots/schedule-tracking`."""
        return self.call("getScheduleTracking",
                         query={"date_from": date_from, "date_to": date_to, "branch_id": branch_id, "session": session},
                         key=key, headers=headers)

    def update_schedule_tracking(self, slot_id: str, body: Mapping[str, Any], *, key: str | None = None,
                                 headers: Mapping[str, str] | None = None) -> Reply:
        """Close or open one date of a window, or set its capacity that date:
        `PATCH /v1/appointment-slots/tracking/{slot_id}`."""
        return self.call("updateScheduleTracking", path={"slot_id": slot_id}, json=dict(body), key=key, headers=headers)

    def regenerate_schedule_tracking(self, *, key: str | None = None,
                                     headers: Mapping[str, str] | None = None) -> Reply:
        """Regenerate the schedule-tracking records: `POST /v1/appointment-slots/regenerate`."""
        return self.call("regenerateScheduleTracking", key=key, headers=headers)

    def list_services(self, *, key: str | None = None, headers: Mapping[str, str] | None = None) -> Reply:
        """The organization's services (appointment types): `GET /v1/services`."""
        return self.call("listServices", key=key, headers=headers)

    def get_appointment_config(self, *, key: str | None = None, headers: Mapping[str, str] | None = None) -> Reply:
        """The organization's appointment configuration: `GET /v1/appointment-config`."""
        return self.call("getAppointmentConfig", key=key, headers=headers)
