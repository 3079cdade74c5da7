"""The inspector, `/_sandbox/inspector`: a page that shows a session live (its request journal,
its world by date, its pending forced responses, its webhook deliveries, and the sessions there
are). The page is static, shipped beside this module (`static/`: HTML, one script, one style
sheet, no build step); its script reads the control API's own JSON endpoints, and one served
here for it: the calendar, each window's fill against its capacity on each date, read with the
domain's schedule tracking.

Who may load it: the page holds no data, and a browser cannot send a header when it opens a
page, so the page and its assets are served to whoever the control API would serve with the admin
token (loopback clients and --control-from's networks; anyone, when the server has a token and no
networks). Everything it shows comes through the control API, which asks for the token itself.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request

from ..domain import calendar
from ..domain.clock import format_timestamp, local_date
from ..domain.errors import Detail, Forbidden, InvalidField, NotFound, ValidationError
from ..domain.model import DAYS, Appointment, Organization
from ..domain.store import Store
from .access import ADMIN_ENVIRON
from .control import bp as control_bp  # the calendar is a control endpoint: the control API's guard
from .control import ok
from .http import runtime, session_state
from .slices.slots import tracking_record

bp = Blueprint("inspector", __name__, url_prefix="/_sandbox/inspector")

STATIC = Path(__file__).with_name("static")
ASSETS = {"inspector.js": "text/javascript", "inspector.css": "text/css"}
# The page's own files only: no inline script or style, no other origin, no frames, no forms.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
CALENDAR_DAYS = 14  # the dates the calendar covers without date_to
LISTED_PER_DATE = 50  # the appointments listed for one date (all are counted)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@bp.before_request
def guard() -> None:
    """As the control API's guard, but as if the admin token were sent (see the module's doc)."""
    control = runtime().control
    environ = request.environ if control.token is None else {**request.environ, ADMIN_ENVIRON: control.token}
    refusal = control.refusal("The inspector", environ)
    if refusal is not None:
        raise Forbidden(refusal)


@bp.get("")
def page() -> Response:
    return _static("inspector.html", "text/html")


@bp.get("/assets/<filename>")
def asset(filename: str) -> Response:
    if filename not in ASSETS:
        raise NotFound(f"No inspector asset named {filename[:80]}.")
    return _static(filename, ASSETS[filename])


def _static(name: str, mimetype: str) -> Response:
    return Response(_read(name), mimetype=mimetype, headers={
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})


@cache  # the package's files do not change while it runs
def _read(name: str) -> bytes:
    return (STATIC / name).read_bytes()


# -- the calendar: the session's world by date ----------------------------------------------------

@control_bp.get("/inspector/calendar")
def get_calendar() -> Response:
    """Each organization's dates from `date_from` to `date_to`: the appointments on each, and
    each window that date (schedule tracking's records: capacity, filled, status)."""
    state = session_state()
    store = state.store
    # One pass over the appointments (immutable records), without holding the store's lock: a
    # page reading this every second must not hold up the API's requests on a large world.
    appointments = list(store.appointments())
    organizations = list(store.organizations.values())
    first = _date_arg("date_from") or _first_busy_date(organizations, appointments, state.clock.now())
    last = _date_arg("date_to") or date.fromordinal(min(first.toordinal() + CALENDAR_DAYS - 1, date.max.toordinal()))
    booked: dict[tuple[str, date], list[Appointment]] = {}
    for appointment in appointments:
        if first <= appointment.date <= last:
            booked.setdefault((appointment.org_id, appointment.date), []).append(appointment)
    return ok({"date_from": first.isoformat(), "date_to": last.isoformat(),
               "organizations": [_organization(store, org, first, last, booked) for org in organizations]})


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        if _DATE.fullmatch(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise ValidationError(f"{name} must be a date, YYYY-MM-DD.", [Detail(f"query.{name}", f"got {raw[:40]!r}")])


def _first_busy_date(organizations: list[Organization], appointments: list[Appointment], now: datetime) -> date:
    """The first date, from the session's today on, with an appointment holding a place; today
    without one (today is the earliest organization's: they may be in different timezones)."""
    today = min((local_date(now, org.timezone) for org in organizations), default=now.date())
    return min((a.date for a in appointments if a.active and a.date >= today), default=today)


def _organization(store: Store, org: Organization, first: date, last: date,
                  booked: dict[tuple[str, date], list[Appointment]]) -> dict[str, Any]:
    try:
        records = calendar.tracking(store, org, first, last)
    except InvalidField as exc:
        raise exc.located("query") from None
    windows: dict[date, list[dict[str, Any]]] = {}
    for record in records:
        windows.setdefault(record.on, []).append(tracking_record(record))
    dates = []
    for offset in range((last - first).days + 1):
        on = first + timedelta(days=offset)
        listed = sorted(booked.get((org.id, on), []), key=lambda a: (a.start, a.appointment_id))
        statuses: dict[str, int] = {}
        for appointment in listed:
            statuses[appointment.status] = statuses.get(appointment.status, 0) + 1
        dates.append({"date": on.isoformat(), "day": DAYS[on.weekday()],
                      "appointments": {"total": len(listed), "by_status": statuses,
                                       "listed": [_appointment(a) for a in listed[:LISTED_PER_DATE]]},
                      "windows": windows.get(on, [])})
    return {"id": org.id, "name": org.name, "timezone": str(org.timezone), "dates": dates}


def _appointment(appointment: Appointment) -> dict[str, Any]:
    return {"appointment_id": appointment.appointment_id, "branch_id": appointment.branch_id,
            "session": appointment.session, "batch": appointment.batch, "start": format_timestamp(appointment.start),
            "patient_name": appointment.patient_name, "status": appointment.status}
