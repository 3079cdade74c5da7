"""The benchmark's worlds: the default world, plus a window to book into, plus any number of
appointments.

`bench_document()` is the default world and one more branch with a Saturday window that takes
CREATE_CAPACITY bookings a day: the create scenario books thousands of new appointments a second
there (each for its own patient), and no window of the default world has room for that. Nothing
else changes: the same requests get the same answers as on the default world (the window is on
a Saturday, so Monday's availability does not list it).

`big_world(extra)` adds `extra` appointments filling another branch's weekday windows, one
distinct patient each, so they load without breaking a rule and every check (capacity,
duplicates) has them to look through if it does not use an index. The default world's ids,
keys and windows are unchanged, so the same requests (and the same answers) serve every size.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import yaml
from huskyvoice_sandbox.resources import default_world_path

FILLER_BRANCH = "branch_bench_filler"
CREATE_BRANCH = "branch_bench_create"
CREATE_CAPACITY = 10_000_000  # bookings a day: a full run creates about 10,000 per timed run
PER_WINDOW = 50  # appointments per window and date
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def default_document() -> dict[str, Any]:
    return yaml.safe_load(default_world_path().read_text(encoding="utf-8"))


def bench_document() -> dict[str, Any]:
    """The default world with a branch whose Saturday window has room for CREATE_CAPACITY."""
    document = default_document()
    org = document["organizations"][0]
    org["branches"].append({"id": CREATE_BRANCH, "name": "Benchmark bookings"})
    org["calendar_windows"].append(
        {"id": "bench-window-create", "branch_id": CREATE_BRANCH, "day": "saturday",
         "session": "Morning", "batch": "BC", "start_time": "08:00", "end_time": "12:00",
         "max_slots": CREATE_CAPACITY, "ai_slots": CREATE_CAPACITY, "appointment_type": None,
         "active": True, "closed_dates": []})
    return document


def big_world(extra: int, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default world with `extra` more appointments in org_demo."""
    document = copy.deepcopy(base or default_document())
    org = document["organizations"][0]
    service = org["services"][0]["id"]
    org["branches"].append({"id": FILLER_BRANCH, "name": "Benchmark filler"})
    org["calendar_windows"].extend(
        {"id": f"bench-window-{day}", "branch_id": FILLER_BRANCH, "day": day,
         "session": "Morning", "batch": "BF", "start_time": "08:00", "end_time": "12:00",
         "max_slots": PER_WINDOW, "ai_slots": PER_WINDOW, "appointment_type": None,
         "active": True, "closed_dates": []}
        for day in DAYS)
    weekdays = _weekdays(date(2027, 1, 4))
    on = next(weekdays)
    for i in range(extra):
        if i and i % PER_WINDOW == 0:
            on = next(weekdays)
        org["appointments"].append({
            "appointment_id": f"appt_bench_{i:07d}", "appointment_type": service,
            "branch_id": FILLER_BRANCH, "date": on.isoformat(), "session": "Morning",
            "batch": "BF", "patient_name": f"Patient {i}", "parent_phone": f"+91{i:010d}",
            "status": "confirmed", "created_at": "2026-05-01T09:00:00.000Z",
            "updated_at": "2026-05-01T09:00:00.000Z",
        })
    return document


def _weekdays(start: date) -> Iterator[date]:
    day = start
    while True:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)
