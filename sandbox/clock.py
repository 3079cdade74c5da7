"""The sandbox's notion of now: frozen at a moment, or real time. Timestamps in the API's format."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_timestamp(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`, as the API writes timestamps."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 datetime that has a time and a UTC designator (`Z` or `+00:00`).

    Raises ValueError for anything else, including a date alone or another offset.
    """
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError("must be an ISO 8601 datetime with a time")
    if not (text.endswith("Z") or text.endswith("+00:00")):
        raise ValueError("must be in UTC (end with Z or +00:00)")
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() != timedelta(0):
        raise ValueError("must be in UTC (end with Z or +00:00)")
    return moment.astimezone(timezone.utc)


class Clock:
    """Frozen (a fixed moment that only moves when set) or real time. Thread-safe."""

    def __init__(self, frozen_at: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._frozen_at = frozen_at

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> datetime:
        with self._lock:
            return self._frozen_at if self._frozen_at is not None else utc_now()

    def freeze(self, moment: datetime | None) -> None:
        """Freeze at `moment`; None returns to real time."""
        with self._lock:
            self._frozen_at = moment

    def advance(self, seconds: float) -> datetime:
        """Move a frozen clock forward (or back, with a negative number)."""
        with self._lock:
            if self._frozen_at is None:
                raise RuntimeError("the clock runs in real time; freeze it before advancing it")
            self._frozen_at += timedelta(seconds=seconds)
            return self._frozen_at
