"""The sandbox's notion of now: frozen at a moment, or real time. Timestamps in the API's format."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache


def utc_now() -> datetime:
    return datetime.now(UTC)


def local_date(moment: datetime, zone: tzinfo) -> date:
    """`moment`'s date in `zone`. Near the ends of the calendar the local date can fall before
    year 1 or after 9999 (0001-01-01T00:00Z is still year 0 in Los Angeles): then it is the
    first or the last date there is."""
    try:
        return moment.astimezone(zone).date()
    except OverflowError:
        return date.max if moment.year > 1 else date.min


# The same few timestamps are written again and again (each window's, each appointment's), and
# writing one is most of what rendering a slot costs; datetimes are immutable, so a cache is safe.
@lru_cache(maxsize=8192)
def format_timestamp(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`, as the API writes timestamps."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


# RFC 3339 date-time (what the spec's `format: date-time` means) restricted to UTC. Parsed
# here rather than by datetime.fromisoformat, whose accepted forms differ between Pythons.
_UTC_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|\+00:00)")


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 (RFC 3339) datetime with a time and a UTC designator (`Z` or `+00:00`).

    Raises ValueError for anything else: a date alone, another offset, an impossible date.
    """
    match = _UTC_DATETIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError('must be an ISO 8601 UTC datetime with a time, e.g. "2026-06-15T09:30:00.000Z"')
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
                    tzinfo=UTC)


class Clock:
    """Frozen (a fixed moment that only moves when set) or real time. Thread-safe.

    `elapsed_now()` is the time waits are measured in (rate limits): the sandbox's now plus the
    real time gone by since the clock was frozen there. So a client that waits `Retry-After`
    seconds is served again even on a frozen clock, and moving the clock moves it too.
    """

    def __init__(self, frozen_at: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._frozen_at = frozen_at
        self._frozen_since = time.monotonic()

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> datetime:
        with self._lock:
            return self._frozen_at if self._frozen_at is not None else utc_now()

    def elapsed_now(self) -> float:
        """Seconds since the epoch on the sandbox's clock, real time included (see the class)."""
        with self._lock:
            if self._frozen_at is None:
                return time.time()
            return self._frozen_at.timestamp() + (time.monotonic() - self._frozen_since)

    def freeze(self, moment: datetime | None) -> None:
        """Freeze at `moment`; None returns to real time."""
        with self._lock:
            self._frozen_at = moment
            self._frozen_since = time.monotonic()

    def advance(self, seconds: float) -> datetime:
        """Move a frozen clock forward (or back, with a negative number)."""
        with self._lock:
            if self._frozen_at is None:
                raise RuntimeError("the clock runs in real time; freeze it before advancing it")
            self._frozen_at += timedelta(seconds=seconds)
            return self._frozen_at
