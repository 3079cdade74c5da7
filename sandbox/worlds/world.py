"""World documents: parse (YAML or JSON), validate (JSON Schema, then references and rules),
build the model, and dump the state back as a document that loads to the same state.

A world with problems is refused whole: `InvalidWorld` lists every problem by location,
e.g. ``organizations[0].appointments[3].branch_id: unknown branch 'x'``.
"""

from __future__ import annotations

import difflib
import gc
import json
import re
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from ..domain import booking, calendar
from ..domain.clock import format_timestamp, parse_utc, utc_now
from ..domain.errors import ApiError, Detail, InvalidWorld, ValidationError, location
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
from ..resources import world_schema_path
from ..spec import strictjson
from ..spec.gate import GatedValidator
from . import fastyaml

if TYPE_CHECKING:
    from jsonschema import ValidationError as SchemaError


@dataclass(frozen=True)
class World:
    """A validated world, ready to serve. Immutable, so `reset` can always go back to it."""

    source: str
    clock: datetime | None
    organizations: tuple[Organization, ...]
    appointments: tuple[Appointment, ...]
    description: str | None = None
    scenario: dict[str, Any] | None = None
    # The store the loader filled while checking the rules; never served, only copied.
    loaded_store: Store | None = field(default=None, compare=False, repr=False)

    def new_store(self) -> Store:
        """A store holding this world's appointments, as loaded."""
        with collector_paused():  # a large world's copy is many objects and no cycles
            return self._pristine.copy()

    @cached_property
    def _pristine(self) -> Store:
        store = self.loaded_store if self.loaded_store is not None else Store(self.organizations, self.appointments)
        return store.as_template()


# -- parsing ------------------------------------------------------------------------------------

# libyaml's parser where PyYAML has it: about three times faster on large worlds.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _WorldLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """YAML with the surprises of YAML 1.1 removed: `09:00` and `11:00` stay strings (not
    sexagesimal numbers), dates stay strings, and only true/false are booleans."""


_DROPPED = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool"}
_WorldLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_WorldLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(0|[1-9][0-9]*)$"), list("-+0123456789"))
_WorldLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def parse_document(text: str | bytes, source: str) -> Any:
    """Parse a world document: JSON when it looks like JSON, else YAML.

    Problems (syntax, duplicate keys) are an InvalidWorld with their line.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidWorld(source, [Detail("document", f"not UTF-8 (byte {exc.start})")]) from None
    if text.lstrip().startswith("{"):
        try:
            return strictjson.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise InvalidWorld(source, [Detail(where, f"not valid JSON: {exc.msg}")]) from None
        except ValueError as exc:  # a key given twice, NaN
            raise InvalidWorld(source, [Detail("document", str(exc))]) from None
    try:
        try:
            return fastyaml.load(text, _WorldLoader)
        except fastyaml.Unusual:  # beyond plain data: the full loader, which locates problems
            return yaml.load(text, Loader=_WorldLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        raise InvalidWorld(source, [Detail(where, f"not valid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidWorld(source, [Detail("document", f"not valid YAML: {exc}")]) from None


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """A YAML mapping that refuses a key given twice (YAML would keep the last silently)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):  # [a, b] as a key: refused as PyYAML refuses it
            raise yaml.constructor.ConstructorError(
                None, None, f"a mapping key cannot be a {type(key).__name__}", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_WorldLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_world_file(path: str | Path) -> World:
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InvalidWorld(str(path), [Detail("file", exc.strerror or str(exc))]) from None
    with collector_paused():
        return load_world(parse_document(text, str(path)), str(path))


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


# -- validation ---------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _schema_validator() -> GatedValidator:
    # The schema ships with the package and is checked against its meta-schema by the tests
    # (test_packaging), not here: that check costs more than every world it would guard.
    schema = json.loads(world_schema_path().read_text(encoding="utf-8"))
    return GatedValidator(schema)


def _schema_problems(document: Any) -> list[tuple[tuple[Any, ...], Detail]]:
    return [(path, Detail(d.location or "world", d.message))
            for path, d in _problems_of(_schema_validator(), document)]


def _describe(error: SchemaError) -> tuple[tuple[Any, ...], str]:
    path = tuple(error.absolute_path)
    if error.validator == "required":
        missing = re.match(r"'(.+?)' is a required property", error.message)
        if missing:
            return path + (missing.group(1),), "is required"
    if error.validator == "additionalProperties":
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = list(schema.get("properties", {}))
        instance: Any = error.instance  # an object: additionalProperties failed on it
        extra = sorted(set(instance) - set(known))
        return path, "unknown field" + ("s " if len(extra) > 1 else " ") + ", ".join(
            repr(name) + _suggestion(name, known) for name in extra)
    if error.validator == "pattern" and path and path[-1] in ("start_time", "end_time"):
        return path, f"{error.instance!r} is not a time HH:MM (00:00 to 24:00)"
    if error.validator in ("format", "pattern", "oneOf") and path and path[-1] in (
            "clock", "created_at", "updated_at"):
        return path, f"{error.instance!r} is not an ISO 8601 UTC datetime, e.g. 2026-05-26T10:00:00.000Z"
    return path, error.message


def _suggestion(name: Any, known: list[str]) -> str:
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _not_a_mapping(document: Any) -> str:
    if document is None:
        return ("the document is empty; a world is a mapping with version: 1 and organizations "
                "(huskyvoice-sandbox init writes a commented one)")
    kind = {list: "a list", str: "a single string", bool: "a boolean"}.get(type(document), "a number")
    return (f"the document is {kind}, not a mapping; a world is a mapping with version: 1 and "
            "organizations (huskyvoice-sandbox init writes a commented one)")


def load_world(document: Any, source: str = "<world>") -> World:
    """Validate a parsed world document and build the World, or raise InvalidWorld."""
    if not isinstance(document, dict):
        raise InvalidWorld(source, [Detail("document", _not_a_mapping(document))])
    problems = _schema_problems(document)
    details = [d for _, d in problems]
    if not isinstance(document, dict) or not isinstance(document.get("organizations"), list):
        raise InvalidWorld(source, details)
    # Reference and rule checks run on every part the schema accepted, so that one run
    # reports every problem it can, not only the first kind.
    builder = _Builder(document, {path for path, _ in problems})
    for index, org in enumerate(document["organizations"]):
        builder.organization(index, org)
    details = list(dict.fromkeys(details + builder.problems))  # one cause, one line
    if details:
        raise InvalidWorld(source, details)
    return World(
        source=source,
        clock=builder.clock,
        organizations=tuple(builder.organizations),
        appointments=tuple(builder.appointments),
        description=document.get("description"),
        scenario=document.get("scenario"),
        loaded_store=builder.store,
    )


def add_appointments(document: Any, store: Store, now: datetime, root: str = "body") -> list[Appointment]:
    """Appointments added to a live store (the control API): `{"organization": ID,
    "appointments": [...]}`, each as a world file writes it, checked like a world's (schema,
    references, a window to sit in, the booking rules against what the store already holds and
    against each other). All or nothing: a ValidationError lists every problem, located under
    `root`, and the store is left as it was. Call it holding the store's lock."""
    found = _problems_of(_additions_validator(), document)
    problems = [Detail(location(path, root) or root, d.message) for path, d in found]
    if not isinstance(document, dict) or not isinstance(document.get("appointments"), list) \
            or any(path[:1] == ("organization",) or len(path) < 2 for path, _ in found):
        raise ValidationError("The appointments were refused; none was added.", problems)
    org = store.organizations.get(document["organization"])
    if org is None:
        raise ValidationError("The appointments were refused; none was added.", [Detail(
            f"{root}.organization", f"no organization {document['organization'][:64]!r} in this session's world")])
    builder = _Builder({"clock": None}, {path for path, _ in found})
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


@lru_cache(maxsize=1)
def _additions_validator() -> GatedValidator:
    world = json.loads(world_schema_path().read_text(encoding="utf-8"))
    schema = {"type": "object", "additionalProperties": False,
              "required": ["organization", "appointments"],
              "properties": {"organization": {"$ref": "#/$defs/id"},
                             "appointments": {"type": "array", "minItems": 1, "maxItems": 100000,
                                              "items": {"$ref": "#/$defs/appointment"}}},
              "$defs": world["$defs"]}
    return GatedValidator(schema)


@lru_cache(maxsize=1)
def _webhook_validator() -> GatedValidator:
    world = json.loads(world_schema_path().read_text(encoding="utf-8"))
    endpoint = world["$defs"]["webhook"]
    schema = {**endpoint, "properties": {"organization": {"$ref": "#/$defs/id"}, **endpoint["properties"]},
              "$defs": world["$defs"]}
    return GatedValidator(schema)


def read_webhook(body: Any, default_id: str) -> tuple[str | None, WebhookEndpoint]:
    """An endpoint sent to the control API, as a world file writes it, with the organization
    it belongs to (if named); 400 with every problem located (`body.url`)."""
    problems = _problems_of(_webhook_validator(), body)
    if problems:
        raise ValidationError("The webhook endpoint is invalid.",
                              [Detail(location(path, "body") or "body", d.message) for path, d in problems])
    fields = {name: value for name, value in body.items() if name != "organization"}
    return body.get("organization"), webhook_endpoint(fields, default_id)


def _problems_of(validator: GatedValidator, document: Any) -> list[tuple[tuple[Any, ...], Detail]]:
    found = []
    for error in validator.iter_errors(document):
        path, message = _describe(error)
        found.append((path, Detail(location(path), message)))
    return sorted(found, key=lambda p: [str(x) for x in p[0]])


_ORG_FIELDS = ("id", "name", "timezone", "rate_limit_per_minute", "allow_cancellation",
               "cancellation_notice_hours")
_COLLECTIONS = ("api_keys", "services", "branches", "calendar_windows", "appointments", "webhooks")


class _Builder:
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


# -- dumping ------------------------------------------------------------------------------------

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


def webhook_endpoint(raw: dict[str, Any], default_id: str) -> WebhookEndpoint:
    """An endpoint from its (schema-valid) document form, with the defaults filled in."""
    return WebhookEndpoint(raw.get("id", default_id), raw["url"], raw["secret"],
                           frozenset(raw.get("events", EVENTS)),
                           tuple(float(d) for d in raw.get("retry_delays", RETRY_DELAYS)),
                           float(raw.get("timeout_seconds", 5.0)))


def free_webhook_id(taken: set[str]) -> str:
    """The first of wh_1, wh_2, ... not taken."""
    return next(f"wh_{n}" for n in range(1, len(taken) + 2) if f"wh_{n}" not in taken)


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
