"""Appointment slots (the spec's `slots` tag): availability, calendar windows and schedule
tracking; their bodies as the rules take them, and one renderer of a window's fields."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from ...domain import appointments, calendar
from ...domain.appointments import OpenSlot
from ...domain.calendar import Record
from ...domain.clock import format_timestamp, local_date
from ...domain.errors import InvalidField, InvalidFields
from ...domain.model import Window, wall_text, wall_time
from ..call import Answer, Call, ok, view


@view("getAvailability")
def get_availability(call: Call) -> Answer:
    on = date.fromisoformat(call.query["date"])
    slots = appointments.availability(call.store, call.org, on, call.query.get("branch_id"),
                                      call.query.get("session"))
    return Answer(200, {"success": True, "date": on.isoformat(), "slots": [slot(s) for s in slots]})


@view("createCalendarWindow")
def create_calendar_window(call: Call) -> Answer:
    with window_fields():
        created = calendar.create(call.store, call.org, window_of(call.body), call.now)
    return ok(window(created), 201)


@view("updateCalendarWindow")
def update_calendar_window(call: Call) -> Answer:
    with window_fields():
        updated = calendar.update(call.store, call.org, call.path["slot_id"], window_changes(call.body), call.now)
    return ok(window(updated))


@view("disableCalendarWindow")
def disable_calendar_window(call: Call) -> Answer:
    return ok(window(calendar.disable(call.store, call.org, call.path["slot_id"], call.now)))


@view("getScheduleTracking")
def get_schedule_tracking(call: Call) -> Answer:
    query = call.query
    first = date.fromisoformat(query["date_from"]) if "date_from" in query else \
        local_date(call.now, call.org.timezone)
    last = date.fromisoformat(query["date_to"]) if "date_to" in query else calendar.default_last(first)
    records = calendar.tracking(call.store, call.org, first, last, query.get("branch_id"), query.get("session"))
    return Answer(200, {"success": True, "date_from": first.isoformat(), "date_to": last.isoformat(),
                        "data": [tracking_record(r) for r in records]})


@view("updateScheduleTracking")
def update_schedule_tracking(call: Call) -> Answer:
    with window_fields(TRACKING_FIELDS):
        record = calendar.update_tracking(call.store, call.org, call.path["slot_id"], call.body, call.now)
    return ok(tracking_record(record))


@view("regenerateScheduleTracking")
def regenerate_schedule_tracking(call: Call) -> Answer:
    return ok({"windows": calendar.regenerate(call.store, call.org), "regenerated_at": format_timestamp(call.now)})


# -- request bodies as the rules take them (the control API's actions use them too) ---------------

# The window fields the API names differently from the domain.
WINDOW_FIELDS = {"batch": "batch_name", "appointment_type": "appointment_type_id",
                 "ai_slots_by_date": "max_slots"}  # a date's capacity (tracking) above a new max_slots
TRACKING_FIELDS = {"ai_slots_by_date": "ai_slots"}


def window_of(body: dict[str, Any]) -> Window:
    """A create body as a window (its id is given when it is created)."""
    return Window("", body["branch_id"], body["day"], body["session"], body["batch_name"],
                  wall_time(body["start_time"]), wall_time(body["end_time"]), body["max_slots"],
                  body["ai_slots"], body.get("appointment_type_id"))


def window_changes(body: dict[str, Any]) -> dict[str, Any]:
    return {name: wall_time(value) if name.endswith("_time") else value for name, value in body.items()}


@contextmanager
def window_fields(names: dict[str, str] = WINDOW_FIELDS) -> Iterator[None]:
    """The rules' problems, named as the request named the fields."""
    try:
        yield
    except InvalidField as refused:
        raise InvalidFields([(names.get(d.location, d.location), d.message)
                             for d in refused.details], refused.message) from None


# -- the objects, as the spec writes them ---------------------------------------------------------

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
