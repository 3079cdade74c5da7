"""The control API's webhooks: endpoints per organization, the delivery journal, and the
changes that fire events, as the documentation says only they do: the AI voice agent booking
during a call, and staff in the dashboard (booking, updating, cancelling, completing an
appointment; creating or updating a calendar window). REST writes never fire a webhook.

Each action runs the same use case as the API (the same rules, the same errors), then emits the
event; the answer says which deliveries were queued. `organization` names the organization
(default: the world's first); the rest of a body is the API operation's body, validated by the
spec.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Response, request

from ..domain import appointments, calendar
from ..domain.errors import Detail, InvalidField, NotFound, ValidationError
from ..domain.model import Appointment, Organization, Window
from ..domain.store import Store
from ..session.state import SandboxState
from ..worlds.world import dump_webhook, free_webhook_id, read_webhook
from . import render
from .control import bp, ok, query_limit  # the control API's blueprint: its guard, its envelope
from .http import read_json, read_json_object, runtime, session_state
from .views import new_appointment, patch_of, window_changes, window_fields, window_of

STATUS_EVENTS = {"cancelled": "appointment.cancelled", "completed": "appointment.completed"}


# -- endpoints and deliveries ---------------------------------------------------------------------

@bp.get("/webhooks")
def list_webhooks() -> Response:
    organizations = session_state().store.organizations.values()
    return ok([{"organization": org.id, **dump_webhook(w)} for org in organizations for w in org.webhooks])


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
        org = _organization(store, named, "body.organization")
        store.replace_organization(replace(org, webhooks=(*org.webhooks, endpoint)))
    return ok({"organization": org.id, **dump_webhook(endpoint)}, 201)


@bp.delete("/webhooks/<endpoint_id>")
def delete_webhook(endpoint_id: str) -> Response:
    store = session_state().store
    with store.lock:
        for org in store.organizations.values():
            if any(w.id == endpoint_id for w in org.webhooks):
                store.replace_organization(replace(org, webhooks=tuple(w for w in org.webhooks if w.id != endpoint_id)))
                return ok({"deleted": endpoint_id})
    raise NotFound(f"No webhook endpoint {endpoint_id[:64]}.")


@bp.get("/webhooks/deliveries")
def list_deliveries() -> Response:
    return ok(session_state().webhooks.listing(query_limit()))


@bp.delete("/webhooks/deliveries")
def clear_deliveries() -> Response:
    return ok({"cleared": session_state().webhooks.clear()})


# -- what fires events ----------------------------------------------------------------------------

@bp.post("/agent/appointments")
def agent_books() -> Response:
    """The AI voice agent books during a call: the create rules, `booked_via: phone_call`."""
    return _book("phone_call")


@bp.post("/dashboard/appointments")
def dashboard_books() -> Response:
    return _book("dashboard")


@bp.patch("/dashboard/appointments/<appointment_id>")
def dashboard_updates(appointment_id: str) -> Response:
    """Staff change an appointment: the PATCH rules; `appointment.cancelled` or `.completed`
    when the status becomes that, `appointment.updated` for any other change, nothing when
    nothing changed (a repeated cancel)."""
    state, org, body = _action("updateAppointment")
    store = state.store
    with store.lock:
        before = appointments.get(store, org, appointment_id)
        after = _located(lambda: appointments.update(store, org, appointment_id, patch_of(body), state.clock.now()))
    event = None
    if replace(after, updated_at=before.updated_at) != before:  # something changed besides the stamp
        event = STATUS_EVENTS.get(after.status) if after.status != before.status else None
        event = event or "appointment.updated"
    return _appointment_answer(state, org, after, event, 200)


@bp.post("/dashboard/windows")
def dashboard_creates_window() -> Response:
    state, org, body = _action("createCalendarWindow")
    with window_fields():
        created = _located(lambda: calendar.create(state.store, org, window_of(body), state.clock.now()))
    return _window_answer(state, org, created, "slot.created", 201)


@bp.patch("/dashboard/windows/<slot_id>")
def dashboard_updates_window(slot_id: str) -> Response:
    """Staff change a window (hours, capacities, `active`: false disables it): `slot.updated`,
    or nothing when nothing changed."""
    state, org, body = _action("updateCalendarWindow")
    before = calendar.find(state.store.organizations[org.id], slot_id)
    with window_fields():
        updated = _located(lambda: calendar.update(state.store, org, slot_id, window_changes(body), state.clock.now()))
    changed = replace(updated, updated_at=before.updated_at) != before
    return _window_answer(state, org, updated, "slot.updated" if changed else None, 200)


def _book(via: str) -> Response:
    state, org, body = _action("createAppointment")
    created = _located(lambda: appointments.create(state.store, org, new_appointment(body, via), state.clock.now()))
    return _appointment_answer(state, org, created, "appointment.created", 201)


# -- helpers --------------------------------------------------------------------------------------

def _action(operation_id: str) -> tuple[SandboxState, Organization, dict[str, Any]]:
    """The session, the organization named (or the first), and the body without it, checked
    against the API operation's request schema (fields it does not declare are dropped)."""
    state = session_state()
    body = read_json_object(request)
    org = _organization(state.store, body.pop("organization", None), "body.organization")
    contract = runtime().contract
    problems = contract.body_problems(operation_id, body)
    if problems:
        raise ValidationError("The request body is invalid.", problems)
    known = contract.body_fields(operation_id)
    return state, org, {name: value for name, value in body.items() if name in known}


def _organization(store: Store, named: Any, where: str) -> Organization:
    if named is None:
        return next(iter(store.organizations.values()))
    found = store.organizations.get(named) if isinstance(named, str) else None
    if found is None:
        raise ValidationError("No such organization.",
                              [Detail(where, f"no organization {str(named)[:64]!r} in the world")])
    return found


def _located(run: Any) -> Any:
    try:
        return run()
    except InvalidField as exc:
        raise exc.located("body") from None


def _appointment_answer(state: SandboxState, org: Organization, record: Appointment, event: str | None,
                        status: int) -> Response:
    queued = []
    if event is not None:
        payload = render.event(event, state.clock.now(), "appointment", render.webhook_appointment(org, record))
        queued = state.webhooks.emit(_endpoints(state, org), event, payload)
    return ok({"appointment": render.appointment(record), "event": event,
               "deliveries": [d.id for d in queued]}, status)


def _window_answer(state: SandboxState, org: Organization, window: Window, event: str | None,
                   status: int) -> Response:
    queued = []
    if event is not None:
        payload = render.event(event, state.clock.now(), "slot", render.window(window))
        queued = state.webhooks.emit(_endpoints(state, org), event, payload)
    return ok({"window": render.window(window), "event": event, "deliveries": [d.id for d in queued]}, status)


def _endpoints(state: SandboxState, org: Organization) -> Any:
    return state.store.organizations[org.id].webhooks
