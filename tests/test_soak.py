"""A bounded-memory soak test: the real server, driven hard, keeps a flat resident memory.

`huskyvoice-sandbox serve --quiet` is sent HUSKYVOICE_SOAK_REQUESTS requests (default 60,000)
by eight client threads, each on its own kept-alive connection, a mix of everything that could
leave state behind: notes-only PATCHes with new notes of up to 1,000 characters (the journal
keeps request bodies), reschedules that succeed and reschedules refused with SLOT_FULL, GETs,
404s on ever-new ids, 400s with bad bodies, 401s each with a new random unknown key of up to
1,024 characters, rate-limited Lakeview GETs (200 then 429), and a POST /_sandbox/reset every
5,000 requests. The resident memory (VmRSS) of the server's whole process tree is sampled every
0.1 s: under uWSGI, `serve`'s default, the app runs in a worker process two forks below the
process `serve` starts (the test once sampled only that first process, whose memory never
moves, so it could not have seen a leak).

What is proven: once warmed up (the first quarter of the requests, by when the 500-entry journal
has filled and wrapped many times over), memory stays flat. The peak over the last half of the
requests is within 5 MiB of the warm-up's peak, and the mean over the last quarter within
3 MiB of the second quarter's. No request got a 5xx or any status other than the one expected
for its kind, and the server logged no traceback.

Why a number of requests, not a number of seconds: what could leak is kept per request (a body,
a key, an id), so memory grows with requests answered, not with time. A run of so many seconds
is a different test on every machine (half the requests, half the evidence, on a machine half
as fast or shared with other tests); a run of so many requests is the same test everywhere, and
its quarters are quarters of the requests. HUSKYVOICE_SOAK_SECONDS runs for that long instead,
for a long soak by hand (the quarters are then quarters of what it sent).

Why the server runs with MALLOC_ARENA_MAX=1: with glibc's default of an arena per thread, the
worker's eight threads each grow an arena of their own to its high-water mark, one 1 MiB step at
a time, over the first ~100,000 requests: 10-22 MiB of creep that then stops (flat from 100,000
to 300,000 requests), and that no short run can tell from a leak (over 40,000 requests it grew
up to 8 MiB peak to peak without any leak). One arena keeps the memory the app holds and the
memory the process holds together; what a leak adds shows the same.

Why a plain http.client connection per thread, not requests: the requests library spent two
thirds of the soak's CPU on the client side; the server sees the same requests either way (one
kept-alive HTTP/1.1 connection per thread), and gets three to four times as many a second.

Why those margins, and 60,000 requests (15-25 s): measured on a 2-CPU machine, eleven runs
without a leak grew 1.0-2.8 MiB peak to peak and 0.7-1.5 MiB mean to mean (the last of the
settling: ~2 MiB over the 45,000 requests after the warm-up, and flat by 100,000). A planted
leak, the store keeping every unknown key it was shown (~600 bytes for each of the run's ~12,000
unknown keys), grew 6.6-8.1 MiB and 4.4-5.1 MiB, failing both margins by 1.4 MiB or more; an
unbounded journal grew 51 MiB. The test prints the smallest per-request leak its request count
would push past the peak margin on its own (~120 bytes); a leak of a few dozen bytes an unknown
key (only its digest kept) is below what it can see. (The old 60-second run, had it measured
the worker, could not have used margins this tight: 8 and 5 MiB, and the creep above.)

Run it alone with `pytest -m soak -s`, which prints the figures.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import statistics
import string
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from huskyvoice_sandbox.session.journal import DEFAULT_SIZE as JOURNAL_SIZE

from helpers import DOC_ID, OTHER_ORG_KEY, READ_KEY, WRITE_KEY

SOAK_REQUESTS = int(os.environ.get("HUSKYVOICE_SOAK_REQUESTS", "60000"))
SOAK_SECONDS = float(os.environ["HUSKYVOICE_SOAK_SECONDS"]) if "HUSKYVOICE_SOAK_SECONDS" in os.environ \
    else None  # instead of a number of requests: run for so long (a long soak, by hand)
CLIENTS = 8
SAMPLE_EVERY = 0.1  # seconds
MIB = 1024 * 1024
PEAK_MARGIN = 5 * MIB  # last half's peak over the warm-up's peak
MEAN_MARGIN = 3 * MIB  # last quarter's mean over the second quarter's mean
SEED = 20260615

LAKEVIEW_ID = "appt_9z8y7x6w5v"
WRITE = {"Authorization": f"Bearer {WRITE_KEY}"}
READ = {"Authorization": f"Bearer {READ_KEY}"}
LAKEVIEW = {"Authorization": f"Bearer {OTHER_ORG_KEY}"}  # 5 a minute, and the clock is frozen
# Where the documented appointment can always go (fixtures/default.yaml): Monday Morning MA,
# Monday Afternoon AA, Wednesday Morning MA (closed on the 17th only), Friday Afternoon AA.
FREE_SLOTS = ["2026-06-15T09:30:00.000Z", "2026-06-15T14:30:00.000Z",
              "2026-06-24T10:00:00.000Z", "2026-06-19T15:00:00.000Z"]
FULL_SLOT = "2026-06-16T10:00:00.000Z"  # Tuesday Morning: 1 of 1 booked (Meera)
BAD_BODIES = ['{"notes": ', '{"appointment_date": "2026-06-15"}', '{"status": "rescheduled"}',
              "{}", "[1, 2]", '{"notes": "' + "x" * 2001 + '"}', '{"assigned_doctor": 7}']

ALPHABET = string.ascii_letters + string.digits
Request = tuple[str, str, dict[str, Any]]  # method, path, and json=, data= or headers=


def appointment(appointment_id: str) -> str:
    return f"/v1/appointments/{appointment_id}"


def random_text(rng: random.Random, shortest: int, longest: int) -> str:
    """Letters and digits, never seen before (with overwhelming probability)."""
    return "".join(rng.choices(ALPHABET, k=rng.randint(shortest, longest)))


def new_key(rng: random.Random) -> str:
    """An unknown key, new every time, 32 to 1,024 characters long: state kept per unknown key
    would grow with every 401, and long keys make it grow fast enough to see."""
    return "sk_soak_" + random_text(rng, 24, 1016)


@dataclass(frozen=True)
class Action:
    name: str
    weight: float
    expected: frozenset[int]
    build: Callable[[random.Random], Request]


ACTIONS = [
    Action("notes PATCH", 25, frozenset({200}), lambda rng: (
        "PATCH", appointment(DOC_ID),
        {"json": {"notes": random_text(rng, 0, 1000)}, "headers": WRITE})),
    Action("reschedule", 10, frozenset({200}), lambda rng: (
        "PATCH", appointment(DOC_ID),
        {"json": {"appointment_date": rng.choice(FREE_SLOTS)}, "headers": WRITE})),
    Action("SLOT_FULL", 8, frozenset({409}), lambda rng: (
        "PATCH", appointment(DOC_ID), {"json": {"appointment_date": FULL_SLOT}, "headers": WRITE})),
    Action("GET", 20, frozenset({200}), lambda rng: (
        "GET", appointment(rng.choice([DOC_ID, "appt_b2c3d4e5f6", "appt_c3d4e5f6a7"])),
        {"headers": READ})),
    Action("404", 8, frozenset({404}), lambda rng: rng.choice([
        ("GET", appointment(f"appt_{random_text(rng, 8, 100)}"), {"headers": READ}),
        ("PATCH", appointment(LAKEVIEW_ID), {"json": {"notes": "not yours"}, "headers": WRITE}),
    ])),
    Action("400", 8, frozenset({400}), lambda rng: (
        "PATCH", appointment(DOC_ID),
        {"data": rng.choice(BAD_BODIES), "headers": {"Content-Type": "application/json", **WRITE}})),
    Action("401 new key", 20, frozenset({401}), lambda rng: (
        "PATCH", appointment(DOC_ID),
        {"json": {"notes": "x"}, "headers": {"Authorization": f"Bearer {new_key(rng)}"}})),
    Action("Lakeview GET", 5, frozenset({200, 429}), lambda rng: (
        "GET", appointment(LAKEVIEW_ID), {"headers": LAKEVIEW})),
]
RESET = Action("reset", 0, frozenset({200}), lambda rng: ("POST", "/_sandbox/reset", {}))
RESET_EVERY = 5000  # requests: occasional, so state that a reset clears has time to pile up


@dataclass
class Tally:
    """What one client thread saw."""

    sent: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Connection:
    """One kept-alive HTTP/1.1 connection to the server, opened again if it is closed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def request(self, method: str, path: str, kwargs: dict[str, Any]) -> tuple[int, bytes]:
        headers = dict(kwargs.get("headers", {}))
        body: bytes | None = None
        if "json" in kwargs:
            body = json.dumps(kwargs["json"]).encode()
            headers["Content-Type"] = "application/json"
        elif "data" in kwargs:
            body = kwargs["data"].encode()
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        try:
            self.http.request(method, path, body=body, headers=headers)
            response = self.http.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.http.close()  # the next request opens a new connection
            raise

    def close(self) -> None:
        self.http.close()


def send(connection: Connection, action: Action, rng: random.Random, tally: Tally) -> None:
    method, path, kwargs = action.build(rng)
    try:
        status, body = connection.request(method, path, kwargs)
    except (OSError, http.client.HTTPException) as exc:
        tally.errors.append(f"{action.name} {method} {path[:200]}: {exc!r}")
        return
    tally.sent += 1
    tally.statuses[(action.name, status)] += 1
    if status not in action.expected and len(tally.unexpected) < 10:
        tally.unexpected.append(f"{action.name} {method} {path[:200]} -> "
                                f"{status} {body[:300]!r}")


@dataclass
class Budget:
    """Hands out request numbers until the run's end: a number of requests, or a time."""

    requests: int | None
    deadline: float | None
    tickets: itertools.count[int] = field(default_factory=itertools.count)

    def next(self) -> int | None:
        """The number of the next request to send (every RESET_EVERY-th is a reset), or None."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return None
        number = next(self.tickets)  # atomic: one number per request, across the threads
        return number if self.requests is None or number < self.requests else None


def drive(port: int, budget: Budget, rng: random.Random, tally: Tally) -> None:
    """Send requests of random kinds until the budget is spent, tallying every answer."""
    weights = [action.weight for action in ACTIONS]
    connection = Connection(port)
    try:
        while len(tally.errors) < 10 and (number := budget.next()) is not None:
            action = RESET if number % RESET_EVERY == RESET_EVERY - 1 else rng.choices(ACTIONS, weights)[0]
            send(connection, action, rng, tally)
    finally:
        connection.close()


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the start of the run
    rss: int  # bytes: the server's processes together
    sent: int  # requests answered so far


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError(f"no VmRSS for process {pid}")


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (uWSGI: its master, the router and the app's worker)."""
    found, index = [pid], 0
    while index < len(found):
        task_dir = f"/proc/{found[index]}/task"
        index += 1
        try:
            for task in os.listdir(task_dir):
                with open(f"{task_dir}/{task}/children", encoding="ascii") as children:
                    found += [int(child) for child in children.read().split()]
        except OSError:
            continue  # gone, or a thread ended between the listing and the read
    return found


def tree_rss_bytes(pid: int) -> int:
    total = 0
    for process in process_tree(pid):
        try:
            total += rss_bytes(process)
        except (OSError, RuntimeError):
            continue
    return total


def sample_rss(pid: int, tallies: list[Tally], stop: threading.Event,
               samples: list[Sample]) -> None:
    start = time.monotonic()
    while True:
        samples.append(Sample(time.monotonic() - start, tree_rss_bytes(pid),
                              sum(t.sent for t in tallies)))
        if stop.wait(SAMPLE_EVERY):
            return


def collect_lines(stream: Any, lines: list[str]) -> None:
    """Drain a pipe, so the server never blocks on a full one."""
    for line in stream:
        lines.append(line)


@dataclass
class Soak:
    """One run: what the clients saw, the RSS samples, and what the server logged."""

    tallies: list[Tally]
    samples: list[Sample]
    server_log: list[str]
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(t.sent for t in self.tallies)

    @property
    def statuses(self) -> Counter[tuple[str, int]]:
        return sum((t.statuses for t in self.tallies), Counter())

    def rss(self, start: float, end: float | None = None) -> list[int]:
        """The RSS sampled while [start, end) of the requests were being answered, as fractions
        of them (no end: to the last)."""
        found = [s.rss for s in self.samples if start * self.sent <= s.sent
                 and (end is None or s.sent < end * self.sent)]
        assert len(found) >= 2, f"too few samples in [{start}, {end}) of the run: {found}"
        return found

    @property
    def warmed_up_by(self) -> int:
        """Requests answered by the end of the warm-up (the first quarter)."""
        return self.sent // 4

    @property
    def peak_growth(self) -> int:
        """The last half's peak over the warm-up's (the first quarter's)."""
        return max(self.rss(0.5)) - max(self.rss(0, 0.25))

    @property
    def mean_growth(self) -> float:
        """The last quarter's mean over the second quarter's."""
        return statistics.fmean(self.rss(0.75)) - statistics.fmean(self.rss(0.25, 0.5))


def soak(server: Any) -> Soak:
    """Send the server the run's requests from CLIENTS threads, sampling its RSS."""
    run = Soak([Tally() for _ in range(CLIENTS)], [], [])
    threading.Thread(target=collect_lines, args=(server.process.stderr, run.server_log),
                     daemon=True).start()
    stop = threading.Event()
    sampler = threading.Thread(target=sample_rss,
                               args=(server.process.pid, run.tallies, stop, run.samples))
    sampler.start()
    started = time.monotonic()
    budget = Budget(None if SOAK_SECONDS else SOAK_REQUESTS,
                    started + SOAK_SECONDS if SOAK_SECONDS else None)
    clients = [threading.Thread(target=drive, args=(server.port, budget, random.Random(SEED + n), tally))
               for n, tally in enumerate(run.tallies)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(SOAK_SECONDS + 60 if SOAK_SECONDS else 600)
    run.seconds = time.monotonic() - started
    time.sleep(2 * SAMPLE_EVERY)  # a last sample or two, after the last answer
    stop.set()
    sampler.join(10)
    assert not any(thread.is_alive() for thread in clients), "a client thread hung"
    return run


def mib(value: float) -> str:
    return f"{value / MIB:.1f} MiB"


def report(run: Soak) -> None:
    """The figures, for `pytest -s`."""
    after_warm_up = run.sent - run.warmed_up_by
    print(f"\nsoak: {run.sent} requests in {run.seconds:.1f} s by {CLIENTS} clients "
          f"({run.sent / max(run.seconds, 0.001):.0f}/s); {run.warmed_up_by} in the warm-up")
    print("  statuses: " + ", ".join(f"{name} {status}: {count}"
                                     for (name, status), count in sorted(run.statuses.items())))
    print(f"  RSS of the server's processes, {len(run.samples)} samples every {SAMPLE_EVERY} s: "
          f"start {mib(run.samples[0].rss)}, end {mib(run.samples[-1].rss)}")
    for name, values in (("warm-up (1st quarter)", run.rss(0, 0.25)),
                         ("2nd quarter", run.rss(0.25, 0.5)), ("last half", run.rss(0.5)),
                         ("last quarter", run.rss(0.75))):
        print(f"  {name:<22} n={len(values):<4} min {mib(min(values))}  "
              f"mean {mib(statistics.fmean(values))}  max {mib(max(values))}")
    print(f"  peak growth {mib(run.peak_growth)} (limit {mib(PEAK_MARGIN)}), mean growth "
          f"{mib(run.mean_growth)} (limit {mib(MEAN_MARGIN)}); alone, a leak of "
          f"{PEAK_MARGIN / max(after_warm_up, 1):.0f} bytes per request would pass the peak limit")
    print("  series (sent: MiB): " + " ".join(f"{s.sent}:{s.rss / MIB:.1f}" for s in run.samples[::5]))


@pytest.mark.soak
@pytest.mark.live
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmRSS from /proc")
def test_memory_stays_flat_under_a_sustained_mixed_load(live_server,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert SOAK_REQUESTS >= 8 * RESET_EVERY, "HUSKYVOICE_SOAK_REQUESTS must be at least 40,000"
    assert SOAK_SECONDS is None or SOAK_SECONDS >= 20, "HUSKYVOICE_SOAK_SECONDS must be at least 20"
    monkeypatch.delenv("HUSKYVOICE_SANDBOX_ADMIN_TOKEN", raising=False)  # resets need loopback
    monkeypatch.setenv("MALLOC_ARENA_MAX", "1")  # the server's: see the module's docstring
    server = live_server("--quiet")
    run = soak(server)
    report(run)

    assert server.process.poll() is None, "the server died"
    assert [e for t in run.tallies for e in t.errors] == []
    assert {key: n for key, n in run.statuses.items() if key[1] >= 500} == {}
    assert [u for t in run.tallies for u in t.unexpected] == []
    assert not any("Traceback" in line for line in run.server_log), "".join(run.server_log)[-5000:]
    assert {name for name, _ in run.statuses} == {action.name for action in [*ACTIONS, RESET]}
    assert run.warmed_up_by > 2 * JOURNAL_SIZE, "the journal must fill during the warm-up"
    peak_growth, mean_growth = run.peak_growth, run.mean_growth
    assert peak_growth <= PEAK_MARGIN, f"RSS peak grew {mib(peak_growth)} after the warm-up"
    assert mean_growth <= MEAN_MARGIN, f"mean RSS grew {mib(mean_growth)} after the warm-up"
