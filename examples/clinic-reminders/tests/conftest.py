"""The client under test, talking to this test's sandbox (a fresh worlds/clinic.yaml) both ways:
in process, through a `requests` session the sandbox answers (fastest), and over real HTTP to
the served sandbox's URL. Every test that asks for `client` runs twice; `sandbox` is the handle
of the same sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from clinic_reminders import AppointmentsClient
from clinic_world import REMINDERS_KEY


@pytest.fixture
def naps() -> list[float]:
    """The seconds the client would have slept between retries."""
    return []


@pytest.fixture(params=["in-process", "served"])
def sandbox(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("huskyvoice" if request.param == "in-process" else "huskyvoice_server")


@pytest.fixture
def client(request: pytest.FixtureRequest, sandbox: Any, naps: list[float]) -> AppointmentsClient:
    if request.node.callspec.params["sandbox"] == "in-process":
        # The client's own code, unchanged: its calls to the production URL reach the sandbox.
        return AppointmentsClient(REMINDERS_KEY, session=sandbox.requests_session(), sleep=naps.append)
    return AppointmentsClient(REMINDERS_KEY, base_url=sandbox.url, sleep=naps.append)
