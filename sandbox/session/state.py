"""Everything one sandbox session serves from: the world last loaded, the live store, the clock,
the rate-limit counters, the request journal, named snapshots and pending forced responses.
Reset, replace and restore swap them as a whole."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain.clock import Clock, format_timestamp, utc_now
from ..domain.errors import InvalidField, NotFound
from ..domain.store import Store
from ..worlds.world import World, collector_paused, dump_world
from .forcing import ForcedResponses
from .journal import DEFAULT_SIZE, Journal
from .ratelimit import SlidingWindowLimiter
from .webhooks import Deliveries

MAX_SNAPSHOTS = 32  # per session


@dataclass(frozen=True)
class Snapshot:
    world: World
    store: Store  # never served: restoring serves a copy, so a snapshot can be restored again
    clock: datetime | None  # the frozen moment, or None for real time
    taken_at: datetime

    def summary(self, name: str) -> dict[str, Any]:
        return {"name": name, "taken_at": format_timestamp(self.taken_at),
                "appointments": len(self.store),
                "clock": format_timestamp(self.clock) if self.clock else None}


class SandboxState:
    def __init__(self, world: World, journal_size: int = DEFAULT_SIZE) -> None:
        self._lock = threading.RLock()
        self.clock = Clock()
        self.limiter = SlidingWindowLimiter()
        self.journal = Journal(journal_size)
        self.world = world
        self.snapshots: dict[str, Snapshot] = {}
        self.forced = ForcedResponses()
        self.webhooks = Deliveries()
        # What reset() does, less what a new state has nothing of (deliveries, forced responses,
        # rate-limit history): a fresh sandbox per test makes one of these every time.
        self.store: Store = world.new_store()
        self.clock.freeze(world.clock)

    def reset(self) -> None:
        """Back to the world last loaded: its appointments, its clock, no rate-limit history,
        no forced responses or webhook deliveries pending. Snapshots and the journals are kept."""
        with self._lock:
            self.webhooks.stop()
            store = self.world.new_store()
            self.store = store
            self.clock.freeze(self.world.clock)
            self.limiter.clear()
            self.forced.clear()

    def replace(self, world: World) -> None:
        """Serve another (already validated) world from now on."""
        with self._lock:
            self.world = world
            self.reset()

    def end(self) -> None:
        """The session is gone (deleted, evicted, or its test is over): its forced delays under
        way end, and its pending webhook deliveries are never sent."""
        self.forced.clear()
        self.webhooks.stop()

    def save(self, name: str) -> Snapshot:
        """Keep the current appointments and clock under `name` (replacing a snapshot of that
        name); at most MAX_SNAPSHOTS per session."""
        with self._lock:
            if name not in self.snapshots and len(self.snapshots) >= MAX_SNAPSHOTS:
                raise InvalidField("name", f"at most {MAX_SNAPSHOTS} snapshots per session",
                                   f"This session already has {MAX_SNAPSHOTS} snapshots; delete one first.")
            store = self.store
            with collector_paused():  # a copy: many objects, no cycles
                copied = store.copy()
            snapshot = Snapshot(self.world, copied,
                                self.clock.now() if self.clock.frozen else None, utc_now())
            self.snapshots[name] = snapshot
            return snapshot

    def restore(self, name: str) -> Snapshot:
        """Serve the snapshot's appointments and clock again; rate-limit history is cleared, as
        on reset; the journal and pending forced responses are kept (a snapshot is data, and a
        test may force an answer, then restore the state it runs against)."""
        with self._lock:
            snapshot = self.snapshot(name)
            self.world = snapshot.world
            with collector_paused():
                self.store = snapshot.store.copy()
            self.clock.freeze(snapshot.clock)
            self.limiter.clear()
            return snapshot

    def snapshot(self, name: str) -> Snapshot:
        found = self.snapshots.get(name)
        if found is None:
            raise NotFound(f"No snapshot named {name} in this session.")
        return found

    def delete_snapshot(self, name: str) -> None:
        with self._lock:
            self.snapshot(name)
            del self.snapshots[name]

    def dump(self) -> dict[str, Any]:
        store = self.store
        with store.lock:
            return dump_world(store.organizations.values(), store.appointments(),
                              self.clock.now() if self.clock.frozen else None,
                              self.world.description)

    def summary(self) -> dict[str, Any]:
        store = self.store
        return {
            "world": self.world.source,
            "organizations": len(store.organizations),
            "appointments": len(store),
            "clock": {"now": format_timestamp(self.clock.now()), "frozen": self.clock.frozen},
        }
