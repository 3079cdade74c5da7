"""A small client for the HuskyVoice appointments API, on `requests`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from .errors import BY_CODE, ApiError, ApiUnavailable, RateLimited

PRODUCTION = "https://api.huskyvoice.ai"


class AppointmentsClient:
    """`GET` and `PATCH /v1/appointments/{id}`. A 429 is retried after its Retry-After, at most
    `max_retries` times and only when the wait is at most `max_wait` seconds; `sleep` and the
    `requests` session are injectable, so tests never wait and can answer in process."""

    def __init__(self, api_key: str, base_url: str = PRODUCTION, *, session: requests.Session | None = None,
                 timeout: float = 10.0, max_retries: int = 2, max_wait: float = 30.0,
                 sleep: Callable[[float], Any] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.session = session or requests.Session()
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
        url = f"{self.base_url}/v1/appointments/{quote(appointment_id, safe='')}"
        try:
            response = self.session.request(method, url, json=body, timeout=self.timeout, headers={
                "Authorization": f"Bearer {self.api_key}", "Accept": "application/json"})
        except requests.RequestException as exc:
            # Not retried: a PATCH may or may not have been applied before the connection went.
            raise ApiUnavailable(f"{method} {appointment_id}: no answer from the API ({exc})") from exc
        if response.status_code >= 400:
            raise _error(response)
        return response.json()["data"]


def _error(response: requests.Response) -> ApiError:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code")
    kind = BY_CODE.get(code or "", ApiError)
    args = (response.status_code, code, error.get("message") or response.reason, error.get("details"))
    if kind is RateLimited:
        retry_after = response.headers.get("Retry-After", "").strip()
        return RateLimited(*args, retry_after=int(retry_after) if retry_after.isdigit() else 60)
    return kind(*args)


def _utc(when: datetime | str) -> str:
    if isinstance(when, str):
        return when
    utc = when.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"
