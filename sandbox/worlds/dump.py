"""The state dumped back as a world document that loads to the same state."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import yaml

from ..domain.clock import format_timestamp
from ..domain.model import (
    EVENTS,
    Appointment,
    Organization,
    WebhookEndpoint,
    Window,
    wall_text,
)

_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_world(organizations: Iterable[Organization], appointments: Iterable[Appointment],
               clock: datetime | None, description: str | None = None) -> dict[str, Any]:
    """The state as a world document; loading it gives the same state."""
    by_org: dict[str, list[dict[str, Any]]] = {}
    for appointment in appointments:
        by_org.setdefault(appointment.org_id, []).append(dump_appointment(appointment))
    document: dict[str, Any] = {"version": 1}
    if description:
        document["description"] = description
    if clock is not None:
        document["clock"] = format_timestamp(clock)
    document["organizations"] = [_dump_org(org, by_org.get(org.id, [])) for org in organizations]
    return document


def dump_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_SafeDumper, sort_keys=False, allow_unicode=True, width=100)


def _dump_org(org: Organization, appointments: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "timezone": org.timezone.key,
        "rate_limit_per_minute": org.rate_limit_per_minute,
        "allow_cancellation": org.allow_cancellation,
        "cancellation_notice_hours": org.cancellation_notice_hours,
        "api_keys": [{"key": k.key, **({"name": k.name} if k.name else {}),
                      "scopes": sorted(k.scopes)} for k in org.api_keys],
        "services": [{"id": s.id, "name": s.name} for s in org.services],
        "branches": [{"id": b.id, "name": b.name} for b in org.branches],
        "calendar_windows": [_dump_window(w) for w in org.windows],
        "appointments": appointments,
        **({"webhooks": [dump_webhook(w) for w in org.webhooks]} if org.webhooks else {}),
    }


def dump_webhook(w: WebhookEndpoint) -> dict[str, Any]:
    return {"id": w.id, "url": w.url, "secret": w.secret, "events": [e for e in EVENTS if e in w.events],
            "retry_delays": list(w.retry_delays), "timeout_seconds": w.timeout_seconds}


def _dump_window(w: Window) -> dict[str, Any]:
    return {
        "id": w.id, "branch_id": w.branch_id, "day": w.day, "session": w.session,
        "batch": w.batch, "start_time": w.start_time.strftime("%H:%M"),
        "end_time": wall_text(w.end_time),
        "max_slots": w.max_slots, "ai_slots": w.ai_slots, "appointment_type": w.appointment_type,
        "active": w.active, "closed_dates": sorted(d.isoformat() for d in w.closed_dates),
        **({"ai_slots_by_date": {d.isoformat(): n for d, n in w.ai_slots_by_date}} if w.ai_slots_by_date else {}),
        "created_at": format_timestamp(w.created_at), "updated_at": format_timestamp(w.updated_at),
    }


def dump_appointment(a: Appointment) -> dict[str, Any]:
    return {
        "appointment_id": a.appointment_id, "appointment_type": a.appointment_type,
        "branch_id": a.branch_id, "date": a.date.isoformat(), "session": a.session,
        "batch": a.batch, "token": a.token, "patient_name": a.patient_name,
        "parent_phone": a.parent_phone, "assigned_doctor": a.assigned_doctor, "notes": a.notes,
        "status": a.status, "external_reference_id": a.external_reference_id,
        "start_time": format_timestamp(a.start),
        **({"booked_via": a.booked_via} if a.booked_via != "api" else {}),
        "created_at": format_timestamp(a.created_at), "updated_at": format_timestamp(a.updated_at),
    }
