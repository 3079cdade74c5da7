"""Appointment webhooks: what fires them (the voice agent and the dashboard, through the control
API; never a REST write), how they arrive at a real local receiver (signed, as openapi.yaml's
`webhooks` describe them), retries, a receiver that never answers, and what stops them."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import threading
import time
from typing import Any

import pytest
from huskyvoice_sandbox.domain.model import EVENTS
from huskyvoice_sandbox.spec.contract import Contract
from huskyvoice_sandbox.testing.webhooks import WebhookReceiver
from huskyvoice_sandbox.worlds.world import load_world

from helpers import DOC_ID, WRITE_KEY

BOOKING = {"appointment_type": "General Checkup", "appointment_date": "2026-06-22T09:30:00.000Z",
           "patient_name": "Tara", "parent_phone": "+919800011111", "branch_id": "branch_uuid_here"}
WINDOW = {"branch_id": "branch_uuid_here", "day": "saturday", "session": "Morning", "start_time": "09:00",
          "end_time": "11:00", "max_slots": 4, "ai_slots": 2, "batch_name": "SA"}
DOC_WINDOW = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
SECRET = "whsec_test_receiver"


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {WRITE_KEY}"}


@pytest.fixture
def receiver() -> Any:
    """A receiver of our own, for tests that set its secret and answers themselves."""
    found = WebhookReceiver(SECRET, Contract())
    yield found
    found.stop()


def test_a_voice_agent_booking_arrives_signed_and_as_documented(huskyvoice, huskyvoice_webhooks) -> None:
    answer = huskyvoice.agent_books(BOOKING)
    assert answer["event"] == "appointment.created" and len(answer["deliveries"]) == 1
    [delivery] = huskyvoice_webhooks.wait_for("appointment.created")
    assert delivery.signature_valid and delivery.problems == ()
    assert delivery.headers["X-Husky-Signature"] == hmac.new(
        b"whsec_huskyvoice_test", delivery.body, hashlib.sha256).hexdigest()
    event = delivery.payload
    assert set(event) == {"event_id", "event", "timestamp", "appointment"}
    assert event["event_id"].startswith("evt_") and event["timestamp"] == huskyvoice.now()
    booked = huskyvoice.get_appointment(answer["appointment"]["appointment_id"]).data
    assert event["appointment"] == {
        "appointment_id": booked["appointment_id"], "appointment_type": booked["appointment_type"],
        "appointment_type_name": "General Checkup", "branch_id": "branch_uuid_here", "date": "2026-06-22",
        "start_time": "2026-06-22T09:30:00.000Z", "session": "Morning", "batch": "MA", "token": None,
        "patient_name": "Tara", "parent_phone": "+919800011111", "doctor_name": None, "status": "confirmed",
        "booked_via": "phone_call", "booked_at": booked["created_at"]}


def test_the_agent_books_by_the_same_rules_as_the_api(huskyvoice, huskyvoice_webhooks) -> None:
    """A full window refuses the agent as it refuses the API, and nothing is sent."""
    full = {**BOOKING, "appointment_date": "2026-06-16T10:00:00.000Z"}  # Tuesday Morning: 1 of 1 taken
    reply = huskyvoice.request("POST", "/_sandbox/agent/appointments", json=full)
    assert reply.status == 409 and reply.code == "SLOT_FULL"
    bad = huskyvoice.request("POST", "/_sandbox/agent/appointments", json={**BOOKING, "appointment_date": "soon"})
    assert bad.status == 400 and bad.json["error"]["details"][0]["location"] == "body.appointment_date"
    assert huskyvoice.webhook_deliveries() == []


def test_rest_writes_never_send_a_webhook(huskyvoice, huskyvoice_webhooks) -> None:
    """Documented: changes made through the REST API fire no event. Every REST write, then one
    dashboard change: only that one arrives."""
    created = huskyvoice.create_appointment(BOOKING, key=WRITE_KEY).data["appointment_id"]
    assert huskyvoice.update_appointment(created, {"assigned_doctor": "Dr. Rao"}, key=WRITE_KEY).status == 200
    assert huskyvoice.update_appointment(created, {"status": "cancelled"}, key=WRITE_KEY).status == 200
    window = huskyvoice.request("POST", "/v1/appointment-slots", json=WINDOW, headers=auth())
    assert window.status == 201
    assert huskyvoice.request("PATCH", f"/v1/appointment-slots/{window.data['calendar_id']}",
                              json={"ai_slots": 1}, headers=auth()).status == 200
    assert huskyvoice.request("DELETE", f"/v1/appointment-slots/{window.data['calendar_id']}",
                              headers=auth()).status == 200
    assert huskyvoice.request("PATCH", f"/v1/appointment-slots/tracking/{DOC_WINDOW}||2026-06-29",
                              json={"status": "CLOSED"}, headers=auth()).status == 200
    huskyvoice.dashboard_updates(DOC_ID, {"notes": "called back"})
    [only] = huskyvoice_webhooks.wait_for()
    assert only.event == "appointment.updated"
    time.sleep(0.3)  # anything the REST writes had queued would have arrived by now, before it
    assert [r.event for r in huskyvoice_webhooks.received] == ["appointment.updated"]
    assert [d["event"] for d in huskyvoice.webhook_deliveries()] == ["appointment.updated"]


def test_waiting_for_an_event_only_rest_writes_could_have_fired_fails_at_once_saying_so(
        huskyvoice, huskyvoice_webhooks) -> None:
    """A first-time user books over REST and waits for appointment.created: nothing will come,
    and the failure says why at once instead of after the 10 s timeout."""
    assert huskyvoice.create_appointment(BOOKING, key=WRITE_KEY).status == 201
    began = time.monotonic()
    with pytest.raises(AssertionError) as failed:
        huskyvoice_webhooks.wait_for("appointment.created")
    assert time.monotonic() - began < 5  # not the whole timeout
    message = str(failed.value)
    assert message.startswith("expected 1 appointment.created deliveries, but the sandbox has sent this "
                              "receiver nothing and has nothing pending for it. This test's REST writes "
                              "(POST /v1/appointments -> 201) fired none: as documented, REST writes "
                              "never fire webhooks."), message
    assert "huskyvoice.agent_books(...)" in message
    # An agent booking then arrives as usual: the early answer did not break the receiver.
    huskyvoice.agent_books({**BOOKING, "patient_name": "Agent Booked", "parent_phone": "+919800077777"})
    assert huskyvoice_webhooks.wait_for("appointment.created")[0].payload["appointment"]["booked_via"] == "phone_call"


def test_each_dashboard_change_fires_its_event(huskyvoice, huskyvoice_webhooks) -> None:
    booked = huskyvoice.dashboard_books(BOOKING)["appointment"]["appointment_id"]
    assert huskyvoice.dashboard_updates(booked, {"assigned_doctor": "Dr. Rao"})["event"] == "appointment.updated"
    assert huskyvoice.dashboard_updates(booked, {"status": "completed"})["event"] == "appointment.completed"
    assert huskyvoice.dashboard_updates(DOC_ID, {"status": "cancelled"})["event"] == "appointment.cancelled"
    again = huskyvoice.dashboard_updates(DOC_ID, {"status": "cancelled"})  # nothing changes: no event
    assert again["event"] is None and again["deliveries"] == []
    huskyvoice.advance_clock(60)  # a later instant: only the stamp would change
    assert huskyvoice.dashboard_updates(booked, {"assigned_doctor": "Dr. Rao"})["event"] is None
    window = huskyvoice.dashboard_creates_window(WINDOW)
    assert window["event"] == "slot.created"
    assert huskyvoice.dashboard_updates_window(window["window"]["calendar_id"], {"active": False})["event"] \
        == "slot.updated"
    arrived = {r.event: r.payload for r in huskyvoice_webhooks.wait_for(count=6)}  # in any order
    assert set(arrived) == set(EVENTS)
    assert arrived["appointment.created"]["appointment"]["booked_via"] == "dashboard"
    assert arrived["appointment.updated"]["appointment"]["doctor_name"] == "Dr. Rao"
    assert arrived["appointment.completed"]["appointment"]["status"] == "completed"
    assert arrived["appointment.cancelled"]["appointment"]["appointment_id"] == DOC_ID
    assert arrived["slot.updated"]["slot"]["active"] is False


def test_a_receiver_failing_twice_gets_the_event_once_after_retries(huskyvoice, receiver) -> None:
    receiver.answer_with(500, 500)
    huskyvoice.add_webhook(receiver.url, SECRET, retry_delays=[0.1, 0.2, 0.4])
    huskyvoice.agent_books(BOOKING)
    [arrived] = receiver.wait_for("appointment.created")
    assert arrived.signature_valid and arrived.problems == ()
    assert [r.answered for r in receiver.received] == [500, 500, 200]
    assert len({r.payload["event_id"] for r in receiver.received}) == 1  # the same event, three times
    delivery = _settled(huskyvoice)
    assert delivery["status"] == "delivered" and delivery["url"] == receiver.url
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 200]
    assert all(a["latency_ms"] >= 0 and a["error"] is None for a in delivery["attempts"])
    assert delivery["payload"] == arrived.payload


def test_a_redirect_is_not_a_delivery(huskyvoice, receiver) -> None:
    """urllib would follow a 302 with a GET and no body; the sandbox counts it as not
    delivered, and tries again."""
    receiver.answer_with(302)
    huskyvoice.add_webhook(receiver.url, SECRET, retry_delays=[0.05])
    huskyvoice.agent_books(BOOKING)
    receiver.wait_for("appointment.created")
    delivery = _settled(huskyvoice)
    assert [a["status"] for a in delivery["attempts"]] == [302, 200] and delivery["status"] == "delivered"
    assert [r.answered for r in receiver.received] == [302, 200]


def test_a_receiver_that_is_down_is_tried_and_given_up(huskyvoice) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    huskyvoice.add_webhook(f"http://127.0.0.1:{port}/hooks", SECRET, retry_delays=[0.05, 0.05])
    huskyvoice.agent_books(BOOKING)
    delivery = _settled(huskyvoice)
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 3
    assert all(a["status"] is None and a["error"] for a in delivery["attempts"])


def test_a_receiver_that_answers_something_other_than_http_is_a_failed_attempt(huskyvoice) -> None:
    """A receiver (or a port in front of it) that answers garbage: each attempt fails, saying
    so, and the delivery is given up; it does not stay pending forever with no attempt."""
    garbage = socket.socket()
    garbage.bind(("127.0.0.1", 0))
    garbage.listen(8)

    def answer_garbage() -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            while True:
                connection, _ = garbage.accept()
                with connection:
                    connection.recv(65536)
                    connection.sendall(b"this is not HTTP\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    try:
        huskyvoice.add_webhook(f"http://127.0.0.1:{garbage.getsockname()[1]}/hooks", SECRET,
                               retry_delays=[0.05])
        huskyvoice.agent_books(BOOKING)
        delivery = _settled(huskyvoice)
    finally:
        garbage.close()
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 2
    assert all(a["status"] is None and "BadStatusLine" in a["error"] for a in delivery["attempts"])


def test_a_receiver_that_never_answers_does_not_slow_the_api(huskyvoice) -> None:
    """Deliveries to a receiver that accepts connections and never answers wait out their
    timeout in the background: every request to the API (and the action itself) answers
    while all of them are still waiting."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # connections queue here; nothing ever reads or answers them
    try:
        huskyvoice.add_webhook(f"http://127.0.0.1:{silent.getsockname()[1]}/hooks", SECRET,
                               retry_delays=[], timeout_seconds=10)
        mondays = ("2026-06-22", "2026-06-29", "2026-07-06")  # ten places each
        for n in range(12):  # more than the courier's workers
            huskyvoice.agent_books({**BOOKING, "appointment_date": f"{mondays[n % 3]}T09:30:00.000Z",
                                    "patient_name": f"Caller {n}", "parent_phone": f"+91980002{n:04d}"})
        answers = [huskyvoice.search_appointments(key=WRITE_KEY, limit=5).status for _ in range(50)]
        answers += [huskyvoice.create_appointment({**BOOKING, "patient_name": "Walk-in"}, key=WRITE_KEY).status]
        still_waiting = [d["status"] for d in huskyvoice.webhook_deliveries()]
    finally:
        silent.close()
    assert answers == [200] * 50 + [201]
    assert still_waiting == ["pending"] * 12  # the API answered 51 times while all 12 waited


def test_a_reset_stops_what_is_pending(huskyvoice, receiver) -> None:
    receiver.answer_with(*[503] * 50)
    huskyvoice.add_webhook(receiver.url, SECRET, retry_delays=[0.2] * 10)
    huskyvoice.agent_books(BOOKING)
    _until(lambda: len(receiver.received) >= 1)
    huskyvoice.reset()
    tried = len(receiver.received)
    time.sleep(0.6)  # three retries' worth
    assert len(receiver.received) == tried
    assert [d["status"] for d in huskyvoice.webhook_deliveries()] == ["cancelled"]


def test_a_deleted_session_stops_what_is_pending(huskyvoice, receiver) -> None:
    session = {"X-Sandbox-Session": "crm-test"}
    receiver.answer_with(*[503] * 50)
    assert huskyvoice.request("POST", "/_sandbox/webhooks", headers=session,
                              json={"url": receiver.url, "secret": SECRET, "retry_delays": [0.2] * 10}).status == 201
    assert huskyvoice.request("POST", "/_sandbox/agent/appointments", headers=session, json=BOOKING).status == 201
    _until(lambda: len(receiver.received) >= 1)
    assert huskyvoice.request("DELETE", "/_sandbox/sessions/crm-test").status == 200
    tried = len(receiver.received)
    time.sleep(0.6)
    assert len(receiver.received) == tried
    assert huskyvoice.webhook_deliveries() == []  # the default session never had any


def test_deliveries_can_go_to_your_own_app_in_process(huskyvoice) -> None:
    arrived: list[tuple[str, bytes]] = []
    done = threading.Event()

    def crm(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        arrived.append((environ["PATH_INFO"], body))
        done.set()
        start_response("204 No Content", [])
        return []

    huskyvoice.route_webhooks_to(crm, "whsec_crm_secret", url="https://crm.example/hooks/husky")
    huskyvoice.agent_books(BOOKING)
    assert done.wait(5)
    [(path, body)] = arrived
    assert path == "/hooks/husky" and json.loads(body)["event"] == "appointment.created"
    assert _settled(huskyvoice)["status"] == "delivered"


def test_an_endpoint_is_checked_and_every_problem_located(huskyvoice) -> None:
    reply = huskyvoice.request("POST", "/_sandbox/webhooks", json={
        "url": "ftp://nowhere", "secret": "short", "events": ["appointment.moved"], "organization": "org_demo"})
    assert reply.status == 400
    assert {d["location"] for d in reply.json["error"]["details"]} == {"body.url", "body.secret", "body.events[0]"}
    unknown = huskyvoice.request("POST", "/_sandbox/webhooks",
                                 json={"url": "http://127.0.0.1:9/", "secret": SECRET, "organization": "org_nope"})
    assert unknown.status == 400 and unknown.json["error"]["details"][0]["location"] == "body.organization"
    assert huskyvoice.request("DELETE", "/_sandbox/webhooks/wh_9").status == 404


def test_endpoints_live_in_the_world_and_round_trip(huskyvoice) -> None:
    added = huskyvoice.add_webhook("http://127.0.0.1:9/hooks", SECRET, events=["slot.created"],
                                   organization="org_lakeview")
    assert added["id"] == "wh_1" and added["organization"] == "org_lakeview"
    world = huskyvoice.world()
    lakeview = next(org for org in world["organizations"] if org["id"] == "org_lakeview")
    assert lakeview["webhooks"] == [{"id": "wh_1", "url": "http://127.0.0.1:9/hooks", "secret": SECRET,
                                     "events": ["slot.created"], "retry_delays": [1.0, 2.0, 4.0, 8.0, 16.0],
                                     "timeout_seconds": 5.0}]
    reloaded = load_world(world)
    assert reloaded.organizations[1].webhooks[0].events == frozenset({"slot.created"})
    huskyvoice.reset()
    assert "webhooks" not in next(o for o in huskyvoice.world()["organizations"] if o["id"] == "org_lakeview")


def test_a_world_with_a_bad_endpoint_is_refused_located() -> None:
    from huskyvoice_sandbox.domain.errors import InvalidWorld

    document = {"version": 1, "organizations": [{"id": "org_x", "name": "X", "timezone": "UTC",
                                                 "webhooks": [{"url": "http://127.0.0.1:9/", "secret": "s"},
                                                              {"url": "http://127.0.0.1:9/", "secret": SECRET,
                                                               "id": "wh_1"}]}]}
    with pytest.raises(InvalidWorld) as refused:
        load_world(document)
    locations = [d.location for d in refused.value.details]
    assert locations == ["organizations[0].webhooks[0].secret"], refused.value.report()
    document["organizations"][0]["webhooks"][0]["secret"] = SECRET
    with pytest.raises(InvalidWorld) as refused:
        load_world(document)
    assert "  organizations[0].webhooks[1].id: duplicate webhook id 'wh_1'" in refused.value.report()


def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _settled(huskyvoice: Any) -> dict[str, Any]:
    """The session's one delivery, once it is no longer pending."""
    _until(lambda: huskyvoice.webhook_deliveries()[-1]["status"] != "pending")
    [delivery] = huskyvoice.webhook_deliveries()
    return delivery
