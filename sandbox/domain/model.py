"""The sandbox's plain data: organizations with their configuration, and appointments.

Records are immutable; a change makes a new record (dataclasses.replace), which makes
half-applied updates impossible and lets a world be reset by sharing its records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Statuses that hold a place in a window and count for the duplicate rule.
ACTIVE_STATUSES = frozenset({"confirmed", "rescheduled"})

END_OF_DAY = "24:00"  # a window's end_time that runs to midnight


@lru_cache(maxsize=2048)  # a world has few distinct window times; strftime is slow
def wall_text(moment: time) -> str:
    """A window's wall-clock time as written: "09:00", or "24:00" for the end of the day."""
    return END_OF_DAY if moment == time.max else moment.strftime("%H:%M")


def wall_time(text: str) -> time:
    """The inverse of wall_text: "24:00" is the end of the day."""
    return time.max if text == END_OF_DAY else time.fromisoformat(text)


# The documented appointment object, in the documented order. `notes` is stored but not shown.
PUBLIC_FIELDS = (
    "appointment_id", "appointment_type", "branch_id", "date", "session", "batch", "token",
    "patient_name", "parent_phone", "assigned_doctor", "status", "external_reference_id",
    "created_at", "updated_at",
)


@dataclass(frozen=True)
class ApiKey:
    key: str
    scopes: frozenset[str]
    name: str | None = None


@dataclass(frozen=True)
class Service:
    id: str
    name: str


@dataclass(frozen=True)
class Branch:
    id: str
    name: str


@dataclass(frozen=True)
class Window:
    """A weekly calendar window of one branch: a day, a session, a batch, a time range."""

    id: str
    branch_id: str
    day: str
    session: str
    batch: str
    start_time: time
    end_time: time
    max_slots: int
    ai_slots: int
    appointment_type: str | None = None
    active: bool = True
    closed_dates: frozenset[date] = frozenset()
    # Per-date capacities set through schedule tracking: (date, ai_slots), sorted by date.
    ai_slots_by_date: tuple[tuple[date, int], ...] = ()
    created_at: datetime = datetime(1970, 1, 1, tzinfo=UTC)  # worlds give the real ones
    updated_at: datetime = datetime(1970, 1, 1, tzinfo=UTC)

    def covers(self, local: datetime) -> bool:
        """Same weekday, start inclusive, end exclusive (local wall-clock time)."""
        wall = local.time().replace(tzinfo=None)
        before_end = wall < self.end_time or self.end_time == time.max  # "24:00" takes 23:59:59.999999
        return DAYS[local.weekday()] == self.day and self.start_time <= wall and before_end

    def serves(self, appointment_type: str) -> bool:
        return self.appointment_type in (None, appointment_type)

    def open_on(self, on: date) -> bool:
        return self.active and on not in self.closed_dates

    def ai_slots_on(self, on: date) -> int:
        """The places the API and the voice agent may book that date: the window's, unless
        schedule tracking set that date's."""
        return self._capacities.get(on, self.ai_slots)

    @cached_property
    def _capacities(self) -> dict[date, int]:
        return dict(self.ai_slots_by_date)

    def label(self) -> str:
        return f"{self.day.capitalize()} {self.session} {self.batch}"

    def start_on(self, on: date, zone: ZoneInfo) -> datetime:
        """The instant the window opens on `on`, its wall-clock start in `zone`, in UTC."""
        return datetime.combine(on, self.start_time, zone).astimezone(UTC)


# The appointment webhook events (appointment-webhooks page).
EVENTS = ("appointment.created", "appointment.updated", "appointment.cancelled", "appointment.completed",
          "slot.created", "slot.updated")
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)  # seconds before each retry (sandbox: undocumented)


@dataclass(frozen=True)
class WebhookEndpoint:
    """Where an organization's webhook events go (added in the dashboard, in reality), signed
    with its secret."""

    id: str
    url: str
    secret: str
    events: frozenset[str] = frozenset(EVENTS)
    retry_delays: tuple[float, ...] = RETRY_DELAYS
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    timezone: ZoneInfo
    rate_limit_per_minute: int | None
    api_keys: tuple[ApiKey, ...] = ()
    services: tuple[Service, ...] = ()
    branches: tuple[Branch, ...] = ()
    windows: tuple[Window, ...] = ()
    # The cancellation policy, named as GET /v1/appointment-config names it.
    allow_cancellation: bool = True
    cancellation_notice_hours: float = 0
    webhooks: tuple[WebhookEndpoint, ...] = ()

    def window(self, window_id: str) -> Window:
        return self._windows_by_id[window_id]

    def service_name(self, service_id: str) -> str:
        return next((s.name for s in self.services if s.id == service_id), service_id)

    def service(self, reference: str) -> Service | None:
        """The service with this id, or else this name (compared case-insensitively)."""
        by_id = next((s for s in self.services if s.id == reference), None)
        if by_id is not None:
            return by_id
        wanted = reference.strip().casefold()
        return next((s for s in self.services if s.name.strip().casefold() == wanted), None)

    def branch(self, branch_id: str) -> Branch | None:
        return next((b for b in self.branches if b.id == branch_id), None)

    def windows_on(self, branch_id: str, day: str) -> tuple[Window, ...]:
        """The windows of a branch on a weekday (any service), in file order."""
        return self._windows_by_branch_day.get((branch_id, day), ())

    @cached_property
    def _windows_by_id(self) -> dict[str, Window]:
        return {w.id: w for w in self.windows}

    @cached_property
    def _windows_by_branch_day(self) -> dict[tuple[str, str], tuple[Window, ...]]:
        index: dict[tuple[str, str], list[Window]] = {}
        for w in self.windows:
            index.setdefault((w.branch_id, w.day), []).append(w)
        return {key: tuple(windows) for key, windows in index.items()}


@dataclass(frozen=True)
class Appointment:
    appointment_id: str
    org_id: str
    window_id: str  # derived: the window the appointment sits in (never in the API object)
    appointment_type: str
    branch_id: str
    date: date
    session: str
    batch: str
    patient_name: str
    parent_phone: str
    created_at: datetime
    updated_at: datetime
    # When it starts (UTC): the appointment_date it was booked or last rescheduled at, else its
    # window's start on its date. Kept for the cancellation notice and the search's UTC day;
    # not one of the API object's fields.
    start: datetime
    status: str = "confirmed"
    token: str | None = None
    assigned_doctor: str | None = None
    notes: str | None = None
    external_reference_id: str | None = None
    # Who booked it: "api", "phone_call" (the voice agent) or "dashboard"; webhooks show it.
    booked_via: str = "api"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @cached_property  # read by every count and duplicate check; the record never changes
    def patient(self) -> tuple[str, str]:
        """Who the booking is for: the phone, and the name compared case-insensitively and
        trimmed (the duplicate rule's "this patient")."""
        return self.parent_phone.strip(), self.patient_name.strip().casefold()
