"""The same request to both sides: the deployment over HTTP, the mirror in process.

A `Call` names its key by role (`write`, `read`, `other`, `none`, `bogus`); each side maps the
role to its own key, so the deployment's keys never reach the mirror's world.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..web.app import create_app
from ..web.http import EXTENSION
from ..worlds.world import load_world

NOT_A_KEY = "sk_drift_not_a_key"
MIRROR_KEYS = {"write": "sk_mirror_write", "read": "sk_mirror_read", "other": "sk_mirror_other",
               "bogus": NOT_A_KEY}
NO_BODY = object()
MAX_WAITS = 6  # 429s waited out for one request before it is given up


class Unreachable(Exception):
    """The deployment gave no answer (refused, reset, timed out)."""

    def __init__(self, message: str, reason: object) -> None:
        super().__init__(message)
        self.reason = reason


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
        return None if self.body is NO_BODY else json.dumps(self.body).encode()

    def __str__(self) -> str:
        sent = self.raw if self.raw is not None else ("" if self.body is NO_BODY else json.dumps(self.body))
        key = "" if self.key == "write" else f" [{self.key} key]"
        return f"{self.method} {self.path}{' ' + sent if sent else ''}{key}"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names lower-cased
    text: str

    @property
    def body(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def code(self) -> str | None:
        body = self.body
        error = body.get("error") if isinstance(body, dict) else None
        return error.get("code") if isinstance(error, dict) else None

    @property
    def data(self) -> Any:
        body = self.body
        return body.get("data") if isinstance(body, dict) else None


@dataclass
class Deployment:
    """The deployment, over HTTP. A 429 is recorded (its headers are checked) and waited out
    for its Retry-After, unless the caller wants to see it."""

    base_url: str
    keys: dict[str, str]  # role -> key
    sleep: Callable[[float], None] = time.sleep
    progress: Callable[[str], None] = lambda message: None
    sent: list[tuple[Call, Reply]] = field(default_factory=list)

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
                return _reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as refused:
            return _reply(refused.code, refused.headers, refused.read())
        except (urllib.error.URLError, OSError) as failed:  # no answer at all
            reason = getattr(failed, "reason", failed)
            raise Unreachable(f"{call.method} {call.path} got no answer ({reason})", reason) from None


def _reply(status: int, headers: Any, raw: bytes) -> Reply:
    return Reply(status, {k.lower(): v for k, v in headers.items()}, raw.decode("utf-8", "replace"))


def retry_after(reply: Reply) -> float | None:
    """The answer's Retry-After in whole seconds, if it gives a positive one."""
    text = reply.headers.get("retry-after", "")
    return float(text) if text.isdigit() and int(text) > 0 else None


class Mirrored:
    """The mirror's world served in process, on the real clock, with a key of a second,
    empty organization for the isolation probes. `rate_limit` None: no limit."""

    def __init__(self, document: dict[str, Any], rate_limit: int | None = None, contract: Any = None) -> None:
        self.source = document  # the mirror's world, as it was given
        world = json.loads(json.dumps(document))  # the caller's document stays as it was
        world.pop("clock", None)  # the deployment's time is now
        org = world["organizations"][0]
        org["rate_limit_per_minute"] = rate_limit
        world["organizations"].append({
            "id": "org_other", "name": "Another organization", "timezone": org["timezone"],
            "api_keys": [{"key": MIRROR_KEYS["other"], "scopes": ["appointments:read", "slots:read"]}]})
        self.document = world
        self.world = load_world(world, "<mirror>")
        app = create_app(self.world, contract=contract)
        self.contract = app.extensions[EXTENSION].contract  # openapi.yaml, read once for the run
        self.client = app.test_client()

    def send(self, call: Call) -> Reply:
        headers = {"Accept": "application/json"}
        key = MIRROR_KEYS.get(call.key)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = call.data()
        if data is not None:
            headers["Content-Type"] = "application/json"
        response = self.client.open(call.path, method=call.method, data=data, headers=headers)
        return Reply(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                     response.get_data(as_text=True))
