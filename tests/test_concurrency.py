"""Requests racing for the last place, over real sockets against the production server."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pytest
import requests
from waitress import create_server

from sandbox import booking

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
        server = create_server(make_app(world), host="127.0.0.1", port=0, threads=16)
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.effective_port}"

    yield start
    for server in servers:
        server.close()


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


@pytest.mark.parametrize("contenders", [2, 16])
def test_only_one_request_gets_the_last_place(serve, checked_http, contenders: int) -> None:
    url = serve(race_world(contenders))
    for _ in range(10):
        requests.post(f"{url}/_sandbox/reset", timeout=10)
        moves = {f"appt_{i}": {"appointment_date": "2026-06-15T09:30:00.000Z"}
                 for i in range(contenders)}
        responses = race(url, moves)
        outcomes = sorted((r.status_code, (r.json().get("error") or {}).get("code"))
                          for r in responses)
        assert outcomes == [(200, None)] + [(409, "SLOT_FULL")] * (contenders - 1)
        world = checked_http("GET", f"{url}/_sandbox/world").json()["data"]
        in_target = [a for a in world["organizations"][0]["appointments"]
                     if a["date"] == "2026-06-15" and a["status"] in ("confirmed", "rescheduled")]
        assert len(in_target) == 1


def test_reactivations_racing_a_reschedule_cannot_overbook(serve) -> None:
    world = race_world(4)
    for appointment in world["organizations"][0]["appointments"][:2]:
        appointment.update(date="2026-06-15", status="cancelled")
    url = serve(world)
    for _ in range(10):
        requests.post(f"{url}/_sandbox/reset", timeout=10)
        responses = race(url, {
            "appt_0": {"status": "confirmed"},
            "appt_1": {"status": "confirmed"},
            "appt_2": {"appointment_date": "2026-06-15T10:00:00.000Z"},
            "appt_3": {"appointment_date": "2026-06-15T10:30:00.000Z"},
        })
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 409, 409, 409]
        assert all(r.json()["error"]["code"] == "SLOT_FULL" for r in responses if r.status_code == 409)


def test_a_world_swapped_in_mid_request_is_never_overbooked(make_app, monkeypatch) -> None:
    """A PUT /_sandbox/world landing between a PATCH's authentication and its write must not
    let the PATCH check one world and write into the other."""
    from sandbox.http import EXTENSION
    from sandbox.store import Store
    from sandbox.world import load_world

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
