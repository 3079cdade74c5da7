"""API-shaped errors. The rules raise them; the HTTP layer renders them, all in one envelope."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Detail:
    """One located problem: where (e.g. ``body.status``) and what."""

    location: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "message": self.message}


def location(path: Iterable[Any], root: str = "") -> str:
    """`organizations[0].appointments[3].branch_id` (or `body.x` under root "body") from a
    path of keys and indexes."""
    text = root
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class ApiError(Exception):
    """An error response: HTTP status, code, message, optional details and headers."""

    status: int = 500
    code: str = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        details: list[Detail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = [d.as_dict() for d in self.details]
        return {"success": False, "error": error}


class ValidationError(ApiError):
    status, code = 400, "VALIDATION_ERROR"


class InvalidField(ValidationError):
    """A request field that the rules refuse (an unknown service, a missing branch). The rules
    name the field; the HTTP layer says where it was sent (`body.branch_id`)."""

    def __init__(self, field: str, message: str, summary: str = "The request is invalid.") -> None:
        super().__init__(summary, [Detail(field, message)])
        self.field = field

    def located(self, where: str) -> ValidationError:
        """The same problem, located under `where` (e.g. "body")."""
        summary = _SUMMARIES.get(where, self.message) if self.message == _DEFAULT_SUMMARY else self.message
        return ValidationError(summary, [Detail(f"{where}.{d.location}", d.message) for d in self.details])


class InvalidFields(InvalidField):
    """Several request fields the rules refuse at once, each named: (field, message)."""

    def __init__(self, problems: list[tuple[str, str]], summary: str = "The request is invalid.") -> None:
        ValidationError.__init__(self, summary, [Detail(name, message) for name, message in problems])
        self.field = problems[0][0]


_DEFAULT_SUMMARY = "The request is invalid."
# The summaries of the HTTP layer's own 400s, so that one request's problems read alike.
_SUMMARIES = {"body": "The request body is invalid.", "query": "The query parameters are invalid."}


class Unauthorized(ApiError):
    status, code = 401, "UNAUTHORIZED"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="huskyvoice"'})


class InsufficientScope(ApiError):
    status, code = 403, "INSUFFICIENT_SCOPE"


class Forbidden(ApiError):
    """Control API only: the client may not use it."""

    status, code = 403, "FORBIDDEN"


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class MethodNotAllowed(ApiError):
    status, code = 405, "METHOD_NOT_ALLOWED"


class SlotFull(ApiError):
    status, code = 409, "SLOT_FULL"


class SlotInactive(ApiError):
    status, code = 409, "SLOT_INACTIVE"


class DuplicateBooking(ApiError):
    status, code = 409, "DUPLICATE_BOOKING"


class CancellationNotAllowed(ApiError):
    status, code = 409, "CANCELLATION_NOT_ALLOWED"


class CancellationNoticePeriod(ApiError):
    status, code = 409, "CANCELLATION_NOTICE_PERIOD"


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class OutsideAvailability(ApiError):
    status, code = 422, "OUTSIDE_AVAILABILITY"


class RateLimitExceeded(ApiError):
    status, code = 429, "RATE_LIMIT_EXCEEDED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class InternalError(ApiError):
    status, code = 500, "INTERNAL_ERROR"


class InvalidWorld(ApiError):
    """A world document with problems; every one is listed, located."""

    status, code = 400, "INVALID_WORLD"

    def __init__(self, source: str, details: list[Detail]) -> None:
        count = len(details)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{source}: the world has {count} {noun}; nothing was loaded", details)
        self.source = source

    def report(self) -> str:
        """The problems as text, one per line, for the command line."""
        lines = [self.message]
        lines += [f"  {d.location}: {d.message}" for d in self.details]
        return "\n".join(lines)
