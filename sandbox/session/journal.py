"""The request journal: the most recent API requests with their responses, in a ring buffer.

Recording happens on every request, reading rarely, so a request stores its facts as they
are (bytes, a timestamp) and the journal entry is built when someone reads it. Keys are
masked before they are stored: the journal never holds a usable key.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.clock import format_timestamp
from ..spec import strictjson

DEFAULT_SIZE = 500
MAX_BODY_CHARS = 4096
MAX_BODY_DEPTH = 32  # deeper bodies are kept as text: rendering them again must not fail


def mask_key(key: str) -> str:
    """Enough of a key to recognise it, never enough to use it: at most a third of it shows."""
    shown = min(4, len(key) // 6)
    if shown == 0:
        return "…"
    return f"{key[:shown]}…{key[-shown:]}"


def clip(text: str, limit: int = MAX_BODY_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


@dataclass(slots=True)
class Exchange:
    """One API request and its response, as recorded."""

    time: datetime
    method: str
    path: str
    query: str
    operation: str | None  # the spec's operationId; None for paths the spec does not describe
    appointment_id: str | None
    masked_key: str | None
    organization: str | None
    content_type: str | None
    request_body: bytes | None  # at most MAX_BODY_CHARS * 4 + 1 bytes; None if not read
    status: int | None  # None: the connection was dropped on purpose, nothing was sent
    response_headers: dict[str, str]
    response_json: str | None  # the JSON text sent, if the response was JSON
    duration_ms: float
    forced: dict[str, Any] | None = None  # how the answer was forced, if it was
    id: int = field(default=0)

    def entry(self) -> dict[str, Any]:
        body = json.loads(self.response_json) if self.response_json else None
        return {
            "id": self.id,
            "time": format_timestamp(self.time),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operation": self.operation,
            "appointment_id": self.appointment_id,
            "key": self.masked_key,
            "organization": self.organization,
            "request": {"content_type": self.content_type, "body": _body(self.request_body)},
            "response": {"status": self.status,
                         "code": error_code(body),
                         "headers": self.response_headers, "body": body},
            "duration_ms": round(self.duration_ms, 2),
            "forced": self.forced,
        }


def error_code(body: Any) -> str | None:
    """The `error.code` of an enveloped error body, if it is one."""
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _body(raw: bytes | None) -> Any:
    """The body as JSON when it is strict, finite and shallow, else as (clipped) text."""
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if len(text) > MAX_BODY_CHARS:
        return clip(text, MAX_BODY_CHARS)
    try:
        value = strictjson.loads(text)
    except (ValueError, RecursionError):
        return text
    return value if _renderable(value) else text


def _renderable(value: Any) -> bool:
    """Shallow enough for jsonify, and only finite numbers (1e999 parses to inf)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, (dict, list)):
            if depth >= MAX_BODY_DEPTH:
                return False
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return True


class Journal:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._exchanges: deque[Exchange] = deque(maxlen=size)
        self._ids = itertools.count(1)

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            exchange.id = next(self._ids)
            self._exchanges.append(exchange)

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The latest entries, oldest first."""
        with self._lock:
            items = list(self._exchanges)
        return [exchange.entry() for exchange in (items[-limit:] if limit else items)]

    def clear(self) -> int:
        with self._lock:
            count = len(self._exchanges)
            self._exchanges.clear()
            return count
