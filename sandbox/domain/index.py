"""The search index: each organization's appointments in date order, and the same order per UTC
day and per filter value, so that a search reads one short list instead of every appointment.

Lists hold `(start, appointment_id)` pairs, sorted, and a set of the same ids beside each. A
search counts its matches by intersecting the sets of its conditions (in C, without looking at
an appointment), and reads its page from the shortest list, keeping the ids in every other set,
until the page is full.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from .model import Appointment

FIELDS = ("status", "appointment_type", "branch_id", "session", "batch")

_Entry = tuple[datetime, str]  # start, appointment id
_Key = tuple[str, ...]


@dataclass(frozen=True)
class Found:
    """One page of a search: the ids in order, and how many match in all."""

    ids: list[str]
    total: int


class SearchIndex:
    def __init__(self, appointments: Iterable[Appointment] = ()) -> None:
        grouped: defaultdict[_Key, list[_Entry]] = defaultdict(list)
        for appointment in appointments:
            entry = _entry(appointment)
            for key in _keys(appointment):
                grouped[key].append(entry)
        self._lists: dict[_Key, list[_Entry]] = {key: sorted(entries) for key, entries in grouped.items()}
        self._sets: dict[_Key, set[str]] = {key: {i for _, i in entries} for key, entries in grouped.items()}
        self._owned: set[_Key] = set(self._lists)  # keys whose list and set no copy shares

    def copy(self) -> SearchIndex:
        """A copy that shares each key's list and set with this index until either side changes
        them (copy on write): a fresh sandbox per test copies its world's index every time, and a
        test changes few keys, if any. The store's lock is held by the caller."""
        other = SearchIndex.__new__(SearchIndex)
        other._lists, other._sets, other._owned = dict(self._lists), dict(self._sets), set()
        self._owned = set()  # shared now, on this side too
        return other

    def _own(self, key: _Key) -> None:
        """Make the key's list and set this index's own before changing them."""
        if key not in self._owned:
            if key in self._lists:
                self._lists[key], self._sets[key] = list(self._lists[key]), set(self._sets[key])
            self._owned.add(key)

    def add(self, appointment: Appointment) -> None:
        entry = _entry(appointment)
        for key in _keys(appointment):
            self._own(key)
            insort(self._lists.setdefault(key, []), entry)
            self._sets.setdefault(key, set()).add(entry[1])

    def remove(self, appointment: Appointment) -> None:
        entry = _entry(appointment)
        for key in _keys(appointment):
            self._own(key)
            entries = self._lists[key]
            del entries[bisect_left(entries, entry)]
            self._sets[key].discard(entry[1])
            if not entries:
                del self._lists[key], self._sets[key]

    def search(self, org_id: str, day: date | None, filters: dict[str, str], offset: int,
               limit: int) -> Found:
        """Ids of the organization's appointments on that UTC day (any day: None) whose fields
        equal `filters`, in date order: `limit` of them from `offset`, and the total."""
        keys: list[_Key] = [("org", org_id)] if day is None and not filters else []
        if day is not None:
            keys.append(("day", org_id, day.isoformat()))
        keys += [(name, org_id, value) for name, value in filters.items()]
        lists = [self._lists.get(key, []) for key in keys]
        if len(keys) == 1:  # one condition, and its list is exactly the answer
            return Found([i for _, i in lists[0][offset:offset + limit]], len(lists[0]))
        walked = min(range(len(keys)), key=lambda k: len(lists[k]))
        others = [self._sets.get(keys[k], set()) for k in range(len(keys)) if k != walked]
        total = len(self._sets.get(keys[walked], set()).intersection(*others))
        page: list[str] = []
        matched = 0
        for _, appointment_id in lists[walked] if offset < total else ():
            if _in_all(appointment_id, others):
                if matched >= offset:
                    page.append(appointment_id)
                matched += 1
                if len(page) == limit or matched == total:
                    break
        return Found(page, total)


def _entry(appointment: Appointment) -> _Entry:
    return appointment.start, appointment.appointment_id


def _keys(appointment: Appointment) -> list[_Key]:
    org = appointment.org_id
    keys: list[_Key] = [("org", org), ("day", org, appointment.start.date().isoformat())]
    keys += [(name, org, getattr(appointment, name)) for name in FIELDS]
    return keys


def _in_all(appointment_id: str, sets: list[set[str]]) -> bool:
    """Is the id in every one of the other conditions' sets? (One call per entry a search
    reads: what its cost is counted in.)"""
    return all(appointment_id in ids for ids in sets)
