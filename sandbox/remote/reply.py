"""One HTTP answer, whoever sent it and whatever sent the request: `Reply` (its status, its
headers read case-insensitively, its body as bytes, as text and as parsed JSON).

The drift check, the pytest plugin's handles, the contract kit and the test suite's raw socket
client all give their answers as this one class. Only the standard library: the pytest plugin
imports it in every run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Any


class Headers(Mapping[str, str]):
    """Response headers; names are read case-insensitively (`reply.headers["retry-after"]`),
    and iterate as they were sent. A name sent more than once has its values joined by ", "."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._by_lower: dict[str, tuple[str, str]] = {}
        for name, value in items:
            previous = self._by_lower.get(name.lower())
            self._by_lower[name.lower()] = (name, f"{previous[1]}, {value}" if previous else value)

    def __getitem__(self, name: str) -> str:
        return self._by_lower[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._by_lower.values())

    def __len__(self) -> int:
        return len(self._by_lower)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: `status`, `headers`, the body as sent (`body`, bytes), as UTF-8 text
    (`text`) and as parsed JSON (`json`, None when the body is not JSON)."""

    status: int
    headers: Headers
    body: bytes = field(default=b"")

    @classmethod
    def of(cls, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> Reply:
        """A reply from any client's parts: the header pairs as the client lists them."""
        return cls(status, Headers(headers), body)

    @cached_property
    def text(self) -> str:
        """The body decoded as UTF-8 (the API's encoding); bytes that are not UTF-8 read as U+FFFD."""
        return self.body.decode("utf-8", "replace")

    @cached_property
    def json(self) -> Any:
        """The body parsed as JSON; None when it is empty or not JSON."""
        try:
            return json.loads(self.text) if self.body else None
        except ValueError:
            return None

    @property
    def code(self) -> str | None:
        """`error.code` of an error envelope, else None."""
        error = self.json.get("error") if isinstance(self.json, dict) else None
        return error.get("code") if isinstance(error, dict) else None

    @property
    def data(self) -> Any:
        """`data` of a JSON object body, else None."""
        return self.json.get("data") if isinstance(self.json, dict) else None

    @property
    def said_time(self) -> datetime | None:
        """The moment the answer's `Date` header gives (whole seconds, UTC); None without one."""
        return said_time(self.headers.get("date"))

    def __repr__(self) -> str:
        return f"Reply(status={self.status!r}, headers={self.headers!r}, json={self.json!r})"


def said_time(text: str | None) -> datetime | None:
    """An HTTP date (`Tue, 26 May 2026 11:00:00 GMT`) as a UTC datetime; None if it is not one."""
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
