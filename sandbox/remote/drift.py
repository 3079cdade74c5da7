"""`huskyvoice-sandbox drift`, one run: mirror the deployment, serve the mirror in process,
send the planned requests to both in order, and collect a row per request (with what differed,
if anything)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..spec.contract import Contract
from .compare import differences, summary
from .mirror import Mirror, Reader, mirror
from .plan import NO_SUCH, Plan, Probe, plan
from .wire import NOT_A_KEY, Call, Deployment, Mirrored, Reply, Unreachable

DOCUMENTED_RATE_LIMIT = 60  # requests a minute per key (rate-limits page)


class DriftError(Exception):
    """The run cannot start: the deployment cannot be mirrored, or a lent id is not in it."""


@dataclass(frozen=True)
class Options:
    base_url: str
    api_key: str
    read_only_key: str | None = None
    other_key: str | None = None
    allow_writes: bool = False
    appointment_ids: tuple[str, ...] = ()
    start: date | None = None
    days: int = 14
    budget: int = 600
    rate_limit: int = DOCUMENTED_RATE_LIMIT
    probe_rate_limit: bool = True


@dataclass(frozen=True)
class Row:
    """One request sent to both sides, and how the deployment's answer differed."""

    label: str
    rule: str
    request: str
    deployment: str
    sandbox: str
    differences: tuple[str, ...] = ()
    follows: str | None = None  # the earlier difference this one only carries on (its label)

    @property
    def drift(self) -> bool:
        return bool(self.differences)


@dataclass
class Outcome:
    options: Options
    mirror: Mirror
    rows: list[Row] = field(default_factory=list)
    not_exercised: dict[str, str] = field(default_factory=dict)
    requests: int = 0  # sent to the deployment, the mirror's included
    put_back: str | None = None  # with writes: whether the lent appointment is back
    writes: bool = False  # were writes planned (and sent)?

    @property
    def drifted(self) -> list[Row]:
        return [row for row in self.rows if row.drift]


def run(options: Options, progress: Callable[[str], None] = lambda m: None,
        sleep: Callable[[float], None] = time.sleep) -> Outcome:
    reader = Reader(options.base_url, options.api_key, options.budget, progress, sleep)
    start = options.start or datetime.now(UTC).date()
    mirrored = mirror(reader, start, options.days)
    _check_lent(mirrored, options.appointment_ids)
    sandbox = Mirrored(mirrored.document)
    dates = [start + timedelta(days=n) for n in range(options.days)]
    chosen = plan(sandbox, list(options.appointment_ids), dates, datetime.now(UTC),
                  read_key=bool(options.read_only_key), other_key=bool(options.other_key),
                  writes=options.allow_writes and bool(options.appointment_ids), lost=mirrored.lost)
    keys = {"write": options.api_key, "read": options.read_only_key or "",
            "other": options.other_key or "", "bogus": NOT_A_KEY}
    deployment = Deployment(options.base_url, keys, sleep, progress)
    session = Session(deployment, sandbox, frozenset(mirrored.lost_ids), progress)
    outcome = Outcome(options, mirrored, not_exercised=dict(chosen.not_exercised), writes=bool(chosen.writes))
    try:
        if chosen.writes:
            _check_put_back_possible(deployment, sandbox, options.appointment_ids[0])
        session.run(chosen, options)
    except Unreachable as lost:
        raise DriftError(f"{lost}" + (f"; {session.put_back}" if session.put_back else "")) from None
    outcome.rows = session.rows + _contract_rows(sandbox.contract, deployment.sent)
    outcome.put_back = session.put_back
    if options.probe_rate_limit:
        outcome.rows.append(_rate_limit(deployment, sandbox, options.rate_limit))
    else:
        outcome.not_exercised["rate-limit"] = "--no-rate-limit-probe"
    outcome.requests = reader.sent + len(deployment.sent)
    return outcome


def _check_put_back_possible(deployment: Deployment, sandbox: Mirrored, lent: str) -> None:
    """Before anything is moved: the lent appointment's window must be open on its date on the
    deployment, or it could not be put back there."""
    subject = next(a for a in sandbox.world.appointments if a.appointment_id == lent)
    window = sandbox.world.organizations[0].window(subject.window_id)
    reply = deployment.send(Call("GET", f"/v1/appointment-slots/availability?date={subject.date.isoformat()}"
                                        f"&branch_id={subject.branch_id}"))
    listed = {slot.get("calendar_id") for slot in (reply.body or {}).get("slots", []) if isinstance(slot, dict)}
    if window.id not in listed:
        raise DriftError(f"the lent appointment {lent}'s window ({window.label()}) is not open on "
                         f"{subject.date.isoformat()} on the deployment: it could not be put back after the "
                         "writes; lend one in a window that is open on its date (nothing was written)")


def _check_lent(mirrored: Mirror, lent: tuple[str, ...]) -> None:
    held = {a["appointment_id"] for a in mirrored.document["organizations"][0]["appointments"]}
    for appointment_id in lent:
        if appointment_id not in held:
            why = next((loss for loss in mirrored.losses if loss.startswith(appointment_id + " ")),
                       "the key's search does not show it")
            raise DriftError(f"the lent appointment {appointment_id} is not in the mirror: {why}")


@dataclass
class Session:
    """The planned requests, in order, to both sides; each write read back on both."""

    deployment: Deployment
    sandbox: Mirrored
    unmirrored: frozenset[str]
    progress: Callable[[str], None]
    rows: list[Row] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)  # side -> the subject as the last write answered
    diverged: Probe | None = None  # the write after which the two sides' appointment differs
    put_back: str | None = None  # whether the lent appointment is back where it was
    nowhere_exists: bool = False  # the deployment has an appointment with the id meant to exist nowhere

    def run(self, chosen: Plan, options: Options) -> None:
        for number, probe in enumerate(chosen.reads, 1):
            self.progress(f"reads {number}/{len(chosen.reads)}: {probe.label}")
            self.exchange(probe)
        if options.other_key:
            self.rows.append(self._isolated_search())
        try:
            for number, probe in enumerate(chosen.writes, 1):
                self.progress(f"writes {number}/{len(chosen.writes)}: {probe.label}")
                self.exchange(probe)
        except BaseException:  # cut short (no answer, Ctrl-C): the lent appointment goes back first
            if chosen.writes and self.put_back is None:
                self.put_back = self._put_back_now(chosen.writes[-1])
                self.progress(self.put_back)
            raise

    def _put_back_now(self, probe: Probe) -> str:
        try:
            self.deployment.send(probe.call)
            return _put_back(probe, self.deployment.send(Call("GET", f"/v1/appointments/{probe.read_back}")))
        except Unreachable as lost:
            return f"{probe.read_back} is NOT back as it was ({lost}): put it back by hand: {probe.call}"

    def exchange(self, probe: Probe) -> None:
        if probe.call.path == f"/v1/appointments/{NO_SUCH}" and probe.call.method != "GET" and self.nowhere_exists:
            return  # the id meant to exist nowhere exists there: nothing is sent to it
        theirs, ours = self.deployment.send(probe.call), self.sandbox.send(probe.call)
        if probe.call.path == f"/v1/appointments/{NO_SUCH}" and probe.call.method == "GET":
            self.nowhere_exists = theirs.status != 404
        found = differences(theirs, ours, self.unmirrored)
        follows = self._follows(found, same_outcome=(theirs.status, theirs.code) == (ours.status, ours.code))
        if probe.unchanged and (theirs.data == self.last.get("deployment")) != (ours.data == self.last.get("sandbox")):
            found.append("the appointment changed, expected it as the previous answer gave it (updated_at too)"
                         if ours.data == self.last.get("sandbox") else "expected a change")
        self.rows.append(_row(probe.label, follows.rule if follows else probe.rule, probe.call, theirs, ours,
                              found, follows))
        if found and follows is None and probe.call.method != "GET":  # only a write leaves state behind
            self.diverged = probe
        if theirs.status < 300 and ours.status < 300:
            self.last = {"deployment": theirs.data, "sandbox": ours.data}
        if probe.read_back:
            call = Call("GET", f"/v1/appointments/{probe.read_back}")
            theirs_now, ours_now = self.deployment.send(call), self.sandbox.send(call)
            found = differences(theirs_now, ours_now, self.unmirrored)
            follows = self._follows(found, same_outcome=True)
            rule = follows.rule if follows else "read-after-write"
            if follows is probe:  # the read-back of the write that differed: part of that difference
                rule, follows = probe.rule, None
            self.rows.append(_row(f"read back, after: {probe.label}", rule, call, theirs_now, ours_now,
                                  found, follows))
            if not found:
                self.diverged = None
            if probe.restores:
                self.put_back = _put_back(probe, theirs_now)

    def _follows(self, found: list[str], same_outcome: bool) -> Probe | None:
        """The earlier write whose difference this answer only carries on (the appointment
        already differed, and the request itself was answered alike), if any."""
        return self.diverged if found and same_outcome else None

    def _isolated_search(self) -> Row:
        """Another organization's key searches: none of this organization's appointments may
        be in what it sees (its own appointments are not known to the mirror)."""
        call = Call("GET", "/v1/appointments?limit=200", key="other")
        theirs = self.deployment.send(call)
        held = {a.appointment_id for a in self.sandbox.world.appointments}
        seen = [a.get("appointment_id") for a in theirs.data or [] if isinstance(a, dict)]
        leaked = [i for i in seen if i in held]
        found = [f"body.data: {', '.join(leaked[:5])} of the key's own organization"] if leaked else []
        if theirs.status != 200:
            found = [f"status {theirs.status}, expected 200"]
        return Row("another organization's search", "isolation", str(call), summary(theirs),
                   f"200 none of the {len(held)} appointments of the key's organization", tuple(found))


def _put_back(probe: Probe, reply: Reply) -> str:
    wanted = probe.restores or {}
    shown = reply.data if isinstance(reply.data, dict) else {}
    where = " ".join(wanted.values())
    if all(shown.get(name) == value for name, value in wanted.items()):
        return f"{probe.read_back} is back as it was ({where}; its time is its window's opening)"
    return (f"{probe.read_back} is NOT back as it was ({where}): the deployment shows {summary(reply)}; "
            "put it back by hand")


def _row(label: str, rule: str, call: Call, theirs: Reply, ours: Reply, found: list[str],
         follows: Probe | None = None) -> Row:
    return Row(label, rule, str(call), summary(theirs), summary(ours), tuple(found),
               follows.label if follows else None)


def _contract_rows(contract: Contract, sent: list[tuple[Call, Reply]]) -> list[Row]:
    """Every answer of the deployment against openapi.yaml: its status is documented, its
    body has the documented shape, its required headers are there."""
    rows, seen = [], set()
    checked = Row(f"every answer against openapi.yaml ({len(sent)})", "contract", "every request above",
                  "matches openapi.yaml", "matches openapi.yaml")
    for call, reply in sent:
        problems = tuple(contract.response_problems(call.method, call.route, reply.status,
                                                    reply.headers, reply.body))
        if problems and (call.route, reply.status, problems) not in seen:
            seen.add((call.route, reply.status, problems))
            rule = "rate-limit" if reply.status == 429 else "contract"
            rows.append(Row(f"the answer's shape: {call}", rule, str(call), summary(reply),
                            "an answer that matches openapi.yaml", problems[:6]))
    return rows or [checked]


def _rate_limit(deployment: Deployment, mirrored: Mirrored, limit: int) -> Row:
    """GETs until the deployment answers 429 (at most limit + 1 of them); the sandbox, fresh,
    with the same limit, gets the same until its own 429; the two 429s are compared."""
    call = Call("GET", "/v1/appointment-config")
    began = time.monotonic()
    theirs = _until_429(lambda: deployment.send(call, wait=False), limit + 1)
    sandbox = Mirrored(mirrored.source, rate_limit=limit, contract=mirrored.contract)
    ours = _until_429(lambda: sandbox.send(call), limit + 1)
    label = f"over {limit} requests a minute"
    if theirs.status != 429:
        return Row(label, "rate-limit", f"{limit + 1} x {call}", summary(theirs), summary(ours),
                   (f"no 429 after {limit + 1} requests in {time.monotonic() - began:.0f} s",))
    found = differences(theirs, ours)
    found += mirrored.contract.response_problems(call.method, call.route, theirs.status, theirs.headers, theirs.body)
    return Row(label, "rate-limit", f"{limit + 1} x {call}", _with_wait(theirs), _with_wait(ours), tuple(found))


def _until_429(send: Callable[[], Reply], most: int) -> Reply:
    reply = send()
    for _ in range(most - 1):
        if reply.status == 429:
            break
        reply = send()
    return reply


def _with_wait(reply: Reply) -> str:
    wait = reply.headers.get("retry-after")
    return summary(reply) + (f", Retry-After {wait}" if wait else ", no Retry-After")
