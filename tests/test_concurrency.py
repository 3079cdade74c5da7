"""Requests racing for the last place, over real sockets against the production server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from huskyvoice_sandbox.domain import booking
from huskyvoice_sandbox.serve.server import ServerThread

from helpers import check_response

CHECKUP = "11111111-1111-4111-8111-111111111111"
KEY = {"Authorization": "Bearer sk_test_race"}


def race_world(contenders: int) -> dict[str, Any]:
    """One empty target window with one place; `contenders` appointments elsewhere."""
    window = {"branch_id": "b1", "max_slots": 1, "ai_slots": 1, "start_time": "09:00",
              "end_time": "11:00", "session": "Morning", "batch": "MA"}
    return {
        "version": 1,
        "clock": "2026-06-01T08:00:00.000Z",
        "organizations": [{
            "id": "org_race", "name": "Race", "timezone": "UTC",
            "api_keys": [{"key": "sk_test_race", "scopes": ["appointments:read", "appointments:write"]}],
            "services": [{"id": CHECKUP, "name": "Checkup"}],
            "branches": [{"id": "b1", "name": "B1"}],
            "calendar_windows": [
                {"id": "target", "day": "monday", **window},
                {"id": "elsewhere", "day": "tuesday", **window, "ai_slots": contenders,
                 "max_slots": contenders},
            ],
            "appointments": [
                {"appointment_id": f"appt_{i}", "appointment_type": CHECKUP, "branch_id": "b1",
                 "date": "2026-06-16", "session": "Morning", "batch": "MA",
                 "patient_name": f"P{i}", "parent_phone": f"+91{i}"}
                for i in range(contenders)
            ],
        }],
    }


@pytest.fixture(autouse=True)
def slow_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the gap between a passing check and the write, so a missing lock would show."""
    check_room = booking.check_room

    def check_then_pause(*args: Any, **kwargs: Any) -> None:
        check_room(*args, **kwargs)
        time.sleep(0.005)

    monkeypatch.setattr(booking, "check_room", check_then_pause)


@pytest.fixture
def serve(make_app) -> Iterator[Any]:
    servers = []

    def start(world: dict[str, Any]) -> str:
        server = ServerThread(make_app(world), threads=32).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


def race(url: str, bodies: dict[str, dict[str, Any]]) -> list[requests.Response]:
    """Send one PATCH per appointment id, all released at the same moment."""
    gate = threading.Barrier(len(bodies))

    def send(item: tuple[str, dict[str, Any]]) -> requests.Response:
        appointment_id, body = item
        with requests.Session() as session:
            gate.wait(timeout=10)
            return session.patch(f"{url}/v1/appointments/{appointment_id}", json=body,
                                 headers=KEY, timeout=10)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies.items()))


ACTIVE = ("confirmed", "rescheduled")
TARGET_DAY = "2026-06-15"  # a Monday: the target window's day


def outcome(response: requests.Response) -> tuple[int, str | None]:
    return response.status_code, (response.json().get("error") or {}).get("code")


def served_appointments(checked_http, url: str) -> dict[str, dict[str, Any]]:
    world = checked_http("GET", f"{url}/_sandbox/world").json()["data"]
    return {a["appointment_id"]: a for a in world["organizations"][0]["appointments"]}


@pytest.mark.parametrize("contenders", [2, 16])
def test_only_one_request_gets_the_last_place(serve, checked_http, contenders: int) -> None:
    url = serve(race_world(contenders))
    for _ in range(10):
        requests.post(f"{url}/_sandbox/reset", timeout=10)
        moves = {f"appt_{i}": {"appointment_date": "2026-06-15T09:30:00.000Z"}
                 for i in range(contenders)}
        outcomes = sorted(outcome(r) for r in race(url, moves))
        assert outcomes == [(200, None)] + [(409, "SLOT_FULL")] * (contenders - 1)
        booked = [a for a in served_appointments(checked_http, url).values()
                  if a["date"] == TARGET_DAY and a["status"] in ACTIVE]
        assert len(booked) == 1


def test_forty_requests_reschedule_and_reactivate_into_three_places(serve, checked_http,
                                                                    contract) -> None:
    """40 threads at once: 20 reschedule into the target window, 20 confirm again cancelled
    appointments already dated in it. Exactly ai_slots (3) win, every other answer is a
    contract-valid 409 SLOT_FULL, and the served world recounts to the same numbers."""
    places, movers, returners = 3, 20, 20
    world = race_world(movers + returners)
    world["organizations"][0]["calendar_windows"][0].update(ai_slots=places, max_slots=places)
    returning = [f"appt_{i}" for i in range(movers, movers + returners)]
    for appointment in world["organizations"][0]["appointments"][movers:]:
        appointment.update(date=TARGET_DAY, status="cancelled")
    url = serve(world)
    for _ in range(5):
        requests.post(f"{url}/_sandbox/reset", timeout=10)
        bodies = {f"appt_{i}": {"appointment_date": f"2026-06-15T{9 + i % 2:02d}:{10 + i:02d}:00.000Z"}
                  for i in range(movers)}
        bodies.update({appointment_id: {"status": "confirmed"} for appointment_id in returning})
        responses = dict(zip(bodies, race(url, bodies), strict=True))
        for response in responses.values():
            check_response(contract, "PATCH", response.request.path_url, response.status_code,
                           response.headers, response.content)
        winners = {a for a, r in responses.items() if r.status_code == 200}
        assert len(winners) == places
        assert sorted(outcome(r) for a, r in responses.items() if a not in winners) == \
            [(409, "SLOT_FULL")] * (movers + returners - places)
        served = served_appointments(checked_http, url)
        booked = {a for a, v in served.items() if v["date"] == TARGET_DAY and v["status"] in ACTIVE}
        assert booked == winners  # the dump recounts to the answers
        assert all(served[a]["status"] == "cancelled" for a in returning if a not in winners)
        assert all(served[f"appt_{i}"]["date"] == "2026-06-16" for i in range(movers)
                   if f"appt_{i}" not in winners)


def test_pairs_moving_one_patient_twice_into_one_day_book_once(serve, checked_http) -> None:
    """16 patients with two appointments each; 32 threads move both of each patient's
    appointments onto the same Monday at once. For each patient exactly one move wins and
    the other is DUPLICATE_BOOKING; the dump shows one booking per patient that day."""
    patients = 16
    world = race_world(2 * patients)
    org = world["organizations"][0]
    org["calendar_windows"][0].update(ai_slots=2 * patients, max_slots=2 * patients)
    for i, appointment in enumerate(org["appointments"]):
        appointment.update(patient_name=f"Patient {i // 2}", parent_phone=f"+9100000{i // 2:03d}",
                           date="2026-06-16" if i % 2 else "2026-06-23")
    url = serve(world)
    for _ in range(5):
        requests.post(f"{url}/_sandbox/reset", timeout=10)
        bodies = {f"appt_{i}": {"appointment_date": f"2026-06-15T09:{10 + i}:00.000Z"}
                  for i in range(2 * patients)}
        responses = dict(zip(bodies, race(url, bodies), strict=True))
        for p in range(patients):
            pair = sorted(outcome(responses[f"appt_{2 * p + k}"]) for k in (0, 1))
            assert pair == [(200, None), (409, "DUPLICATE_BOOKING")], (p, pair)
        served = served_appointments(checked_http, url)
        that_day = [v["patient_name"] for v in served.values()
                    if v["date"] == TARGET_DAY and v["status"] in ACTIVE]
        assert sorted(that_day) == sorted(f"Patient {p}" for p in range(patients))


def test_a_world_swapped_in_mid_request_is_never_overbooked(make_app, monkeypatch) -> None:
    """A PUT /_sandbox/world landing between a PATCH's authentication and its write must not
    let the PATCH check one world and write into the other."""
    from huskyvoice_sandbox.domain.store import Store
    from huskyvoice_sandbox.web.http import EXTENSION
    from huskyvoice_sandbox.worlds.world import load_world

    roomy = race_world(2)  # the same key and ids in both worlds
    roomy["organizations"][0]["calendar_windows"][0].update(ai_slots=2, max_slots=2)
    full = race_world(2)
    full["organizations"][0]["appointments"][0].update(date="2026-06-15")  # its 1 place taken
    app = make_app(roomy)
    state = app.extensions[EXTENSION].state
    authenticate = Store.authenticate

    def authenticate_then_swap(self, key):
        found = authenticate(self, key)
        monkeypatch.setattr(Store, "authenticate", authenticate)  # swap once
        state.replace(load_world(full))
        return found

    monkeypatch.setattr(Store, "authenticate", authenticate_then_swap)
    client = app.test_client()
    client.patch("/v1/appointments/appt_1", headers=KEY,
                 json={"appointment_date": "2026-06-15T09:30:00.000Z"})
    served = client.get("/_sandbox/world").get_json()["data"]
    in_target = [a for a in served["organizations"][0]["appointments"]
                 if a["date"] == "2026-06-15" and a["status"] in ("confirmed", "rescheduled")]
    assert len(in_target) == 1
    load_world(served)  # the served state is still a valid world
