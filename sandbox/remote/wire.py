"""The same request to both sides: the deployment over HTTP, the mirror in process.

A `Call` names its key by role (`write`, `read`, `other`, `none`, `bogus`); each side maps the
role to its own key, so the deployment's keys never reach the mirror's world. Bodies go out as
UTF-8 JSON, non-ASCII characters as they are (not escaped).

Time is the deployment's: each answer's `Date` header says what its clock reads, and the mirror
served in process is frozen at that moment before it answers the same request (`Mirrored.at`).
A deployment whose clock is frozen (a sandbox) is then mirrored frozen too.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ..domain.clock import format_timestamp
from ..web.app import create_app
from ..web.http import EXTENSION
from ..worlds.world import load_world
from .reply import Reply

NOT_A_KEY = "sk_drift_not_a_key"
MIRROR_KEYS = {"write": "sk_mirror_write", "read": "sk_mirror_read", "other": "sk_mirror_other",
               "bogus": NOT_A_KEY}
NO_BODY = object()
MAX_WAITS = 6  # 429s waited out for one request before it is given up


MAX_SHOWN = 40  # characters of a string value a request's description shows


class Unreachable(Exception):
    """The deployment gave no answer (refused, reset, timed out, not HTTP)."""

    def __init__(self, message: str, reason: object) -> None:
        super().__init__(message)
        self.reason = reason


def url_problem(base_url: str) -> str | None:
    """Why `base_url` cannot be a deployment's address, in a few words; None when it can."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is not an http:// or https:// URL"
    if parts.query or parts.fragment:
        return "it has a query or a fragment"
    return None


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # with its query
    key: str = "write"  # a role
    body: Any = NO_BODY  # sent as JSON
    raw: str | None = None  # sent as is (a malformed body)

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0]

    def data(self) -> bytes | None:
        if self.raw is not None:
            return self.raw.encode()
        return None if self.body is NO_BODY else json.dumps(self.body, ensure_ascii=False).encode("utf-8")

    def __str__(self) -> str:
        """The request in one line of ASCII: long strings of the body clipped, and non-ASCII
        characters, quotes and newlines escaped as JSON writes them."""
        sent = self.raw if self.raw is not None else ("" if self.body is NO_BODY else json.dumps(_clipped(self.body)))
        key = "" if self.key == "write" else f" [{self.key} key]"
        return f"{self.method} {self.path}{' ' + sent if sent else ''}{key}"


def _clipped(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _clipped(item) for name, item in value.items()}
    if isinstance(value, str) and len(value) > MAX_SHOWN:
        return f"{value[:MAX_SHOWN - 10]}... ({len(value)} characters)"
    return value


@dataclass
class Deployment:
    """The deployment, over HTTP. A 429 is recorded (its headers are checked) and waited out
    for its Retry-After, unless the caller wants to see it."""

    base_url: str
    keys: dict[str, str]  # role -> key
    sleep: Callable[[float], None] = time.sleep
    progress: Callable[[str], None] = lambda message: None
    sent: list[tuple[Call, Reply]] = field(default_factory=list)
    clock: DeploymentClock = field(default_factory=lambda: DeploymentClock())

    def send(self, call: Call, wait: bool = True) -> Reply:
        for attempt in range(MAX_WAITS + 1):
            reply = self.send_once(call)
            self.sent.append((call, reply))
            if reply.status != 429 or not wait or attempt == MAX_WAITS:
                return reply
            seconds = retry_after(reply) or 2 ** attempt
            self.progress(f"rate limited: waiting {seconds:g} s")
            self.sleep(seconds)
        raise AssertionError("unreachable")

    def send_once(self, call: Call) -> Reply:
        """One attempt, whatever the answer; Unreachable when there is none."""
        headers = {"Accept": "application/json"}
        key = self.keys.get(call.key)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if call.data() is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url.rstrip("/") + call.path, data=call.data(),
                                         method=call.method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - http(s) only
                reply = Reply.of(response.status, response.headers.items(), response.read())
        except urllib.error.HTTPError as refused:
            try:
                reply = Reply.of(refused.code, refused.headers.items(), refused.read())
            except (OSError, http.client.HTTPException) as failed:  # cut off mid-answer
                raise Unreachable(f"{call.method} {call.path} got no whole answer ({failed})", failed) from None
        except (urllib.error.URLError, OSError) as failed:  # no answer at all
            reason = getattr(failed, "reason", failed)
            raise Unreachable(f"{call.method} {call.path} got no answer ({reason})", reason) from None
        except http.client.HTTPException as failed:  # an answer that is not HTTP, or cut off
            said = ascii(str(failed).strip())[:60]  # what came instead, on one line
            reason = f"not HTTP: {type(failed).__name__} {said}"
            raise Unreachable(f"{call.method} {call.path} got no HTTP answer ({reason})", reason) from None
        self.clock.saw(reply)
        return reply


@dataclass
class DeploymentClock:
    """What the deployment's clock reads, from its answers' `Date` headers: `now()` is the latest
    they gave (an answer a cache kept can carry an older one), or this machine's clock while
    none has given one."""

    first: datetime | None = None  # the first answer's Date
    last: datetime | None = None  # the latest Date of an answer
    started: float = field(default_factory=time.monotonic)

    def saw(self, reply: Reply) -> None:
        moment = reply.said_time
        if moment is not None:
            self.first = self.first or moment
            if self.last is None or moment > self.last:
                self.last = moment

    def now(self) -> datetime:
        return self.last or datetime.now(UTC)

    @property
    def frozen(self) -> bool:
        """Did its Date stay on one second while more than two went by here?"""
        return self.first is not None and self.first == self.last and time.monotonic() - self.started > 2

    def describe(self) -> str:
        """One line: whose time the run used."""
        if self.last is None:
            return "this machine's (the deployment sent no Date header)"
        shown = format_timestamp(self.first or self.last)[:19] + "Z"
        moved = " (frozen: it did not move during the run)" if self.frozen else ""
        return f"the deployment's, from its Date header: {shown} at the start{moved}"


def retry_after(reply: Reply) -> float | None:
    """The answer's Retry-After in whole seconds, if it gives a positive one."""
    text = reply.headers.get("retry-after", "")
    return float(text) if text.isdigit() and int(text) > 0 else None


class Mirrored:
    """The mirror's world served in process, frozen at the deployment's time (`now`, then each
    answer's Date: `at`), with a key of a second, empty organization for the isolation probes.
    `rate_limit` None: no limit."""

    def __init__(self, document: dict[str, Any], rate_limit: int | None = None, contract: Any = None,
                 now: datetime | None = None) -> None:
        self.source = document  # the mirror's world, as it was given
        world = json.loads(json.dumps(document))  # the caller's document stays as it was
        self.now = now or datetime.now(UTC)
        world["clock"] = format_timestamp(self.now)
        org = world["organizations"][0]
        org["rate_limit_per_minute"] = rate_limit
        world["organizations"].append({
            "id": "org_other", "name": "Another organization", "timezone": org["timezone"],
            "api_keys": [{"key": MIRROR_KEYS["other"], "scopes": ["appointments:read", "slots:read"]}]})
        self.document = world
        self.world = load_world(world, "<mirror>")
        app = create_app(self.world, contract=contract)
        self.contract = app.extensions[EXTENSION].contract  # openapi.yaml, read once for the run
        self.state = app.extensions[EXTENSION].sessions.default
        self.client = app.test_client()

    def at(self, moment: datetime | None) -> None:
        """The sandbox's clock to the deployment's time, never back (answers of one second
        may come in any order from several servers)."""
        if moment is not None and moment > self.now:
            self.now = moment
            self.state.clock.freeze(moment)

    def send(self, call: Call) -> Reply:
        headers = {"Accept": "application/json"}
        key = MIRROR_KEYS.get(call.key)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = call.data()
        if data is not None:
            headers["Content-Type"] = "application/json"
        response = self.client.open(call.path, method=call.method, data=data, headers=headers)
        return Reply.of(response.status_code, response.headers.items(), response.get_data())
