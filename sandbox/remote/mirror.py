"""`huskyvoice-sandbox mirror`: a world file made from what a deployment shows its key, read with
GET requests only.

What is read: `GET /v1/services`, `GET /v1/appointment-config`, availability for every date of
a range (`GET /v1/appointment-slots/availability?date=...`), and every appointment the key can
see (`GET /v1/appointments`, page by page). The 60-a-minute limit is honoured: a 429 is waited
out for its `Retry-After`, and `--budget` caps the requests sent.

What cannot be seen, and how it is handled (docs/mirror.md):
- windows availability never lists (inactive ones, or closed on every date of the range): left
  out; appointments in them are left out too, and named;
- a window missing from availability on a date of the range where its weekday came round:
  closed that date (`closed_dates`);
- the organization's id and name, branch names, keys, rate limit: placeholders (org_mirror, the
  branch id as its name, `sk_mirror_write` / `sk_mirror_read`, 60 a minute);
- an appointment's `notes` and exact start (`start_time`): not in the API's appointment object;
  the start is its window's opening that date.
Time is the deployment's, from its answers' `Date` headers (this machine's clock if it sends
none): the range starts on its today, and the clock is frozen at its time of the mirror.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from ..domain import booking
from ..domain.clock import format_timestamp
from ..domain.model import DAYS
from ..worlds.world import load_world
from .reply import Reply
from .wire import Call, Deployment, DeploymentClock, Unreachable, retry_after

PAGE_LIMIT = 200  # appointments per search page: the spec's maximum
WINDOW_FIELDS = ("branch_id", "day", "session", "batch", "start_time", "end_time", "max_slots",
                 "ai_slots", "appointment_type", "created_at", "updated_at")
APPOINTMENT_FIELDS = ("appointment_id", "appointment_type", "branch_id", "date", "session", "batch",
                      "token", "patient_name", "parent_phone", "assigned_doctor", "status",
                      "external_reference_id", "created_at", "updated_at")


class MirrorError(Exception):
    """The deployment could not be read (an error answer, the budget spent, no connection, not
    the API at all)."""


@dataclass
class Reader:
    """GET requests with the key, within a budget, waiting out 429s; `clock` follows the
    deployment's Date headers."""

    base_url: str
    key: str
    budget: int
    progress: Callable[[str], None] = lambda message: None
    sleep: Callable[[float], None] = time.sleep
    sent: int = 0
    clock: DeploymentClock = field(default_factory=DeploymentClock)

    def get(self, path: str, **query: Any) -> Any:
        """The JSON answer to one GET; a 429 is waited out for its Retry-After (a second if
        it gives no whole number); anything else but a JSON 2xx is a MirrorError."""
        call = Call("GET", path + (f"?{urlencode(query)}" if query else ""))
        deployment = Deployment(self.base_url, {"write": self.key}, clock=self.clock)
        while True:
            if self.sent >= self.budget:
                raise MirrorError(f"the budget of {self.budget} requests is spent (at GET {path}); "
                                  "raise it with --budget")
            self.sent += 1
            try:
                reply = deployment.send_once(call)
            except Unreachable as failed:
                reason = getattr(failed.reason, "strerror", None) or failed.reason
                raise MirrorError(f"{self.base_url} does not answer ({reason})") from None
            if reply.status == 429:
                wait = retry_after(reply) or 1.0
                self.progress(f"rate limited: waiting {wait:g} s (Retry-After)")
                self.sleep(wait)
                continue
            if reply.status in (404, 405) and path == "/v1/services":  # the first request; never a 404 on the API
                raise MirrorError(f"{self.base_url} is not the HuskyVoice API: GET {path} answered "
                                  f"{reply.status} ({_said(reply)}); is the base URL right (without /v1)?")
            if not 200 <= reply.status < 300:
                raise MirrorError(f"GET {path} answered {reply.status}: {_said(reply)}")
            if reply.json is None:
                raise MirrorError(f"{self.base_url} is not the HuskyVoice API: GET {path} answered "
                                  f"{reply.status} with a body that is not JSON ({reply.text[:60]!r})")
            return reply.json


def _said(reply: Reply) -> str:
    body = reply.json
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and "code" in error and "message" in error:
        return f"{error['code']}: {error['message']}"
    try:
        return HTTPStatus(reply.status).phrase
    except ValueError:  # a status HTTP does not name
        return "no explanation"


@dataclass
class Mirror:
    """The world document, and what could not be carried over."""

    document: dict[str, Any]
    losses: list[str] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)  # the appointments the losses name, as read
    dates: list[date] = field(default_factory=list)  # the dates availability was read for
    now: datetime | None = None  # the deployment's time when it was read

    @property
    def lost_ids(self) -> list[str]:
        return [a["appointment_id"] for a in self.lost]


def mirror(reader: Reader, start: date | None, days: int, now: datetime | None = None) -> Mirror:
    """Read the deployment and build its world: availability over `days` dates from `start`
    (None: the deployment's today, per its Date header). `now`: the mirror's time (default:
    the deployment's, when it was read)."""
    try:
        return _mirror(reader, start, days, now)
    except (KeyError, TypeError, AttributeError, ValueError) as odd:
        raise MirrorError(f"{reader.base_url} is not the HuskyVoice API: its answers do not have the "
                          f"documented shape ({type(odd).__name__}: {str(odd)[:120]})") from None


def _mirror(reader: Reader, start: date | None, days: int, now: datetime | None) -> Mirror:
    services = reader.get("/v1/services")["data"]
    start = start or reader.clock.now().date()
    config = reader.get("/v1/appointment-config")["data"]
    dates = [start + timedelta(days=n) for n in range(days)]
    windows: dict[str, dict[str, Any]] = {}
    listed: dict[str, set[date]] = {}
    for number, on in enumerate(dates, 1):
        reader.progress(f"availability {number}/{len(dates)}: {on.isoformat()}")
        for slot in reader.get("/v1/appointment-slots/availability", date=on.isoformat())["slots"]:
            windows.setdefault(slot["calendar_id"], {"id": slot["calendar_id"],
                                                     **{k: slot[k] for k in WINDOW_FIELDS}})
            listed.setdefault(slot["calendar_id"], set()).add(on)
    for window_id, window in windows.items():
        missing = [on for on in dates if DAYS[on.weekday()] == window["day"] and on not in listed[window_id]]
        window["active"] = True
        window["closed_dates"] = [on.isoformat() for on in missing]
    found = _read_appointments(reader)
    now = now or reader.clock.now()
    branches = sorted({w["branch_id"] for w in windows.values()} | {a["branch_id"] for a in found})
    organization = {
        "id": "org_mirror", "name": f"Mirror of {reader.base_url}", "timezone": config["timezone"],
        "rate_limit_per_minute": 60, "allow_cancellation": config["allow_cancellation"],
        "cancellation_notice_hours": config["cancellation_notice_hours"],
        "api_keys": [
            {"key": "sk_mirror_write", "name": "placeholder: read and write",
             "scopes": ["appointments:read", "appointments:write", "slots:read"]},
            {"key": "sk_mirror_read", "name": "placeholder: read only",
             "scopes": ["appointments:read", "slots:read"]}],
        "services": [{"id": s["service_id"], "name": s["name"]} for s in services],
        "branches": [{"id": b, "name": b} for b in branches],
        "calendar_windows": list(windows.values()),
        "appointments": [],
    }
    document = {"version": 1,
                "description": f"Mirrored from {reader.base_url} at {format_timestamp(now)} "
                               f"({reader.sent} GET requests; availability {dates[0]} to {dates[-1]})",
                "clock": format_timestamp(now), "organizations": [organization]}
    organization["appointments"], losses = _placeable(document, found)
    kept = {a["appointment_id"] for a in organization["appointments"]}
    return Mirror(document, losses, [a for a in found if a["appointment_id"] not in kept], dates, now)


def _read_appointments(reader: Reader) -> list[dict[str, Any]]:
    """Every appointment the key sees, page by page."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = reader.get("/v1/appointments", page=page, limit=PAGE_LIMIT)
        found += answer["data"]
        pages = answer["pagination"]
        reader.progress(f"appointments: {len(found)} of {pages['total']}")
        if not pages["has_more"]:
            return found
        page += 1


def _placeable(document: dict[str, Any], found: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The appointments that sit in a window of the mirror, found by the booking rules' own
    matching on the world without its appointments (InvalidWorld if even that is refused); the
    others, named."""
    org = load_world(document, "<mirror>").organizations[0]
    kept, losses = [], []
    for raw in found:
        window = booking.window_for_slot(org, raw["branch_id"], date.fromisoformat(raw["date"]),
                                         raw["session"], raw["batch"], raw["appointment_type"])
        if window is None:
            losses.append(f"{raw['appointment_id']} ({raw['date']} {raw['session']} {raw['batch']}, branch "
                          f"{raw['branch_id']}): its window is not in availability (inactive, or "
                          "closed on every date read); left out")
            continue
        kept.append({name: raw[name] for name in APPOINTMENT_FIELDS if raw.get(name) is not None})
    return kept, losses
