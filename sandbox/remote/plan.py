"""Which requests a drift run sends, chosen from the mirror so that each shows one rule.

Read-only (always): reads of the lent ids and of an id nobody has, searches, availability,
services, configuration, and refusals that must come whatever the state: no key, an unknown
key, a read-only key, malformed bodies and queries. The refused PATCHes go only to an id that
does not exist, so even a deployment that forgot to refuse them has nothing to change.

Writes (with --allow-writes, to the first lent appointment only): a reschedule into a window
with no room, into no window, into a window closed that date, onto the date of the patient's
own other booking, into a window with room, a reschedule with an explicit status, awkward but
valid text in the notes and the doctor's name, a cancel, a repeated cancel, and last the
appointment put back where it was (its doctor too; its notes, which the API never shows,
cleared). Each write is read back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from ..domain import booking
from ..domain.clock import format_timestamp
from ..domain.errors import ApiError
from ..domain.model import DAYS, Appointment, Organization, Window
from .wire import Call, Mirrored

NO_SUCH = "appt_drift_does_not_exist"  # an id nobody has: refused writes go here, and only here
WRITE_RULES = ("capacity", "outside", "closed", "duplicate", "reschedule", "explicit-status",
               "free-text", "cancel", "cancel-again", "updated-at", "created-at", "read-after-write")

# Awkward but valid text (openapi.yaml: a string, a name at most 200 characters, notes at most
# 2000): quotes, a backslash, a newline, accents, Tamil, Devanagari, Japanese, an emoji of several
# code points (4 bytes each in UTF-8). Well inside the limits however they are counted (code
# points, UTF-16 units, UTF-8 bytes), and already in Unicode's NFC form.
AWKWARD_DOCTOR = ('Dr. Zoë "Zee" O\'Brien-Nguyễn, MBBS, MD (Paediatrics), Senior Consultant, '
                  "Fellow of the Indian Academy of Paediatrics\n"
                  "டாக்டர் ப்ரியா / डॉ. प्रिया / 佐藤 花子 \\ 👩🏽‍⚕️")
AWKWARD_NOTES = "".join(
    f"{n:02d}. Parent's note: «{'prefers' if n % 2 else 'asked for'} the \"morning\" slot» — "
    f"கவனம் / ध्यान दें / ご注意 ✓ 👶🏽\tC:\\notes\\{n}\n" for n in range(1, 13))


@dataclass(frozen=True)
class Probe:
    label: str
    rule: str
    call: Call
    read_back: str | None = None  # the appointment to GET on both sides after the call
    unchanged: bool = False  # the answer must be the appointment exactly as last answered
    restores: dict[str, Any] | None = None  # the fields the read-back must show: it was put back


@dataclass
class Plan:
    reads: list[Probe] = field(default_factory=list)
    writes: list[Probe] = field(default_factory=list)
    not_exercised: dict[str, str] = field(default_factory=dict)  # rule -> why not


def plan(mirrored: Mirrored, lent: list[str], dates: list[date], now: datetime, *,
         read_key: bool, other_key: bool, writes: bool, lost: list[dict[str, Any]] | None = None) -> Plan:
    """`lost`: the appointments the mirror could not hold, as read (their dates still count
    for the duplicate rule)."""
    org = mirrored.world.organizations[0]
    mine = [a for a in mirrored.world.appointments if a.org_id == org.id]
    subject = next((a for a in mine if a.appointment_id == (lent[0] if lent else None)),
                   mine[0] if mine else None)
    chosen = Plan()
    if writes and subject is not None:
        Writes(mirrored, org, mine, subject, dates, now, lost or []).add_to(chosen)
    elif writes:
        chosen.not_exercised.update(dict.fromkeys(WRITE_RULES, "the mirror holds no appointment"))
    else:
        chosen.not_exercised.update(dict.fromkeys(
            WRITE_RULES, "read-only: writes need --allow-writes and --appointment-id"))
    touched = sorted({d for p in chosen.writes for d in _dates_in(p)} | set(dates[:3]))
    chosen.reads = _reads(org, lent, subject, touched, read_key, other_key, chosen.not_exercised)
    return chosen


def _reads(org: Organization, lent: list[str], subject: Appointment | None, dates: list[date], read_key: bool,
           other_key: bool, not_exercised: dict[str, str]) -> list[Probe]:
    reads = [Probe("the services", "reads", Call("GET", "/v1/services")),
             Probe("the configuration", "reads", Call("GET", "/v1/appointment-config")),
             *[Probe(f"read {i}", "reads", Call("GET", f"/v1/appointments/{i}")) for i in lent],
             Probe("read an id nobody has", "not-found", Call("GET", f"/v1/appointments/{NO_SUCH}")),
             Probe("search, first page", "reads", _get("/v1/appointments", limit=50)),
             Probe("search cancelled", "reads", _get("/v1/appointments", status="cancelled", limit=20)),
             *[Probe(f"availability {d}", "reads", _get("/v1/appointment-slots/availability", date=d))
               for d in dates]]
    if subject is not None and not _ambiguous_day(org, subject.date):
        reads.append(Probe(f"search {subject.date}", "reads", _get("/v1/appointments", date=subject.date)))
    if subject is not None:
        reads += [Probe("search a branch and session", "reads", _get(
                      "/v1/appointments", branch_id=subject.branch_id, session=subject.session, limit=20))]
    reads += _refusals(subject, read_key, other_key, not_exercised)
    return reads


def _refusals(subject: Appointment | None, read_key: bool, other_key: bool,
              not_exercised: dict[str, str]) -> list[Probe]:
    nowhere = f"/v1/appointments/{NO_SUCH}"
    refusals = [
        Probe("no key", "auth", Call("GET", "/v1/appointments", key="none")),
        Probe("an unknown key", "auth", Call("GET", "/v1/services", key="bogus")),
        Probe("an unknown key, on an update", "auth", Call("PATCH", nowhere, key="bogus", body={"notes": "x"})),
        Probe("an empty update", "validation", Call("PATCH", nowhere, body={})),
        Probe("a date that is not a date", "validation",
              Call("PATCH", nowhere, body={"appointment_date": "next tuesday"})),
        Probe("a body that is not JSON", "validation", Call("PATCH", nowhere, raw="{notes: x")),
        Probe("a page size of 0", "validation", _get("/v1/appointments", limit=0)),
        Probe("an impossible date", "validation", _get("/v1/appointment-slots/availability", date="2026-02-30")),
    ]
    if read_key:
        refusals.append(Probe("a read-only key, on an update", "scope",
                              Call("PATCH", nowhere, key="read", body={"status": "cancelled"})))
    else:
        not_exercised["scope"] = "no --read-only-key"
    if other_key and subject is not None:
        refusals.append(Probe("another organization's key", "isolation",
                              Call("GET", f"/v1/appointments/{subject.appointment_id}", key="other")))
    elif not other_key:
        not_exercised["isolation"] = "no --other-key (a key of another organization)"
    return refusals


def _ambiguous_day(org: Organization, on: date) -> bool:
    """Does a window of that weekday span two UTC days? A search by date matches the UTC day of
    an appointment's start, which the mirror cannot see (it puts each at its window's opening)."""
    for window in org.windows:
        if window.day == DAYS[on.weekday()]:
            opens = window.start_on(on, org.timezone)
            closes = datetime.combine(on, window.end_time, org.timezone).astimezone(UTC) - timedelta(microseconds=1)
            if opens.date() != closes.date():
                return True
    return False


def _get(path: str, **query: Any) -> Call:
    return Call("GET", f"{path}?{urlencode({k: str(v) for k, v in query.items()})}")


def _dates_in(probe: Probe) -> list[date]:
    body = probe.call.body
    moment = body.get("appointment_date") if isinstance(body, dict) else None
    return [date.fromisoformat(moment[:10])] if isinstance(moment, str) else []


@dataclass
class Writes:
    """The writes to one lent appointment, chosen from the mirror's windows and counts."""

    mirrored: Mirrored
    org: Organization
    mine: list[Appointment]
    subject: Appointment
    dates: list[date]
    now: datetime
    lost: list[dict[str, Any]] = field(default_factory=list)
    _read: dict[date, list[dict[str, Any]]] = field(default_factory=dict)  # the mirror's availability

    def add_to(self, chosen: Plan) -> None:
        subject = self.subject
        if not subject.active:
            chosen.not_exercised.update(dict.fromkeys(
                WRITE_RULES, f"the lent appointment {subject.appointment_id} is {subject.status}: "
                             "lend a confirmed one"))
            return
        found = {"capacity": self._full(), "outside": self._outside(), "closed": self._closed(),
                 "duplicate": self._duplicate()}
        rooms = self._rooms()
        found["reschedule"] = rooms[0] if rooms else None
        found["explicit-status"] = rooms[1] if len(rooms) > 1 else None
        for rule, probe in found.items():
            if probe is None:
                chosen.not_exercised[rule] = self._why_not(rule)
            else:
                chosen.writes.append(probe)
        appointment = f"/v1/appointments/{subject.appointment_id}"
        chosen.writes += [
            Probe("notes and a doctor's name: long, non-ASCII, quotes, newlines", "free-text",
                  self._patch({"assigned_doctor": AWKWARD_DOCTOR, "notes": AWKWARD_NOTES}),
                  read_back=subject.appointment_id),
            Probe("cancel", "cancel", Call("PATCH", appointment, body={"status": "cancelled"}),
                  read_back=subject.appointment_id),
            Probe("cancel again", "cancel-again", Call("PATCH", appointment, body={"status": "cancelled"}),
                  read_back=subject.appointment_id, unchanged=True),
            self._put_back()]

    # -- the targets -------------------------------------------------------------------------
    def _full(self) -> Probe | None:
        for on, slot in self._slots(lambda s: s["available_slots"] == 0):
            if on != self.subject.date and on not in self._patient_dates:
                window = self.org.window(slot["calendar_id"])
                return self._move(f"into {window.label()} on {on}, which is full", "capacity", window, on)
        return None

    def _closed(self) -> Probe | None:
        for window in self._windows:
            for on in sorted(window.closed_dates):
                if on in self._future and on != self.subject.date and on not in self._patient_dates \
                        and self._lands_in(window, on):
                    return self._move(f"into {window.label()} on {on}, closed that date", "closed", window, on)
        return None

    def _duplicate(self) -> Probe | None:
        for other in sorted(self._others, key=lambda a: a.date):
            if other.date in self._future and other.date != self.subject.date:
                for on, slot in self._slots(lambda s: True, [other.date]):
                    window = self.org.window(slot["calendar_id"])
                    if not self._lands_in(window, on):
                        continue
                    return self._move(f"onto {on}, the date of the patient's {other.appointment_id}",
                                      "duplicate", window, on)
        return None

    def _outside(self) -> Probe | None:
        for on in self._future:
            for minutes in range(0, 24 * 60, 30):
                local = datetime.combine(on, time(minutes // 60, minutes % 60), self.org.timezone)
                try:
                    booking.place_at(self.org, self.subject.branch_id, self.subject.appointment_type, local)
                except ApiError:
                    moment = format_timestamp(local)
                    return Probe(f"to {on} {local:%H:%M} local, in no window", "outside",
                                 self._patch({"appointment_date": moment}), self.subject.appointment_id)
        return None

    def _rooms(self) -> list[Probe]:
        """A reschedule into a window with room (another session first, so that session and
        batch must follow), then one with an explicit status, on another date."""
        found: list[tuple[date, Window]] = []
        for on, slot in self._slots(lambda s: s["available_slots"] > 0):
            window = self.org.window(slot["calendar_id"])
            if on != self.subject.date and on not in self._patient_dates and self._lands_in(window, on):
                found.append((on, window))
        found.sort(key=lambda f: (f[1].session == self.subject.session, f[0]))
        if not found:
            return []
        on, window = found[0]
        probes = [self._move(f"into {window.label()} on {on}, which has room", "reschedule", window, on)]
        second = next((f for f in found if f[0] != on), None)
        if second:
            window, on = second[1], second[0]
            probes.append(Probe(f"into {window.label()} on {on} with status confirmed", "explicit-status",
                                self._patch({"appointment_date": self._start(window, on), "status": "confirmed"}),
                                self.subject.appointment_id))
        return probes

    def _put_back(self) -> Probe:
        """The lent appointment where it was: its date, session, batch, status and doctor (its
        time becomes its window's opening, and its notes are cleared: the API shows neither)."""
        subject = self.subject
        window = self.org.window(subject.window_id)
        return Probe(f"put {subject.appointment_id} back ({subject.date} {subject.session} {subject.batch}, "
                     f"{subject.status})", "explicit-status",
                     self._patch({"appointment_date": self._start(window, subject.date),
                                  "session": subject.session, "batch": subject.batch,
                                  "status": subject.status, "assigned_doctor": subject.assigned_doctor,
                                  "notes": None}), subject.appointment_id,
                     restores={"date": subject.date.isoformat(), "session": subject.session,
                               "batch": subject.batch, "status": subject.status,
                               "assigned_doctor": subject.assigned_doctor})

    def _why_not(self, rule: str) -> str:
        subject = self.subject
        return {
            "capacity": f"no full window of {subject.branch_id} for its service in the dates read",
            "outside": "every time of the dates read is in a window",
            "closed": f"no window of {subject.branch_id} for its service is closed on a date read",
            "duplicate": f"{subject.patient_name} has no other active booking of the service on a later date read",
            "reschedule": "no window with room on another date read",
            "explicit-status": "no second window with room on another date read",
        }[rule]

    # -- what the mirror knows ---------------------------------------------------------------
    @property
    def _future(self) -> list[date]:
        today = self.now.astimezone(self.org.timezone).date()
        return [d for d in self.dates if d > today]

    @property
    def _others(self) -> list[Appointment]:
        """The patient's other active bookings of the same service."""
        s = self.subject
        return [a for a in self.mine if a.appointment_id != s.appointment_id and a.active
                and a.patient == s.patient and a.appointment_type == s.appointment_type]

    @property
    def _patient_dates(self) -> set[date]:
        """The dates of the patient's other active bookings of the service, those the mirror
        left out included."""
        s = self.subject

        def same_patient(a: dict[str, Any]) -> bool:
            return (str(a.get("parent_phone", "")).strip(), str(a.get("patient_name", "")).strip().casefold()) \
                == s.patient
        lost = {date.fromisoformat(a["date"]) for a in self.lost if same_patient(a)
                and a.get("status") in ("confirmed", "rescheduled") and a.get("appointment_type") == s.appointment_type}
        return {a.date for a in self._others} | lost

    @property
    def _windows(self) -> list[Window]:
        s = self.subject
        return [w for w in self.org.windows if w.branch_id == s.branch_id and w.serves(s.appointment_type)]

    def _slots(self, wanted: Any, dates: list[date] | None = None) -> list[tuple[date, dict[str, Any]]]:
        """Availability's slots of the subject's branch and service, in the mirror, as wanted."""
        s = self.subject
        found = []
        for on in dates or self._future:
            if on not in self._read:  # each date asked once: the plan changes nothing
                self._read[on] = self.mirrored.send(_get("/v1/appointment-slots/availability", date=on,
                                                         branch_id=s.branch_id)).json["slots"]
            found += [(on, slot) for slot in self._read[on]
                      if slot["appointment_type"] in (None, s.appointment_type) and wanted(slot)]
        return found

    def _lands_in(self, window: Window, on: date) -> bool:
        """Would a booking at the window's opening that date be placed in it (not in another
        window that covers the same time)?"""
        try:
            placed = booking.place_at(self.org, self.subject.branch_id, self.subject.appointment_type,
                                      window.start_on(on, self.org.timezone))
        except ApiError:
            return False
        return placed.window.id == window.id

    def _start(self, window: Window, on: date) -> str:
        return format_timestamp(window.start_on(on, self.org.timezone))

    def _move(self, label: str, rule: str, window: Window, on: date) -> Probe:
        return Probe(label, rule, self._patch({"appointment_date": self._start(window, on)}),
                     self.subject.appointment_id)

    def _patch(self, body: dict[str, Any]) -> Call:
        return Call("PATCH", f"/v1/appointments/{self.subject.appointment_id}", body=body)
