"""A PATCH's answer and the stored state always agree, on the served sandbox (waitress), whatever
the field names and values: a 200 means the change was stored, anything else means nothing
changed, and the journal records what was sent.

The bug this guards against: a header built from request field names that the server could not
encode turned a stored change into a 500. In process the answer was 200; only a real server
refused to send it. So these requests go to `huskyvoice-sandbox serve`, and each answer is also
checked against openapi.yaml (the X-Sandbox-Ignored-Fields header's pattern and length included).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from helpers import DOC_ID, WRITE_KEY, LiveServer, appointment_in

pytestmark = pytest.mark.live

URL = f"/v1/appointments/{DOC_ID}"
HEADER = "X-Sandbox-Ignored-Fields"
CONTROL = "\x00\x01\x07\x08\t\n\r\x1b[31m\x7f\x85\u2028"

# name: the body sent. Each moves the appointment somewhere visible (status, doctor or notes),
# so "stored" and "not stored" can be told apart.
BODIES: dict[str, dict[str, Any]] = {
    "the reported case: a 513-character name": {"status": "cancelled", "a" * 513: 1},
    "a whole object sent back, with 100 extra keys": {
        "assigned_doctor": "Dr. Rao", **{f"extra_field_{i:03}": i for i in range(100)}},
    "2,000 extra keys": {"notes": "many", **{f"k{i}": None for i in range(2000)}},
    "a 60,000-character name": {"status": "completed", "n" * 60_000: 1},
    "non-ASCII names": {"notes": "x", "naïve": 1, "日本語": 2, "🦊": 3, "\u2026": 4},
    "control characters in names": {"notes": "y", CONTROL: 1, "tab\there": 2, "\x00": 3},
    "commas, spaces and backslashes in names": {"notes": "z", "a,b": 1, " lead": 2,
                                                "trail ": 3, "back\\slash": 4, " ": 5},
    "a name that looks like a header line": {"notes": "w", "x\r\nSet-Cookie: a=b": 1},
    "non-ASCII and control characters in values": {
        "assigned_doctor": "Dr. Ünal 🦊\u2026", "notes": f"line one\nline two {CONTROL}"},
    "the longest values the spec allows": {"assigned_doctor": "é" * 200, "notes": "\u2026" * 2000},
    "a value one over its limit": {"assigned_doctor": "é" * 201, "never": 1},
    "an unknown field alone, with a long non-ASCII name": {"ü" * 300: 1},
    "a reschedule to a full slot, with odd names": {
        "appointment_date": "2026-06-16T10:00:00.000Z", "ü\n" * 40: 1},
}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer("--quiet")
    yield live
    live.stop()


def control(server: LiveServer, method: str, path: str) -> Any:
    response = requests.request(method, server.url + path, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def stored(server: LiveServer) -> dict[str, Any]:
    """The appointment as the world dump holds it (notes included)."""
    return appointment_in(control(server, "GET", "/_sandbox/world"), DOC_ID)


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_the_answer_and_the_stored_state_agree(server: LiveServer, checked_http, body) -> None:
    control(server, "POST", "/_sandbox/reset")
    control(server, "DELETE", "/_sandbox/requests")
    before = stored(server)
    sent = json.dumps(body, ensure_ascii=False).encode("utf-8")
    response = checked_http("PATCH", server.url + URL, data=sent, headers={
        "Authorization": f"Bearer {WRITE_KEY}", "Content-Type": "application/json"})
    after = stored(server)
    assert response.status_code < 500, response.text

    if response.status_code == 200:
        data = response.json()["data"]
        updatable = {k: v for k, v in body.items() if k in ("status", "assigned_doctor", "notes")}
        assert {k: after[k] for k in updatable} == updatable  # stored as sent, byte for byte
        assert {k: data[k] for k in updatable if k != "notes"} == \
            {k: v for k, v in updatable.items() if k != "notes"}  # and answered as stored
        read = checked_http("GET", server.url + URL, headers={"Authorization": f"Bearer {WRITE_KEY}"})
        assert read.json()["data"] == data
    else:
        assert after == before, "a refused request changed the appointment"

    ignored = response.headers.get(HEADER)
    extra = [name for name in body if name not in (
        "status", "assigned_doctor", "notes", "appointment_date", "session", "batch")]
    if response.status_code != 400 and extra:
        assert ignored is not None and ignored.isascii() and ignored.isprintable()
        assert 0 < len(ignored) <= 512
    patch = control(server, "GET", "/_sandbox/requests")[0]  # then the GET, if one was sent
    assert (patch["method"], patch["response"]["status"]) == ("PATCH", response.status_code)
    assert patch["response"]["headers"].get(HEADER) == ignored


def test_the_reported_case_answers_200_and_names_the_field_within_bounds(server, checked_http) -> None:
    """The reproduction from the report, as curl sent it."""
    control(server, "POST", "/_sandbox/reset")
    name = "a" * 513
    response = checked_http("PATCH", server.url + URL, data=f'{{"status":"cancelled","{name}":1}}',
                            headers={"Authorization": f"Bearer {WRITE_KEY}",
                                     "Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "cancelled"
    assert response.headers[HEADER] == "a" * 61 + "..."  # the name clipped at 64 characters


def test_names_that_do_not_fit_are_counted(server, checked_http) -> None:
    control(server, "POST", "/_sandbox/reset")
    body = {"notes": "x", **{f"field_{i:04}": i for i in range(300)}}
    response = checked_http("PATCH", server.url + URL, json=body,
                            headers={"Authorization": f"Bearer {WRITE_KEY}"})
    value = response.headers[HEADER]
    shown = value.split(", ")
    assert shown[0] == "field_0000" and shown[-1].startswith("... (+")
    assert len(shown) - 1 + int(shown[-1][len("... (+"):-len(" more)")]) == 300
    assert len(value) <= 512


@pytest.mark.parametrize("name, shown", [
    ("naïve", "na\\xefve"), ("🦊", "\\U0001f98a"), ("a,b", "a\\x2cb"), (" lead", "\\x20lead"),
    ("back\\slash", "back\\\\slash"), ("x\r\ny", "x\\r\\ny"), ("\x00", "\\x00"),
], ids=["latin-1", "emoji", "comma", "edge space", "backslash", "CRLF", "NUL"])
def test_each_name_is_shown_escaped(server, checked_http, name: str, shown: str) -> None:
    control(server, "POST", "/_sandbox/reset")
    response = checked_http("PATCH", server.url + URL, json={"notes": "x", name: 1},
                            headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert response.status_code == 200
    assert response.headers[HEADER] == shown
