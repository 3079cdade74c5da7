"""The client under test, pointed at this test's served sandbox (a fresh worlds/clinic.yaml)."""

from __future__ import annotations

import pytest

from clinic_reminders import AppointmentsClient

from clinic_world import REMINDERS_KEY


@pytest.fixture
def naps() -> list[float]:
    """The seconds the client would have slept between retries."""
    return []


@pytest.fixture
def client(huskyvoice_url: str, naps: list[float]) -> AppointmentsClient:
    return AppointmentsClient(huskyvoice_url, REMINDERS_KEY, sleep=naps.append)
