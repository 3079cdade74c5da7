"""One view per operation of the spec: read the validated request, call one use case, render.

The checks before a view (key, scope, rate limit, parameters, body) are sandbox/web/operations.py's;
the rules are the domain's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from ..domain import appointments, calendar
from ..domain.appointments import NewAppointment, Search
from ..domain.booking import Patch
from ..domain.clock import format_timestamp, local_date, parse_utc
from ..domain.errors import InvalidField, InvalidFields
from ..domain.index import FIELDS
from ..domain.model import Window, wall_time
from . import render
from .operations import Answer, Call, view


def ok(data: Any, status: int = 200) -> Answer:
    return Answer(status, {"success": True, "data": data})


@view("getAppointment")
def get_appointment(call: Call) -> Answer:
    found = appointments.get(call.store, call.org, call.path["appointment_id"])
    return ok(render.appointment(found))


@view("updateAppointment")
def update_appointment(call: Call) -> Answer:
    updated = appointments.update(call.store, call.org, call.path["appointment_id"], patch_of(call.body), call.now)
    return ok(render.appointment(updated))


@view("createAppointment")
def create_appointment(call: Call) -> Answer:
    created = appointments.create(call.store, call.org, new_appointment(call.body), call.now)
    return Answer(201, {"success": True, "appointment_id": created.appointment_id,
                        "token": created.token, "data": render.appointment(created)})


@view("searchAppointments")
def search_appointments(call: Call) -> Answer:
    query = call.query
    day = date.fromisoformat(query["date"]) if "date" in query else None
    filters = {name: query[name] for name in FIELDS if name in query}
    found = appointments.search(call.store, call.org, Search(day, filters, query["page"], query["limit"]))
    return Answer(200, render.page(found))


@view("getAvailability")
def get_availability(call: Call) -> Answer:
    on = date.fromisoformat(call.query["date"])
    slots = appointments.availability(call.store, call.org, on, call.query.get("branch_id"),
                                      call.query.get("session"))
    return Answer(200, {"success": True, "date": on.isoformat(),
                        "slots": [render.slot(s) for s in slots]})


@view("listServices")
def list_services(call: Call) -> Answer:
    return ok([render.service(s) for s in call.org.services])


@view("getAppointmentConfig")
def get_appointment_config(call: Call) -> Answer:
    return ok(render.config(call.org))


# The window fields the API names differently from the domain.
WINDOW_FIELDS = {"batch": "batch_name", "appointment_type": "appointment_type_id",
                 "ai_slots_by_date": "max_slots"}  # a date's capacity (tracking) above a new max_slots
TRACKING_FIELDS = {"ai_slots_by_date": "ai_slots"}


@view("createCalendarWindow")
def create_calendar_window(call: Call) -> Answer:
    with window_fields():
        created = calendar.create(call.store, call.org, window_of(call.body), call.now)
    return ok(render.window(created), 201)


@view("updateCalendarWindow")
def update_calendar_window(call: Call) -> Answer:
    with window_fields():
        updated = calendar.update(call.store, call.org, call.path["slot_id"], window_changes(call.body), call.now)
    return ok(render.window(updated))


@view("disableCalendarWindow")
def disable_calendar_window(call: Call) -> Answer:
    return ok(render.window(calendar.disable(call.store, call.org, call.path["slot_id"], call.now)))


@view("getScheduleTracking")
def get_schedule_tracking(call: Call) -> Answer:
    query = call.query
    first = date.fromisoformat(query["date_from"]) if "date_from" in query else \
        local_date(call.now, call.org.timezone)
    last = date.fromisoformat(query["date_to"]) if "date_to" in query else calendar.default_last(first)
    records = calendar.tracking(call.store, call.org, first, last, query.get("branch_id"), query.get("session"))
    return Answer(200, {"success": True, "date_from": first.isoformat(), "date_to": last.isoformat(),
                        "data": [render.tracking_record(r) for r in records]})


@view("updateScheduleTracking")
def update_schedule_tracking(call: Call) -> Answer:
    with window_fields(TRACKING_FIELDS):
        record = calendar.update_tracking(call.store, call.org, call.path["slot_id"], call.body, call.now)
    return ok(render.tracking_record(record))


@view("regenerateScheduleTracking")
def regenerate_schedule_tracking(call: Call) -> Answer:
    windows = call.store.organizations[call.org.id].windows
    return ok({"windows": len(windows), "regenerated_at": format_timestamp(call.now)})


# -- request bodies as the rules take them (the control API's dashboard and agent use them too) --

def new_appointment(body: dict[str, Any], booked_via: str = "api") -> NewAppointment:
    return NewAppointment(**{**body, "appointment_date": _moment(body["appointment_date"])}, booked_via=booked_via)


def patch_of(body: dict[str, Any]) -> Patch:
    fields = dict(body)
    if "appointment_date" in fields:
        fields["appointment_date"] = _moment(fields["appointment_date"])
    return Patch(**fields)


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


def _moment(text: str) -> datetime:
    """`appointment_date` as an instant: stricter than the spec's date-time format (seconds
    required, UTC only), so checked again here."""
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise InvalidField("appointment_date", str(exc), "The request body is invalid.") from None
