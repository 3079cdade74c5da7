"""The use cases of the appointments API: each one whole, and atomic under the store's lock.

A view calls exactly one of these with the organization of the caller's key; each reads and
writes the store under its lock, so the checks and the write see one state (no overbooking, no
duplicate, whatever runs at the same time), and raises the API error of the first rule broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from . import booking
from .booking import UNSET, Patch, Placement, _Unset
from .errors import InvalidField, NotFound
from .model import Appointment, Organization, Window
from .store import Store


@dataclass(frozen=True)
class NewAppointment:
    """A create request, validated against the spec (types, required fields)."""

    appointment_type: str  # the service's id or name
    appointment_date: datetime
    patient_name: str
    parent_phone: str
    branch_id: str | None = None
    session: str | _Unset = UNSET
    batch: str | _Unset = UNSET
    assigned_doctor: str | None = None
    notes: str | None = None
    external_reference_id: str | None = None
    booked_via: str = "api"  # the voice agent ("phone_call") and the dashboard book with the same rules


@dataclass(frozen=True)
class Search:
    """The filters of a search; absent ones are None."""

    day: date | None = None  # a UTC day
    filters: dict[str, str] = field(default_factory=dict)
    page: int = 1
    limit: int = 50


@dataclass(frozen=True)
class Page:
    appointments: list[Appointment]
    page: int
    limit: int
    total: int

    @property
    def total_pages(self) -> int:
        return -(-self.total // self.limit)

    @property
    def has_more(self) -> bool:
        return self.page * self.limit < self.total


@dataclass(frozen=True)
class OpenSlot:
    """A window open on a date, with how many places its bookings take."""

    window: Window
    on: date
    filled: int

    @property
    def available(self) -> int:
        return max(0, self.window.ai_slots_on(self.on) - self.filled)


def get(store: Store, org: Organization, appointment_id: str) -> Appointment:
    found = store.get(org.id, appointment_id)
    if found is None:
        raise _not_found(appointment_id)
    return found


def update(store: Store, org: Organization, appointment_id: str, patch: Patch,
           now: datetime) -> Appointment:
    """PATCH: the appointment after the patch, stored; a repeated cancel changes nothing."""
    with store.lock:
        current = get(store, org, appointment_id)
        if current.status == "cancelled" and patch.only_cancels:
            return current  # cancelling twice is safe: the record as it is, updated_at unmoved
        updated = booking.apply_patch(org, store, current, patch, now)
        store.put(updated)
        return updated


def create(store: Store, org: Organization, request: NewAppointment, now: datetime) -> Appointment:
    """POST: a confirmed appointment, after the same checks as a reschedule."""
    service = org.service(request.appointment_type)
    if service is None:
        raise InvalidField("appointment_type", f"no service {request.appointment_type[:100]!r} in this "
                           f"organization (by id or name); GET /v1/services lists them")
    branch_id = _branch(org, request.branch_id)
    with store.lock:
        placed: Placement = booking.place_at(org, branch_id, service.id, request.appointment_date,
                                             request.session, request.batch)
        appointment = Appointment(
            appointment_id="", org_id=org.id, window_id=placed.window.id,
            appointment_type=service.id, branch_id=branch_id, date=placed.on,
            session=placed.window.session, batch=placed.window.batch,
            patient_name=request.patient_name, parent_phone=request.parent_phone,
            created_at=now, updated_at=now, start=placed.start, status="confirmed",
            assigned_doctor=request.assigned_doctor, notes=request.notes,
            external_reference_id=request.external_reference_id, booked_via=request.booked_via)
        booking.admit(org, store, appointment)
        appointment = replace(appointment, appointment_id=store.new_id())  # ids: successes only
        store.put(appointment)
        return appointment


def search(store: Store, org: Organization, query: Search) -> Page:
    found, total = store.search(org.id, query.day, query.filters,
                                (query.page - 1) * query.limit, query.limit)
    return Page(found, query.page, query.limit, total)


def availability(store: Store, org: Organization, on: date, branch_id: str | None = None,
                 session: str | None = None) -> list[OpenSlot]:
    """The windows open on `on`, with their live counts, read under the lock: one state."""
    with store.lock:
        return [OpenSlot(w, on, booking.filled(store, org, w, on))
                for w in booking.open_windows(org, on, branch_id, session)]


def _branch(org: Organization, branch_id: str | None) -> str:
    """The branch of a new booking: as sent, or the only one."""
    if branch_id is None:
        if len(org.branches) == 1:
            return org.branches[0].id
        raise InvalidField("branch_id", f"is required: the organization has {len(org.branches)} "
                           "branches (GET /v1/appointment-slots/availability shows their ids)")
    if org.branch(branch_id) is None:
        raise InvalidField("branch_id", f"no branch {branch_id[:100]!r} in this organization")
    return branch_id


def _not_found(appointment_id: str) -> NotFound:
    shown = appointment_id if len(appointment_id) <= 64 else appointment_id[:64] + "…"
    return NotFound(f"Appointment {shown} not found.")
