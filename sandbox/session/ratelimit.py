"""Per-key sliding-window rate limit, in the sandbox's elapsed time (its clock, plus the real time
gone by since it was set: Clock.elapsed_now)."""

from __future__ import annotations

import math
import threading
from collections import deque

WINDOW_SECONDS = 60.0


class SlidingWindowLimiter:
    """Counts the accepted requests of each key over the last 60 seconds.

    Only authenticated keys are counted, so the state is bounded by the keys of the world.
    Rejected requests are not counted: waiting `Retry-After` seconds is always enough.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[bytes, deque[float]] = {}

    def hit(self, key_id: bytes, limit: int | None, stamp: float) -> int | None:
        """Count one request at `stamp` (seconds); None if it is allowed, else the whole seconds
        to wait."""
        if limit is None:
            return None
        with self._lock:
            hits = self._hits.setdefault(key_id, deque())
            while hits and (hits[0] <= stamp - WINDOW_SECONDS or hits[0] > stamp):
                hits.popleft()  # aged out, or from the future after the clock was set back
            if len(hits) >= limit:
                return max(1, math.ceil(hits[0] + WINDOW_SECONDS - stamp))
            hits.append(stamp)
            return None

    def __len__(self) -> int:
        """How many keys have history: at most the keys of the world."""
        with self._lock:
            return len(self._hits)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
