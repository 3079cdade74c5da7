"""Forced responses: `/_sandbox/forced-responses` rules and the X-Sandbox-Force header make the
next matching API requests answer with a response openapi.yaml documents (an example, or a
conforming body, with the documented headers), after a delay, or not at all.

Every response to `client` is checked against openapi.yaml by the contract-checking test client
(a bad X-Sandbox-Force header's 400 included: every operation documents it).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from huskyvoice_sandbox.session.forcing import ConnectionDropped, ForcedResponses, build
from huskyvoice_sandbox.spec.contract import Contract
from huskyvoice_sandbox.web.pipeline import flask_rule

from helpers import (
    DOC_ID,
    OTHER_ORG_KEY,
    REMOTE,
    WRITE_KEY,
    appointment_in,
    check_response,
    error_of,
    sample_request,
)
from wire import exchange_raw

CONTRACT = Contract()  # module level: the parametrization below is read from the spec
DOCUMENTED = [(operation, status) for operation, responses in CONTRACT.responses.items()
              for status in responses]
SLOT_CONFLICTS = list(CONTRACT.responses["updateAppointment"][409].examples)

FORCED = "/_sandbox/forced-responses"
FORCE = "X-Sandbox-Force"
SESSION = "X-Sandbox-Session"
APPT = f"/v1/appointments/{DOC_ID}"
OTHER_APPT = "appt_b2c3d4e5f6"  # also org_demo's
LAKEVIEW = "/v1/appointments/appt_9z8y7x6w5v"  # org_lakeview: 5 requests a minute
WRITE = {"Authorization": f"Bearer {WRITE_KEY}"}
RESCHEDULE = {"appointment_date": "2026-06-15T14:30:00.000Z"}  # a free Monday afternoon place
DELAY_MS = 150


# -- helpers ------------------------------------------------------------------------------------

def control(session: str | None = None) -> dict[str, str]:
    return {SESSION: session} if session else {}


def data(response: Any) -> Any:
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()["data"]


def force(client: FlaskClient, session: str | None = None, **rule: Any) -> dict[str, Any]:
    """Add a rule; its view."""
    response = client.post(FORCED, json=rule, headers=control(session))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["data"]


def pending(client: FlaskClient, session: str | None = None) -> list[dict[str, Any]]:
    return data(client.get(FORCED, headers=control(session)))


def journal(client: FlaskClient, session: str | None = None) -> list[dict[str, Any]]:
    return data(client.get("/_sandbox/requests", headers=control(session)))


def details(error: dict[str, Any]) -> list[tuple[str, str]]:
    return [(detail["location"], detail["message"]) for detail in error["details"]]


def refused(client: FlaskClient, rule: Any) -> list[tuple[str, str]]:
    """POST a rule that must be refused: its located details; nothing may have been added."""
    before = pending(client)
    sent = client.post(FORCED, data=json.dumps(rule), content_type="application/json")
    error = error_of(sent, 400, "VALIDATION_ERROR")
    assert error["message"]
    assert pending(client) == before
    return details(error)


def header_refused(client: FlaskClient, value: str, method: str = "GET") -> list[tuple[str, str]]:
    body = {"json": {"notes": "x"}} if method == "PATCH" else {}
    response = client.open(APPT, method=method, headers={**WRITE, FORCE: value}, **body)
    return details(error_of(response, 400, "VALIDATION_ERROR"))


def documented(operation: str) -> str:
    return ", ".join(map(str, CONTRACT.responses[operation]))


def mark(**changes: Any) -> dict[str, Any]:
    """How the journal marks a forced request (by default: forced by the header, no delay)."""
    return {"via": "header", "rule": None, "status": None, "example": None, "delay_ms": 0,
            "drop": False, **changes}


# -- 1. every documented response can be forced -------------------------------------------------

@pytest.mark.live
def test_every_documented_response_can_be_forced(live_server, contract) -> None:
    """Every (operation, status) of the spec, forced on a served sandbox both ways: by a rule of
    the control API (its view, then the answer to a request without a key, which uses it up)
    and by the X-Sandbox-Force header (on a request with a valid key). Each answer is the
    status, the first example's body and the documented headers, valid for the operation over
    real HTTP (check_response).

    One test of all the pairs on one server, each pair in a session of its own (so each rule is
    its session's force_1, and nothing is left from the pair before), every failure collected
    with its pair: the pairs were once a test each, in process here and again served by the
    header in test_own_answers.py, two tests of the same forcing, a server and an app apiece."""
    server = live_server("--quiet")
    failures: list[str] = []
    with requests.Session() as http:

        def exchange(method: str, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
            response = http.request(method, server.url + path, data=body or None, timeout=10,
                                    headers={"Content-Type": "application/json", **headers})
            check_response(contract, method, path.split("?")[0], response.status_code, response.headers,
                           response.content)
            return response

        for number, (operation, status) in enumerate(DOCUMENTED):
            pair, session = f"{operation} {status}", {SESSION: f"pair-{number}"}
            response_doc = CONTRACT.responses[operation][status]
            first = next(iter(response_doc.examples))
            required = {h.name: str(h.example) for h in response_doc.headers.values() if h.required}
            method, path, body = sample_request(contract, operation)
            try:
                added = exchange("POST", FORCED, json.dumps({"operation": operation, "status": status}).encode(),
                                 session)
                assert added.status_code == 201, added.text
                assert added.json()["data"] == {
                    "id": "force_1", "operation": operation, "appointment_id": None, "remaining": 1,
                    "status": status, "example": first, "delay_ms": 0, "drop": False}
                by_rule = exchange(method, path, body, session)  # no key: a forced answer needs none
                by_header = exchange(method, path, body, {**session, **WRITE, FORCE: f"status={status}"})
                for how, response in (("rule", by_rule), ("header", by_header)):
                    assert response.status_code == status, f"by {how}: {response.text[:300]}"
                    assert response.json() == response_doc.examples[first], f"by {how}: {response.text[:300]}"
                    assert {name: response.headers.get(name) for name in required} == required, f"by {how}"
                assert exchange("GET", FORCED, b"", session).json()["data"] == []
            except AssertionError as failed:  # check_response's ContractViolation too
                failures.append(f"{pair}: {failed}")
    assert not failures, f"{len(failures)} of {len(DOCUMENTED)} pairs failed:\n" + "\n".join(failures)


def test_the_spec_examples_headers_are_what_forced_answers_send(client) -> None:
    """The two documented headers, spelled out (the parametrized test reads them from the spec)."""
    force(client, operation="getAppointment", status=429)
    force(client, operation="updateAppointment", status=401)
    assert client.get(APPT).headers["Retry-After"] == "12"
    assert client.patch(APPT, json={}).headers["WWW-Authenticate"] == 'Bearer realm="huskyvoice"'


@pytest.mark.parametrize("example", SLOT_CONFLICTS)
def test_every_named_409_example_is_selectable(client, example: str) -> None:
    rule = force(client, operation="updateAppointment", status=409, example=example)
    assert rule["example"] == example
    response = client.patch(APPT, json=RESCHEDULE, headers=WRITE)
    assert response.status_code == 409
    assert response.get_json() == CONTRACT.responses["updateAppointment"][409].examples[example]
    assert response.get_json()["error"]["code"] == example


# -- 2. undocumented statuses are refused -------------------------------------------------------

def also(status: int) -> str:
    """The hint a refusal adds: which operations do document the status."""
    return f" (the operations that document {status}: " + ", ".join(
        op for op in CONTRACT.operations if status in CONTRACT.responses[op]) + ")"


def test_a_status_the_named_operation_does_not_document_is_refused(client) -> None:
    assert refused(client, {"operation": "getAppointment", "status": 409}) == [
        ("body.status", f"getAppointment does not document 409; it documents {documented('getAppointment')}"
                        + also(409))]


def test_a_rule_without_an_operation_matches_the_operations_that_document_its_status(client) -> None:
    rule = force(client, status=409)  # createAppointment and updateAppointment document it
    assert rule["operation"] is None and rule["example"] == "SLOT_FULL"
    assert client.get(APPT, headers=WRITE).status_code == 200  # getAppointment cannot answer 409
    assert [r["remaining"] for r in pending(client)] == [1]
    error_of(client.patch(APPT, json={"notes": "x"}, headers=WRITE), 409, "SLOT_FULL")
    assert pending(client) == []


@pytest.mark.parametrize("status", [418, 302])
def test_a_status_no_operation_documents_is_refused(client, status: int) -> None:
    every = sorted({s for responses in CONTRACT.responses.values() for s in responses})
    assert refused(client, {"status": status}) == [
        ("body.status", f"no operation of the spec documents {status}; "
                        f"they document {', '.join(map(str, every))}")]
    assert refused(client, {"operation": "updateAppointment", "status": status}) == [
        ("body.status", f"updateAppointment does not document {status}; "
                        f"it documents {documented('updateAppointment')}")]
    assert pending(client) == []


# -- 3. times -----------------------------------------------------------------------------------

def test_times_forces_exactly_n_answers_then_real_ones(client) -> None:
    rule = force(client, operation="getAppointment", status=404, times=3)
    assert rule["remaining"] == 3
    for left in (2, 1, 0):
        error_of(client.get(APPT, headers=WRITE), 404, "NOT_FOUND")
        assert [r["remaining"] for r in pending(client)] == ([left] if left else [])
    assert client.get(APPT, headers=WRITE).status_code == 200
    assert [e["forced"] and e["forced"]["rule"] for e in journal(client)] == ["force_1"] * 3 + [None]


def test_concurrent_requests_take_exactly_times_answers(app) -> None:
    force(app.test_client(), operation="getAppointment", status=500, times=5)
    clients = [app.test_client() for _ in range(20)]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def hit(client: FlaskClient) -> None:
        start.wait()
        statuses.append(client.get(APPT, headers=WRITE).status_code)

    threads = [threading.Thread(target=hit, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(statuses) == [200] * 15 + [500] * 5
    entries = journal(app.test_client())
    assert len(entries) == 20
    forced = [e for e in entries if e["forced"]]
    assert len(forced) == 5
    assert {(e["forced"]["rule"], e["response"]["status"]) for e in forced} == {("force_1", 500)}
    assert pending(app.test_client()) == []


# -- 4. matching --------------------------------------------------------------------------------

def test_a_rule_for_one_operation_leaves_the_other_alone(client) -> None:
    force(client, operation="updateAppointment", status=409, example="SLOT_FULL")
    assert client.get(APPT, headers=WRITE).status_code == 200
    assert [r["remaining"] for r in pending(client)] == [1]
    error_of(client.patch(APPT, json={"notes": "x"}, headers=WRITE), 409, "SLOT_FULL")
    assert pending(client) == []


def test_a_rule_for_one_appointment_leaves_the_others_alone(client) -> None:
    rule = force(client, appointment_id=OTHER_APPT, status=404)
    assert rule["appointment_id"] == OTHER_APPT and rule["operation"] is None
    assert client.get(APPT, headers=WRITE).status_code == 200
    assert client.patch(APPT, json={"notes": "x"}, headers=WRITE).status_code == 200
    assert [r["remaining"] for r in pending(client)] == [1]
    error_of(client.get(f"/v1/appointments/{OTHER_APPT}", headers=WRITE), 404, "NOT_FOUND")  # it exists
    assert client.get(f"/v1/appointments/{OTHER_APPT}", headers=WRITE).status_code == 200


def test_a_rule_affects_only_its_own_session(client) -> None:
    force(client, session="a", status=500, times=2)
    assert pending(client) == [] and pending(client, "b") == []
    assert client.get(APPT, headers=WRITE).status_code == 200
    assert client.get(APPT, headers={**WRITE, SESSION: "b"}).status_code == 200
    assert [r["remaining"] for r in pending(client, "a")] == [2]
    error_of(client.get(APPT, headers={**WRITE, SESSION: "a"}), 500, "INTERNAL_ERROR")
    assert [e["forced"] for e in journal(client)] == [None]
    assert [e["forced"]["rule"] for e in journal(client, "a")] == ["force_1"]
    assert [r["remaining"] for r in pending(client, "a")] == [1]


def test_the_first_rule_added_is_the_first_matched(client) -> None:
    force(client, status=404)
    force(client, status=500)
    force(client, operation="updateAppointment", status=422)
    error_of(client.patch(APPT, json={}, headers=WRITE), 404, "NOT_FOUND")
    error_of(client.get(APPT, headers=WRITE), 500, "INTERNAL_ERROR")
    error_of(client.get(APPT), 401, "UNAUTHORIZED")  # the 422 rule does not match a GET
    error_of(client.patch(APPT, json={}), 422, "OUTSIDE_AVAILABILITY")
    assert [e["forced"] and e["forced"]["rule"] for e in journal(client)] == [
        "force_1", "force_2", None, "force_3"]


# -- 5. a forced answer changes nothing ---------------------------------------------------------

def test_a_forced_200_on_a_reschedule_leaves_the_world_unchanged(client, dump) -> None:
    before = dump(client)
    force(client, operation="updateAppointment", status=200)
    response = client.patch(APPT, json=RESCHEDULE, headers=WRITE)
    assert response.status_code == 200
    assert response.get_json() == CONTRACT.responses["updateAppointment"][200].examples["documented"]
    assert dump(client) == before
    real = client.patch(APPT, json=RESCHEDULE, headers=WRITE)  # the same request, unforced
    assert real.get_json()["data"]["session"] == "Afternoon"
    assert appointment_in(dump(client), DOC_ID)["session"] == "Afternoon"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk_test_nobody"},
                                     {"Authorization": "Basic xyz"}])
def test_a_forced_answer_needs_no_valid_key(client, headers: dict[str, str]) -> None:
    force(client, status=200, times=2)
    assert client.get(APPT, headers=headers).status_code == 200
    assert client.patch(APPT, json={"appointment_date": "not a date"}, headers=headers).status_code == 200
    assert [e["organization"] for e in journal(client)] == [None, None]  # no key was checked


def test_a_forced_answer_skips_validation_even_of_a_non_json_body(client) -> None:
    force(client, operation="updateAppointment", status=403)
    response = client.patch(APPT, data="{not json", content_type="text/plain")
    error_of(response, 403, "INSUFFICIENT_SCOPE")


def test_forced_answers_are_not_counted_by_the_rate_limiter(client) -> None:
    limited = {"Authorization": f"Bearer {OTHER_ORG_KEY}"}
    force(client, operation="getAppointment", status=200, times=8)
    for _ in range(8):
        assert client.get(LAKEVIEW, headers=limited).status_code == 200
    assert pending(client) == []
    for _ in range(5):  # org_lakeview allows 5 a minute: all five are still there
        assert client.get(LAKEVIEW, headers=limited).get_json()["data"]["patient_name"] == "Rohan"
    error_of(client.get(LAKEVIEW, headers=limited), 429, "RATE_LIMIT_EXCEEDED")


# -- 6. custom bodies and headers ---------------------------------------------------------------

def test_a_conforming_body_is_sent_as_given(client) -> None:
    body = {"success": False, "error": {"code": "SLOT_FULL", "message": "Nothing left on Tuesday."}}
    rule = force(client, operation="updateAppointment", status=409, body=body)
    assert rule["example"] is None
    response = client.patch(APPT, json=RESCHEDULE, headers=WRITE)
    assert response.status_code == 409 and response.get_json() == body
    assert journal(client)[-1]["forced"] == mark(via="control", rule="force_1", status=409)
    assert journal(client)[-1]["response"]["body"] == body


@pytest.mark.parametrize(("rule", "expected"), [
    ({"operation": "updateAppointment", "status": 409, "body": {"success": True}},
     [("body.body", "'error' is a required property"), ("body.body.success", "False was expected")]),
    ({"operation": "updateAppointment", "status": 409,
      "body": {"success": False, "error": {"code": "NOPE", "message": "m"}}},
     [("body.body.error.code", "must be one of SLOT_FULL, SLOT_INACTIVE, DUPLICATE_BOOKING, "
                               "CANCELLATION_NOT_ALLOWED, CANCELLATION_NOTICE_PERIOD")]),
    # Without an operation, the body must fit every operation that documents a 200.
    ({"status": 200, "body": {"success": True}}, [
        ("body.body", "'data' is a required property"), ("body.body", "'pagination' is a required property"),
        ("body.body", "'date' is a required property"), ("body.body", "'slots' is a required property"),
        ("body.body", "'date_from' is a required property"), ("body.body", "'date_to' is a required property")]),
    ({"operation": "getAppointment", "status": 404, "body": None},
     [("body.body", "must be of type object, got NoneType")]),
], ids=["409-wrong-shape", "409-unknown-code", "200-no-data-for-any", "404-null"])
def test_a_body_that_does_not_conform_is_refused(client, rule: dict[str, Any],
                                                  expected: list[tuple[str, str]]) -> None:
    assert refused(client, rule) == expected


@pytest.mark.parametrize("value", ["30", 30, " 30 "])
def test_retry_after_can_be_overridden(client, value: Any) -> None:
    force(client, operation="getAppointment", status=429, headers={"Retry-After": value})
    response = client.get(APPT, headers=WRITE)
    assert response.status_code == 429 and response.headers["Retry-After"] == "30"
    assert journal(client)[-1]["response"]["headers"] == {"Retry-After": "30"}


def test_header_names_are_matched_case_blind_and_sent_as_documented(client) -> None:
    force(client, operation="updateAppointment", status=401, headers={"www-authenticate": "Bearer"})
    force(client, operation="updateAppointment", status=200, headers={"X-Sandbox-Ignored-Fields": "colour"})
    assert client.patch(APPT, json={}).headers["WWW-Authenticate"] == "Bearer"
    assert client.patch(APPT, json={}).headers["X-Sandbox-Ignored-Fields"] == "colour"


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Retry-After": 0}, [("body.headers.Retry-After", "0 is less than the minimum of 1")]),
    ({"Retry-After": "0"}, [("body.headers.Retry-After", "0 is less than the minimum of 1")]),
    ({"Retry-After": "soon"}, [("body.headers.Retry-After", "must be of type integer, got str")]),
    ({"X-Custom": "1"}, [("body.headers.X-Custom", "is not documented for getAppointment 429 "
                                                   "(documented: Retry-After)")]),
])
def test_bad_header_values_and_undocumented_headers_are_refused(client, headers, expected) -> None:
    assert refused(client, {"operation": "getAppointment", "status": 429, "headers": headers}) == expected


def test_headers_on_a_response_that_documents_none_are_refused(client) -> None:
    assert refused(client, {"operation": "updateAppointment", "status": 409, "headers": {"X-Custom": "1"}}) == [
        ("body.headers.X-Custom", "is not documented for updateAppointment 409 (documented: none)")]


def test_an_unknown_example_is_refused_listing_the_names(client) -> None:
    assert refused(client, {"operation": "updateAppointment", "status": 409, "example": "NOPE"}) == [
        ("body.example", f"updateAppointment 409 has no example 'NOPE'; it has {', '.join(SLOT_CONFLICTS)}")]


# -- 7. the shape of the control request --------------------------------------------------------

NEEDS_SOMETHING = ("body", "say what to force: a status, a delay_ms of at least 1, or drop: true")


@pytest.mark.parametrize(("rule", "expected"), [
    ([], [("body", "must be of type object, got list")]),
    ("x", [("body", "must be of type object, got str")]),
    (None, [("body", "must be of type object, got NoneType")]),
    ({"status": 500, "color": "red"}, [("body", "unknown field 'color'")]),
    ({"status": 500, "color": "red", "size": 1}, [("body", "unknown fields 'color', 'size'")]),
    ({"status": "500"}, [("body.status", "must be of type integer, got str")]),
    ({"status": 500, "times": "2"}, [("body.times", "must be of type integer, got str")]),
    ({"status": 500, "times": True}, [("body.times", "must be of type integer, got bool")]),
    ({"drop": "yes"}, [("body.drop", "must be of type boolean, got str")]),
    ({"status": 429, "headers": []}, [("body.headers", "must be of type object, got list")]),
    ({"status": 500, "operation": 7}, [("body.operation", "must be of type string, got int")]),
    ({"status": 500, "appointment_id": ""}, [("body.appointment_id", "'' should be non-empty")]),
    ({"example": "SLOT_FULL"}, [("body.example", "needs a status"), NEEDS_SOMETHING]),
    ({"body": {}}, [("body.body", "needs a status"), NEEDS_SOMETHING]),
    ({"delay_ms": 5, "headers": {"Retry-After": 3}}, [("body.headers", "needs a status")]),
    ({"operation": "updateAppointment", "status": 409, "example": "SLOT_FULL", "body": {}},
     [("body.body", "send an example's name or a body, not both")]),
    ({"status": 500, "drop": True}, [("body.drop", "a dropped connection has no status; send one or the other")]),
    ({}, [NEEDS_SOMETHING]),
    ({"operation": "getAppointment", "times": 3}, [NEEDS_SOMETHING]),
    ({"drop": False}, [NEEDS_SOMETHING]),
    ({"operation": "nope", "status": 500},
     [("body.operation", "'nope' is not an operation of the spec; expected one of "
                         + ", ".join(CONTRACT.operations))]),
    ({"status": 500, "times": 0}, [("body.times", "0 is less than the minimum of 1")]),
    ({"delay_ms": 60001}, [("body.delay_ms", "60001 is greater than the maximum of 60000")]),
    ({"delay_ms": -1}, [("body.delay_ms", "-1 is less than the minimum of 0")]),
    ({"status": 99}, [("body.status", "99 is less than the minimum of 100")]),
])
def test_a_malformed_rule_is_a_located_400(client, rule: Any, expected: list[tuple[str, str]]) -> None:
    assert refused(client, rule) == expected


def test_a_rule_that_is_not_json_is_refused(client) -> None:
    error = error_of(client.post(FORCED, data="status=500", content_type="text/plain"), 400, "VALIDATION_ERROR")
    assert details(error) == [("header.Content-Type", "must be application/json, got text/plain")]


def test_at_most_64_rules_are_pending_per_session(client) -> None:
    for n in range(64):
        force(client, operation="getAppointment", appointment_id=f"appt_{n}", status=404)
    error = error_of(client.post(FORCED, json={"status": 500}), 400, "VALIDATION_ERROR")
    assert error["message"] == "This session already has 64 forced responses pending; delete some first."
    assert details(error) == [("body", "at most 64 pending")]
    assert len(pending(client)) == 64
    assert force(client, session="other", status=500)["id"] == "force_1"  # another session's own 64
    data(client.delete(f"{FORCED}/force_7"))
    assert force(client, status=500)["id"] == "force_65"  # the refused one took no id  # ids are not reused


# -- 8. delay -----------------------------------------------------------------------------------

def test_a_delay_alone_waits_then_handles_the_request_as_usual(client, dump) -> None:
    force(client, operation="updateAppointment", delay_ms=DELAY_MS, times=2)
    started = time.perf_counter()
    response = client.patch(APPT, json=RESCHEDULE, headers=WRITE)
    assert time.perf_counter() - started >= DELAY_MS / 1000
    assert response.status_code == 200 and response.get_json()["data"]["session"] == "Afternoon"
    assert appointment_in(dump(client), DOC_ID)["session"] == "Afternoon"  # really handled
    error_of(client.patch(APPT, json=RESCHEDULE), 401, "UNAUTHORIZED")  # so still needs a key
    entries = journal(client)
    assert [e["response"]["status"] for e in entries] == [200, 401]
    assert entries[0]["duration_ms"] >= DELAY_MS
    assert entries[0]["forced"] == mark(via="control", rule="force_1", delay_ms=DELAY_MS)


def test_a_delay_with_a_status_waits_then_answers_as_forced(client) -> None:
    force(client, operation="getAppointment", status=500, delay_ms=DELAY_MS)
    started = time.perf_counter()
    error_of(client.get(APPT, headers=WRITE), 500, "INTERNAL_ERROR")
    assert time.perf_counter() - started >= DELAY_MS / 1000
    assert journal(client)[-1]["duration_ms"] >= DELAY_MS


# -- 9. drop ------------------------------------------------------------------------------------

def test_a_drop_in_process_raises_connection_dropped_and_changes_nothing(client, dump) -> None:
    before = dump(client)
    force(client, operation="updateAppointment", drop=True)
    with pytest.raises(ConnectionDropped):
        client.patch(APPT, json=RESCHEDULE, headers=WRITE)
    assert dump(client) == before
    (entry,) = journal(client)
    assert entry["response"] == {"status": None, "code": None, "headers": {}, "body": None}
    assert entry["forced"] == mark(via="control", rule="force_1", drop=True)
    assert entry["operation"] == "updateAppointment"
    assert client.patch(APPT, json=RESCHEDULE, headers=WRITE).status_code == 200  # the next one answers


def test_a_served_drop_closes_the_connection_and_the_server_keeps_serving(live_server, checked_http) -> None:
    server = live_server()
    url = f"{server.url}{APPT}"
    with requests.Session() as http:  # a kept-alive connection, then a dropped one
        assert http.get(url, headers=WRITE, timeout=10).status_code == 200
        with pytest.raises(requests.ConnectionError):
            http.get(url, headers={**WRITE, FORCE: "drop"}, timeout=10)
        assert http.get(url, headers=WRITE, timeout=10).status_code == 200
    checked_http("POST", f"{server.url}{FORCED}", json={"drop": True, "delay_ms": DELAY_MS})
    started = time.perf_counter()
    with pytest.raises(requests.ConnectionError):
        requests.patch(url, json=RESCHEDULE, headers=WRITE, timeout=10)
    assert time.perf_counter() - started >= DELAY_MS / 1000
    answered = checked_http("GET", url, headers=WRITE)  # a new connection
    assert answered.status_code == 200 and answered.json()["data"]["session"] == "Morning"
    entries = checked_http("GET", f"{server.url}/_sandbox/requests").json()["data"]
    assert [(e["method"], e["response"]["status"], e["forced"]) for e in entries] == [
        ("GET", 200, None),
        ("GET", None, mark(drop=True)),
        ("GET", 200, None),
        ("PATCH", None, mark(via="control", rule="force_1", delay_ms=DELAY_MS, drop=True)),
        ("GET", 200, None),
    ]
    assert entries[3]["duration_ms"] >= DELAY_MS


@pytest.mark.parametrize("connection", ["keep-alive", "close"])
def test_a_served_drop_sends_not_one_byte_and_closes_at_once(live_server, connection) -> None:
    """Byte for byte: nothing at all, and closed now, not when the kept-alive connection's
    idle time ends (uWSGI's router holds the client's side: serve/uwsgi_worker.py)."""
    server = live_server()
    request = (f"GET {APPT} HTTP/1.1\r\nHost: x\r\nConnection: {connection}\r\n"
               f"Authorization: Bearer {WRITE_KEY}\r\n{FORCE}: drop\r\n\r\n").encode()
    started = time.perf_counter()
    assert exchange_raw(server.port, request, timeout=5) == b""
    assert time.perf_counter() - started < 2.0


def test_a_served_delay_and_forced_answer_arrive_over_http(live_server, checked_http) -> None:
    server = live_server()
    url = f"{server.url}{APPT}"
    started = time.perf_counter()
    slow = checked_http("GET", url, headers={**WRITE, FORCE: f"delay_ms={DELAY_MS}"})
    assert time.perf_counter() - started >= DELAY_MS / 1000 and slow.status_code == 200
    limited = checked_http("PATCH", url, json={}, headers={FORCE: "status=429"})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "12"
    assert limited.json() == CONTRACT.responses["updateAppointment"][429].examples["RATE_LIMIT_EXCEEDED"]


# -- 10. the X-Sandbox-Force header -------------------------------------------------------------

def test_a_header_forces_its_own_request_without_consuming_a_rule(client) -> None:
    force(client, status=500)
    response = client.get(APPT, headers={FORCE: "status=429"})
    assert response.status_code == 429 and response.headers["Retry-After"] == "12"
    assert response.get_json() == CONTRACT.responses["getAppointment"][429].examples["RATE_LIMIT_EXCEEDED"]
    assert [r["remaining"] for r in pending(client)] == [1]
    error_of(client.get(APPT, headers=WRITE), 500, "INTERNAL_ERROR")  # the rule, still there
    assert client.get(APPT, headers=WRITE).status_code == 200  # the header was for one request


@pytest.mark.parametrize("example", SLOT_CONFLICTS)
def test_a_header_selects_a_named_example(client, example: str) -> None:
    response = client.patch(APPT, json=RESCHEDULE, headers={FORCE: f"status=409, example={example}"})
    assert response.get_json() == CONTRACT.responses["updateAppointment"][409].examples[example]
    assert journal(client)[-1]["forced"] == mark(status=409, example=example)


def test_header_delay_and_drop(client) -> None:
    started = time.perf_counter()
    assert client.get(APPT, headers={**WRITE, FORCE: f"delay_ms={DELAY_MS}"}).status_code == 200
    assert time.perf_counter() - started >= DELAY_MS / 1000
    with pytest.raises(ConnectionDropped):
        client.get(APPT, headers={**WRITE, FORCE: "drop"})
    with pytest.raises(ConnectionDropped):
        client.get(APPT, headers={**WRITE, FORCE: "drop=true"})
    assert [e["forced"] for e in journal(client)] == [
        mark(delay_ms=DELAY_MS), mark(drop=True), mark(drop=True)]


HEADER = f"header.{FORCE}"


@pytest.mark.parametrize(("value", "expected"), [
    ("", [(HEADER, "expected e.g. status=429")]),
    (" , ", [(HEADER, "expected e.g. status=429")]),
    ("status=abc", [(f"{HEADER}.status", "must be of type integer, got str")]),
    ("status", [(f"{HEADER}.status", "must be of type integer, got NoneType")]),
    ("status=99", [(f"{HEADER}.status", "99 is less than the minimum of 100")]),
    ("times=3", [(HEADER, "expected status=N, example=NAME, delay_ms=N or drop; got 'times=3'; match by "
                          "operation or appointment, or send a body or headers, through the control API")]),
    ("status=409", [(f"{HEADER}.status", "getAppointment does not document 409; "
                                         f"it documents {documented('getAppointment')}" + also(409))]),
    ("example=SLOT_FULL", [(f"{HEADER}.example", "needs a status"),
                           (HEADER, "say what to force: a status, a delay_ms of at least 1, or drop: true")]),
    ("drop=maybe", [(f"{HEADER}.drop", "must be of type boolean, got str")]),
    ("drop=false", [(HEADER, "say what to force: a status, a delay_ms of at least 1, or drop: true")]),
    ("status=429, drop", [(f"{HEADER}.drop", "a dropped connection has no status; send one or the other")]),
    ("delay_ms=60001", [(f"{HEADER}.delay_ms", "60001 is greater than the maximum of 60000")]),
    ("status=429, example=NOPE", [(f"{HEADER}.example", "getAppointment 429 has no example 'NOPE'; "
                                                        "it has RATE_LIMIT_EXCEEDED")]),
])
def test_a_bad_header_on_a_get_is_a_located_400(client, value: str, expected: list[tuple[str, str]]) -> None:
    assert header_refused(client, value) == expected
    assert [e["forced"] for e in journal(client)] == [None]


def test_a_bad_header_on_a_patch_is_a_documented_400_and_consumes_nothing(client) -> None:
    force(client, status=500)
    assert header_refused(client, "status=409, example=NOPE", "PATCH") == [
        (f"{HEADER}.example", f"updateAppointment 409 has no example 'NOPE'; it has {', '.join(SLOT_CONFLICTS)}")]
    assert [r["remaining"] for r in pending(client)] == [1]


# -- 11. the journal marks forced requests ------------------------------------------------------

def test_the_journal_marks_how_each_request_was_answered(client) -> None:
    force(client, operation="updateAppointment", status=409, example="SLOT_INACTIVE")
    client.patch(APPT, json=RESCHEDULE, headers=WRITE)
    client.get(f"/v1/appointments/{OTHER_APPT}", headers=WRITE)
    client.get(APPT, headers={FORCE: "status=500"})
    client.get("/v1/no/such/path", headers=WRITE)
    entries = journal(client)
    assert [(e["method"], e["operation"], e["appointment_id"], e["response"]["status"], e["forced"])
            for e in entries] == [
        ("PATCH", "updateAppointment", DOC_ID, 409,
         mark(via="control", rule="force_1", status=409, example="SLOT_INACTIVE")),
        ("GET", "getAppointment", OTHER_APPT, 200, None),
        ("GET", "getAppointment", DOC_ID, 500, mark(status=500, example="INTERNAL_ERROR")),
        ("GET", None, None, 404, None),
    ]
    assert entries[0]["response"]["code"] == "SLOT_INACTIVE"
    assert entries[0]["organization"] is None  # no key was checked
    assert entries[1]["organization"] == "org_demo"


# -- 12. the control routes ---------------------------------------------------------------------

def test_rules_are_listed_deleted_one_by_one_and_cleared(client) -> None:
    first = force(client, operation="getAppointment", status=404, times=2)
    second = force(client, appointment_id=OTHER_APPT, delay_ms=10)
    third = force(client, drop=True)
    assert pending(client) == [first, second, third]
    assert second == {"id": "force_2", "operation": None, "appointment_id": OTHER_APPT, "remaining": 1,
                      "status": None, "example": None, "delay_ms": 10, "drop": False}
    assert data(client.delete(f"{FORCED}/force_2")) == {"deleted": "force_2"}
    assert pending(client) == [first, third]
    error = error_of(client.delete(f"{FORCED}/force_2"), 404, "NOT_FOUND")
    assert error["message"] == "No pending forced response force_2 in this session."
    error_of(client.delete(f"{FORCED}/force_1", headers=control("b")), 404, "NOT_FOUND")
    assert data(client.delete(FORCED)) == {"cleared": 2}
    assert pending(client) == []
    assert data(client.delete(FORCED)) == {"cleared": 0}
    assert client.get(APPT, headers=WRITE).status_code == 200


def test_reset_clears_pending_rules_of_its_session_only(client) -> None:
    force(client, status=500, times=3)
    force(client, session="b", status=500)
    data(client.post("/_sandbox/reset"))
    assert pending(client) == []
    assert [r["id"] for r in pending(client, "b")] == ["force_1"]
    assert client.get(APPT, headers=WRITE).status_code == 200


# -- found while writing these tests (fixed) -----------------------------------------------------

def test_a_superscript_digit_in_the_header_is_a_located_400(client) -> None:
    assert header_refused(client, "status=²") == [(f"{HEADER}.status", "must be of type integer, got str")]


def test_a_superscript_digit_in_a_header_value_is_a_located_400(client) -> None:
    assert refused(client, {"operation": "getAppointment", "status": 429, "headers": {"Retry-After": "²"}}) == [
        ("body.headers.Retry-After", "must be of type integer, got str")]


@pytest.mark.parametrize("value", ["Bearer\nrealm", "Bearer €"], ids=["newline", "non-latin-1"])
def test_a_header_value_http_cannot_carry_is_refused(client, value: str) -> None:
    rule = {"operation": "getAppointment", "status": 401, "headers": {"WWW-Authenticate": value}}
    assert [location for location, _ in refused(client, rule)] == ["body.headers.WWW-Authenticate"]


def test_a_forced_request_with_a_bad_session_name_is_a_located_400(app) -> None:
    app.config["TESTING"] = False  # served behaviour: an escaping error becomes a 500
    response = FlaskClient(app).patch(APPT, json={}, headers={FORCE: "status=429", SESSION: "a b"})
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert [location for location, _ in details(error)] == [f"header.{SESSION}"]


def test_the_journal_names_the_example_the_patch_was_answered_with(client) -> None:
    force(client, status=200)
    client.patch(APPT, json={}, headers=WRITE)
    assert journal(client)[-1]["forced"]["example"] == "documented"


def test_whole_numbers_written_as_floats_are_shown_as_integers(client) -> None:
    rule = force(client, status=429.0, times=2.0, delay_ms=0.0)
    assert (rule["status"], rule["remaining"], rule["delay_ms"]) == (429, 2, 0)
    assert json.dumps(pending(client)[0]).count(".0") == 0


# -- found in review (fixed) ----------------------------------------------------------------------



def test_the_header_is_a_control_feature_refused_to_remote_clients(client) -> None:
    response = client.get(APPT, headers={**WRITE, FORCE: "delay_ms=60000"}, environ_base=REMOTE)
    error = error_of(response, 400, "VALIDATION_ERROR")  # documented for every operation
    assert FORCE in error["message"] and "loopback" in error["message"]
    assert error["details"] == [{"location": f"header.{FORCE}", "message": "is a control feature"}]
    assert client.get(APPT, headers=WRITE, environ_base=REMOTE).status_code == 200  # the API itself is open


def test_with_an_admin_token_the_header_needs_it(make_app) -> None:
    client = make_app(admin_token="s3cret").test_client()  # every answer checked against the spec
    refused = client.get(APPT, headers={**WRITE, FORCE: "status=500"})  # even from loopback
    assert error_of(refused, 400, "VALIDATION_ERROR")["message"].startswith(f"The {FORCE} header needs the admin token")
    remote = {**WRITE, FORCE: "status=500", "X-Sandbox-Admin-Token": "s3cret"}
    assert client.get(APPT, headers=remote, environ_base=REMOTE).status_code == 500


@pytest.mark.parametrize("end", ["reset", "clear", "new world", "session deleted"])
def test_a_delay_under_way_ends_when_its_rules_are_cleared(make_app, end: str) -> None:
    app = make_app()
    session = {SESSION: "slow"}
    client = app.test_client()
    force(client, "slow", delay_ms=60_000)
    answers: list[int] = []
    waiting = threading.Thread(target=lambda: answers.append(
        app.test_client().get(APPT, headers={**WRITE, **session}).status_code))
    waiting.start()
    while not data(client.get("/_sandbox/requests", headers=session)) and waiting.is_alive() \
            and pending(client, "slow") != []:
        time.sleep(0.01)  # until the request has taken the rule
    if end == "reset":
        data(client.post("/_sandbox/reset", headers=session))
    elif end == "clear":
        data(client.delete(FORCED, headers=session))
    elif end == "new world":
        data(client.put("/_sandbox/world", json=client.get("/_sandbox/world").get_json()["data"], headers=session))
    else:
        data(client.delete("/_sandbox/sessions/slow"))
    waiting.join(timeout=10)  # the delay is 60 s: only a wake-up ends it this soon
    assert not waiting.is_alive() and answers == [200]


def test_a_clear_between_taking_a_rule_and_starting_its_delay_still_ends_it(contract) -> None:
    """The moment a request takes a rule and the moment its delay starts are apart: a reset in
    between must end the delay all the same (what ends it is taken with the rule)."""
    forced = ForcedResponses()
    forced.add(build({"operation": "getAppointment", "delay_ms": 60_000}, contract))
    taken = forced.take("getAppointment", None)
    assert taken is not None
    _rule, cut_short = taken
    forced.clear()  # a reset, before the delay starts
    started = time.monotonic()
    assert cut_short.wait(60)  # set already: the delay does not start
    assert time.monotonic() - started < 1
    assert forced.take("getAppointment", None) is None


def test_a_zero_delay_alone_forces_nothing(client) -> None:
    nothing = "say what to force: a status, a delay_ms of at least 1, or drop: true"
    assert refused(client, {"delay_ms": 0}) == [("body", nothing)]
    assert header_refused(client, "delay_ms=0") == [(HEADER, nothing)]


def test_a_header_field_given_twice_is_refused(client) -> None:
    assert header_refused(client, "status=500, status=200") == [(f"{HEADER}.status", "given twice; give it once")]


def test_a_status_with_too_many_digits_is_out_of_range(client) -> None:
    assert header_refused(client, "status=4290000000") == [
        (f"{HEADER}.status", "4290000000 is greater than the maximum of 599")]


def test_the_keys_endpoint_lists_the_sessions_keys(client) -> None:
    keys = data(client.get("/_sandbox/keys"))
    assert keys[1] == {"key": WRITE_KEY, "name": "read and write", "organization": "org_demo",
                       "scopes": ["appointments:read", "appointments:write", "slots:read", "slots:write"]}
    assert [k["organization"] for k in keys].count("org_lakeview") >= 1


def test_every_api_route_is_an_operation_of_the_spec(app, contract) -> None:
    """The journal's `operation` and forced-response matching read the route's endpoint, which
    is the spec's operationId: there is no map to keep."""
    routes = {rule.endpoint: rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/v1/")}
    assert set(routes) == {f"api.{op}" for op in contract.operations}
    paths = [op.path for op in contract.operations.values()]
    for endpoint, rule in routes.items():
        op = contract.operations[endpoint.removeprefix("api.")]
        assert (flask_rule(op.path, paths), op.method) in {(rule.rule, m) for m in rule.methods}
