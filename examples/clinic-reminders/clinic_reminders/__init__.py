"""Appointment reminders for a clinic on the HuskyVoice appointments API."""

from .client import AppointmentsClient
from .errors import (
                     ApiError,
                     ApiUnavailable,
                     AppointmentNotFound,
                     DuplicateBooking,
                     InvalidRequest,
                     NotAllowed,
                     OutsideAvailability,
                     RateLimited,
                     SlotUnavailable,
)
from .scheduling import Moved, NoFreeSlot, move_to_next_free_slot

__all__ = [
    "AppointmentsClient", "ApiError", "ApiUnavailable", "AppointmentNotFound", "DuplicateBooking",
    "InvalidRequest", "NotAllowed", "OutsideAvailability", "RateLimited", "SlotUnavailable",
    "Moved", "NoFreeSlot", "move_to_next_free_slot",
]
