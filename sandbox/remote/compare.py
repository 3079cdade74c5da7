"""How two answers to the same request differ: status, `error.code`, then the body's values.

Timestamps (`created_at`, `updated_at`) are compared as instants, as the mirror read them,
except those of the appointments the run wrote to: the two sides wrote them at different
instants, and drift.py checks how they move instead. Lists of appointments, windows and
services are matched by their ids, so a missing or extra item is named rather than shifting
every item after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain.clock import parse_utc
from .reply import Reply

TIMESTAMPS = frozenset({"created_at", "updated_at"})
ID_FIELDS = ("appointment_id", "slot_id", "service_id")
MAX_DIFFERENCES = 6
SHORT = 60  # characters of a value a difference shows


@dataclass(frozen=True)
class Loose:
    """What a comparison must not hold against the deployment, because the mirror cannot know
    it: the totals when appointments were left out of it, which appointments fill a page
    when there are more pages (the order within a date follows start times it cannot see), and
    the timestamps of the appointments the run wrote to."""

    totals: bool = False
    members: bool = False
    written: frozenset[str] = frozenset()


def differences(deployment: Reply, sandbox: Reply, unmirrored: frozenset[str] = frozenset(),
                written: frozenset[str] = frozenset()) -> list[str]:
    """What the deployment said that the sandbox did not, first things first. `unmirrored`:
    appointment ids the mirror could not hold, left out of the deployment's lists; `written`:
    those the run wrote to, whose timestamps are not compared."""
    if deployment.status != sandbox.status:
        return [f"status {deployment.status}, expected {sandbox.status}"]
    if deployment.code != sandbox.code:
        return [f"error.code {deployment.code!r}, expected {sandbox.code!r}"]
    if deployment.status >= 400:
        return []
    loose = Loose(totals=bool(unmirrored), members=_paged(deployment.json) or _paged(sandbox.json),
                  written=written)
    found = _diff(_without(deployment.json, unmirrored), sandbox.json, "body", loose)
    return found[:MAX_DIFFERENCES] + ([f"... and {len(found) - MAX_DIFFERENCES} more"]
                                      if len(found) > MAX_DIFFERENCES else [])


def _paged(body: Any) -> bool:
    """A search page with more appointments than it holds."""
    pages = body.get("pagination") if isinstance(body, dict) else None
    return isinstance(pages, dict) and isinstance(body.get("data"), list) and pages.get("total", 0) > len(body["data"])


def summary(reply: Reply) -> str:
    """An answer in a few words: `409 SLOT_FULL`, `200 rescheduled 2026-12-01 Evening EA`."""
    if reply.status >= 400 or reply.code:
        return f"{reply.status} {reply.code or '(no error code)'}"
    body, data = reply.json, reply.data
    if isinstance(data, dict) and "appointment_id" in data:
        return f"{reply.status} " + " ".join(str(data.get(k)) for k in ("status", "date", "session", "batch"))
    if isinstance(body, dict) and isinstance(body.get("pagination"), dict) and isinstance(data, list):
        return f"{reply.status} {len(data)} appointments of {body['pagination'].get('total')}"
    if isinstance(body, dict) and isinstance(body.get("slots"), list):
        return f"{reply.status} {len(body['slots'])} windows"
    return str(reply.status) if body is not None else f"{reply.status} (not JSON)"


def _without(body: Any, unmirrored: frozenset[str]) -> Any:
    if not unmirrored or not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return body
    kept = [item for item in body["data"]
            if not (isinstance(item, dict) and item.get("appointment_id") in unmirrored)]
    return {**body, "data": kept}


def _diff(theirs: Any, ours: Any, at: str, loose: Loose = Loose()) -> list[str]:
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return _diff_objects(theirs, ours, at, loose)
    if isinstance(theirs, list) and isinstance(ours, list):
        return _diff_lists(theirs, ours, at, loose)
    if theirs != ours or type(theirs) is not type(ours):
        return [text_difference(at, theirs, ours)]
    return []


def text_difference(at: str, theirs: Any, ours: Any) -> str:
    """`at: 'theirs', expected 'ours'`; for long strings, from where they part, with lengths."""
    if isinstance(theirs, str) and isinstance(ours, str) and max(len(ascii(theirs)), len(ascii(ours))) > SHORT:
        start = next((n for n, (a, b) in enumerate(zip(theirs, ours, strict=False)) if a != b),
                     min(len(theirs), len(ours)))
        return (f"{at}: {_short(theirs[start:])} from character {start + 1} of {len(theirs)}, "
                f"expected {_short(ours[start:])} of {len(ours)}")
    return f"{at}: {_short(theirs)}, expected {_short(ours)}"


def same_instant(theirs: Any, ours: Any) -> bool:
    """Two timestamps of the same moment (compared as written when either is not one)."""
    try:
        return parse_utc(theirs) == parse_utc(ours)
    except ValueError:
        return bool(theirs == ours)


def _diff_objects(theirs: dict[str, Any], ours: dict[str, Any], at: str, loose: Loose) -> list[str]:
    found = []
    written = theirs.get("appointment_id") in loose.written
    for name in dict.fromkeys([*ours, *theirs]):
        if (loose.totals and name == "pagination") or (name in TIMESTAMPS and written):
            continue
        if name in TIMESTAMPS and name in theirs and name in ours and same_instant(theirs[name], ours[name]):
            continue
        if name not in theirs:
            found.append(f"{at}.{name}: missing, expected {_short(ours[name])}")
        elif name not in ours:
            found.append(f"{at}.{name}: {_short(theirs[name])}, not expected")
        else:
            found += _diff(theirs[name], ours[name], f"{at}.{name}", loose)
    return found


def _diff_lists(theirs: list[Any], ours: list[Any], at: str, loose: Loose) -> list[str]:
    id_field = _id_field(theirs + ours)
    if id_field is None:
        if len(theirs) != len(ours):
            return [f"{at}: {len(theirs)} items, expected {len(ours)}"]
        return [d for n, (a, b) in enumerate(zip(theirs, ours, strict=True))
                for d in _diff(a, b, f"{at}[{n}]", Loose(written=loose.written))]
    mine = {item[id_field]: item for item in ours}
    theirs_by_id = {item[id_field]: item for item in theirs}
    found = []
    if not (loose.members and id_field == "appointment_id"):
        found += [f"{at}: {item_id} not expected" for item_id in theirs_by_id if item_id not in mine]
        found += [f"{at}: {item_id} missing" for item_id in mine if item_id not in theirs_by_id]
    for item_id, item in theirs_by_id.items():
        if item_id in mine:
            found += _diff(item, mine[item_id], f"{at}[{item_id}]", Loose(written=loose.written))
    # Appointments of one date come in start-time order, which the mirror cannot see.
    if id_field != "appointment_id" and not found:
        common = [i for i in theirs_by_id if i in mine]
        expected = [i for i in mine if i in theirs_by_id]
        if common != expected:
            found.append(f"{at}: order {', '.join(common)}, expected {', '.join(expected)}")
    return found


def _id_field(items: list[Any]) -> str | None:
    for name in ID_FIELDS:
        if items and all(isinstance(item, dict) and name in item for item in items):
            return name
    return None


def _short(value: Any) -> str:
    """The value as Python writes it, in ASCII (escapes for the rest), clipped."""
    text = ascii(value)
    return text if len(text) <= SHORT else text[:SHORT - 3] + "..."
