"""The requests the benchmark sends, and the status the sandbox must give each on the bench world
(bench/worlds.py: the default world plus a high-capacity Saturday window for creates).

Only the scenarios that change the world get it reset before each timed run (a reset of a big
world leaves the garbage collector work that would land in the timed run that follows); the
reads ask about 2026-06-22, a date no write scenario touches, so they get the same answer
whatever ran before them.

A scenario may have several bodies: request.lua cycles through them, one per request, so the
reschedule really moves the appointment every time (back and forth between two dates with room)
instead of "moving" it to where it already is. "{n}" in a body becomes a number unique within a
wrk run, so every create is a new patient (no DUPLICATE_BOOKING).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from common import APPOINTMENT
from worlds import CREATE_BRANCH

GENERAL_CHECKUP = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
NUMBER = "{n}"  # request.lua's per-request number
SAMPLE_NUMBER = "check"  # what the pre-run check sends instead: never one of wrk's numbers
APPOINTMENT_PATH = f"/v1/appointments/{APPOINTMENT}"


@dataclass(frozen=True)
class Scenario:
    title: str
    method: str
    path: str
    bodies: tuple[dict[str, Any], ...] = ()  # cycled, one per request
    expected: int = 200  # the sandbox's status, checked before and after each timed run

    @property
    def body_texts(self) -> list[str]:
        """The bodies as request.lua sends them (compact, so none contains a newline)."""
        return [json.dumps(body, separators=(",", ":")) for body in self.bodies]

    def sample_texts(self) -> list[str]:
        """The bodies with NUMBER filled in, for the single requests sent outside wrk."""
        return [text.replace(NUMBER, SAMPLE_NUMBER) for text in self.body_texts] or [""]

    @property
    def writes(self) -> bool:
        """Does it change the world (so the world is reset before each of its runs)?"""
        return self.method != "GET"

    @property
    def numbered(self) -> bool:
        return any(NUMBER in text for text in self.body_texts)


NOTES = Scenario("PATCH notes only", "PATCH", APPOINTMENT_PATH,
                 ({"notes": "Patient requested morning slot"},))
# Monday Afternoon (room for 5, Kabir holds 1) and Friday Afternoon (room for 5, none active):
# the appointment alternates between them, so each PATCH is a real move through every check.
RESCHEDULE_DATES = ("2026-06-15T14:30:00.000Z", "2026-06-19T15:00:00.000Z")
RESCHEDULE = Scenario("PATCH reschedule, 200", "PATCH", APPOINTMENT_PATH,
                      tuple({"appointment_date": when} for when in RESCHEDULE_DATES))
SLOT_FULL = Scenario("PATCH reschedule, 409 SLOT_FULL", "PATCH", APPOINTMENT_PATH,
                     ({"appointment_date": "2026-06-16T10:00:00.000Z"},), 409)
READ = Scenario("GET appointment", "GET", APPOINTMENT_PATH)
CREATE = Scenario("POST create, 201", "POST", "/v1/appointments", ({
    "appointment_type": GENERAL_CHECKUP,
    "appointment_date": "2026-06-20T10:00:00.000Z",  # a Saturday: the bench window
    "patient_name": f"Bench patient {NUMBER}",
    "parent_phone": f"+91 {NUMBER}",
    "branch_id": CREATE_BRANCH,
},), 201)
# A Monday no write touches: Aadhi's next checkup, and the four windows open on Mondays.
READ_DATE = "2026-06-22"
SEARCH = Scenario("GET search by date", "GET", f"/v1/appointments?date={READ_DATE}")
AVAILABILITY = Scenario("GET availability", "GET",
                        f"/v1/appointment-slots/availability?date={READ_DATE}")

# The create last: the appointments it books stay until the next reset, and no read should
# run with thousands of them in the store in one round and without them in the next.
COMPARISON = (NOTES, RESCHEDULE, SLOT_FULL, READ, SEARCH, AVAILABILITY, CREATE)
SCALE = (SEARCH, AVAILABILITY, NOTES, RESCHEDULE)  # targets on the reads; PATCHes for information
SCALE_TARGETED = (SEARCH, AVAILABILITY)
BALANCER = (NOTES, READ)
CROWD = (NOTES, READ)  # at 64 connections: a CI fleet sharing one sandbox
