"""Property-based test: random sequences of PATCHes never overbook a window, never create a
duplicate active booking, and every response conforms to openapi.yaml.

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
    RuleBasedStateMachine,
    invariant,
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


class PatchSequences(RuleBasedStateMachine):
    def __init__(self, client) -> None:
        super().__init__()
        self.client = client
        self.client.post("/_sandbox/reset")
        self.windows = None
        self.seen: Counter[tuple[int, str | None]] = Counter()

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
            if "status" in body:
                assert payload["data"]["status"] == body["status"]
            elif "appointment_date" in body:
                assert payload["data"]["status"] == "rescheduled"
        else:
            assert self.world() == before, f"a refused PATCH changed state: {body} -> {code}"

    def world(self) -> dict:
        return self.client.get("/_sandbox/world").get_json()["data"]

    @rule(appointment_id=st.sampled_from(IDS), day=dates, at=times,
          status=st.none() | statuses)
    def reschedule(self, appointment_id: str, day: str, at: str, status: str | None) -> None:
        body = {"appointment_date": f"{day}T{at}:00.000Z"}
        if status:
            body["status"] = status
        self.send(appointment_id, body)

    @rule(appointment_id=st.sampled_from(IDS), status=statuses)
    def set_status(self, appointment_id: str, status: str) -> None:
        self.send(appointment_id, {"status": status})

    @rule(appointment_id=st.sampled_from(IDS), session=sessions, batch=st.none() | batches)
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
    def no_patient_has_two_active_bookings_of_one_type_on_one_date(self) -> None:
        org = self.world()["organizations"][0]
        keys = Counter(
            (a["parent_phone"].strip(), a["patient_name"].strip().casefold(),
             a["appointment_type"], a["date"])
            for a in org["appointments"] if a["status"] in ACTIVE)
        assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]


def test_random_patch_sequences_keep_the_invariants(make_client) -> None:
    client = make_client(WORLD)
    outcomes: Counter[tuple[int, str | None]] = Counter()

    def machine() -> PatchSequences:
        instance = PatchSequences(client)
        instance.seen = outcomes
        return instance

    run_state_machine_as_test(machine, settings=settings(
        max_examples=150, stateful_step_count=25, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
    # The machine must actually reach every rule, or the invariants prove little.
    for expected in [(200, None), (409, "SLOT_FULL"), (409, "DUPLICATE_BOOKING"),
                     (409, "SLOT_INACTIVE"), (422, "OUTSIDE_AVAILABILITY")]:
        assert outcomes[expected] > 0, f"never produced {expected}: {dict(outcomes)}"
