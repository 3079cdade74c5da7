"""Appointment webhooks of one session: each event goes to the organization's endpoints that
want it, in the background, signed, retried on failure, and recorded in a bounded journal.

Delivering never holds the request that caused it: a shared courier (one scheduler thread and a
few workers, all daemons) makes every attempt, with the endpoint's timeout. A reset or a
deleted session stops what is still pending; the journal keeps what was tried.

Signing is assumed to follow the call webhooks' documented scheme (the appointment webhooks page
is cut before it): `X-Husky-Signature` is the hex HMAC-SHA256 of the raw body, keyed with the
endpoint's secret.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import __version__
from ..domain.clock import format_timestamp, utc_now
from ..domain.model import WebhookEndpoint

JOURNAL_SIZE = 200  # deliveries kept per session, oldest dropped first
SIGNATURE_HEADER = "X-Husky-Signature"
EVENT_HEADER = "X-Husky-Event"
log = logging.getLogger("huskyvoice_sandbox.webhooks")


def sign(secret: str, body: bytes) -> str:
    """The signature a receiver checks: hex HMAC-SHA256 of the raw body with the secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- the courier ----------------------------------------------------------------------------------

class Courier:
    """Runs jobs when they are due, off the request threads."""

    WORKERS = 8

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._ready: queue.Queue[Callable[[], None]] = queue.Queue()
        self._wake = threading.Condition()
        self._order = itertools.count()
        self._started = False

    def schedule(self, delay: float, job: Callable[[], None]) -> None:
        with self._wake:
            if not self._started:
                self._start()
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), job))
            self._wake.notify()

    def _start(self) -> None:
        self._started = True
        threading.Thread(target=self._release, name="webhooks-scheduler", daemon=True).start()
        for n in range(self.WORKERS):
            threading.Thread(target=self._work, name=f"webhooks-{n}", daemon=True).start()

    def _release(self) -> None:
        while True:
            with self._wake:
                while not self._due:
                    self._wake.wait()
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                job = heapq.heappop(self._due)[2]
            self._ready.put(job)

    def _work(self) -> None:
        while True:
            job = self._ready.get()
            try:
                job()
            except Exception:  # a bug in one delivery must not stop the others
                log.exception("a webhook delivery failed unexpectedly")


COURIER = Courier()


# -- one session's deliveries ---------------------------------------------------------------------

@dataclass
class Delivery:
    id: str
    endpoint: WebhookEndpoint
    event: str
    event_id: str
    body: bytes
    generation: int
    created_at: str
    status: str = "pending"  # pending, delivered, failed, cancelled
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {"delivery_id": self.id, "endpoint_id": self.endpoint.id, "url": self.endpoint.url,
                "event": self.event, "event_id": self.event_id, "status": self.status,
                "created_at": self.created_at, "attempts": list(self.attempts),
                "payload": json.loads(self.body)}


class Deliveries:
    def __init__(self, size: int = JOURNAL_SIZE, courier: Courier = COURIER) -> None:
        self._lock = threading.Lock()
        self._journal: deque[Delivery] = deque(maxlen=size)
        self._generation = 0
        self._numbers = itertools.count(1)
        self._courier = courier
        self.local_apps: dict[str, Any] = {}  # URL origin -> a WSGI app that receives in process

    def emit(self, endpoints: Iterable[WebhookEndpoint], event: str, payload: dict[str, Any]) -> list[Delivery]:
        """Queue the event for every endpoint that wants it; returns at once."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        queued = []
        with self._lock:
            for endpoint in endpoints:
                if event in endpoint.events:
                    delivery = Delivery(f"dlv_{next(self._numbers)}", endpoint, event, payload["event_id"],
                                        body, self._generation, format_timestamp(utc_now()))
                    self._journal.append(delivery)
                    queued.append(delivery)
        for delivery in queued:
            self._courier.schedule(0, lambda d=delivery: self._attempt(d))  # type: ignore[misc]
        return queued

    def stop(self) -> None:
        """Reset or deletion: what is pending is cancelled, and never sent."""
        with self._lock:
            self._generation += 1
            for delivery in self._journal:
                if delivery.status == "pending":
                    delivery.status = "cancelled"

    def listing(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            found = list(self._journal)
        return [d.view() for d in (found[-limit:] if limit else found)]

    def clear(self) -> int:
        with self._lock:
            count = len(self._journal)
            self._journal.clear()
            return count

    # -- an attempt -------------------------------------------------------------------------
    def _attempt(self, delivery: Delivery) -> None:
        with self._lock:
            if delivery.generation != self._generation or delivery.status != "pending":
                return
        began = time.monotonic()
        status, error = self._post(delivery)
        attempt = {"at": format_timestamp(utc_now()), "status": status, "error": error,
                   "latency_ms": round((time.monotonic() - began) * 1000, 1)}
        with self._lock:
            delivery.attempts.append(attempt)
            if delivery.generation != self._generation:
                delivery.status = "cancelled"
                return
            if status is not None and 200 <= status < 300:
                delivery.status = "delivered"
                return
            retries = delivery.endpoint.retry_delays
            if len(delivery.attempts) > len(retries):
                delivery.status = "failed"
                return
            delay = retries[len(delivery.attempts) - 1]
        self._courier.schedule(delay, lambda: self._attempt(delivery))

    def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        endpoint = delivery.endpoint
        headers = {"Content-Type": "application/json", "User-Agent": f"huskyvoice-sandbox/{__version__}",
                   SIGNATURE_HEADER: sign(endpoint.secret, delivery.body), EVENT_HEADER: delivery.event}
        parts = urlsplit(endpoint.url)
        app = self.local_apps.get(f"{parts.scheme}://{parts.netloc}")
        if app is not None:
            return _post_in_process(app, endpoint.url, delivery.body, headers)
        request = urllib.request.Request(endpoint.url, data=delivery.body, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=endpoint.timeout_seconds) as response:
                return response.status, None
        except urllib.error.HTTPError as answered:
            return answered.code, None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as failed:
            # refused, unreachable, timed out, or an answer that is not HTTP
            reason = getattr(failed, "reason", failed)
            return None, f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is the receiver's answer, not delivered: urllib would re-send it as a GET
    without the body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _post_in_process(app: Any, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
    from werkzeug.test import Client

    try:
        response = Client(app).post(url, data=body, headers=headers)
    except Exception as exc:  # the receiver's own bug: a failed attempt, as a 500 would be
        return None, f"{type(exc).__name__}: {exc}"
    return response.status_code, None
