"""The booking rules, as plain Python on plain data (no Flask, no YAML, no storage).

`apply_patch` is the one entry point of an update: it resolves where the appointment would
land, runs the checks in the documented order, and returns the updated record, or raises the
API error of the first rule it breaks. Nothing is changed until it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol

from .errors import DuplicateBooking, OutsideAvailability, SlotFull, SlotInactive
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


def apply_patch(org: Organization, ledger: Ledger, current: Appointment, patch: Patch,
                now: datetime) -> Appointment:
    """The appointment after `patch`, or the error of the first rule the patch breaks."""
    updated = current
    if patch.places:
        window, on = _target(org, current, patch)
        updated = replace(updated, window_id=window.id, date=on, session=window.session,
                          batch=window.batch)
    status = patch.status
    if status is UNSET:
        status = "rescheduled" if patch.appointment_date is not UNSET else current.status
    updated = replace(
        updated,
        status=status,
        assigned_doctor=_pick(patch.assigned_doctor, current.assigned_doctor),
        notes=_pick(patch.notes, current.notes),
        updated_at=now,
    )
    if patch.places or (updated.active and not current.active):
        check_open(org.window(updated.window_id), updated.date)
        if updated.active:
            check_room(org, ledger, updated, current)
    return updated


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
    patient = appointment.patient
    others = ledger.active_bookings(org.id, patient, appointment.appointment_type,
                                    appointment.date) - {own_id}
    if others:
        raise DuplicateBooking(
            f"{appointment.patient_name} already has an active "
            f"{org.service_name(appointment.appointment_type)} booking on "
            f"{appointment.date.isoformat()} ({', '.join(sorted(others))})."
        )
    window = org.window(appointment.window_id)
    taken = ledger.active_in_window(org.id, window.id, appointment.date)
    if current is not None and current.active and current.window_id == window.id \
            and current.date == appointment.date:
        taken -= 1
    if taken >= window.ai_slots:
        raise SlotFull(
            f"Window {window.label()} has no remaining capacity on "
            f"{appointment.date.isoformat()} ({taken} of {window.ai_slots} booked)."
        )


def window_for_slot(org: Organization, branch_id: str, on: date, session: str, batch: str,
                    appointment_type: str) -> Window | None:
    """The window an appointment with this branch, date, session and batch sits in."""
    candidates = [w for w in _branch_windows(org, branch_id, appointment_type, on)
                  if w.session == session and w.batch == batch]
    return _best(candidates, on) if candidates else None


def _target(org: Organization, current: Appointment, patch: Patch) -> tuple[Window, date]:
    if isinstance(patch.appointment_date, datetime):
        return _target_at(org, current, patch, patch.appointment_date)
    return _target_on_same_date(org, current, patch)


def _target_at(org: Organization, current: Appointment, patch: Patch,
               moment: datetime) -> tuple[Window, date]:
    """Rescheduling: the window covering that local weekday and time, in the org's timezone."""
    try:
        local = moment.astimezone(org.timezone)
    except OverflowError:  # e.g. 9999-12-31T23:00Z is already year 10000 in India
        raise OutsideAvailability(
            f"{moment.isoformat()} is outside the calendar in {org.timezone.key}.") from None
    on = local.date()
    where = (f"{DAYS[local.weekday()].capitalize()} {on.isoformat()} "
             f"{local.strftime('%H:%M')} ({org.timezone.key})")
    covering = [w for w in _branch_windows(org, current.branch_id, current.appointment_type, on)
                if w.covers(local)]
    if not covering:
        raise OutsideAvailability(
            f"No calendar window of branch {current.branch_id} for "
            f"{org.service_name(current.appointment_type)} covers {where}."
        )
    agreeing = [w for w in covering if _agrees(w, patch)]
    if not agreeing:
        found = _best(covering, on)
        raise OutsideAvailability(
            f"{where} falls in window {found.label()}, which does not match the requested "
            f"{_requested(patch)}."
        )
    return _best(agreeing, on, prefer=current.window_id), on


def _target_on_same_date(org: Organization, current: Appointment,
                         patch: Patch) -> tuple[Window, date]:
    """`session` / `batch` alone: a window of the branch on the appointment's current date."""
    on = current.date
    wanted = Patch(session=current.session if patch.session is UNSET else patch.session,
                   batch=patch.batch)
    candidates = [w for w in _branch_windows(org, current.branch_id, current.appointment_type, on)
                  if _agrees(w, wanted)]
    if not candidates:
        raise OutsideAvailability(
            f"Branch {current.branch_id} has no window for "
            f"{org.service_name(current.appointment_type)} with {_requested(wanted)} on "
            f"{DAYS[on.weekday()].capitalize()} {on.isoformat()}."
        )
    return _best(candidates, on, prefer=current.window_id), on


def _branch_windows(org: Organization, branch_id: str, appointment_type: str,
                    on: date) -> list[Window]:
    return [w for w in org.windows_on(branch_id, DAYS[on.weekday()]) if w.serves(appointment_type)]


def _agrees(window: Window, patch: Patch) -> bool:
    return (patch.session in (UNSET, window.session)) and (patch.batch in (UNSET, window.batch))


def _requested(patch: Patch) -> str:
    parts = []
    if patch.session is not UNSET:
        parts.append(f"session {patch.session}")
    if patch.batch is not UNSET:
        parts.append(f"batch {patch.batch}")
    return " and ".join(parts)


def _best(windows: list[Window], on: date, prefer: str | None = None) -> Window:
    """Open windows first, then the current one, then service-specific, then earliest."""
    return min(windows, key=lambda w: (not w.open_on(on), w.id != prefer,
                                       w.appointment_type is None, w.start_time, w.id))


def _pick(value: object, current: str | None) -> str | None:
    return current if value is UNSET else value  # type: ignore[return-value]
