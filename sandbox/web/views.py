"""One view per operation of the spec: read the validated request, call one use case, render.

The checks before a view (key, scope, rate limit, parameters, body) are sandbox/web/operations.py's;
the rules are the domain's.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Response

from ..domain import appointments
from ..domain.appointments import NewAppointment, Search
from ..domain.booking import Patch
from ..domain.clock import parse_utc
from ..domain.errors import InvalidField
from ..domain.index import FIELDS
from . import render
from .http import json_response
from .operations import Call, view


def ok(data: Any, status: int = 200) -> Response:
    return json_response({"success": True, "data": data}, status)


@view("getAppointment")
def get_appointment(call: Call) -> Response:
    found = appointments.get(call.store, call.org, call.path["appointment_id"])
    return ok(render.appointment(found))


@view("updateAppointment")
def update_appointment(call: Call) -> Response:
    fields = dict(call.body)
    if "appointment_date" in fields:
        fields["appointment_date"] = _moment(fields["appointment_date"])
    updated = appointments.update(call.store, call.org, call.path["appointment_id"],
                                  Patch(**fields), call.now)
    return ok(render.appointment(updated))


@view("createAppointment")
def create_appointment(call: Call) -> Response:
    fields = {**call.body, "appointment_date": _moment(call.body["appointment_date"])}
    created = appointments.create(call.store, call.org, NewAppointment(**fields), call.now)
    return json_response({"success": True, "appointment_id": created.appointment_id,
                          "token": created.token, "data": render.appointment(created)}, 201)


@view("searchAppointments")
def search_appointments(call: Call) -> Response:
    query = call.query
    day = date.fromisoformat(query["date"]) if "date" in query else None
    filters = {name: query[name] for name in FIELDS if name in query}
    found = appointments.search(call.store, call.org, Search(day, filters, query["page"], query["limit"]))
    return json_response(render.page(found))


@view("getAvailability")
def get_availability(call: Call) -> Response:
    on = date.fromisoformat(call.query["date"])
    slots = appointments.availability(call.store, call.org, on, call.query.get("branch_id"),
                                      call.query.get("session"))
    return json_response({"success": True, "date": on.isoformat(),
                          "slots": [render.slot(s) for s in slots]})


@view("listServices")
def list_services(call: Call) -> Response:
    return ok([render.service(s) for s in call.org.services])


@view("getAppointmentConfig")
def get_appointment_config(call: Call) -> Response:
    return ok(render.config(call.org))


def _moment(text: str) -> datetime:
    """`appointment_date` as an instant: stricter than the spec's date-time format (seconds
    required, UTC only), so checked again here."""
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise InvalidField("appointment_date", str(exc), "The request body is invalid.") from None
