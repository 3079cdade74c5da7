"""Calendar windows: the rules a window keeps among its organization's others, and the use
cases of the Appointment Slots API that create, update and disable one.

A window changed or disabled leaves the appointments already booked in it where they are; the
booking rules refuse new ones (SLOT_INACTIVE when disabled, SLOT_FULL when it has shrunk below
what it holds). Windows are never deleted: disabling keeps the record, as appointments are
kept when cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from . import booking
from .errors import InvalidField, InvalidFields, NotFound
from .model import DAYS, Organization, Window, wall_text
from .store import Store

# What an update may change; the rest names the window (a new one is created instead).
UPDATABLE = ("start_time", "end_time", "max_slots", "ai_slots", "active")


# -- the rules ------------------------------------------------------------------------------------

def shape_problems(window: Window) -> list[tuple[str, str]]:
    """What is wrong with the window on its own: (field, message)."""
    found = []
    if window.start_time >= window.end_time:
        found.append(("end_time", f"{wall_text(window.end_time)!r} is not after start_time "
                                  f"{wall_text(window.start_time)!r}"))
    if window.ai_slots > window.max_slots:
        found.append(("ai_slots", f"ai_slots ({window.ai_slots}) exceeds max_slots ({window.max_slots})"))
    for on, places in window.ai_slots_by_date:
        if DAYS[on.weekday()] != window.day:
            found.append(("ai_slots_by_date", f"{on.isoformat()} is a {DAYS[on.weekday()]}; the window is on "
                                              f"{window.day}s"))
        if places > window.max_slots:
            found.append(("ai_slots_by_date", f"{on.isoformat()}: ai_slots ({places}) exceeds max_slots "
                                              f"({window.max_slots})"))
    return found


def clash_problems(window: Window, others: Iterable[Window],
                   name: Callable[[Window], str] = lambda w: f"window {w.id}") -> list[tuple[str, str]]:
    """How the window clashes with the others. An appointment records only its session and
    batch, so these name one window of a branch and day, disabled ones included; and a time
    must fall in one active window of a branch, day and service."""
    found = []
    for other in others:
        if other.id == window.id:
            continue
        if (other.branch_id, other.day, other.session, other.batch) == \
                (window.branch_id, window.day, window.session, window.batch):
            found.append(("batch", f"batch {window.batch!r} already names {name(other)} on that "
                                   "branch, day and session"))
        elif window.active and other.active and overlaps(window, other):  # a disabled one takes no booking
            found.append(("start_time", f"overlaps {name(other)} ({other.label()}, same branch, day and "
                              "service); a time must fall in one window"))
    return found


def overlaps(a: Window, b: Window) -> bool:
    return (a.branch_id, a.day, a.appointment_type) == (b.branch_id, b.day, b.appointment_type) \
        and a.start_time < b.end_time and b.start_time < a.end_time


def _reference_problems(org: Organization, window: Window) -> list[tuple[str, str]]:
    found = []
    if org.branch(window.branch_id) is None:
        found.append(("branch_id", f"no branch {window.branch_id[:100]!r} in this organization"))
    if window.appointment_type is not None and not any(s.id == window.appointment_type for s in org.services):
        found.append(("appointment_type", f"no service {window.appointment_type[:100]!r} in this "
                                          "organization (GET /v1/services lists them)"))
    return found


# -- the use cases --------------------------------------------------------------------------------

def create(store: Store, org: Organization, request: Window, now: datetime) -> Window:
    """POST /v1/appointment-slots: the requested window (its id unset), active, with a new id,
    checked against the others."""
    with store.lock:
        org = store.organizations[org.id]  # the organization as it is now, under the lock
        window = replace(request, active=True, created_at=now, updated_at=now)
        _check(org, window)
        window = replace(window, id=store.new_window_id())  # ids: successes only
        store.replace_organization(replace(org, windows=(*org.windows, window)))
        return window


def update(store: Store, org: Organization, window_id: str, changes: dict[str, Any], now: datetime) -> Window:
    """PATCH /v1/appointment-slots/{slot_id}: new times, capacities, or `active` again (the
    spec refuses a change of what names the window)."""
    assert set(changes) <= set(UPDATABLE), changes
    with store.lock:
        org = store.organizations[org.id]
        current = find(org, window_id)
        window = replace(current, **changes, updated_at=now)
        _check(org, window)
        _put(store, org, window)
        return window


def disable(store: Store, org: Organization, window_id: str, now: datetime) -> Window:
    """DELETE /v1/appointment-slots/{slot_id}: the window stays, inactive; disabling twice
    changes nothing."""
    with store.lock:
        org = store.organizations[org.id]
        current = find(org, window_id)
        if not current.active:
            return current
        window = replace(current, active=False, updated_at=now)
        _put(store, org, window)
        return window


def regenerate(store: Store, org: Organization) -> int:
    """POST /v1/appointment-slots/regenerate: tracking records are derived from the windows at
    every read, so there is nothing to rebuild; the number of windows they cover."""
    return len(store.organizations[org.id].windows)


def find(org: Organization, slot_id: str) -> Window:
    """The window a `slot_id` names: a plain calendar id, or a compound one
    (`calendar_id||date[||appointment_type_id]`) whose first segment counts."""
    window_id = slot_id.split("||", 1)[0]
    for window in org.windows:
        if window.id == window_id:
            return window
    shown = slot_id if len(slot_id) <= 80 else slot_id[:80] + "…"
    raise NotFound(f"Calendar window {shown} not found.")


def _check(org: Organization, window: Window) -> None:
    found = _reference_problems(org, window) + shape_problems(window) + clash_problems(window, org.windows)
    if found:
        raise InvalidFields(found)


def _put(store: Store, org: Organization, window: Window) -> None:
    windows = tuple(window if w.id == window.id else w for w in org.windows)
    store.replace_organization(replace(org, windows=windows))


# -- schedule tracking ----------------------------------------------------------------------------

TRACKING_DAYS = 31  # the longest range one tracking read covers
TRACKING_DEFAULT_DAYS = 7  # without date_to: date_from and the six dates after it


@dataclass(frozen=True)
class Record:
    """A window on one date (a schedule-tracking record): its capacity that date, how many
    places its bookings take, and whether it takes bookings."""

    window: Window
    on: date
    filled: int

    @property
    def slot_id(self) -> str:
        return f"{self.window.id}||{self.on.isoformat()}||{self.window.appointment_type or ''}"

    @property
    def capacity(self) -> int:
        return self.window.ai_slots_on(self.on)

    @property
    def available(self) -> int:
        """What a booking could take that date: nothing when it is closed or disabled."""
        return max(0, self.capacity - self.filled) if self.status == "OPEN" else 0

    @property
    def status(self) -> str:
        if not self.window.active:
            return "INACTIVE"
        return "CLOSED" if self.on in self.window.closed_dates else "OPEN"


def default_last(first: date) -> date:
    """The range's last date when date_to is not given: a week, or up to the last date there is."""
    return date.fromordinal(min(first.toordinal() + TRACKING_DEFAULT_DAYS - 1, date.max.toordinal()))


def tracking(store: Store, org: Organization, first: date, last: date, branch_id: str | None = None,
             session: str | None = None) -> list[Record]:
    """GET /v1/appointment-slots/schedule-tracking: a record per window per date of the range,
    closed and inactive ones included, with the same counts as availability."""
    if last < first:
        raise InvalidField("date_to", f"{last.isoformat()} is before date_from {first.isoformat()}")
    if (last - first).days >= TRACKING_DAYS:
        raise InvalidField("date_to", f"a range covers at most {TRACKING_DAYS} dates")
    with store.lock:
        org = store.organizations[org.id]
        found = []
        for offset in range((last - first).days + 1):
            on = first + timedelta(days=offset)
            for window in org.windows:
                if window.day == DAYS[on.weekday()] and branch_id in (None, window.branch_id) \
                        and session in (None, window.session):
                    found.append(Record(window, on, booking.filled(store, org, window, on)))
    return sorted(found, key=lambda r: (r.on, r.window.start_time, r.window.branch_id, r.window.batch, r.window.id))


def update_tracking(store: Store, org: Organization, slot_id: str, changes: dict[str, Any], now: datetime) -> Record:
    """PATCH /v1/appointment-slots/tracking/{slot_id}: close or open one date (`status`), or set
    that date's capacity (`ai_slots`; null goes back to the window's). Bookings read the same
    state: a closed date refuses them (SLOT_INACTIVE), a smaller capacity fills sooner."""
    with store.lock:
        org = store.organizations[org.id]
        window, on = _record_of(org, slot_id)
        closed = set(window.closed_dates)
        if changes.get("status") == "CLOSED":
            closed.add(on)
        elif changes.get("status") == "OPEN":
            closed.discard(on)
        capacities = dict(window.ai_slots_by_date)
        if "ai_slots" in changes:
            capacities.pop(on, None)
            if changes["ai_slots"] is not None:
                capacities[on] = changes["ai_slots"]
        changed = replace(window, closed_dates=frozenset(closed), ai_slots_by_date=tuple(sorted(capacities.items())),
                          updated_at=now)
        if changed.ai_slots_by_date != window.ai_slots_by_date or changed.closed_dates != window.closed_dates:
            _check(org, changed)
            _put(store, org, changed)
        else:
            changed = window  # nothing to change: the record as it was
        return Record(changed, on, booking.filled(store, org, changed, on))


def _record_of(org: Organization, slot_id: str) -> tuple[Window, date]:
    """The window and date a tracking `slot_id` names (`calendar_id||YYYY-MM-DD[||type]`)."""
    parts = slot_id.split("||")
    window = find(org, slot_id)
    try:
        on = date.fromisoformat(parts[1]) if len(parts) > 1 else None
    except ValueError:
        on = None
    if on is None:
        raise InvalidField("slot_id", "needs the date: calendar_id||YYYY-MM-DD (a tracking record's slot_id)")
    if DAYS[on.weekday()] != window.day:
        raise NotFound(f"No tracking record {slot_id[:80]}: window {window.id} ({window.label()}) is on "
                       f"{window.day}s, {on.isoformat()} is a {DAYS[on.weekday()]}.")
    return window, on
