"""Property-based test: random sequences of creates, voice-agent bookings, reschedules, cancels
and other PATCHes, mixed with window changes (capacity, disabling, per-date closures and
capacities, new windows), never overbook a window, never create a duplicate active booking,
keep availability equal to a recount, and every response conforms to openapi.yaml.

A window shrunk below what it holds keeps its bookings (documented choice): those stay allowed,
and only those, until they leave.

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


windows = st.sampled_from(["mon-ma", "mon-mb", "mon-aa", "mon-ea", "tue-ma", "tue-va", "wed-ma"])
WEEKDAY_DATES = {"mon": ["2026-06-15", "2026-06-22"], "tue": ["2026-06-16", "2026-06-23"], "wed": ["2026-06-17"]}


class BookingSequences(RuleBasedStateMachine):
    appointments = Bundle("appointments")

    def __init__(self, client) -> None:
        super().__init__()
        self.client = client
        self.client.post("/_sandbox/reset")
        self.windows = None
        self.seen: Counter[tuple[int, str | None]] = Counter()
        self.kept: dict[tuple[str, str], int] = {}  # (window, date) -> bookings kept over its capacity

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
        body = {"appointment_type": service, "appointment_date": f"{day}T{at}:00.000Z",
                "patient_name": patient[0], "parent_phone": patient[1]}
        if session:
            body["session"] = session
        payload = self._book("/v1/appointments", body, KEY, "create")
        if payload is None:
            return multiple()
        created = payload["appointment_id"]
        assert self.client.get(f"/v1/appointments/{created}", headers=KEY).get_json()["data"] == payload["data"]
        return created

    @rule(target=appointments, patient=patients, day=dates, at=times)
    def agent_books(self, patient: tuple[str, str], day: str, at: str):  # type: ignore[no-untyped-def]
        """The voice agent books by the create rules (the control API's agent action)."""
        body = {"appointment_type": "Checkup", "appointment_date": f"{day}T{at}:00.000Z",
                "patient_name": patient[0], "parent_phone": patient[1]}
        payload = self._book("/_sandbox/agent/appointments", body, {}, "agent booking")
        return multiple() if payload is None else payload["data"]["appointment"]["appointment_id"]

    def _book(self, path: str, body: dict, headers: dict[str, str], what: str) -> dict | None:
        """A booking request's answer when it booked (201); None when the rules refused it,
        which must have changed nothing."""
        before = self.world()
        response = self.client.post(path, json=body, headers=headers)
        payload = response.get_json()
        code = None if response.status_code == 201 else payload["error"]["code"]
        self.seen[(response.status_code, code)] += 1
        assert response.status_code in (201, 409, 422), (body, response.status_code, payload)
        if response.status_code != 201:
            assert self.world() == before, f"a refused {what} changed state: {body} -> {code}"
            return None
        return payload

    @rule(window=windows, places=st.integers(0, 3))
    def change_capacity(self, window: str, places: int) -> None:
        self._window_change("PATCH", f"/v1/appointment-slots/{window}", {"ai_slots": places})

    @rule(window=windows, active=st.booleans())
    def disable_or_enable(self, window: str, active: bool) -> None:
        if active:
            self._window_change("PATCH", f"/v1/appointment-slots/{window}", {"active": True})
        else:
            self._window_change("DELETE", f"/v1/appointment-slots/{window}", None)

    @rule(window=windows, which=st.integers(0, 1), change=st.sampled_from(
        [{"status": "CLOSED"}, {"status": "OPEN"}, {"ai_slots": 0}, {"ai_slots": 1}, {"ai_slots": None}]))
    def track(self, window: str, which: int, change: dict) -> None:
        """One date of the window (one the other rules book on) closed, opened, or given a capacity."""
        on = WEEKDAY_DATES[window[:3]][which % len(WEEKDAY_DATES[window[:3]])]
        self._window_change("PATCH", f"/v1/appointment-slots/tracking/{window}||{on}", change)

    @rule(target=appointments, window=windows, which=st.integers(0, 1), places=st.integers(0, 2),
          patient=patients)
    def book_after_a_capacity_change(self, window: str, which: int, places: int, patient: tuple[str, str]):  # type: ignore[no-untyped-def]
        """A date's capacity set through tracking, then a booking at the window's opening that
        date: the pair the capacity rule must get right."""
        on = WEEKDAY_DATES[window[:3]][which % len(WEEKDAY_DATES[window[:3]])]
        self._window_change("PATCH", f"/v1/appointment-slots/tracking/{window}||{on}", {"ai_slots": places})
        windows_now = self.world()["organizations"][0]["calendar_windows"]
        opening = next(w["start_time"] for w in windows_now if w["id"] == window)
        return self.create(patient, "22222222-2222-4222-8222-222222222222" if window == "tue-va" else
                           "11111111-1111-4111-8111-111111111111", on, opening, None)

    @rule(day=st.sampled_from(["monday", "tuesday"]), at=st.sampled_from(["12:00", "16:00", "19:00"]))
    def create_window(self, day: str, at: str) -> None:
        end = f"{int(at[:2]) + 1:02d}:00"
        self._window_change("POST", "/v1/appointment-slots", {
            "branch_id": "b1", "day": day, "session": "Evening", "start_time": at, "end_time": end,
            "max_slots": 2, "ai_slots": 1, "batch_name": f"E{at[:2]}"})

    def _window_change(self, method: str, path: str, body: dict | None) -> None:
        before = self.world()
        response = self.client.open(path, method=method, json=body, headers=KEY)
        assert response.status_code in (200, 201, 400, 404), (path, body, response.get_json())
        if response.status_code >= 400:
            assert self.world() == before, f"a refused window change changed state: {path} {body}"
            return
        # What a window holds over its new capacity stays: remember it, and nothing more.
        org = self.world()["organizations"][0]
        for key, count in _loads(org).items():
            self.kept[key] = max(self.kept.get(key, 0), count) if count > _capacity(org, *key) else 0

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
        """No window holds more than its capacity that date, but for bookings it held when it
        was shrunk (kept, and only as long as they stay)."""
        org = self.world()["organizations"][0]
        for key, count in _loads(org).items():
            kept = self.kept[key] = min(self.kept.get(key, 0), count)
            capacity = _capacity(org, *key)
            assert count <= max(capacity, kept), f"{key}: {count} active > ai_slots {capacity} (kept {kept})"

    @invariant()
    def availability_equals_a_recount(self) -> None:
        """Availability counts as the test counts, and schedule tracking says the same."""
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
                assert slot["ai_slots"] == _capacity(org, window["id"], day)
                assert slot["available_slots"] == max(0, slot["ai_slots"] - counted)
            tracked = self.client.get(f"/v1/appointment-slots/schedule-tracking?date_from={day}&date_to={day}",
                                      headers=KEY).get_json()["data"]
            open_records = {r["calendar_id"]: r for r in tracked if r["status"] == "OPEN"}
            assert set(open_records) == {s["calendar_id"] for s in slots}  # the same windows open
            for slot in slots:  # and the same counts
                record = open_records[slot["calendar_id"]]
                assert (record["ai_slots"], record["filled_slots"], record["available_slots"]) == \
                    (slot["ai_slots"], slot["filled_slots"], slot["available_slots"])

    @invariant()
    def no_patient_has_two_active_bookings_of_one_type_on_one_date(self) -> None:
        org = self.world()["organizations"][0]
        keys = Counter(
            (a["parent_phone"].strip(), a["patient_name"].strip().casefold(),
             a["appointment_type"], a["date"])
            for a in org["appointments"] if a["status"] in ACTIVE)
        assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]


def _loads(org: dict) -> Counter[tuple[str, str]]:
    """Active appointments per (window, date), counted here from the dump."""
    windows = {(w["branch_id"], w["day"], w["session"], w["batch"]): w for w in org["calendar_windows"]}
    load: Counter[tuple[str, str]] = Counter()
    for a in org["appointments"]:
        if a["status"] in ACTIVE:
            day = DAYS[date.fromisoformat(a["date"]).weekday()]
            window = windows[(a["branch_id"], day, a["session"], a["batch"])]
            assert window["appointment_type"] in (None, a["appointment_type"])
            load[(window["id"], a["date"])] += 1
    return load


def _capacity(org: dict, window_id: str, on: str) -> int:
    window = next(w for w in org["calendar_windows"] if w["id"] == window_id)
    return (window.get("ai_slots_by_date") or {}).get(on, window["ai_slots"])


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
