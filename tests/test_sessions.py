"""Isolated sessions (X-Sandbox-Session) and snapshots, through the API and the control API."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from huskyvoice_sandbox.serve.server import ServerThread

from helpers import DOC_ID, OTHER_ORG_KEY, WRITE_KEY, appointment_in, error_of

SESSION = "X-Sandbox-Session"
APPT = f"/v1/appointments/{DOC_ID}"
LAKEVIEW = "/v1/appointments/appt_9z8y7x6w5v"
MEERA = "appt_c3d4e5f6a7"  # confirmed, Tuesday 2026-06-16
MEERA_PATH = f"/v1/appointments/{MEERA}"
FULL_TUESDAY = "2026-06-16T10:00:00.000Z"  # Tuesday Morning: its one API place is taken
FREE_MONDAY = "2026-06-15T14:30:00.000Z"


def headers(session: str | None = None, key: str = WRITE_KEY) -> dict[str, str]:
    found = {"Authorization": f"Bearer {key}"}
    if session:
        found[SESSION] = session
    return found


def control(session: str | None) -> dict[str, str]:
    return {SESSION: session} if session else {}


def data(response: Any) -> Any:
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()["data"]


def notes_in(client: Any, session: str | None) -> str | None:
    world = data(client.get("/_sandbox/world", headers=control(session)))
    return appointment_in(world, DOC_ID)["notes"]


# -- isolation ------------------------------------------------------------------------------------

def test_a_session_changes_only_itself(client) -> None:
    assert client.patch(APPT, json={"notes": "from a"}, headers=headers("a")).status_code == 200
    assert notes_in(client, "a") == "from a"
    assert notes_in(client, "b") is None
    assert notes_in(client, None) is None


def test_each_session_has_its_own_clock_journal_and_reset(client) -> None:
    client.put("/_sandbox/clock", json={"advance_seconds": 3600}, headers=control("a"))
    assert data(client.get("/_sandbox/clock", headers=control("a")))["now"] == "2026-05-26T12:00:00.000Z"
    assert data(client.get("/_sandbox/clock", headers=control("b")))["now"] == "2026-05-26T11:00:00.000Z"
    client.get(APPT, headers=headers("a"))
    assert [e["path"] for e in data(client.get("/_sandbox/requests", headers=control("a")))] == [APPT]
    assert data(client.get("/_sandbox/requests", headers=control("b"))) == []
    client.patch(APPT, json={"notes": "kept"}, headers=headers("b"))
    data(client.post("/_sandbox/reset", headers=control("a")))
    assert notes_in(client, "b") == "kept"


def test_rate_limits_are_counted_per_session(client) -> None:
    for _ in range(5):
        assert client.get(LAKEVIEW, headers=headers("a", OTHER_ORG_KEY)).status_code == 200
    error_of(client.get(LAKEVIEW, headers=headers("a", OTHER_ORG_KEY)), 429, "RATE_LIMIT_EXCEEDED")
    assert client.get(LAKEVIEW, headers=headers("b", OTHER_ORG_KEY)).status_code == 200


def test_a_world_put_in_a_session_stays_there(client, dump) -> None:
    world = dump(client)
    world["description"] = "only for a"
    appointment_in(world, DOC_ID)["notes"] = "seeded for a"
    data(client.put("/_sandbox/world", json=world, headers=control("a")))
    assert notes_in(client, "a") == "seeded for a"
    assert notes_in(client, None) is None and notes_in(client, "new") is None


def test_new_sessions_start_from_the_default_sessions_world(client, dump) -> None:
    world = dump(client)
    appointment_in(world, DOC_ID)["notes"] = "server-wide seed"
    client.get(APPT, headers=headers("before"))
    data(client.put("/_sandbox/world", json=world))
    assert notes_in(client, "after") == "server-wide seed"
    assert notes_in(client, "before") is None  # an existing session keeps its own


def test_sessions_are_listed_and_deleted(client) -> None:
    client.get(APPT, headers=headers("ci-job-1"))
    listing = data(client.get("/_sandbox/sessions"))
    assert [s["name"] for s in listing["sessions"]] == ["default", "ci-job-1"]
    assert listing["sessions"][1]["appointments"] == 10 and listing["sessions"][1]["last_used"]
    assert data(client.delete("/_sandbox/sessions/ci-job-1")) == {"deleted": "ci-job-1"}
    error_of(client.delete("/_sandbox/sessions/ci-job-1"), 404, "NOT_FOUND")
    error_of(client.delete("/_sandbox/sessions/default"), 400, "VALIDATION_ERROR")


def test_the_least_recently_used_session_is_evicted_beyond_the_limit(make_client) -> None:
    client = make_client(max_sessions=2)
    client.patch(APPT, json={"notes": "s1 was here"}, headers=headers("s1"))
    client.get(APPT, headers=headers("s2"))
    client.get(APPT, headers=headers("s1"))  # s1 is now the most recently used
    client.get(APPT, headers=headers("s3"))  # evicts s2
    names = [s["name"] for s in data(client.get("/_sandbox/sessions"))["sessions"]]
    assert names == ["default", "s1", "s3"]
    assert notes_in(client, "s1") == "s1 was here"


def test_an_evicted_session_comes_back_fresh(make_client) -> None:
    client = make_client(max_sessions=1)
    client.patch(APPT, json={"notes": "lost"}, headers=headers("s1"))
    client.get(APPT, headers=headers("s2"))
    assert notes_in(client, "s1") is None


@pytest.mark.parametrize("name", ["", "a b", "a/b", "é", "x" * 65, "tab\there"])
def test_an_invalid_session_name_is_a_located_400(client, name: str) -> None:
    response = client.patch(APPT, json={"notes": "x"},
                            headers={**headers(), SESSION: name.encode("utf-8").decode("latin-1")})
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert error["details"][0]["location"] == f"header.{SESSION}"


# -- snapshots ------------------------------------------------------------------------------------

def test_a_snapshot_restores_appointments_and_clock_as_often_as_needed(client) -> None:
    client.patch(APPT, json={"notes": "seeded"}, headers=headers())
    saved = data(client.post("/_sandbox/snapshots", json={"name": "seeded"}))
    assert saved["name"] == "seeded" and saved["clock"] == "2026-05-26T11:00:00.000Z"
    for _ in range(2):
        client.patch(APPT, json={"notes": "changed"}, headers=headers())
        client.put("/_sandbox/clock", json={"advance_seconds": 60})
        data(client.post("/_sandbox/snapshots/seeded/restore"))
        assert notes_in(client, None) == "seeded"
        assert data(client.get("/_sandbox/clock"))["now"] == "2026-05-26T11:00:00.000Z"
    data(client.post("/_sandbox/reset"))
    assert notes_in(client, None) is None  # reset still goes to the world as loaded


def searched(client: Any, session: str | None = None) -> dict[str, list[str]]:
    """The ids a search by each status finds (a status change moves an id between lists)."""
    return {status: [found["appointment_id"] for found in data(client.get(
                f"/v1/appointments?status={status}", headers=headers(session)))]
            for status in ("confirmed", "cancelled")}


def test_a_search_sees_only_its_own_sessions_and_snapshots_changes(client) -> None:
    """Sessions, snapshots and resets share the world's search index until one of them changes
    it (copy on write): whichever side changes first, no other side's search sees it."""
    before = searched(client)
    assert {DOC_ID, MEERA} <= set(before["confirmed"])
    data(client.patch(APPT, json={"status": "cancelled"}, headers=headers("a")))  # a copy first
    assert DOC_ID in searched(client, "a")["cancelled"]
    assert searched(client) == before and searched(client, "b") == before
    data(client.patch(MEERA_PATH, json={"status": "cancelled"}, headers=headers()))  # the original
    saved = searched(client)
    data(client.post("/_sandbox/snapshots", json={"name": "one"}))
    data(client.patch(APPT, json={"status": "cancelled"}, headers=headers()))  # after the snapshot
    assert DOC_ID in searched(client)["cancelled"]
    data(client.post("/_sandbox/snapshots/one/restore"))
    assert searched(client) == saved
    data(client.patch(APPT, json={"status": "cancelled"}, headers=headers()))  # the restored copy
    data(client.post("/_sandbox/snapshots/one/restore"))
    assert searched(client) == saved  # the snapshot itself kept its index
    data(client.post("/_sandbox/reset"))
    assert searched(client) == before and DOC_ID in searched(client, "a")["cancelled"]


def test_snapshots_belong_to_their_session(client) -> None:
    data(client.post("/_sandbox/snapshots", json={"name": "mine"}, headers=control("a")))
    assert [s["name"] for s in data(client.get("/_sandbox/snapshots", headers=control("a")))] == ["mine"]
    assert data(client.get("/_sandbox/snapshots", headers=control("b"))) == []
    error_of(client.post("/_sandbox/snapshots/mine/restore", headers=control("b")), 404, "NOT_FOUND")


def test_a_restore_clears_rate_limit_history(client) -> None:
    data(client.post("/_sandbox/snapshots", json={"name": "fresh"}))
    for _ in range(5):
        client.get(LAKEVIEW, headers=headers(key=OTHER_ORG_KEY))
    error_of(client.get(LAKEVIEW, headers=headers(key=OTHER_ORG_KEY)), 429, "RATE_LIMIT_EXCEEDED")
    data(client.post("/_sandbox/snapshots/fresh/restore"))
    assert client.get(LAKEVIEW, headers=headers(key=OTHER_ORG_KEY)).status_code == 200


def test_snapshots_are_deleted_and_bad_requests_are_located(client) -> None:
    data(client.post("/_sandbox/snapshots", json={"name": "gone"}))
    assert data(client.delete("/_sandbox/snapshots/gone")) == {"deleted": "gone"}
    error_of(client.delete("/_sandbox/snapshots/gone"), 404, "NOT_FOUND")
    error_of(client.post("/_sandbox/snapshots/gone/restore"), 404, "NOT_FOUND")
    for body in ({}, {"name": 3}, {"name": "a b"}, []):
        error = error_of(client.post("/_sandbox/snapshots", json=body), 400, "VALIDATION_ERROR")
        assert error["details"][0]["location"] == "body.name"


def test_a_session_keeps_at_most_32_snapshots(client) -> None:
    for i in range(32):
        data(client.post("/_sandbox/snapshots", json={"name": f"s{i}"}))
    data(client.post("/_sandbox/snapshots", json={"name": "s0"}))  # replacing one is fine
    error_of(client.post("/_sandbox/snapshots", json={"name": "one-more"}), 400, "VALIDATION_ERROR")


# -- concurrent sessions on one served sandbox ----------------------------------------------------

@pytest.fixture
def served(make_app) -> Iterator[str]:
    with ServerThread(make_app(), threads=16) as server:
        yield server.url


def test_parallel_jobs_in_their_own_sessions_do_not_see_each_other(served: str) -> None:
    """16 jobs at once, each in its own session, each booking the same last place and then
    reading its own journal: every job wins its place and sees only its own requests."""

    def job(n: int) -> tuple[int, int, list[str]]:
        name = f"job-{n}"
        with requests.Session() as http:
            http.headers.update(headers(name))
            http.post(f"{served}/_sandbox/reset", timeout=10)
            free = http.patch(f"{served}{APPT}", json={"appointment_date": FREE_MONDAY}, timeout=10)
            full = http.patch(f"{served}/v1/appointments/appt_e5f6a7b8c9",
                              json={"appointment_date": FULL_TUESDAY}, timeout=10)
            journal = http.get(f"{served}/_sandbox/requests", timeout=10).json()["data"]
        return free.status_code, full.status_code, [e["path"] for e in journal]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(job, range(16)))
    for free, full, paths in results:
        assert free == 200 and full == 409
        assert paths == [APPT, "/v1/appointments/appt_e5f6a7b8c9"]
    default = requests.get(f"{served}/_sandbox/world", timeout=10).json()["data"]
    assert appointment_in(default, DOC_ID)["date"] == "2026-06-15"
    assert appointment_in(default, DOC_ID)["session"] == "Morning"  # untouched by the jobs
