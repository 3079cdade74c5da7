"""Calendar windows: the rules a window keeps among its organization's others, and the use
cases of the Appointment Slots API that create, update and disable one.

A window changed or disabled leaves the appointments already booked in it where they are; the
booking rules refuse new ones (SLOT_INACTIVE when disabled, SLOT_FULL when it has shrunk below
what it holds). Windows are never deleted: disabling keeps the record, as appointments are
kept when cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from .errors import InvalidFields, NotFound
from .model import Organization, Window, wall_text
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
    return found


def clash_problems(window: Window, others: Iterable[Window],
                   name: Callable[[Window], str] = lambda w: f"window {w.id}") -> list[tuple[str, str]]:
    """How the window clashes with the others. An appointment records only its session and
    batch, so these name one window of a branch and day; and a time must fall in one window
    of a branch, day and service."""
    found = []
    for other in others:
        if other.id == window.id:
            continue
        if (other.branch_id, other.day, other.session, other.batch) == \
                (window.branch_id, window.day, window.session, window.batch):
            found.append(("batch", f"batch {window.batch!r} already names {name(other)} on that "
                                   "branch, day and session"))
        elif overlaps(window, other):
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
        window = replace(request, id=store.new_window_id(), active=True, created_at=now, updated_at=now)
        _check(org, window)
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
