"""Every answer's `Date` header is the sandbox's clock (the answering session's), in the HTTP date
format: a frozen clock answers with its frozen moment, as its timestamps do, so a client (drift)
can read the sandbox's "now" from any answer. Through waitress it is the only Date header sent.
The answers through `client` are checked against openapi.yaml as always (a Date header is not in
it: HTTP's own)."""

from __future__ import annotations

import http.client
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest

from helpers import READ_KEY, SMALL_WORLD, WRITE_KEY

FROZEN = "Tue, 26 May 2026 11:00:00 GMT"  # the default world's clock: 2026-05-26T11:00:00.000Z
READ = {"Authorization": f"Bearer {READ_KEY}"}


@pytest.mark.parametrize(("method", "path", "headers", "status"), [
    ("GET", "/v1/services", READ, 200),
    ("GET", "/v1/appointments/appt_a1b2c3d4e5", READ, 200),
    ("GET", "/v1/appointments", {}, 401),
    ("PATCH", "/v1/appointments/appt_a1b2c3d4e5", READ, 403),
    ("GET", "/v1/nowhere", READ, 404),
    ("HEAD", "/v1/services", READ, 405),
    ("GET", "/", {}, 200),
    ("GET", "/openapi.yaml", {}, 200),
    ("GET", "/docs", {}, 200),
    ("GET", "/_sandbox/health", {}, 200),
    ("GET", "/nowhere", {}, 404),
], ids=lambda value: value if isinstance(value, str) else None)
def test_every_answer_is_dated_by_the_frozen_clock(client, method: str, path: str, headers: dict[str, str],
                                                    status: int) -> None:
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == status
    assert response.headers.getlist("Date") == [FROZEN]


def test_moving_the_clock_moves_the_date_in_the_answer_that_moves_it(client) -> None:
    moved = client.put("/_sandbox/clock", json={"now": "2030-01-02T03:04:05.678Z"})
    assert moved.headers["Date"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    answer = client.patch("/v1/appointments/appt_a1b2c3d4e5", json={"notes": "x"},
                          headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert answer.headers["Date"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    assert answer.get_json()["data"]["updated_at"] == "2030-01-02T03:04:05.678Z"  # the same moment


def test_each_session_answers_with_its_own_clock(client) -> None:
    session = {"X-Sandbox-Session": "dated"}
    assert client.put("/_sandbox/clock", json={"now": "2027-03-04T05:06:07.000Z"},
                      headers=session).headers["Date"] == "Thu, 04 Mar 2027 05:06:07 GMT"
    assert client.get("/v1/services", headers={**READ, **session}).headers["Date"] == "Thu, 04 Mar 2027 05:06:07 GMT"
    assert client.get("/_sandbox/clock", headers=session).headers["Date"] == "Thu, 04 Mar 2027 05:06:07 GMT"
    assert client.get("/v1/services", headers=READ).headers["Date"] == FROZEN  # the default session's


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"])
def test_the_ends_of_the_calendar_are_dates_too(client, moment: str) -> None:
    assert client.put("/_sandbox/clock", json={"now": moment}).status_code == 200
    date = client.get("/v1/services", headers=READ).headers["Date"]
    assert date == {"0": "Mon, 01 Jan 0001 00:00:00 GMT", "9": "Fri, 31 Dec 9999 23:59:59 GMT"}[moment[0]]


def test_a_world_on_real_time_answers_with_real_time(make_client) -> None:
    world = {**SMALL_WORLD}
    world.pop("clock")
    before = datetime.now(UTC).replace(microsecond=0)
    said = parsedate_to_datetime(make_client(world).get("/_sandbox/health").headers["Date"])
    assert before <= said <= datetime.now(UTC)


@pytest.mark.live
def test_through_waitress_the_sandboxs_date_is_the_only_one(live_server) -> None:
    server = live_server("--quiet")
    parts = urlsplit(server.url)
    for path in ("/v1/services", "/_sandbox/health", "/v1/nowhere"):
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            connection.request("GET", path, headers=READ)
            response = connection.getresponse()
            response.read()
            dates = [value for name, value in response.getheaders() if name.lower() == "date"]
        finally:
            connection.close()
        assert dates == [FROZEN], path
