"""The search index: each organization's appointments in date order, and the same order per UTC
day and per filter value, so that a search reads one short list instead of every appointment.

Lists hold `(start, appointment_id)` pairs, sorted; a search picks the shortest list its filters
allow and checks the other filters on that list only.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable, Iterable

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

    def copy(self) -> SearchIndex:
        other = SearchIndex.__new__(SearchIndex)
        other._lists = {key: list(entries) for key, entries in self._lists.items()}
        return other

    def add(self, appointment: Appointment) -> None:
        entry = _entry(appointment)
        for key in _keys(appointment):
            insort(self._lists.setdefault(key, []), entry)

    def remove(self, appointment: Appointment) -> None:
        entry = _entry(appointment)
        for key in _keys(appointment):
            entries = self._lists[key]
            del entries[bisect_left(entries, entry)]
            if not entries:
                del self._lists[key]

    def search(self, org_id: str, day: date | None, filters: dict[str, str], offset: int,
               limit: int, get: Callable[[str], Appointment]) -> Found:
        """Ids of the organization's appointments on that UTC day (any day: None) whose fields
        equal `filters`, in date order: `limit` of them from `offset`, and the total."""
        sources = [("org", org_id)] if day is None and not filters else []
        if day is not None:
            sources.append(("day", org_id, day.isoformat()))
        sources += [(name, org_id, value) for name, value in filters.items()]
        lists = [self._lists.get(key, []) for key in sources]
        shortest = min(lists, key=len)
        if len(lists) == 1:  # one condition, and its list is exactly the answer
            return Found([i for _, i in shortest[offset:offset + limit]], len(shortest))
        matches = [i for _, i in shortest if _matches(get(i), day, filters)]
        return Found(matches[offset:offset + limit], len(matches))


def _entry(appointment: Appointment) -> _Entry:
    return appointment.start, appointment.appointment_id


def _keys(appointment: Appointment) -> list[_Key]:
    org = appointment.org_id
    keys: list[_Key] = [("org", org), ("day", org, appointment.start.date().isoformat())]
    keys += [(name, org, getattr(appointment, name)) for name in FIELDS]
    return keys


def _matches(appointment: Appointment, day: date | None, filters: dict[str, str]) -> bool:
    if day is not None and appointment.start.date() != day:
        return False
    return all(getattr(appointment, name) == value for name, value in filters.items())
