"""The sandbox's state: organizations, appointments, and the indexes the rules and searches
query.

One re-entrant lock guards the writes; a use case runs its checks and its write under it, so two
requests racing for the last place cannot both win. Index look-ups are dictionary look-ups (and
a search reads one sorted list), so a check costs the same with 100 or 100,000 appointments.
"""

from __future__ import annotations

import hashlib
import random
import string
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from .index import FIELDS, Found, SearchIndex
from .model import ApiKey, Appointment, Organization

_WindowDay = tuple[str, str, date]  # org id, window id, date
_BookingKey = tuple[str, tuple[str, str], str, date]  # org id, patient, appointment type, date
ID_ALPHABET = string.ascii_lowercase + string.digits
ID_SEED = 20260615  # new ids follow one sequence from every fresh world: runs repeat exactly


def _generator(state: Any) -> random.Random:
    """A generator in `state`, without first seeding it from the system's entropy."""
    generator = random.Random.__new__(random.Random)
    generator.setstate(state)
    return generator


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class Credential:
    organization: Organization
    api_key: ApiKey
    digest: bytes


class Store:
    def __init__(self, organizations: Iterable[Organization],
                 appointments: Iterable[Appointment] = ()) -> None:
        self.lock = threading.RLock()
        self.organizations: dict[str, Organization] = {}
        self._credentials: dict[bytes, Credential] = {}
        self._appointments: dict[str, Appointment] = {}
        self._load: Counter[_WindowDay] = Counter()
        self._bookings: defaultdict[_BookingKey, set[str]] = defaultdict(set)
        self._index: SearchIndex | None = None  # built on first use: loading stays linear
        self._ids = random.Random(ID_SEED)
        self._window_ids = random.Random(ID_SEED + 1)  # apart: a new window moves no appointment id
        self._template_states: tuple[Any, Any] | None = None  # see as_template()
        for org in organizations:
            self.add_organization(org)
        for appointment in appointments:
            self.put(appointment)

    def add_organization(self, org: Organization) -> None:
        """Serve an organization and accept its keys."""
        self.organizations[org.id] = org
        for k in org.api_keys:
            digest = key_digest(k.key)
            self._credentials[digest] = Credential(org, k, digest)

    def replace_organization(self, org: Organization) -> None:
        """Serve a changed organization (its windows, say) from now on: the next request with
        one of its keys sees it."""
        with self.lock:
            self.add_organization(org)

    def copy(self) -> Store:
        """An independent copy, with its own lock: much faster than building the indexes again
        (a reset of a 100,000-appointment world copies instead of re-indexing)."""
        other = Store.__new__(Store)
        other.lock = threading.RLock()
        with self.lock:
            other.organizations = dict(self.organizations)  # the records are immutable: shared
            other._credentials = dict(self._credentials)
            other._appointments = dict(self._appointments)  # appointments are immutable
            other._load = Counter(self._load)
            other._bookings = defaultdict(set, {k: set(v) for k, v in self._bookings.items()})
            other._index = self._search_index().copy()
            ids, window_ids = self._template_states or (self._ids.getstate(), self._window_ids.getstate())
            other._ids, other._window_ids = _generator(ids), _generator(window_ids)
            other._template_states = None
        return other

    def as_template(self) -> Store:
        """Mark this store as one that is only ever copied (a world's, as loaded), never
        served: its id sequences' states are read once, not at every copy (a fresh sandbox per
        test copies it each time, and reading a generator's state is most of a copy's cost)."""
        self._template_states = (self._ids.getstate(), self._window_ids.getstate())
        return self

    # -- keys -------------------------------------------------------------------------------
    def authenticate(self, key: str) -> Credential | None:
        """The credential for `key`, looked up by its SHA-256 digest.

        Only digests are ever compared, never the key itself, so the time a look-up takes
        says nothing about how much of a key was right.
        """
        return self._credentials.get(key_digest(key))

    # -- appointments -----------------------------------------------------------------------
    def get(self, org_id: str, appointment_id: str) -> Appointment | None:
        """The appointment, if it belongs to that organization (others' look missing)."""
        found = self._appointments.get(appointment_id)
        return found if found is not None and found.org_id == org_id else None

    def put(self, appointment: Appointment) -> None:
        """Insert or replace, keeping the indexes in step."""
        with self.lock:
            old = self._appointments.get(appointment.appointment_id)
            if old is not None and _indexed(old) == _indexed(appointment):  # notes, a doctor
                self._appointments[appointment.appointment_id] = appointment
                return
            if old is not None:
                self._count(old, -1)
                if self._index is not None:
                    self._index.remove(old)
            self._appointments[appointment.appointment_id] = appointment
            self._count(appointment, +1)
            if self._index is not None:
                self._index.add(appointment)

    def new_id(self) -> str:
        """An appointment id no appointment has: `appt_` and 10 lowercase letters or digits."""
        with self.lock:
            while True:
                candidate = "appt_" + "".join(self._ids.choices(ID_ALPHABET, k=10))
                if candidate not in self._appointments:
                    return candidate

    def new_window_id(self) -> str:
        """A calendar window id (a UUID, as the API's are), from the same repeatable sequence."""
        with self.lock:
            return str(uuid.UUID(int=self._window_ids.getrandbits(128), version=4))

    def search(self, org_id: str, day: date | None, filters: dict[str, str], offset: int,
               limit: int) -> tuple[list[Appointment], int]:
        """A page of the organization's appointments in date order, and how many match."""
        with self.lock:
            found: Found = self._search_index().search(org_id, day, filters, offset, limit)
            return [self._appointments[i] for i in found.ids], found.total

    def _search_index(self) -> SearchIndex:
        if self._index is None:
            self._index = SearchIndex(self._appointments.values())
        return self._index

    def appointments(self, org_id: str | None = None) -> Iterator[Appointment]:
        for appointment in list(self._appointments.values()):
            if org_id is None or appointment.org_id == org_id:
                yield appointment

    def __len__(self) -> int:
        return len(self._appointments)

    def __contains__(self, appointment_id: object) -> bool:
        """Is the id taken, in any organization?"""
        return appointment_id in self._appointments

    # -- the Ledger the booking rules read --------------------------------------------------
    def active_in_window(self, org_id: str, window_id: str, on: date) -> int:
        return self._load[(org_id, window_id, on)]

    def active_bookings(self, org_id: str, patient: tuple[str, str], appointment_type: str,
                        on: date) -> frozenset[str]:
        found = self._bookings.get((org_id, patient, appointment_type, on))
        return frozenset(found) if found else _NONE

    def _count(self, appointment: Appointment, delta: int) -> None:
        if not appointment.active:
            return
        org, on = appointment.org_id, appointment.date
        window_day = (org, appointment.window_id, on)
        self._load[window_day] += delta
        if self._load[window_day] <= 0:
            del self._load[window_day]
        booking = (org, appointment.patient,
                   appointment.appointment_type, on)
        ids = self._bookings[booking]
        if delta > 0:
            ids.add(appointment.appointment_id)
        else:
            ids.discard(appointment.appointment_id)
            if not ids:
                del self._bookings[booking]


_NONE: frozenset[str] = frozenset()


def _indexed(appointment: Appointment) -> tuple[Any, ...]:
    """Everything the counts and the search index read of an appointment: when none of it
    changes, an update only replaces the record."""
    return (appointment.org_id, appointment.status, appointment.window_id, appointment.date,
            appointment.start, appointment.patient, appointment.appointment_type,
            *(getattr(appointment, name) for name in FIELDS))
