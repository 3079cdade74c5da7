"""Configuration (the spec's `configuration` tag): the organization's services and its
appointment settings."""

from __future__ import annotations

from typing import Any

from ...domain import configuration
from ...domain.model import Organization, Service
from ..call import Answer, Call, ok, view


@view("listServices")
def list_services(call: Call) -> Answer:
    return ok([service(s) for s in configuration.services(call.store, call.org)])


@view("getAppointmentConfig")
def get_appointment_config(call: Call) -> Answer:
    return ok(config(configuration.settings(call.store, call.org)))


def service(record: Service) -> dict[str, Any]:
    return {"service_id": record.id, "name": record.name}


def config(org: Organization) -> dict[str, Any]:
    return {"allow_cancellation": org.allow_cancellation,
            "cancellation_notice_hours": org.cancellation_notice_hours,
            "timezone": org.timezone.key}
