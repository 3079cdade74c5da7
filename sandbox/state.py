"""Everything one sandbox serves from: the world last loaded, the live store, the clock, the
rate-limit counters and the request journal. Reset and replace swap them as a whole."""

from __future__ import annotations

import threading
from typing import Any

from .clock import Clock, format_timestamp
from .journal import DEFAULT_SIZE, Journal
from .ratelimit import SlidingWindowLimiter
from .store import Store
from .world import World, dump_world


class SandboxState:
    def __init__(self, world: World, journal_size: int = DEFAULT_SIZE) -> None:
        self._lock = threading.RLock()
        self.clock = Clock()
        self.limiter = SlidingWindowLimiter()
        self.journal = Journal(journal_size)
        self.world = world
        self.store: Store
        self.reset()

    def reset(self) -> None:
        """Back to the world last loaded: its appointments, its clock, no rate-limit history."""
        with self._lock:
            store = self.world.new_store()
            self.store = store
            self.clock.freeze(self.world.clock)
            self.limiter.clear()

    def replace(self, world: World) -> None:
        """Serve another (already validated) world from now on."""
        with self._lock:
            self.world = world
            self.reset()

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
