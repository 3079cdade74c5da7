"""One view per operation of the spec: read the validated request, call one use case, render.

The checks before a view (key, scope, rate limit, parameters, body) are sandbox/web/operations.py's;
the rules are the domain's.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ..domain import appointments
from ..domain.appointments import NewAppointment, Search
from ..domain.booking import Patch
from ..domain.clock import parse_utc
from ..domain.errors import InvalidField
from ..domain.index import FIELDS
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
    fields = dict(call.body)
    if "appointment_date" in fields:
        fields["appointment_date"] = _moment(fields["appointment_date"])
    updated = appointments.update(call.store, call.org, call.path["appointment_id"],
                                  Patch(**fields), call.now)
    return ok(render.appointment(updated))


@view("createAppointment")
def create_appointment(call: Call) -> Answer:
    fields = {**call.body, "appointment_date": _moment(call.body["appointment_date"])}
    created = appointments.create(call.store, call.org, NewAppointment(**fields), call.now)
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


def _moment(text: str) -> datetime:
    """`appointment_date` as an instant: stricter than the spec's date-time format (seconds
    required, UTC only), so checked again here."""
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise InvalidField("appointment_date", str(exc), "The request body is invalid.") from None
