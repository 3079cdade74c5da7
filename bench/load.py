"""Load from wrk: one timed run, its parsed counters, and the alternating rounds that fill a
matrix of cells (one per scenario and server)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import KEY, LUA_SCRIPT, BenchError, progress
from scenarios import Scenario
from servers import Server, reset, send
from settings import Settings

THREADS = 1  # wrk's event loop on one core leaves the other core of a 2-core machine to servers


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: int  # connect + read + write + timeout

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk_argv(url: str, duration: int, connections: int, script: Path = LUA_SCRIPT) -> list[str]:
    return ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{duration}s", "--latency", "-s",
            str(script), url]


def run_wrk(server: Server, scenario: Scenario, duration: int, connections: int,
            sessions: Sequence[str] = ()) -> WrkRun:
    env = {**os.environ, "BENCH_METHOD": scenario.method, "BENCH_KEY": KEY,
           "BENCH_BODIES": "\n".join(scenario.body_texts), "BENCH_SESSIONS": ",".join(sessions)}
    argv = wrk_argv(server.url + scenario.path, duration, connections)
    done = subprocess.run(argv, env=env, check=False, capture_output=True, text=True,
                          timeout=duration + 120)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return parse_wrk_result(json.loads(line.removeprefix("BENCH_RESULT ")))
    raise BenchError(f"wrk gave no result (status {done.returncode}) for {scenario.title} on "
                     f"{server.name}:\n{done.stdout}\n{done.stderr}")


def parse_wrk_result(raw: dict[str, int]) -> WrkRun:
    return WrkRun(
        requests=raw["requests"], seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000, non_2xx=raw["non_2xx_3xx"],
        socket_errors=sum(raw[k] for k in ("connect", "read", "write", "timeout")))


@dataclass
class Cell:
    """One scenario on one server: its timed runs and what the server answered."""

    scenario: Scenario
    server: str
    answers: list[str] = field(default_factory=list)
    runs: list[WrkRun] = field(default_factory=list)

    def median(self, figure: str) -> float:
        return statistics.median(getattr(run, figure) for run in self.runs)

    @property
    def rps(self) -> float:
        return self.median("rps")

    @property
    def p50_ms(self) -> float:
        return self.median("p50_ms")

    @property
    def p99_ms(self) -> float:
        return self.median("p99_ms")

    @property
    def requests(self) -> int:
        return sum(run.requests for run in self.runs)

    @property
    def non_2xx(self) -> int:
        return sum(run.non_2xx for run in self.runs)

    @property
    def socket_errors(self) -> int:
        return sum(run.socket_errors for run in self.runs)


@dataclass
class Matrix:
    """Every scenario on every server; servers in the order the report compares them."""

    scenarios: tuple[Scenario, ...]
    servers: list[str]
    cells: dict[tuple[str, str], Cell]  # (scenario title, server name)

    def cell(self, scenario: Scenario, server: str) -> Cell:
        return self.cells[scenario.title, server]

    def ratio(self, scenario: Scenario, top: str, bottom: str) -> float:
        return self.cell(scenario, top).rps / self.cell(scenario, bottom).rps


def rotated(servers: Sequence[Server], by: int) -> list[Server]:
    shift = by % len(servers)
    return [*servers[shift:], *servers[:shift]]


def prepare(server: Server, scenario: Scenario, sessions: Sequence[str]) -> str:
    """Reset the sandbox's sessions (for a scenario that writes), send each body once, and
    check the sandbox's status.

    Returns the label of what the server answered (e.g. "409 SLOT_FULL"; Prism's for the record).
    """
    labels = []
    named: list[str | None] = [*sessions] or [None]  # None: the default session
    for session in named:
        if server.sandbox and scenario.writes:
            reset(server, session)
        for body in scenario.sample_texts():
            answer = send(server.url + scenario.path, scenario.method, body, session)
            if server.sandbox and answer.status != scenario.expected:
                raise BenchError(f"{server.name} answered {answer.label()} to {scenario.title}, "
                                 f"expected {scenario.expected}: {answer.excerpt()}")
            labels.append(answer.label())
    return ", ".join(dict.fromkeys(labels))


def check_run(server: Server, scenario: Scenario, run: WrkRun) -> None:
    """Every answer of a timed run had the expected class: wrk counts the non-2xx/3xx ones."""
    wanted = 0 if scenario.expected < 300 else run.requests
    if server.sandbox and run.non_2xx != wanted:
        raise BenchError(f"{server.name}: {run.non_2xx:,} of {run.requests:,} answers to "
                         f"{scenario.title} were non-2xx/3xx under load (expected {wanted:,}); "
                         "the figures would not be of the scenario")


def warm_up(servers: Sequence[Server], scenario: Scenario, settings: Settings,
            sessions: Sequence[str]) -> None:
    if not settings.warmup:
        return
    for server in servers:
        prepare(server, scenario, sessions)
        run_wrk(server, scenario, settings.warmup, settings.connections, sessions)


def measure(scenarios: Sequence[Scenario], servers: Sequence[Server], settings: Settings,
            sessions: Sequence[str] = ()) -> Matrix:
    """Every scenario on every server, `rounds` times, alternating: each round runs every
    scenario on every server in turn, the servers' order rotating from round to round, so a
    noisy moment on the machine hits all of them alike."""
    matrix = Matrix(tuple(scenarios), [s.name for s in servers],
                    {(sc.title, s.name): Cell(sc, s.name) for sc in scenarios for s in servers})
    warm_up(servers, scenarios[0], settings, sessions)
    total, done = settings.rounds * len(matrix.cells), 0
    for round_index in range(settings.rounds):
        for scenario in scenarios:
            for server in rotated(servers, round_index):
                cell = matrix.cell(scenario, server.name)
                answer = prepare(server, scenario, sessions)
                if answer not in cell.answers:
                    cell.answers.append(answer)
                run = run_wrk(server, scenario, settings.duration, settings.connections, sessions)
                check_run(server, scenario, run)
                cell.runs.append(run)
                done += 1
                progress(f"[{done:>3}/{total}] {scenario.title:<32} {server.name:<22} "
                         f"{run.rps:>8,.0f} req/s  p50 {run.p50_ms:6.2f} ms  "
                         f"p99 {run.p99_ms:6.2f} ms  ({answer})")
    return matrix
