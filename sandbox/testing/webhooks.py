"""A webhook receiver for tests: a real HTTP server on a free local port that records every
delivery, checks its signature (X-Husky-Signature, hex HMAC-SHA256 of the raw body with the
secret) and its shape (openapi.yaml's `webhooks`), and answers as the test asks (200 unless
told otherwise), so a test can watch the sandbox retry."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SIGNATURE_HEADER = "X-Husky-Signature"


@dataclass(frozen=True)
class Received:
    """One delivery as it arrived, and what the receiver answered."""

    event: str | None
    payload: Any
    body: bytes
    headers: dict[str, str]
    signature_valid: bool
    problems: tuple[str, ...]  # how it breaks openapi.yaml's webhooks (empty: it conforms)
    answered: int

    def __str__(self) -> str:
        return (f"{self.event} -> answered {self.answered}" + ("" if self.signature_valid else ", BAD SIGNATURE")
                + (f", breaks the spec: {'; '.join(self.problems)}" if self.problems else ""))


class WebhookReceiver:
    """`url` receives POSTs; `received` lists them; `wait_for` waits for some to arrive."""

    def __init__(self, secret: str, contract: Any = None, path: str = "/webhooks", *,
                 nothing_coming: Callable[[str], str | None] | None = None) -> None:
        """`nothing_coming(url)`, when given, says why no delivery to `url` can still arrive
        (none sent, none pending), or None: wait_for then fails at once, saying it."""
        self.secret = secret
        self._contract = contract
        self._nothing_coming = nothing_coming
        self._answers: list[int] = []
        self._lock = threading.Condition()
        self._received: list[Received] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    def answer_with(self, *statuses: int) -> None:
        """Answer the next deliveries with these statuses, in order (then 200 again)."""
        with self._lock:
            self._answers.extend(statuses)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(self, event: str | None = None, *, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """The first `count` deliveries of `event` (any event if None) that were answered 2xx,
        once they have arrived; AssertionError naming what did arrive after `timeout` seconds,
        or if one of them is not signed right or breaks the spec."""
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        with self._lock:
            arrived = [r for r in self._received if event in (None, r.event) and 200 <= r.answered < 300]
        reason = self._nothing_coming(self.url) if self._nothing_coming and len(arrived) < count else None
        if reason:
            raise AssertionError(f"expected {count} {event or 'webhook'} deliveries, but {reason}")
        with self._lock:
            while True:
                found = [r for r in self._received if event in (None, r.event) and 200 <= r.answered < 300]
                if len(found) >= count or time.monotonic() >= deadline:
                    break
                self._lock.wait(max(0.0, deadline - time.monotonic()))
            arrived = list(self._received)
        if len(found) < count:
            seen = "\n".join(f"  {r}" for r in arrived) or "  nothing"
            raise AssertionError(f"expected {count} {event or 'webhook'} deliveries within {timeout:g} s, "
                                 f"got {len(found)}; arrived:\n{seen}")
        wrong = [r for r in found[:count] if not r.signature_valid or r.problems]
        if wrong:
            raise AssertionError("deliveries not signed right, or not as openapi.yaml describes them:\n"
                                 + "\n".join(f"  {r}" for r in wrong))
        return found[:count]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data()
        headers = dict(request.headers.items())
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        expected = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(headers.get(SIGNATURE_HEADER, ""), expected)
        problems = tuple(self._contract.webhook_problems(headers, payload)) if self._contract else ()
        with self._lock:
            status = self._answers.pop(0) if self._answers else 200
            event = payload.get("event") if isinstance(payload, dict) else None
            self._received.append(Received(event, payload, body, headers, valid, problems, status))
            self._lock.notify_all()
        return Response(json.dumps({"received": status < 300}), status=status,
                        mimetype="application/json")(environ, start_response)
