"""The booking rules, as plain Python on plain data (no Flask, no YAML, no storage).

Every booking, new (create) or moved (reschedule), goes through the same two steps, in the
documented order: `place_at` (or `place_on`) finds the window the time falls in (422
OUTSIDE_AVAILABILITY), then `admit` checks that window is open that date (409 SLOT_INACTIVE),
that the patient has no other active booking of that service that date (409 DUPLICATE_BOOKING)
and that the window has room (409 SLOT_FULL). `apply_patch` is the one entry point of an update;
the cancellation policy (`check_cancellation`) runs before any of them. Nothing is changed here:
each function returns a new record or raises the API error of the first rule broken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from .clock import format_timestamp
from .errors import (
    CancellationNotAllowed,
    CancellationNoticePeriod,
    DuplicateBooking,
    OutsideAvailability,
    SlotFull,
    SlotInactive,
)
from .model import DAYS, Appointment, Organization, Window


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


class Ledger(Protocol):
    """What the rules need to know about the other appointments (the store's indexes)."""

    def active_in_window(self, org_id: str, window_id: str, on: date) -> int: ...

    def active_bookings(self, org_id: str, patient: tuple[str, str], appointment_type: str,
                        on: date) -> frozenset[str]: ...


@dataclass(frozen=True)
class Patch:
    """The updatable fields of one PATCH request; absent fields are UNSET."""

    appointment_date: datetime | _Unset = UNSET
    status: str | _Unset = UNSET
    assigned_doctor: str | None | _Unset = UNSET
    notes: str | None | _Unset = UNSET
    session: str | _Unset = UNSET
    batch: str | _Unset = UNSET

    @property
    def places(self) -> bool:
        """Does the patch say where the appointment should be?"""
        return any(v is not UNSET for v in (self.appointment_date, self.session, self.batch))

    @property
    def only_cancels(self) -> bool:
        return self == Patch(status="cancelled")


@dataclass(frozen=True)
class Placement:
    """Where a booking lands: its window, its local date, and the instant it starts."""

    window: Window
    on: date
    start: datetime


# -- the update -----------------------------------------------------------------------------------

def apply_patch(org: Organization, ledger: Ledger, current: Appointment, patch: Patch,
                now: datetime) -> Appointment:
    """The appointment after `patch`, or the error of the first rule the patch breaks."""
    if patch.status == "cancelled" and current.status != "cancelled":
        check_cancellation(org, current, now)
    changes: dict[str, Any] = {}
    if patch.places:
        placed = _place_patch(org, current, patch)
        changes = {"window_id": placed.window.id, "date": placed.on, "start": placed.start,
                   "session": placed.window.session, "batch": placed.window.batch}
    status = patch.status if isinstance(patch.status, str) else (
        "rescheduled" if patch.appointment_date is not UNSET else current.status)
    updated = replace(  # one copy of the record, whatever the patch holds
        current,
        **changes,
        status=status,
        assigned_doctor=_pick(patch.assigned_doctor, current.assigned_doctor),
        notes=_pick(patch.notes, current.notes),
        updated_at=now,
    )
    if patch.places or (updated.active and not current.active):
        admit(org, ledger, updated, current)
    return updated


def check_cancellation(org: Organization, appointment: Appointment, now: datetime) -> None:
    """409 CANCELLATION_NOT_ALLOWED when the organization allows no cancellations; 409
    CANCELLATION_NOTICE_PERIOD when the appointment starts sooner than the notice required."""
    if not org.allow_cancellation:
        raise CancellationNotAllowed(
            f"{org.name} does not allow cancelling appointments (allow_cancellation is false).")
    notice = timedelta(hours=org.cancellation_notice_hours)
    if notice and appointment.start - now < notice:  # no notice required: any time will do
        raise CancellationNoticePeriod(
            f"{appointment.appointment_id} starts at {format_timestamp(appointment.start)} "
            f"({_in_hours(appointment.start - now)}); cancelling needs "
            f"{_hours(org.cancellation_notice_hours)} notice.")


# -- placing a booking ----------------------------------------------------------------------------

def place_at(org: Organization, branch_id: str, appointment_type: str, moment: datetime,
             session: str | _Unset = UNSET, batch: str | _Unset = UNSET,
             prefer: str | None = None) -> Placement:
    """The window of the branch, for the service, covering `moment`'s local weekday and time in
    the organization's timezone, and agreeing with `session` and `batch` when given."""
    try:
        local = moment.astimezone(org.timezone)
    except OverflowError:  # e.g. 9999-12-31T23:00Z is already year 10000 in India
        raise OutsideAvailability(
            f"{moment.isoformat()} is outside the calendar in {org.timezone.key}.") from None
    on = local.date()
    covering = [w for w in _branch_windows(org, branch_id, appointment_type, on) if w.covers(local)]
    if not covering:
        raise OutsideAvailability(
            f"No calendar window of branch {branch_id} for {org.service_name(appointment_type)} "
            f"covers {_moment_text(local, org)}.")
    agreeing = [w for w in covering if _agrees(w, session, batch)]
    if not agreeing:
        found = _best(covering, on)
        raise OutsideAvailability(
            f"{_moment_text(local, org)} falls in window {found.label()}, which does not match "
            f"the requested {_requested(session, batch)}.")
    # Kept to the millisecond, as the API writes times.
    return Placement(_best(agreeing, on, prefer), on, moment.replace(microsecond=moment.microsecond // 1000 * 1000))


def _moment_text(local: datetime, org: Organization) -> str:
    """`Monday 2026-06-15 14:30 (Asia/Kolkata)`: a moment as the refusals tell it."""
    return (f"{DAYS[local.weekday()].capitalize()} {local.date().isoformat()} "
            f"{local.strftime('%H:%M')} ({org.timezone.key})")


def place_on(org: Organization, branch_id: str, appointment_type: str, on: date,
             session: str, batch: str | _Unset = UNSET, prefer: str | None = None) -> Placement:
    """A window of the branch on `on` with that session (and batch): `session` / `batch` sent
    without a time. The booking starts when the window opens."""
    candidates = [w for w in _branch_windows(org, branch_id, appointment_type, on)
                  if _agrees(w, session, batch)]
    if not candidates:
        raise OutsideAvailability(
            f"Branch {branch_id} has no window for {org.service_name(appointment_type)} with "
            f"{_requested(session, batch)} on {DAYS[on.weekday()].capitalize()} {on.isoformat()}.")
    window = _best(candidates, on, prefer)
    try:
        return Placement(window, on, window.start_on(on, org.timezone))
    except OverflowError:  # e.g. 24:00 on 9999-12-31 west of UTC is already year 10000
        raise OutsideAvailability(f"Window {window.label()} on {on.isoformat()} is outside the "
                                  f"calendar in {org.timezone.key}.") from None


def admit(org: Organization, ledger: Ledger, appointment: Appointment,
          current: Appointment | None = None) -> None:
    """The checks after placement, in order: the window is open that date, then, for an active
    appointment, no duplicate and room. `current` is the same appointment before the change."""
    check_open(org.window(appointment.window_id), appointment.date)
    if appointment.active:
        check_room(org, ledger, appointment, current)


def check_open(window: Window, on: date) -> None:
    """409 SLOT_INACTIVE when the window is inactive, or closed on that date."""
    if not window.active:
        raise SlotInactive(f"Window {window.label()} ({window.id}) is inactive.")
    if on in window.closed_dates:
        raise SlotInactive(f"Window {window.label()} ({window.id}) is closed on {on.isoformat()}.")


def check_room(org: Organization, ledger: Ledger, appointment: Appointment,
               current: Appointment | None = None) -> None:
    """409 DUPLICATE_BOOKING, then 409 SLOT_FULL, for an active `appointment`.

    `current` is the same appointment before the change: it never counts against itself.
    """
    own_id = appointment.appointment_id
    others = ledger.active_bookings(org.id, appointment.patient, appointment.appointment_type,
                                    appointment.date) - {own_id}
    if others:
        raise DuplicateBooking(
            f"{appointment.patient_name} already has an active "
            f"{org.service_name(appointment.appointment_type)} booking on "
            f"{appointment.date.isoformat()} ({', '.join(sorted(others))}).")
    window = org.window(appointment.window_id)
    taken = filled(ledger, org, window, appointment.date)
    if current is not None and current.active and current.window_id == window.id \
            and current.date == appointment.date:
        taken -= 1
    capacity = window.ai_slots_on(appointment.date)
    if taken >= capacity:
        raise SlotFull(
            f"Window {window.label()} has no remaining capacity on "
            f"{appointment.date.isoformat()} ({taken} of {capacity} booked).")


def filled(ledger: Ledger, org: Organization, window: Window, on: date) -> int:
    """The appointments that hold a place in the window that date: what SLOT_FULL counts, and
    what availability reports as `filled_slots`."""
    return ledger.active_in_window(org.id, window.id, on)


def window_for_slot(org: Organization, branch_id: str, on: date, session: str, batch: str,
                    appointment_type: str) -> Window | None:
    """The window an appointment with this branch, date, session and batch sits in."""
    candidates = [w for w in _branch_windows(org, branch_id, appointment_type, on)
                  if w.session == session and w.batch == batch]
    return _best(candidates, on) if candidates else None


def open_windows(org: Organization, on: date, branch_id: str | None = None,
                 session: str | None = None) -> list[Window]:
    """The windows open on `on` (its weekday, active, not closed that date), for availability."""
    day = DAYS[on.weekday()]
    found = [w for w in org.windows if w.day == day and w.open_on(on)
             and branch_id in (None, w.branch_id) and session in (None, w.session)]
    return sorted(found, key=lambda w: (w.start_time, w.branch_id, w.batch, w.id))


# -- helpers --------------------------------------------------------------------------------------

def _place_patch(org: Organization, current: Appointment, patch: Patch) -> Placement:
    if isinstance(patch.appointment_date, datetime):
        return place_at(org, current.branch_id, current.appointment_type, patch.appointment_date,
                        patch.session, patch.batch, prefer=current.window_id)
    session = current.session if patch.session is UNSET else patch.session
    placed = place_on(org, current.branch_id, current.appointment_type, current.date,
                      session, patch.batch, prefer=current.window_id)  # type: ignore[arg-type]
    if placed.window.id == current.window_id:  # it stays where it is: so does its start
        return replace(placed, start=current.start)
    return placed


def _branch_windows(org: Organization, branch_id: str, appointment_type: str,
                    on: date) -> list[Window]:
    return [w for w in org.windows_on(branch_id, DAYS[on.weekday()]) if w.serves(appointment_type)]


def _agrees(window: Window, session: str | _Unset, batch: str | _Unset) -> bool:
    return session in (UNSET, window.session) and batch in (UNSET, window.batch)


def _requested(session: str | _Unset, batch: str | _Unset) -> str:
    parts = []
    if session is not UNSET:
        parts.append(f"session {session}")
    if batch is not UNSET:
        parts.append(f"batch {batch}")
    return " and ".join(parts)


def _best(windows: list[Window], on: date, prefer: str | None = None) -> Window:
    """Open windows first, then the current one, then service-specific, then earliest."""
    return min(windows, key=lambda w: (not w.open_on(on), w.id != prefer,
                                       w.appointment_type is None, w.start_time, w.id))


def _pick(value: object, current: str | None) -> str | None:
    return current if value is UNSET else value  # type: ignore[return-value]


def _hours(hours: float) -> str:
    whole = int(hours) if float(hours).is_integer() else hours
    return f"{whole} hour's" if whole == 1 else f"{whole} hours'"


def _in_hours(delta: timedelta) -> str:
    if delta <= timedelta(0):
        return "already started"
    hours = delta.total_seconds() / 3600
    if hours >= 1:
        return f"in {math.floor(hours)} hour{'s' if hours >= 2 else ''}"
    minutes = math.ceil(hours * 60)
    return f"in {minutes} minute{'s' if minutes > 1 else ''}"
