"""Property-based test: random sequences of creates, reschedules, cancels and other PATCHes
never overbook a window, never create a duplicate active booking, keep availability equal to a
recount, and every response conforms to openapi.yaml.

The invariants are recomputed from the control API's world dump with the test's own counting
(not the sandbox's indexes), so a bug in the indexes cannot hide itself.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

WORLD = Path(__file__).parent / "worlds" / "tight.yaml"
KEY = {"Authorization": "Bearer sk_test_tight"}
IDS = [f"appt_t{i}" for i in range(1, 8)]
ACTIVE = {"confirmed", "rescheduled"}
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

dates = st.sampled_from(["2026-06-15", "2026-06-16", "2026-06-17", "2026-06-22", "2026-06-23"])
times = st.sampled_from(["08:30", "09:00", "10:59", "11:30", "14:30", "17:30"])
statuses = st.sampled_from(["confirmed", "completed", "cancelled"])
sessions = st.sampled_from(["Morning", "Afternoon", "Evening"])
batches = st.sampled_from(["MA", "MB", "AA", "VA", "EA"])
# Patients who share phones and differ only by case, so creates run into duplicates too.
patients = st.sampled_from([("Asha", "+911"), ("asha ", "+911"), ("Bala", "+912"), ("Chitra", "+913"),
                            ("Esha", "+915")])
services = st.sampled_from(["11111111-1111-4111-8111-111111111111", "Vaccination"])


class BookingSequences(RuleBasedStateMachine):
    appointments = Bundle("appointments")

    def __init__(self, client) -> None:
        super().__init__()
        self.client = client
        self.client.post("/_sandbox/reset")
        self.windows = None
        self.seen: Counter[tuple[int, str | None]] = Counter()

    @initialize(target=appointments)
    def seeded(self):  # type: ignore[no-untyped-def]
        return multiple(*IDS)

    def send(self, appointment_id: str, body: dict) -> None:
        before = self.world()
        response = self.client.patch(f"/v1/appointments/{appointment_id}", json=body, headers=KEY)
        payload = response.get_json()
        code = None if response.status_code == 200 else payload["error"]["code"]
        self.seen[(response.status_code, code)] += 1
        assert response.status_code in (200, 409, 422), (body, response.status_code, payload)
        if response.status_code == 200:
            read_back = self.client.get(f"/v1/appointments/{appointment_id}", headers=KEY)
            assert read_back.get_json() == payload
            if body == {"status": "cancelled"} and _appointment(before, appointment_id)["status"] == "cancelled":
                assert self.world() == before, "a repeated cancel changed something"
            if "status" in body:
                assert payload["data"]["status"] == body["status"]
            elif "appointment_date" in body:
                assert payload["data"]["status"] == "rescheduled"
        else:
            assert self.world() == before, f"a refused PATCH changed state: {body} -> {code}"

    def world(self) -> dict:
        return self.client.get("/_sandbox/world").get_json()["data"]

    @rule(target=appointments, patient=patients, service=services, day=dates, at=times,
          session=st.none() | sessions)
    def create(self, patient: tuple[str, str], service: str, day: str, at: str, session: str | None):  # type: ignore[no-untyped-def]
        before = self.world()
        body = {"appointment_type": service, "appointment_date": f"{day}T{at}:00.000Z",
                "patient_name": patient[0], "parent_phone": patient[1]}
        if session:
            body["session"] = session
        response = self.client.post("/v1/appointments", json=body, headers=KEY)
        payload = response.get_json()
        code = None if response.status_code == 201 else payload["error"]["code"]
        self.seen[(response.status_code, code)] += 1
        assert response.status_code in (201, 409, 422), (body, response.status_code, payload)
        if response.status_code != 201:
            assert self.world() == before, f"a refused create changed state: {body} -> {code}"
            return multiple()
        created = payload["appointment_id"]
        assert self.client.get(f"/v1/appointments/{created}", headers=KEY).get_json()["data"] == payload["data"]
        return created

    @rule(appointment_id=appointments)
    def cancel(self, appointment_id: str) -> None:
        self.send(appointment_id, {"status": "cancelled"})

    @rule(appointment_id=appointments, day=dates, at=times,
          status=st.none() | statuses)
    def reschedule(self, appointment_id: str, day: str, at: str, status: str | None) -> None:
        body = {"appointment_date": f"{day}T{at}:00.000Z"}
        if status:
            body["status"] = status
        self.send(appointment_id, body)

    @rule(appointment_id=appointments, status=statuses)
    def set_status(self, appointment_id: str, status: str) -> None:
        self.send(appointment_id, {"status": status})

    @rule(appointment_id=appointments, session=sessions, batch=st.none() | batches)
    def move_session(self, appointment_id: str, session: str, batch: str | None) -> None:
        body = {"session": session}
        if batch:
            body["batch"] = batch
        self.send(appointment_id, body)

    @invariant()
    def no_window_is_overbooked(self) -> None:
        org = self.world()["organizations"][0]
        windows = {(w["branch_id"], w["day"], w["session"], w["batch"]): w
                   for w in org["calendar_windows"]}
        load: Counter[tuple[str, str]] = Counter()
        for a in org["appointments"]:
            if a["status"] in ACTIVE:
                day = DAYS[date.fromisoformat(a["date"]).weekday()]
                window = windows[(a["branch_id"], day, a["session"], a["batch"])]
                assert window["appointment_type"] in (None, a["appointment_type"])
                load[(window["id"], a["date"])] += 1
        for (window_id, on), count in load.items():
            capacity = next(w["ai_slots"] for w in windows.values() if w["id"] == window_id)
            assert count <= capacity, f"{window_id} on {on}: {count} active > ai_slots {capacity}"

    @invariant()
    def availability_equals_a_recount(self) -> None:
        org = self.world()["organizations"][0]
        for day in ("2026-06-15", "2026-06-16", "2026-06-22"):
            slots = self.client.get(f"/v1/appointment-slots/availability?date={day}",
                                    headers=KEY).get_json()["slots"]
            weekday = DAYS[date.fromisoformat(day).weekday()]
            for slot in slots:
                window = next(w for w in org["calendar_windows"] if w["id"] == slot["calendar_id"])
                counted = sum(1 for a in org["appointments"] if a["status"] in ACTIVE
                              and a["date"] == day and (a["branch_id"], a["session"], a["batch"])
                              == (window["branch_id"], window["session"], window["batch"])
                              and window["day"] == weekday)
                assert slot["filled_slots"] == counted, (day, slot, counted)
                assert slot["available_slots"] == max(0, window["ai_slots"] - counted)

    @invariant()
    def no_patient_has_two_active_bookings_of_one_type_on_one_date(self) -> None:
        org = self.world()["organizations"][0]
        keys = Counter(
            (a["parent_phone"].strip(), a["patient_name"].strip().casefold(),
             a["appointment_type"], a["date"])
            for a in org["appointments"] if a["status"] in ACTIVE)
        assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]


def _appointment(world: dict, appointment_id: str) -> dict:
    return next(a for o in world["organizations"] for a in o["appointments"]
                if a["appointment_id"] == appointment_id)


def test_random_booking_sequences_keep_the_invariants(make_client) -> None:
    client = make_client(WORLD)
    outcomes: Counter[tuple[int, str | None]] = Counter()

    def machine() -> BookingSequences:
        instance = BookingSequences(client)
        instance.seen = outcomes
        return instance

    run_state_machine_as_test(machine, settings=settings(
        max_examples=150, stateful_step_count=25, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
    # The machine must actually reach every rule, or the invariants prove little.
    for expected in [(200, None), (201, None), (409, "SLOT_FULL"), (409, "DUPLICATE_BOOKING"),
                     (409, "SLOT_INACTIVE"), (422, "OUTSIDE_AVAILABILITY")]:
        assert outcomes[expected] > 0, f"never produced {expected}: {dict(outcomes)}"
