"""Webhooks (the spec's `webhooks` tag), served on the control API: an organization's endpoints,
the delivery journal, the changes that fire events, and the events as the spec writes them.

Only what the documentation says fires events does: the AI voice agent booking during a call,
and staff in the dashboard (booking, updating, cancelling, completing an appointment; creating
or updating a calendar window). REST writes never fire a webhook. Each action runs an API
operation's use case through the ACTION pipeline (its body checks, its rules, its errors), then
emits the event; the answer says which deliveries were queued. `organization` in a body names
the organization (default: the world's first).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Response, request

from ...domain import appointments, calendar
from ...domain.clock import format_timestamp
from ...domain.errors import Detail, NotFound, ValidationError
from ...domain.model import Appointment, Organization, Window
from ...worlds.world import dump_webhook, free_webhook_id, read_webhook
from ..call import Answer, Call, ok
from ..control import bp, query_limit  # the control API's blueprint: its guard
from ..control import ok as control_ok
from ..http import read_json, session_state
from ..pipeline import action
from ..steps import named_organization
from .appointments import appointment, new_appointment, patch_of
from .slots import window, window_changes, window_fields, window_of

STATUS_EVENTS = {"cancelled": "appointment.cancelled", "completed": "appointment.completed"}


# -- endpoints and deliveries ---------------------------------------------------------------------

@bp.get("/webhooks")
def list_webhooks() -> Response:
    organizations = session_state().store.organizations.values()
    return control_ok([{"organization": org.id, **dump_webhook(w)} for org in organizations for w in org.webhooks])


@bp.post("/webhooks")
def add_webhook() -> Response:
    """`{"url": ..., "secret": ..., "events"?: [...], "organization"?: ...}`: an endpoint, as a
    world file writes it (ids default to wh_1, wh_2, ...)."""
    store = session_state().store
    body = read_json(request)
    with store.lock:
        taken = {w.id for org in store.organizations.values() for w in org.webhooks}
        named, endpoint = read_webhook(body, free_webhook_id(taken))
        if endpoint.id in taken:
            raise ValidationError("The webhook endpoint is invalid.", [Detail("body.id", f"{endpoint.id!r} is taken")])
        org = named_organization(store, named)
        store.replace_organization(replace(org, webhooks=(*org.webhooks, endpoint)))
    return control_ok({"organization": org.id, **dump_webhook(endpoint)}, 201)


@bp.delete("/webhooks/<endpoint_id>")
def delete_webhook(endpoint_id: str) -> Response:
    store = session_state().store
    with store.lock:
        for org in store.organizations.values():
            if any(w.id == endpoint_id for w in org.webhooks):
                store.replace_organization(replace(org, webhooks=tuple(w for w in org.webhooks if w.id != endpoint_id)))
                return control_ok({"deleted": endpoint_id})
    raise NotFound(f"No webhook endpoint {endpoint_id[:64]}.")


@bp.get("/webhooks/deliveries")
def list_deliveries() -> Response:
    return control_ok(session_state().webhooks.listing(query_limit()))


@bp.delete("/webhooks/deliveries")
def clear_deliveries() -> Response:
    return control_ok({"cleared": session_state().webhooks.clear()})


# -- what fires events ----------------------------------------------------------------------------

@bp.post("/agent/appointments")
@action("createAppointment")
def agent_books(call: Call) -> Answer:
    """The AI voice agent books during a call: the create rules, `booked_via: phone_call`."""
    return _book(call, "phone_call")


@bp.post("/dashboard/appointments")
@action("createAppointment")
def dashboard_books(call: Call) -> Answer:
    return _book(call, "dashboard")


@bp.patch("/dashboard/appointments/<appointment_id>")
@action("updateAppointment")
def dashboard_updates(call: Call) -> Answer:
    """Staff change an appointment: the PATCH rules; `appointment.cancelled` or `.completed`
    when the status becomes that, `appointment.updated` for any other change, nothing when
    nothing changed (a repeated cancel)."""
    store, appointment_id = call.store, call.path["appointment_id"]
    with store.lock:
        before = appointments.get(store, call.org, appointment_id)
        after = appointments.update(store, call.org, appointment_id, patch_of(call.body), call.now)
    event = None
    if replace(after, updated_at=before.updated_at) != before:  # something changed besides the stamp
        event = STATUS_EVENTS.get(after.status) if after.status != before.status else None
        event = event or "appointment.updated"
    return _appointment_answer(call, after, event, 200)


@bp.post("/dashboard/windows")
@action("createCalendarWindow")
def dashboard_creates_window(call: Call) -> Answer:
    with window_fields():
        created = calendar.create(call.store, call.org, window_of(call.body), call.now)
    return _window_answer(call, created, "slot.created", 201)


@bp.patch("/dashboard/windows/<slot_id>")
@action("updateCalendarWindow")
def dashboard_updates_window(call: Call) -> Answer:
    """Staff change a window (hours, capacities, `active`: false disables it): `slot.updated`,
    or nothing when nothing changed."""
    slot_id = call.path["slot_id"]
    before = calendar.find(call.store.organizations[call.org.id], slot_id)
    with window_fields():
        updated = calendar.update(call.store, call.org, slot_id, window_changes(call.body), call.now)
    changed = replace(updated, updated_at=before.updated_at) != before
    return _window_answer(call, updated, "slot.updated" if changed else None, 200)


def _book(call: Call, via: str) -> Answer:
    created = appointments.create(call.store, call.org, new_appointment(call.body, via), call.now)
    return _appointment_answer(call, created, "appointment.created", 201)


def _appointment_answer(call: Call, record: Appointment, event: str | None, status: int) -> Answer:
    deliveries = _emit(call, event, "appointment", lambda: webhook_appointment(call.org, record))
    return ok({"appointment": appointment(record), "event": event, "deliveries": deliveries}, status)


def _window_answer(call: Call, record: Window, event: str | None, status: int) -> Answer:
    deliveries = _emit(call, event, "slot", lambda: window(record))
    return ok({"window": window(record), "event": event, "deliveries": deliveries}, status)


def _emit(call: Call, name: str | None, subject: str, body: Any) -> list[str]:
    """Queue `name` for the organization's endpoints that want it; the ids of the deliveries."""
    if name is None:
        return []
    state = call.state
    payload = event(name, state.clock.now(), subject, body())
    endpoints = state.store.organizations[call.org.id].webhooks
    return [d.id for d in state.webhooks.emit(endpoints, name, payload)]


# -- the events, as the spec writes them ----------------------------------------------------------

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
