"""One exception per documented error code, so callers catch what they can act on."""

from __future__ import annotations

from typing import Any


class ApiUnavailable(Exception):
    """The API could not be reached, or the connection closed without an answer."""


class ApiError(Exception):
    """An error answer: HTTP status, the API's error code, message and details."""

    def __init__(self, status: int, code: str | None, message: str,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


class InvalidRequest(ApiError):
    """400 VALIDATION_ERROR: our request was wrong; `details` says where."""


class NotAllowed(ApiError):
    """401 UNAUTHORIZED or 403 INSUFFICIENT_SCOPE: check the API key."""


class AppointmentNotFound(ApiError):
    """404 NOT_FOUND."""


class SlotUnavailable(ApiError):
    """409 SLOT_FULL or SLOT_INACTIVE: that time cannot be booked; another one may."""


class DuplicateBooking(ApiError):
    """409 DUPLICATE_BOOKING: the patient already has this service that day."""


class OutsideAvailability(ApiError):
    """422 OUTSIDE_AVAILABILITY: no calendar window at that time."""


class RateLimited(ApiError):
    """429 RATE_LIMIT_EXCEEDED, still refused after the client's retries."""

    def __init__(self, status: int, code: str | None, message: str,
                 details: list[dict[str, Any]] | None = None, retry_after: int = 60) -> None:
        super().__init__(status, code, message, details)
        self.retry_after = retry_after


BY_CODE: dict[str, type[ApiError]] = {
    "VALIDATION_ERROR": InvalidRequest,
    "UNAUTHORIZED": NotAllowed,
    "INSUFFICIENT_SCOPE": NotAllowed,
    "NOT_FOUND": AppointmentNotFound,
    "SLOT_FULL": SlotUnavailable,
    "SLOT_INACTIVE": SlotUnavailable,
    "DUPLICATE_BOOKING": DuplicateBooking,
    "OUTSIDE_AVAILABILITY": OutsideAvailability,
    "RATE_LIMIT_EXCEEDED": RateLimited,
}
