"""T2: what one request costs in-process, the sandbox's WSGI app against the bare app's.

Both apps are called the way a WSGI server calls them: `app(environ, start_response)`, the
response iterable exhausted and closed. The environ is built once per scenario by Werkzeug's
EnvironBuilder; each call gets a copy of it and a fresh `wsgi.input`, so no call sees another's
consumed body. No server, no socket, no client: what is left is the app's own work, which is
what the sandbox can change. Batches are timed like timeit's (gc off while a batch runs), the
two apps alternating batch by batch; the median batch is reported.
"""

from __future__ import annotations

import gc
import io
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huskyvoice_sandbox import create_app
from werkzeug.test import EnvironBuilder

import bare_app
from common import KEY, BenchError, progress
from scenarios import AVAILABILITY, CREATE, NOTES, NUMBER, READ, RESCHEDULE, Scenario
from settings import Settings

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SCENARIOS = (NOTES, RESCHEDULE, READ, AVAILABILITY, CREATE)  # the last three for information
TARGETS = {NOTES.title: 2.0, RESCHEDULE.title: 2.5}  # sandbox / bare, at most
WARMUP_CALLS = 200  # per app and scenario, every status checked


@dataclass
class Call:
    """The prepared calls of one scenario on one app: environs, cycled one per call."""

    app: WsgiApp
    environs: tuple[tuple[dict[str, Any], bytes], ...]  # (environ without input, body)
    expected: str  # the status line's code, e.g. "200"
    position: int = 0  # the next environ, carried from batch to batch


@dataclass(frozen=True)
class InProcessResult:
    scenario: Scenario
    sandbox_ns: float  # median over batches, per call
    bare_ns: float
    calls: int  # per app, timed

    @property
    def ratio(self) -> float:
        return self.sandbox_ns / self.bare_ns

    @property
    def target(self) -> float | None:
        return TARGETS.get(self.scenario.title)


def environs(scenario: Scenario, calls: int) -> tuple[tuple[dict[str, Any], bytes], ...]:
    """The environs the calls cycle through: one per body of the scenario (the reschedule
    alternates between two dates), or, for a numbered one (the create), one per call, each
    body with its own number, so that no create repeats another's patient."""
    texts = scenario.sample_texts()
    if scenario.numbered:
        texts = [text.replace(NUMBER, str(n)) for n in range(calls) for text in scenario.body_texts]
    builder = EnvironBuilder(path=scenario.path, method=scenario.method,
                             headers=[("Authorization", f"Bearer {KEY}")],
                             data=texts[0] or None,
                             content_type="application/json" if texts[0] else None)
    try:
        base = builder.get_environ()
    finally:
        builder.close()
    base.pop("wsgi.input")
    built = []
    for text in texts:
        body = text.encode()
        built.append(({**base, "CONTENT_LENGTH": str(len(body))} if body else base, body))
    return tuple(built)


def run_batch(call: Call, count: int) -> int:
    """`count` calls; returns how many answered another status than expected."""
    status: list[str] = [""]

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], Any]:
        status[0] = line
        return lambda data: None

    wrong, cycle, expected, start = 0, call.environs, call.expected, call.position
    call.position += count
    for index in range(start, start + count):
        base, body = cycle[index % len(cycle)]
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(body)
        response = call.app(environ, start_response)
        for _ in response:
            pass
        close = getattr(response, "close", None)
        if close is not None:
            close()
        if not status[0].startswith(expected):
            wrong += 1
    return wrong


def timed_batch(call: Call, count: int) -> float:
    """Nanoseconds per call over one batch, gc off as in timeit."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter_ns()
        wrong = run_batch(call, count)
        elapsed = time.perf_counter_ns() - started
    finally:
        gc.enable()
    if wrong:
        raise BenchError(f"in-process: {wrong} of {count} calls did not answer {call.expected}")
    return elapsed / count


def warm_up(name: str, scenario: Scenario, call: Call) -> None:
    """Fail loudly unless every warm-up call gives the expected status."""
    wrong = run_batch(call, WARMUP_CALLS)
    if wrong:
        raise BenchError(f"in-process {name}: {wrong} of {WARMUP_CALLS} warm-up calls to "
                         f"{scenario.title} did not answer {call.expected}")


def measure_scenario(scenario: Scenario, sandbox: WsgiApp, bare: WsgiApp,
                     settings: Settings) -> InProcessResult:
    prepared = environs(scenario, WARMUP_CALLS + settings.repeats * settings.batch)
    # The bare app answers each path with its documented example, in the same status.
    calls = {name: Call(app, prepared, str(scenario.expected))
             for name, app in (("sandbox", sandbox), ("bare", bare))}
    for name, call in calls.items():
        warm_up(name, scenario, call)
    times: dict[str, list[float]] = {"sandbox": [], "bare": []}
    for repeat in range(settings.repeats):
        order = ("sandbox", "bare") if repeat % 2 == 0 else ("bare", "sandbox")
        for name in order:
            times[name].append(timed_batch(calls[name], settings.batch))
    result = InProcessResult(scenario, statistics.median(times["sandbox"]),
                             statistics.median(times["bare"]), settings.batch * settings.repeats)
    progress(f"in-process {scenario.title}: sandbox {result.sandbox_ns / 1000:.1f} µs, "
             f"bare {result.bare_ns / 1000:.1f} µs, ratio {result.ratio:.2f}")
    return result


def run_inprocess(settings: Settings, world: Path) -> list[InProcessResult]:
    """T2 on the bench world (the default world, whose org_demo has no rate limit, so every
    call is answered, not 429; and a window with room for every create)."""
    sandbox, bare = create_app(world), bare_app.build_app()
    return [measure_scenario(s, sandbox, bare, settings) for s in SCENARIOS]
