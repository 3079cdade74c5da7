"""The model built from a schema-valid world document, with its references and the booking
rules checked; appointments added to a live store; webhook endpoints."""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..domain import booking, calendar
from ..domain.clock import parse_utc, utc_now
from ..domain.errors import ApiError, Detail, ValidationError, location
from ..domain.model import (
    EVENTS,
    RETRY_DELAYS,
    ApiKey,
    Appointment,
    Branch,
    Organization,
    Service,
    WebhookEndpoint,
    Window,
    wall_text,
    wall_time,
)
from ..domain.store import Store
from .check import additions_validator, problems_of, webhook_validator


@contextmanager
def collector_paused() -> Iterator[None]:
    """A world file builds hundreds of thousands of objects and no reference cycles: Python's
    cycle collector, run again and again as they are allocated, only slows the load (by a
    fifth on 100,000 appointments). Reference counting still frees what is dropped."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def add_appointments(document: Any, store: Store, now: datetime, root: str = "body") -> list[Appointment]:
    """Appointments added to a live store (the control API): `{"organization": ID,
    "appointments": [...]}`, each as a world file writes it, checked like a world's (schema,
    references, a window to sit in, the booking rules against what the store already holds and
    against each other). All or nothing: a ValidationError lists every problem, located under
    `root`, and the store is left as it was. Call it holding the store's lock."""
    found = problems_of(additions_validator(), document)
    problems = [Detail(location(path, root) or root, d.message) for path, d in found]
    if not isinstance(document, dict) or not isinstance(document.get("appointments"), list) \
            or any(path[:1] == ("organization",) or len(path) < 2 for path, _ in found):
        raise ValidationError("The appointments were refused; none was added.", problems)
    org = store.organizations.get(document["organization"])
    if org is None:
        raise ValidationError("The appointments were refused; none was added.", [Detail(
            f"{root}.organization", f"no organization {document['organization'][:64]!r} in this session's world")])
    builder = Builder({"clock": None}, {path for path, _ in found})
    builder.loaded_at = now
    builder.breaking = "it would break a rule"
    overlay = _Overlay(store)  # the rules see the store and the new ones in turn; nothing is copied
    builder.store = overlay  # type: ignore[assignment]
    builder._appointment_ids = _KnownIds(store)
    refs = _References({x.id for x in org.services}, {b.id for b in org.branches})
    for i, raw in enumerate(document["appointments"]):
        if builder.ok(("appointments", i)):  # rules for every item the schema accepted
            builder._appointment(org, raw, f"{root}.appointments[{i}]", refs)
    problems = list(dict.fromkeys(problems + builder.problems))
    if problems:
        raise ValidationError("The appointments were refused; none was added.", problems)
    for appointment in builder.appointments:
        store.put(appointment)
    return builder.appointments


class _Overlay:
    """The live store, and the appointments about to be added to it, as the booking rules see
    them (booking.Ledger): checking a batch costs the batch, not the world."""

    def __init__(self, store: Store) -> None:
        self.base = store
        self._load: Counter[tuple[str, str, date]] = Counter()
        self._bookings: defaultdict[tuple[str, tuple[str, str], str, date], set[str]] = defaultdict(set)

    def active_in_window(self, org_id: str, window_id: str, on: date) -> int:
        return self.base.active_in_window(org_id, window_id, on) + self._load[(org_id, window_id, on)]

    def active_bookings(self, org_id: str, patient: tuple[str, str], appointment_type: str,
                        on: date) -> frozenset[str]:
        return self.base.active_bookings(org_id, patient, appointment_type, on) | \
            self._bookings.get((org_id, patient, appointment_type, on), set())

    def put(self, appointment: Appointment) -> None:
        if appointment.active:
            a = appointment
            self._load[(a.org_id, a.window_id, a.date)] += 1
            self._bookings[(a.org_id, a.patient, a.appointment_type, a.date)].add(a.appointment_id)


class _KnownIds(dict):
    """The ids taken: the store's, and the batch's as they are checked (the builder's setdefault)."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def setdefault(self, key: str, default: str) -> str:  # type: ignore[override]
        if key in self.store:
            return "an appointment already in the session"
        return super().setdefault(key, default)


def read_webhook(body: Any, default_id: str) -> tuple[str | None, WebhookEndpoint]:
    """An endpoint sent to the control API, as a world file writes it, with the organization
    it belongs to (if named); 400 with every problem located (`body.url`)."""
    problems = problems_of(webhook_validator(), body)
    if problems:
        raise ValidationError("The webhook endpoint is invalid.",
                              [Detail(location(path, "body") or "body", d.message) for path, d in problems])
    fields = {name: value for name, value in body.items() if name != "organization"}
    return body.get("organization"), webhook_endpoint(fields, default_id)


_ORG_FIELDS = ("id", "name", "timezone", "rate_limit_per_minute", "allow_cancellation",
               "cancellation_notice_hours")
_COLLECTIONS = ("api_keys", "services", "branches", "calendar_windows", "appointments", "webhooks")


class Builder:
    """Checks references and rules across the schema-valid parts of a world, and builds its
    model. Parts with schema problems are skipped, and so are the checks that depend on them
    (an appointment is not said to match no window when a window was itself invalid)."""

    def __init__(self, document: dict[str, Any], bad_paths: set[tuple[Any, ...]]) -> None:
        self.problems: list[Detail] = []
        self._bad = bad_paths
        raw_clock = document.get("clock")
        self.clock = parse_utc(raw_clock) if isinstance(raw_clock, str) and self.ok(("clock",)) else None
        self.loaded_at = self.clock or utc_now()  # the default of every timestamp left out
        self.breaking = "the seed already breaks a rule"  # how a rule broken by an entry is told
        self.organizations: list[Organization] = []
        self._webhook_ids: set[str] = set()  # endpoint ids, unique in the world
        self.appointments: list[Appointment] = []
        self._org_ids: set[str] = set()
        self._keys: dict[str, str] = {}
        self._appointment_ids: dict[str, str] = {}
        self.store = Store([])
        # Large worlds repeat themselves (the same slots, dates and timestamps): each is
        # worked out once per load.
        self._slots: dict[tuple[str, str, date, str, str, str], Window | None] = {}
        self._starts: dict[tuple[str, date], datetime] = {}
        self._stamps: dict[str, datetime] = {}

    def ok(self, prefix: tuple[Any, ...]) -> bool:
        """No schema problem at or below `prefix`."""
        return not any(path[:len(prefix)] == prefix for path in self._bad)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Detail(where, message))

    def _valid_items(self, raw: dict[str, Any], index: int, field: str) -> tuple[list[tuple[int, Any]], bool]:
        """The items of a collection that passed the schema, and whether all did."""
        items = [(i, item) for i, item in enumerate(raw.get(field, []))
                 if self.ok(("organizations", index, field, i))]
        return items, len(items) == len(raw.get(field, []))

    def organization(self, index: int, raw: Any) -> None:
        base = ("organizations", index)
        if not isinstance(raw, dict) or (base in self._bad) or any(
                not self.ok(base + (f,)) for f in _ORG_FIELDS) or any(
                not isinstance(raw.get(f, []), list) for f in _COLLECTIONS):
            return
        at = f"organizations[{index}]"
        self._unique(self._org_ids, raw["id"], f"{at}.id", "organization id")
        try:
            zone = ZoneInfo(raw["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(f"{at}.timezone",
                         f"unknown timezone {raw['timezone']!r} (use an IANA name such as UTC or Asia/Kolkata)")
            zone = ZoneInfo("UTC")
        keys = []
        for i, k in self._valid_items(raw, index, "api_keys")[0]:
            owner = self._keys.setdefault(k["key"], f"{at}.api_keys[{i}]")
            if owner != f"{at}.api_keys[{i}]":
                self.problem(f"{at}.api_keys[{i}].key", f"duplicate API key (also at {owner})")
            keys.append(ApiKey(k["key"], frozenset(k["scopes"]), k.get("name")))
        services, services_complete = self._entities(raw, index, "services", "service", Service)
        self._unique_names(services, f"{at}.services")
        branches, branches_complete = self._entities(raw, index, "branches", "branch", Branch)
        refs = _References({s.id for s in services} if services_complete else None,
                           {b.id for b in branches} if branches_complete else None)
        windows, windows_complete = self._windows(raw, index, refs)
        webhooks = self._webhooks(raw, index)
        org = Organization(raw["id"], raw["name"], zone, raw.get("rate_limit_per_minute"),
                           tuple(keys), tuple(services), tuple(branches), tuple(windows),
                           raw.get("allow_cancellation", True), raw.get("cancellation_notice_hours", 0),
                           tuple(webhooks))
        self.organizations.append(org)
        self.store.add_organization(org)
        refs.windows_complete = windows_complete
        for i, appt in self._valid_items(raw, index, "appointments")[0]:
            self._appointment(org, appt, f"{at}.appointments[{i}]", refs)

    def _unique(self, seen: set[str], value: str, where: str, what: str) -> None:
        if value in seen:
            self.problem(where, f"duplicate {what} {value!r}")
        seen.add(value)

    def _unique_names(self, services: list[Service], at: str) -> None:
        """A create names a service by its name, compared case-insensitively: one name, one service."""
        seen: dict[str, int] = {}
        for i, service in enumerate(services):
            first = seen.setdefault(service.name.strip().casefold(), i)
            if first != i:
                self.problem(f"{at}[{i}].name", f"the same name as services[{first}] (names are "
                                                "compared case-insensitively when a booking names its service)")

    def _entities(self, raw: dict[str, Any], index: int, field: str, noun: str,
                  kind: type) -> tuple[list[Any], bool]:
        seen: set[str] = set()
        at = f"organizations[{index}].{field}"
        valid, complete = self._valid_items(raw, index, field)
        for i, item in valid:
            self._unique(seen, item["id"], f"{at}[{i}].id", f"{noun} id")
        return [kind(item["id"], item["name"]) for _, item in valid], complete

    def _windows(self, raw: dict[str, Any], index: int, refs: _References) -> tuple[list[Window], bool]:
        seen: set[str] = set()
        placed: list[Window] = []
        position: dict[str, int] = {}  # window id -> its index in the file, to name it
        valid, complete = self._valid_items(raw, index, "calendar_windows")
        for i, w in valid:
            where = f"organizations[{index}].calendar_windows[{i}]"
            self._unique(seen, w["id"], f"{where}.id", "window id")
            if not refs.has_branch(w["branch_id"]):
                self.problem(f"{where}.branch_id", f"unknown branch {w['branch_id']!r}")
            if w.get("appointment_type") is not None and not refs.has_service(w["appointment_type"]):
                self.problem(f"{where}.appointment_type", f"unknown service {w['appointment_type']!r}")
            window = Window(
                id=w["id"], branch_id=w["branch_id"], day=w["day"], session=w["session"],
                batch=w["batch"], start_time=wall_time(w["start_time"]), end_time=wall_time(w["end_time"]),
                max_slots=w["max_slots"], ai_slots=w["ai_slots"], appointment_type=w.get("appointment_type"),
                active=w.get("active", True),
                closed_dates=frozenset(date.fromisoformat(d) for d in w.get("closed_dates", [])),
                ai_slots_by_date=tuple(sorted((date.fromisoformat(d), n)
                                              for d, n in (w.get("ai_slots_by_date") or {}).items())),
                created_at=self._stamp(w.get("created_at"), self.loaded_at),
                updated_at=self._stamp(w.get("updated_at") or w.get("created_at"), self.loaded_at),
            )
            clashes = calendar.clash_problems(window, placed, lambda o: f"calendar_windows[{position[o.id]}]")
            for name, message in calendar.shape_problems(window) + clashes:
                self.problem(f"{where}.{name}", message)
            if w["id"] not in position:
                position[w["id"]] = i
                placed.append(window)
        return placed, complete

    def _webhooks(self, raw: dict[str, Any], index: int) -> list[WebhookEndpoint]:
        """An organization's endpoints; ids are the world's (default: the next free wh_N)."""
        found = []
        for i, w in self._valid_items(raw, index, "webhooks")[0]:
            endpoint = webhook_endpoint(w, free_webhook_id(self._webhook_ids))
            self._unique(self._webhook_ids, endpoint.id, f"organizations[{index}].webhooks[{i}].id", "webhook id")
            found.append(endpoint)
        return found

    def _appointment(self, org: Organization, raw: dict[str, Any], where: str,
                     refs: _References) -> None:
        appointment_id = raw["appointment_id"]
        owner = self._appointment_ids.setdefault(appointment_id, where)
        if owner != where:
            self.problem(f"{where}.appointment_id", f"duplicate appointment id {appointment_id!r} (also at {owner})")
        known = True
        if not refs.has_branch(raw["branch_id"]):
            self.problem(f"{where}.branch_id", f"unknown branch {raw['branch_id']!r}")
            known = False
        if not refs.has_service(raw["appointment_type"]):
            self.problem(f"{where}.appointment_type", f"unknown service {raw['appointment_type']!r}")
            known = False
        if owner != where or not known or not refs.complete:
            return
        on = date.fromisoformat(raw["date"])
        slot = (org.id, raw["branch_id"], on, raw["session"], raw["batch"], raw["appointment_type"])
        if slot not in self._slots:
            self._slots[slot] = booking.window_for_slot(org, *slot[1:])
        window = self._slots[slot]
        if window is None:
            service = org.service_name(raw["appointment_type"])
            self.problem(where, f"matches no calendar window: branch {raw['branch_id']!r} has no "
                                f"{raw['session']} window with batch {raw['batch']!r} on "
                                f"{on.strftime('%A').lower()} for service {service!r}")
            return
        start = self._start(org, window, on, raw.get("start_time"), where)
        if start is None:
            return
        stamp = self.loaded_at
        appointment = Appointment(
            appointment_id=appointment_id, org_id=org.id, window_id=window.id,
            appointment_type=raw["appointment_type"], branch_id=raw["branch_id"], date=on,
            session=raw["session"], batch=raw["batch"], patient_name=raw["patient_name"],
            parent_phone=raw["parent_phone"],
            created_at=self._stamp(raw.get("created_at"), stamp),
            updated_at=self._stamp(raw.get("updated_at") or raw.get("created_at"), stamp),
            start=start,
            status=raw.get("status", "confirmed"), token=raw.get("token"),
            assigned_doctor=raw.get("assigned_doctor"), notes=raw.get("notes"),
            external_reference_id=raw.get("external_reference_id"),
            booked_via=raw.get("booked_via", "api"),
        )
        if appointment.active:
            try:
                booking.check_room(org, self.store, appointment)
            except ApiError as exc:
                self.problem(where, f"{self.breaking} ({exc.code}): {exc.message}")
                return
        self.store.put(appointment)
        self.appointments.append(appointment)


    def _stamp(self, raw: str | None, default: datetime) -> datetime:
        if not raw:
            return default
        if raw not in self._stamps:
            self._stamps[raw] = parse_utc(raw)
        return self._stamps[raw]

    def _start(self, org: Organization, window: Window, on: date, raw: str | None,
               where: str) -> datetime | None:
        """When the appointment starts: as given (it must fall in its window on its date), or
        its window's start that date."""
        if raw is None:
            try:
                key = (window.id, on)
                if key not in self._starts:
                    self._starts[key] = window.start_on(on, org.timezone)
                return self._starts[key]
            except OverflowError:
                self.problem(where, f"its window {window.label()} on {on.isoformat()} starts "
                                    f"outside the calendar (after year 9999 in UTC)")
                return None
        start = parse_utc(raw)
        try:
            local = start.astimezone(org.timezone)
        except OverflowError:
            local = None
        if local is None or local.date() != on or not window.covers(local):
            self.problem(f"{where}.start_time", f"{raw!r} is not within its window {window.label()} "
                         f"on {on.isoformat()} ({window.start_time.strftime('%H:%M')} to "
                         f"{wall_text(window.end_time)} {org.timezone.key})")
            return None
        return start


@dataclass
class _References:
    """The ids an organization's entries may refer to; None where a part failed the schema
    and references to it cannot be judged."""

    services: set[str] | None
    branches: set[str] | None
    windows_complete: bool = True

    def has_service(self, service_id: str) -> bool:
        return self.services is None or service_id in self.services

    def has_branch(self, branch_id: str) -> bool:
        return self.branches is None or branch_id in self.branches

    @property
    def complete(self) -> bool:
        return self.services is not None and self.branches is not None and self.windows_complete


def webhook_endpoint(raw: dict[str, Any], default_id: str) -> WebhookEndpoint:
    """An endpoint from its (schema-valid) document form, with the defaults filled in."""
    return WebhookEndpoint(raw.get("id", default_id), raw["url"], raw["secret"],
                           frozenset(raw.get("events", EVENTS)),
                           tuple(float(d) for d in raw.get("retry_delays", RETRY_DELAYS)),
                           float(raw.get("timeout_seconds", 5.0)))


def free_webhook_id(taken: set[str]) -> str:
    """The first of wh_1, wh_2, ... not taken."""
    return next(f"wh_{n}" for n in range(1, len(taken) + 2) if f"wh_{n}" not in taken)
