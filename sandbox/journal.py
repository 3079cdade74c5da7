"""The request journal: the most recent API requests with their responses, in a ring buffer."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Any

DEFAULT_SIZE = 500
MAX_BODY_CHARS = 4096


def mask_key(key: str) -> str:
    """Enough of a key to recognise it, never enough to use it: at most a third of it shows."""
    shown = min(4, len(key) // 6)
    if shown == 0:
        return "…"
    return f"{key[:shown]}…{key[-shown:]}"


def clip(text: str, limit: int = MAX_BODY_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


class Journal:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._ids = itertools.count(1)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append({"id": next(self._ids), **entry})

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._entries)
        return items[-limit:] if limit else items

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count
