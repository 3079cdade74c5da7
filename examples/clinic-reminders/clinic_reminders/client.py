"""A small client for the HuskyVoice appointments API, on the standard library only."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import quote

from .errors import BY_CODE, ApiError, ApiUnavailable, RateLimited


class AppointmentsClient:
    """`GET` and `PATCH /v1/appointments/{id}`. A 429 is retried after its Retry-After, at most
    `max_retries` times and only when the wait is at most `max_wait` seconds; `sleep` is
    injectable so tests never wait."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0, max_retries: int = 2,
                 max_wait: float = 30.0, sleep: Callable[[float], Any] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.sleep = sleep

    def get(self, appointment_id: str) -> dict[str, Any]:
        return self._call("GET", appointment_id)

    def reschedule(self, appointment_id: str, when: datetime | str) -> dict[str, Any]:
        """Move the appointment to `when` (its status becomes `rescheduled`)."""
        return self._call("PATCH", appointment_id, {"appointment_date": _utc(when)})

    def cancel(self, appointment_id: str) -> dict[str, Any]:
        return self._call("PATCH", appointment_id, {"status": "cancelled"})

    def assign_doctor(self, appointment_id: str, doctor: str, *, notes: str | None = None) -> dict[str, Any]:
        body = {"assigned_doctor": doctor, **({"notes": notes} if notes is not None else {})}
        return self._call("PATCH", appointment_id, body)

    def _call(self, method: str, appointment_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        retries = 0
        while True:
            try:
                return self._send(method, appointment_id, body)
            except RateLimited as exc:
                if retries == self.max_retries or exc.retry_after > self.max_wait:
                    raise
                retries += 1
                self.sleep(exc.retry_after)

    def _send(self, method: str, appointment_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/v1/appointments/{quote(appointment_id, safe='')}", method=method,
            data=None if body is None else json.dumps(body).encode("utf-8"),
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json",
                     "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)["data"]
        except urllib.error.HTTPError as exc:
            raise _error(exc) from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            # Not retried: a PATCH may or may not have been applied before the connection went.
            raise ApiUnavailable(f"{method} {appointment_id}: no answer from the API ({exc})") from exc


def _error(exc: urllib.error.HTTPError) -> ApiError:
    try:
        error = json.loads(exc.read()).get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code")
    kind = BY_CODE.get(code or "", ApiError)
    args = (exc.code, code, error.get("message") or exc.reason, error.get("details"))
    if kind is RateLimited:
        retry_after = exc.headers.get("Retry-After", "").strip()
        return RateLimited(*args, retry_after=int(retry_after) if retry_after.isdigit() else 60)
    return kind(*args)


def _utc(when: datetime | str) -> str:
    if isinstance(when, str):
        return when
    utc = when.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"
