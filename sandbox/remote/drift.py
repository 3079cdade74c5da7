"""`huskyvoice-sandbox drift`, one run: mirror the deployment, serve the mirror in process,
send the planned requests to both in order, and collect a row per request (with what differed,
if anything).

Where the sandbox cannot predict a value, relations are checked instead: the lent appointment's
`updated_at` must move forward when the sandbox's does (its clock follows the deployment's Date
headers, so a frozen deployment is mirrored frozen), must stay when a write is refused, and its
`created_at` must never change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..domain.clock import parse_utc
from ..spec.contract import Contract
from .compare import MAX_DIFFERENCES, differences, same_instant, summary
from .mirror import Mirror, Reader, mirror
from .plan import NO_SUCH, Plan, Probe, plan
from .reply import Reply
from .wire import NOT_A_KEY, Call, Deployment, Mirrored, Unreachable

DOCUMENTED_RATE_LIMIT = 60  # requests a minute per key (rate-limits page)


class DriftError(Exception):
    """The run cannot be made: the deployment cannot be mirrored, a lent id is not in it, the
    deployment stopped answering, or the run was interrupted."""


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
    rate_limit: int | None = None  # None: the documented 60, if the deployment answers 429 at all
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
    clock: str = ""  # whose time the run used

    @property
    def drifted(self) -> list[Row]:
        return [row for row in self.rows if row.drift]


def run(options: Options, progress: Callable[[str], None] = lambda m: None,
        sleep: Callable[[float], None] = time.sleep) -> Outcome:
    reader = Reader(options.base_url, options.api_key, options.budget, progress, sleep)
    mirrored = mirror(reader, options.start, options.days)  # the deployment's today, by default
    _check_lent(mirrored, options.appointment_ids)
    sandbox = Mirrored(mirrored.document, now=mirrored.now)
    chosen = plan(sandbox, list(options.appointment_ids), mirrored.dates, reader.clock.now(),
                  read_key=bool(options.read_only_key), other_key=bool(options.other_key),
                  writes=options.allow_writes and bool(options.appointment_ids), lost=mirrored.lost)
    keys = {"write": options.api_key, "read": options.read_only_key or "",
            "other": options.other_key or "", "bogus": NOT_A_KEY}
    deployment = Deployment(options.base_url, keys, sleep, progress, clock=reader.clock)
    session = Session(deployment, sandbox, frozenset(mirrored.lost_ids), progress,
                      subject=options.appointment_ids[0] if chosen.writes else None)
    outcome = Outcome(options, mirrored, not_exercised=dict(chosen.not_exercised), writes=bool(chosen.writes))
    try:
        if chosen.writes:
            _check_put_back_possible(deployment, sandbox, options.appointment_ids[0])
        session.run(chosen, options)
        outcome.rows = session.rows + _contract_rows(sandbox.contract, deployment.sent)
        outcome.put_back = session.put_back
        if options.probe_rate_limit:
            row, why = _rate_limit(deployment, sandbox, options.rate_limit)
            if row is not None:
                outcome.rows.append(row)
            else:
                outcome.not_exercised["rate-limit"] = why
        else:
            outcome.not_exercised["rate-limit"] = "--no-rate-limit-probe"
    except (Unreachable, KeyboardInterrupt) as stopped:
        why = str(stopped) if isinstance(stopped, Unreachable) else "interrupted"
        wrote = any(call.method != "GET" and call.route == f"/v1/appointments/{session.subject}"
                    for call, _ in deployment.sent)
        where = session.put_back or ("" if wrote else "nothing was written")
        raise DriftError(why + (f"; {where}" if where else "")) from None
    outcome.requests = reader.sent + len(deployment.sent)
    outcome.clock = reader.clock.describe()
    return outcome


def _check_put_back_possible(deployment: Deployment, sandbox: Mirrored, lent: str) -> None:
    """Before anything is moved: the lent appointment's window must be open on its date on the
    deployment, or it could not be put back there."""
    subject = next(a for a in sandbox.world.appointments if a.appointment_id == lent)
    window = sandbox.world.organizations[0].window(subject.window_id)
    reply = deployment.send(Call("GET", f"/v1/appointment-slots/availability?date={subject.date.isoformat()}"
                                        f"&branch_id={subject.branch_id}"))
    listed = {slot.get("calendar_id") for slot in (reply.json or {}).get("slots", []) if isinstance(slot, dict)}
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
    subject: str | None = None  # the lent appointment the writes go to
    rows: list[Row] = field(default_factory=list)
    written: set[str] = field(default_factory=set)  # ids a write was accepted for, on either side
    seen: dict[str, Any] = field(default_factory=dict)  # side -> the subject as last shown
    created: list[tuple[str, Any]] = field(default_factory=list)  # the deployment's created_at, answer by answer
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
        if chosen.writes:
            self.rows.append(self._created_at_row())

    def _put_back_now(self, probe: Probe) -> str:
        try:
            self.deployment.send(probe.call)
            return _put_back(probe, self.deployment.send(Call("GET", f"/v1/appointments/{probe.read_back}")))
        except Unreachable as lost:
            return f"{probe.read_back} is NOT back as it was ({lost}): put it back by hand: {probe.call}"

    def both(self, call: Call) -> tuple[Reply, Reply]:
        """The deployment's answer, then the sandbox's, its clock at the deployment's time."""
        theirs = self.deployment.send(call)
        self.sandbox.at(self.deployment.clock.now())  # its Date; this machine's clock if it sends none
        return theirs, self.sandbox.send(call)

    def exchange(self, probe: Probe) -> None:
        if probe.call.path == f"/v1/appointments/{NO_SUCH}" and probe.call.method != "GET" and self.nowhere_exists:
            return  # the id meant to exist nowhere exists there: nothing is sent to it
        before = dict(self.seen)
        theirs, ours = self.both(probe.call)
        if probe.call.path == f"/v1/appointments/{NO_SUCH}" and probe.call.method == "GET":
            self.nowhere_exists = theirs.status != 404
        if probe.call.method != "GET" and (theirs.status < 300 or ours.status < 300):
            self.written.add(probe.call.route.rsplit("/", 1)[-1])
        self._saw(probe.label, probe.call, theirs, ours)
        found = differences(theirs, ours, self.unmirrored, frozenset(self.written))
        follows = self._follows(found, same_outcome=(theirs.status, theirs.code) == (ours.status, ours.code))
        if probe.unchanged and (theirs.data == self.last.get("deployment")) != (ours.data == self.last.get("sandbox")):
            found.append(f"the appointment changed ({_changed(theirs.data, self.last.get('deployment'))}), expected "
                         "it as the previous answer gave it, updated_at too"
                         if ours.data == self.last.get("sandbox") else "expected a change")
        self.rows.append(_row(probe.label, follows.rule if follows else probe.rule, probe.call, theirs, ours,
                              found, follows))
        if found and follows is None and probe.call.method != "GET":  # only a write leaves state behind
            self.diverged = probe
        if theirs.status < 300 and ours.status < 300:
            self.last = {"deployment": theirs.data, "sandbox": ours.data}
        if probe.read_back:
            call = Call("GET", f"/v1/appointments/{probe.read_back}")
            theirs_now, ours_now = self.both(call)
            self._saw(f"read back, after: {probe.label}", call, theirs_now, ours_now)
            found = differences(theirs_now, ours_now, self.unmirrored, frozenset(self.written))
            found += _as_answered(theirs_now, theirs)
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
            if not probe.unchanged:  # a repeated cancel: its own rule says the record stays as it was
                self.rows.append(self._updated_at_row(probe, before, theirs, ours, theirs_now))

    def _saw(self, label: str, call: Call, theirs: Reply, ours: Reply) -> None:
        """Note the lent appointment as each side shows it, and the deployment's created_at."""
        for side, reply in (("deployment", theirs), ("sandbox", ours)):
            data = reply.data
            if reply.status < 300 and isinstance(data, dict) and self.subject \
                    and data.get("appointment_id") == self.subject:
                self.seen[side] = data
                if side == "deployment" and self.written:
                    self.created.append((f"{label}: {call.method} {call.path}", data.get("created_at")))

    def _updated_at_row(self, probe: Probe, before: dict[str, Any], theirs: Reply, ours: Reply,
                        theirs_now: Reply) -> Row:
        """How the deployment's updated_at moved on a write: forward when the sandbox's did
        (both clocks read the deployment's time), not at all when the deployment refused it."""
        was = (before.get("deployment") or {}).get("updated_at")
        sandbox_was = (before.get("sandbox") or {}).get("updated_at")
        moved = ours.status < 300 and isinstance(ours.data, dict) and _later(ours.data.get("updated_at"), sandbox_was)
        found: list[str] = []
        if theirs.status < 300 and isinstance(theirs.data, dict):
            now = theirs.data.get("updated_at")
            expected = "later than before" if moved else "any (the sandbox's did not move: same second, or frozen)"
            if moved and was is not None and not _later(now, was):
                how = "went back" if _later(was, now) else "did not move"
                found.append(f"body.data.updated_at {how}: {now!r}, was {was!r}; expected later")
        else:
            now = (theirs_now.data or {}).get("updated_at") if isinstance(theirs_now.data, dict) else None
            expected = "as before (the write was refused)"
            if theirs.status >= 400 and theirs_now.status < 300 and was is not None and not same_instant(now, was):
                found.append(f"read back: updated_at {now!r}, was {was!r}: it moved though the write was refused")
        return Row(f"updated_at, {probe.label}", "updated-at", str(probe.call), f"updated_at {now}",
                   f"updated_at {expected}", tuple(found))

    def _created_at_row(self) -> Row:
        """The lent appointment's created_at in every answer of the deployment since the first
        accepted write: as the mirror read it."""
        mirrored = next((a.get("created_at") for a in self.sandbox.source["organizations"][0]["appointments"]
                         if a.get("appointment_id") == self.subject), None)
        changed = [f"{where}: created_at {value!r}, expected {mirrored!r}" for where, value in self.created
                   if mirrored is not None and not same_instant(value, mirrored)]
        shown = changed[:MAX_DIFFERENCES] + ([f"... and {len(changed) - MAX_DIFFERENCES} more"]
                                             if len(changed) > MAX_DIFFERENCES else [])
        return Row(f"created_at of {self.subject}, answer by answer", "created-at",
                   f"every answer with {self.subject} after a write ({len(self.created)})",
                   f"created_at changed in {len(changed)}" if changed else f"created_at {mirrored}",
                   f"created_at {mirrored}", tuple(shown))

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


def _changed(now: Any, was: Any) -> str:
    """The fields of an appointment that differ between two answers: `updated_at, status`."""
    if not isinstance(now, dict) or not isinstance(was, dict):
        return "not an appointment" if not isinstance(now, dict) else "no earlier answer"
    return ", ".join(name for name in dict.fromkeys([*was, *now]) if now.get(name) != was.get(name))


def _later(one: Any, other: Any) -> bool:
    """Is timestamp `one` later than `other`? False when either is not a timestamp."""
    try:
        return parse_utc(one) > parse_utc(other)
    except ValueError:
        return False


def _as_answered(read: Reply, write: Reply) -> list[str]:
    """The timestamps a read-back shows that differ from those the write answered."""
    if read.status >= 300 or write.status >= 300 or not isinstance(read.data, dict) or not isinstance(write.data, dict):
        return []
    return [f"body.data.{name}: {read.data.get(name)!r}, the write answered {write.data.get(name)!r}"
            for name in ("created_at", "updated_at") if not same_instant(read.data.get(name), write.data.get(name))]


def _put_back(probe: Probe, reply: Reply) -> str:
    wanted = probe.restores or {}
    shown = reply.data if isinstance(reply.data, dict) else {}
    where = " ".join(str(wanted[name]) for name in ("date", "session", "batch", "status") if name in wanted)
    if all(shown.get(name) == value for name, value in wanted.items()):
        return f"{probe.read_back} is back as it was ({where}; its time is its window's opening, its notes cleared)"
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
                                                    reply.headers, reply.json))
        if problems and (call.route, reply.status, problems) not in seen:
            seen.add((call.route, reply.status, problems))
            rule = "rate-limit" if reply.status == 429 else "contract"
            rows.append(Row(f"the answer's shape: {call}", rule, str(call), summary(reply),
                            "an answer that matches openapi.yaml", problems[:6]))
    return rows or [checked]


def _rate_limit(deployment: Deployment, mirrored: Mirrored, required: int | None) -> tuple[Row | None, str]:
    """GETs until the deployment answers 429 (at most limit + 1 of them); the sandbox, fresh,
    with the same limit, gets the same until its own 429; the two 429s are compared. No 429 at
    all is drift when the limit was given (`required`); otherwise the rule is not exercised, and
    why is said in one line: the API shows its limit nowhere but in its 429s, and a deployment
    may have none (a sandbox world's `rate_limit_per_minute: null`)."""
    limit = required or DOCUMENTED_RATE_LIMIT
    call = Call("GET", "/v1/appointment-config")
    began = time.monotonic()
    theirs = _until_429(lambda: deployment.send(call, wait=False), limit + 1)
    sandbox = Mirrored(mirrored.source, rate_limit=limit, contract=mirrored.contract, now=deployment.clock.now())
    ours = _until_429(lambda: sandbox.send(call), limit + 1)
    label = f"over {limit} requests a minute"
    took = f"{limit + 1} requests in {time.monotonic() - began:.0f} s"
    if theirs.status != 429 and required is None:
        return None, (f"no 429 after {took}: no limit of {limit} a minute (the documented one) is enforced "
                      "(a sandbox world's rate_limit_per_minute: null sets none); --rate-limit N requires one")
    if theirs.status != 429:
        return Row(label, "rate-limit", f"{limit + 1} x {call}", summary(theirs), summary(ours),
                   (f"no 429 after {took}",)), ""
    found = differences(theirs, ours)
    found += mirrored.contract.response_problems(call.method, call.route, theirs.status, theirs.headers, theirs.json)
    return Row(label, "rate-limit", f"{limit + 1} x {call}", _with_wait(theirs), _with_wait(ours), tuple(found)), ""


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
