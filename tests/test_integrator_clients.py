"""An integrator's own HTTP client against the sandbox, as the pytest plugin offers it: a
`requests` session and an `httpx` client (sync and async) answered in process, the production
base URL routed into the sandbox for code that cannot take a session, and the same code against
the served sandbox. Forced answers reach the client as the real API's would: a 429 with its
Retry-After, and a dropped connection as the library's own connection error.

Also here: rate-limit history ages in real time on a frozen clock, so a client that honours
Retry-After is served again."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import huskyvoice_sandbox.domain.clock as clock_module
import pytest
import requests

from helpers import DOC_ID, OTHER_ORG_KEY, WRITE_KEY

PRODUCTION = "https://api.huskyvoice.ai"
APPOINTMENT = f"{PRODUCTION}/v1/appointments/{DOC_ID}"
LAKEVIEW = f"{PRODUCTION}/v1/appointments/appt_9z8y7x6w5v"  # Lakeview: 5 requests a minute
AUTH = {"Authorization": f"Bearer {WRITE_KEY}"}


# -- requests -------------------------------------------------------------------------------------

def test_a_requests_session_is_answered_in_process(huskyvoice) -> None:
    session = huskyvoice.requests_session()
    response = session.patch(APPOINTMENT, json={"notes": "call back"}, headers=AUTH)
    assert response.status_code == 200 and response.json()["data"]["appointment_id"] == DOC_ID
    assert session.get(APPOINTMENT, headers=AUTH).json() == response.json()
    huskyvoice.assert_called("updateAppointment", times=1)  # the sandbox's own journal saw it


def test_a_forced_429_and_drop_reach_a_requests_client_as_the_real_api_would(huskyvoice) -> None:
    session = huskyvoice.requests_session()
    huskyvoice.force(429, operation="getAppointment", headers={"Retry-After": 3})
    refused = session.get(APPOINTMENT, headers=AUTH)
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "3")
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    huskyvoice.force(drop=True, operation="getAppointment")
    with pytest.raises(requests.exceptions.ConnectionError, match="without a response"):
        session.get(APPOINTMENT, headers=AUTH)


def test_other_hosts_are_not_answered_by_the_sandbox(huskyvoice) -> None:
    session = huskyvoice.requests_session()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get("http://127.0.0.1:9/v1/appointments", timeout=2)  # a real request, refused


# -- httpx ------------------------------------------------------------------------------------------

def test_an_httpx_client_is_answered_in_process(huskyvoice) -> None:
    with huskyvoice.httpx_client(headers=AUTH) as client:
        booked = client.post("/v1/appointments", json={
            "appointment_type": "General Checkup", "appointment_date": "2026-06-15T10:00:00.000Z",
            "patient_name": "Tara", "parent_phone": "+919800011111", "branch_id": "branch_uuid_here"})
        assert booked.status_code == 201
        assert client.get(f"/v1/appointments/{booked.json()['appointment_id']}").status_code == 200
        huskyvoice.force(drop=True)
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/v1/services")


def test_an_async_httpx_client_gets_the_forced_answers(huskyvoice) -> None:
    huskyvoice.force(429, operation="listServices")
    huskyvoice.force(drop=True, operation="listServices")

    async def calls() -> list[Any]:
        async with huskyvoice.httpx_async_client(headers=AUTH) as client:
            first = await client.get("/v1/services")
            try:
                await client.get("/v1/services")
            except httpx.RemoteProtocolError as exc:
                second: Any = exc
            third = await client.get("/v1/services")
            return [first, second, third]

    first, second, third = asyncio.run(calls())
    assert (first.status_code, first.headers["Retry-After"]) == (429, "12")
    assert isinstance(second, httpx.RemoteProtocolError)
    assert third.json()["data"][0]["name"] == "General Checkup"


# -- code that calls the production URL itself ------------------------------------------------------

def test_intercept_routes_the_production_url_for_any_client(huskyvoice) -> None:
    with huskyvoice.intercept():
        assert requests.get(APPOINTMENT, headers=AUTH).json()["data"]["patient_name"] == "Aadhi"
        assert httpx.get(f"{PRODUCTION}/v1/appointment-config", headers=AUTH).json()["data"] == {
            "allow_cancellation": True, "cancellation_notice_hours": 24, "timezone": "UTC"}
        huskyvoice.force(drop=True)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(APPOINTMENT, headers=AUTH)
    assert huskyvoice.call_count() == 3


@pytest.mark.parametrize("library", ["requests", "httpx"])
def test_intercept_says_only_the_production_url_is_routed_when_a_call_elsewhere_fails(huskyvoice,
                                                                                      library) -> None:
    """A typo in the host goes out to the network as usual; its DNS error says why."""
    elsewhere = "https://api.huskyvoice.invalid/v1/appointments/appt_a1b2c3d4e5"  # .invalid never resolves
    kinds = {"requests": requests.exceptions.ConnectionError, "httpx": httpx.ConnectError}
    with pytest.raises(kinds[library]) as raised, huskyvoice.intercept():
        (requests.get if library == "requests" else httpx.get)(elsewhere, headers=AUTH, timeout=10)
    assert raised.value.__notes__ == [
        f"huskyvoice intercept(): only calls to {PRODUCTION}/... reach the sandbox; this one was to "
        f"{elsewhere} and went out to the network as usual."]
    huskyvoice.assert_not_called()


def test_intercept_adds_nothing_to_errors_of_the_routed_url(huskyvoice) -> None:
    huskyvoice.force(drop=True)
    with pytest.raises(requests.exceptions.ConnectionError) as raised, huskyvoice.intercept():
        requests.get(APPOINTMENT, headers=AUTH)
    assert not getattr(raised.value, "__notes__", None)


# -- served ----------------------------------------------------------------------------------------

@pytest.mark.live
def test_the_same_client_code_against_the_served_sandbox(huskyvoice_server) -> None:
    url = f"{huskyvoice_server.url}/v1/appointments/{DOC_ID}"
    assert requests.get(url, headers=AUTH).status_code == 200
    huskyvoice_server.force(429, operation="getAppointment")
    assert requests.get(url, headers=AUTH).headers["Retry-After"] == "12"
    huskyvoice_server.force(drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, headers=AUTH)
    huskyvoice_server.force(drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url, headers=AUTH)
    # the production URL routed to the served sandbox, too
    assert huskyvoice_server.requests_session().get(APPOINTMENT, headers=AUTH).status_code == 200


# -- Retry-After that a real client can honour ------------------------------------------------------

class PassingTime:
    """The clock module's time, with `sleep` that moves real time on instead of waiting."""

    def __init__(self) -> None:
        self.slept = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.slept

    def time(self) -> float:
        return time.time() + self.slept

    def sleep(self, seconds: float) -> None:
        self.slept += seconds


def test_a_client_that_waits_retry_after_is_served_again_on_a_frozen_clock(huskyvoice, monkeypatch) -> None:
    passing = PassingTime()
    monkeypatch.setattr(clock_module, "time", passing)
    session = huskyvoice.requests_session()
    limited = {"Authorization": f"Bearer {OTHER_ORG_KEY}"}
    assert [session.get(LAKEVIEW, headers=limited).status_code for _ in range(5)] == [200] * 5
    refused = session.get(LAKEVIEW, headers=limited)
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "60")  # deterministic
    passing.sleep(int(refused.headers["Retry-After"]))  # what a polite client does
    assert session.get(LAKEVIEW, headers=limited).status_code == 200
    assert huskyvoice.now() == "2026-05-26T11:00:00.000Z"  # the frozen clock itself did not move


def test_waiting_less_than_retry_after_is_still_refused(huskyvoice, monkeypatch) -> None:
    passing = PassingTime()
    monkeypatch.setattr(clock_module, "time", passing)
    session = huskyvoice.requests_session()
    limited = {"Authorization": f"Bearer {OTHER_ORG_KEY}"}
    for _ in range(5):
        session.get(LAKEVIEW, headers=limited)
    passing.sleep(30)
    refused = session.get(LAKEVIEW, headers=limited)
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "30")
    huskyvoice.advance_clock(30)  # moving the sandbox's clock counts as well
    assert session.get(LAKEVIEW, headers=limited).status_code == 200
