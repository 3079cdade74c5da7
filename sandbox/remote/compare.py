"""How two answers to the same request differ: status, `error.code`, then the body's values.

Timestamps are not compared (the two sides write at different instants); lists of
appointments, windows and services are matched by their ids, so a missing or extra item is
named rather than shifting every item after it.
"""

from __future__ import annotations

from typing import Any

from .wire import Reply

IGNORED = frozenset({"created_at", "updated_at"})
ID_FIELDS = ("appointment_id", "slot_id", "service_id")
MAX_DIFFERENCES = 6


def differences(deployment: Reply, sandbox: Reply, unmirrored: frozenset[str] = frozenset()) -> list[str]:
    """What the deployment said that the sandbox did not, first things first. `unmirrored`:
    appointment ids the mirror could not hold, left out of the deployment's lists."""
    if deployment.status != sandbox.status:
        return [f"status {deployment.status}, expected {sandbox.status}"]
    if deployment.code != sandbox.code:
        return [f"error.code {deployment.code!r}, expected {sandbox.code!r}"]
    if deployment.status >= 400:
        return []
    body = _without(deployment.body, unmirrored)
    found = _diff(body, sandbox.body, "body", skip_totals=body != deployment.body)
    return found[:MAX_DIFFERENCES] + ([f"... and {len(found) - MAX_DIFFERENCES} more"]
                                      if len(found) > MAX_DIFFERENCES else [])


def summary(reply: Reply) -> str:
    """An answer in a few words: `409 SLOT_FULL`, `200 rescheduled 2026-12-01 Evening EA`."""
    if reply.status >= 400 or reply.code:
        return f"{reply.status} {reply.code or '(no error code)'}"
    body, data = reply.body, reply.data
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


def _diff(theirs: Any, ours: Any, at: str, skip_totals: bool = False) -> list[str]:
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return _diff_objects(theirs, ours, at, skip_totals)
    if isinstance(theirs, list) and isinstance(ours, list):
        return _diff_lists(theirs, ours, at)
    if theirs != ours or type(theirs) is not type(ours):
        return [f"{at}: {_short(theirs)}, expected {_short(ours)}"]
    return []


def _diff_objects(theirs: dict[str, Any], ours: dict[str, Any], at: str, skip_totals: bool) -> list[str]:
    found = []
    for name in dict.fromkeys([*ours, *theirs]):
        if name in IGNORED or (skip_totals and name == "pagination"):
            continue
        if name not in theirs:
            found.append(f"{at}.{name}: missing, expected {_short(ours[name])}")
        elif name not in ours:
            found.append(f"{at}.{name}: {_short(theirs[name])}, not expected")
        else:
            found += _diff(theirs[name], ours[name], f"{at}.{name}")
    return found


def _diff_lists(theirs: list[Any], ours: list[Any], at: str) -> list[str]:
    id_field = _id_field(theirs + ours)
    if id_field is None:
        if len(theirs) != len(ours):
            return [f"{at}: {len(theirs)} items, expected {len(ours)}"]
        return [d for n, (a, b) in enumerate(zip(theirs, ours, strict=True)) for d in _diff(a, b, f"{at}[{n}]")]
    mine = {item[id_field]: item for item in ours}
    found = [f"{at}: {item_id} not expected" for item_id in _ids(theirs, id_field) if item_id not in mine]
    theirs_by_id = {item[id_field]: item for item in theirs}
    found += [f"{at}: {item_id} missing" for item_id in mine if item_id not in theirs_by_id]
    for item_id, item in theirs_by_id.items():
        if item_id in mine:
            found += _diff(item, mine[item_id], f"{at}[{item_id}]")
    common = [i for i in _ids(theirs, id_field) if i in mine]
    if not found and common != [i for i in _ids(ours, id_field) if i in theirs_by_id]:
        found.append(f"{at}: order {', '.join(common)}, expected {', '.join(i for i in mine if i in theirs_by_id)}")
    return found


def _id_field(items: list[Any]) -> str | None:
    for name in ID_FIELDS:
        if items and all(isinstance(item, dict) and name in item for item in items):
            return name
    return None


def _ids(items: list[dict[str, Any]], id_field: str) -> list[str]:
    return [item[id_field] for item in items]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
