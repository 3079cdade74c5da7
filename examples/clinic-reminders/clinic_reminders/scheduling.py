"""Moving an appointment to the first candidate time the clinic can still take."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .client import AppointmentsClient
from .errors import SlotUnavailable


@dataclass(frozen=True)
class Moved:
    appointment: dict[str, Any]  # as the API returned it after the move
    when: datetime | str
    skipped: tuple[tuple[datetime | str, str], ...]  # (time, error code) of the refused candidates


class NoFreeSlot(Exception):
    def __init__(self, appointment_id: str, skipped: list[tuple[datetime | str, str]]) -> None:
        tried = ", ".join(f"{when} ({code})" for when, code in skipped) or "no candidates"
        super().__init__(f"no free slot for {appointment_id}; tried {tried}")
        self.skipped = skipped


def move_to_next_free_slot(client: AppointmentsClient, appointment_id: str,
                           candidates: Iterable[datetime | str]) -> Moved:
    """Try `candidates` in order, skipping full or closed windows (SLOT_FULL, SLOT_INACTIVE).
    Every other error stops the search: it will not go away at another time."""
    skipped: list[tuple[datetime | str, str]] = []
    for when in candidates:
        try:
            return Moved(client.reschedule(appointment_id, when), when, tuple(skipped))
        except SlotUnavailable as exc:
            skipped.append((when, exc.code or "SLOT_UNAVAILABLE"))
    raise NoFreeSlot(appointment_id, skipped)
