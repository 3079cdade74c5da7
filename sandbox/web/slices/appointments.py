"""Appointments (the spec's `appointments` tag): create, search, get and update, their request
bodies as the rules take them, and the appointment as the API writes it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ...domain import appointments
from ...domain.appointments import NewAppointment, Page, Search
from ...domain.booking import Patch
from ...domain.clock import format_timestamp, parse_utc
from ...domain.errors import InvalidField
from ...domain.index import FIELDS
from ...domain.model import PUBLIC_FIELDS, Appointment
from ..call import Answer, Call, ok, view


@view("getAppointment")
def get_appointment(call: Call) -> Answer:
    return ok(appointment(appointments.get(call.store, call.org, call.path["appointment_id"])))


@view("updateAppointment")
def update_appointment(call: Call) -> Answer:
    updated = appointments.update(call.store, call.org, call.path["appointment_id"], patch_of(call.body), call.now)
    return ok(appointment(updated))


@view("createAppointment")
def create_appointment(call: Call) -> Answer:
    created = appointments.create(call.store, call.org, new_appointment(call.body), call.now)
    return Answer(201, {"success": True, "appointment_id": created.appointment_id,
                        "token": created.token, "data": appointment(created)})


@view("searchAppointments")
def search_appointments(call: Call) -> Answer:
    query = call.query
    day = date.fromisoformat(query["date"]) if "date" in query else None
    filters = {name: query[name] for name in FIELDS if name in query}
    found = appointments.search(call.store, call.org, Search(day, filters, query["page"], query["limit"]))
    return Answer(200, page(found))


# -- request bodies as the rules take them (the control API's actions use them too) ---------------

def new_appointment(body: dict[str, Any], booked_via: str = "api") -> NewAppointment:
    return NewAppointment(**{**body, "appointment_date": _moment(body["appointment_date"])}, booked_via=booked_via)


def patch_of(body: dict[str, Any]) -> Patch:
    fields = dict(body)
    if "appointment_date" in fields:
        fields["appointment_date"] = _moment(fields["appointment_date"])
    return Patch(**fields)


def _moment(text: str) -> datetime:
    """`appointment_date` as an instant: stricter than the spec's date-time format (seconds
    required, UTC only), so checked again here."""
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise InvalidField("appointment_date", str(exc), "The request body is invalid.") from None


# -- the objects, as the spec writes them ---------------------------------------------------------

def appointment(record: Appointment) -> dict[str, Any]:
    """The documented appointment object: exactly its 14 fields, in order."""
    rendered: dict[str, Any] = {}
    for name in PUBLIC_FIELDS:
        value = getattr(record, name)
        if name == "date":
            value = value.isoformat()
        elif name in ("created_at", "updated_at"):
            value = format_timestamp(value)
        rendered[name] = value
    return rendered


def page(found: Page) -> dict[str, Any]:
    return {"success": True, "data": [appointment(a) for a in found.appointments],
            "pagination": {"page": found.page, "limit": found.limit, "total": found.total,
                           "total_pages": found.total_pages, "has_more": found.has_more}}
