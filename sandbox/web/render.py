"""The API's objects as the spec writes them: appointments, slots, services, configuration."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ..domain.appointments import OpenSlot, Page
from ..domain.calendar import Record
from ..domain.clock import format_timestamp
from ..domain.model import PUBLIC_FIELDS, Appointment, Organization, Service, Window, wall_text


def appointment(record: Appointment) -> dict[str, Any]:
    """The documented appointment object: exactly its 14 fields, in order."""
    view: dict[str, Any] = {}
    for name in PUBLIC_FIELDS:
        value = getattr(record, name)
        if name == "date":
            value = value.isoformat()
        elif name in ("created_at", "updated_at"):
            value = format_timestamp(value)
        view[name] = value
    return view


def page(found: Page) -> dict[str, Any]:
    return {"success": True, "data": [appointment(a) for a in found.appointments],
            "pagination": {"page": found.page, "limit": found.limit, "total": found.total,
                           "total_pages": found.total_pages, "has_more": found.has_more}}


def slot(open_slot: OpenSlot) -> dict[str, Any]:
    """A window on a date with its live counts: the documented 16 fields."""
    w, on = open_slot.window, open_slot.on
    return {"slot_id": f"{w.id}||{on.isoformat()}", "calendar_id": w.id, "branch_id": w.branch_id,
            "day": w.day, **_hours(w), "ai_slots": w.ai_slots_on(on),
            "filled_slots": open_slot.filled, "available_slots": open_slot.available, "status": "OPEN",
            **_stamps(w)}


def window(w: Window) -> dict[str, Any]:
    """A calendar window, as the Appointment Slots API answers it."""
    return {"slot_id": w.id, "calendar_id": w.id, "branch_id": w.branch_id, "day": w.day, **_hours(w),
            "ai_slots": w.ai_slots, "active": w.active, **_stamps(w)}


def tracking_record(record: Record) -> dict[str, Any]:
    """A window on one date, as schedule tracking answers it (its fields in its own order)."""
    w = record.window
    return {"slot_id": record.slot_id, "calendar_id": w.id, "date": record.on.isoformat(), "day": w.day,
            "branch_id": w.branch_id, **_hours(w), "ai_slots": record.capacity,
            "filled_slots": record.filled, "available_slots": record.available, "status": record.status,
            "updated_at": format_timestamp(w.updated_at)}


def _hours(w: Window) -> dict[str, Any]:
    """What every answer about a window says of it, in the same order in each: its session,
    batch, hours, service and capacity. One place, so a window field is added once."""
    return {"session": w.session, "batch": w.batch, "start_time": wall_text(w.start_time),
            "end_time": wall_text(w.end_time), "appointment_type": w.appointment_type,
            "max_slots": w.max_slots}


def _stamps(w: Window) -> dict[str, str]:
    return {"created_at": format_timestamp(w.created_at), "updated_at": format_timestamp(w.updated_at)}


def event(name: str, now: datetime, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    """A webhook event: the documented envelope (`event_id`, `event`, `timestamp`) around an
    `appointment` (documented) or a `slot` (sandbox: the slot payload is not shown)."""
    return {"event_id": f"evt_{uuid.uuid4()}", "event": name, "timestamp": format_timestamp(now), subject: body}


def webhook_appointment(org: Organization, record: Appointment) -> dict[str, Any]:
    """The appointment in a webhook, as the appointment-webhooks page shows it (its name for
    the service, the start instant, `doctor_name`, who booked it and when)."""
    return {"appointment_id": record.appointment_id, "appointment_type": record.appointment_type,
            "appointment_type_name": org.service_name(record.appointment_type), "branch_id": record.branch_id,
            "date": record.date.isoformat(), "start_time": format_timestamp(record.start),
            "session": record.session, "batch": record.batch, "token": record.token,
            "patient_name": record.patient_name, "parent_phone": record.parent_phone,
            "doctor_name": record.assigned_doctor, "status": record.status, "booked_via": record.booked_via,
            "booked_at": format_timestamp(record.created_at)}


def service(record: Service) -> dict[str, Any]:
    return {"service_id": record.id, "name": record.name}


def config(org: Organization) -> dict[str, Any]:
    return {"allow_cancellation": org.allow_cancellation,
            "cancellation_notice_hours": org.cancellation_notice_hours,
            "timezone": org.timezone.key}
