"""What the sandbox handles return: a `Reply` (the package's one answer class, from
`huskyvoice_sandbox.remote.reply`, with its `Headers`), the journal's `Call`s, and the
`SandboxControlError` a refused control call raises. Only the standard library: the pytest
plugin imports this in every run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..remote.reply import Headers, Reply

__all__ = ["Call", "Filter", "Headers", "Reply", "SandboxControlError", "journal_text", "utc_text"]


@dataclass(frozen=True)
class Call:
    """One journal entry (an API request and its answer), as `GET /_sandbox/requests` gives it."""

    id: int
    time: str
    method: str
    path: str
    query: str
    operation: str | None
    appointment_id: str | None
    key: str | None  # masked
    organization: str | None
    request_body: Any
    status: int | None  # None: the connection was dropped (forced)
    code: str | None
    response_headers: dict[str, str]
    response_body: Any
    duration_ms: float
    forced: dict[str, Any] | None
    entry: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Call:
        request, response = entry.get("request") or {}, entry.get("response") or {}
        return cls(
            id=entry["id"], time=entry["time"], method=entry["method"], path=entry["path"],
            query=entry.get("query") or "", operation=entry.get("operation"),
            appointment_id=entry.get("appointment_id"), key=entry.get("key"),
            organization=entry.get("organization"), request_body=request.get("body"),
            status=response.get("status"), code=response.get("code"),
            response_headers=response.get("headers") or {}, response_body=response.get("body"),
            duration_ms=entry.get("duration_ms", 0.0), forced=entry.get("forced"), entry=entry)

    @property
    def dropped(self) -> bool:
        return self.status is None

    def __str__(self) -> str:
        target = f"{self.path}?{self.query}" if self.query else self.path
        answer = "dropped" if self.dropped else str(self.status)
        code = f" {self.code}" if self.code else ""
        return f"{self.method} {target} -> {answer}{code}{' (forced)' if self.forced else ''}"


class SandboxControlError(Exception):
    """The sandbox refused a control request (a missing snapshot, a bad world, ...).

    Not an AssertionError: it says the test's set-up is wrong, not that the code under test
    misbehaved, and code that retries or collects failed assertions must not swallow it.
    """

    def __init__(self, method: str, path: str, reply: Reply) -> None:
        self.reply = reply
        error = reply.json.get("error") if isinstance(reply.json, dict) else None
        error = error if isinstance(error, dict) else {}
        self.code: str | None = error.get("code")
        self.details: list[dict[str, Any]] = list(error.get("details") or [])
        message = error.get("message") or reply.text[:500]
        answer = f"{reply.status} {self.code}" if self.code else str(reply.status)
        lines = [f"{method} {path} -> {answer}: {message}"]
        lines += [f"  {d.get('location')}: {d.get('message')}" for d in self.details]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Filter:
    """Which journal calls a query or an assertion is about."""

    operation: str | None = None
    status: int | None = None
    code: str | None = None
    appointment_id: str | None = None
    forced: bool | None = None

    def matches(self, call: Call) -> bool:
        return ((self.operation is None or call.operation == self.operation)
                and (self.status is None or call.status == self.status)
                and (self.code is None or call.code == self.code)
                and (self.appointment_id is None or call.appointment_id == self.appointment_id)
                and (self.forced is None or bool(call.forced) == self.forced))

    def describe(self, count: int | None) -> str:
        """E.g. `2 updateAppointment calls with code='SLOT_FULL'` (count None: "no")."""
        noun = "call" if count == 1 else "calls"
        what = f"{count if count is not None else 'no'} {self.operation or 'API'} {noun}"
        given = [f"{name}={getattr(self, name)!r}" for name in ("status", "code", "appointment_id", "forced")
                 if getattr(self, name) is not None]
        return f"{what} with {', '.join(given)}" if given else what


def journal_text(journal: list[Call]) -> str:
    if not journal:
        return "the journal is empty: no API requests were made"
    title = f"journal ({len(journal)} {'call' if len(journal) == 1 else 'calls'}):"
    return "\n".join([title] + [f"  #{c.id} {c}" for c in journal])


def utc_text(when: str | datetime) -> str:
    if isinstance(when, str):
        return when
    if when.tzinfo is None:
        raise ValueError("freeze_clock needs an aware datetime (e.g. tzinfo=timezone.utc) or a string")
    utc = when.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"
