"""The targets (T1 to T5), and whether this run met them.

Each row is the figure, the requirement and the verdict; a target whose part did not run (or
whose reference, Prism, is missing) says "not measured" rather than passing or failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from balancer import ONE, TWO_BEHIND
from comparison import CROWD_CONNECTIONS, PRISM, RPS_TARGET, SANDBOX
from pertest import INTERCEPT_TARGET_MS, SLOPE_TARGET_MS
from results import Results
from scenarios import BALANCER, COMPARISON, CROWD, SCALE_TARGETED
from settings import SMALL_WORLD

SCALE_TARGET = 0.9  # big / small world, req/s, at least
TARGET_BIG_WORLD = 100_000  # the world size the T4 targets are set for
RESET_TARGET_MS = 100.0  # POST /_sandbox/reset on the bench world, below (kept from before)
NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Target:
    key: str  # T1 ... T5
    name: str
    figure: str
    required: str
    met: bool | None  # None: not measured, or information only

    def verdict(self) -> str:
        if self.met is None:
            return "information" if self.figure != NOT_MEASURED else NOT_MEASURED
        return "met" if self.met else "MISSED"

    def row(self) -> list[str]:
        return [self.key, self.name, self.figure, self.required, self.verdict()]


def shown(value: float, limit: float) -> str:
    """Two decimals, or three when two would print the limit itself (2.504 is not 2.50)."""
    return f"{value:.2f}" if f"{value:.2f}" != f"{limit:.2f}" else f"{value:.3f}"


def missing(key: str, name: str, required: str) -> Target:
    return Target(key, name, NOT_MEASURED, required, None)


def pertest_targets(results: Results) -> list[Target]:
    slope_name, slope_required = "fresh sandbox per test: fixture cost per test", f"≤ {SLOPE_TARGET_MS:g} ms"
    once_name, once_required = "fresh sandbox per test: fixture cost once", f"≤ {INTERCEPT_TARGET_MS:g} ms"
    found = results.pertest
    if found is None:
        return [missing("T1", slope_name, slope_required), missing("T1", once_name, once_required)]
    return [Target("T1", slope_name, f"{found.slope_ms:.3f} ms", slope_required,
                   found.slope_ms <= SLOPE_TARGET_MS),
            Target("T1", once_name, f"{found.intercept_ms:.0f} ms", once_required,
                   found.intercept_ms <= INTERCEPT_TARGET_MS)]


def inprocess_targets(results: Results) -> list[Target]:
    found = results.inprocess
    if found is None:
        return [missing("T2", "in-process, sandbox / bare app", "≤ 2.0 / ≤ 2.5")]
    rows = []
    for r in found:
        limit = r.target
        if limit is not None:  # GET is measured for information
            rows.append(Target(
                "T2", f"in-process, {r.scenario.title}: sandbox / bare app",
                f"{shown(r.ratio, limit)} ({r.sandbox_ns / 1000:.1f} / {r.bare_ns / 1000:.1f} µs)",
                f"≤ {limit:.1f}", r.ratio <= limit))
    return rows


def served_targets(results: Results) -> list[Target]:
    rps_required, p99_required = f"≥ {RPS_TARGET:g}", "≤ Prism's"
    rows = []
    for scenario in COMPARISON:
        rps_name = f"served, {scenario.title}: req/s, sandbox / Prism"
        p99_name = f"served, {scenario.title}: p99, sandbox vs Prism"
        part = results.comparison
        if part is None or not part.has_prism:
            rows += [missing("T3", rps_name, rps_required), missing("T3", p99_name, p99_required)]
            continue
        ratio = part.matrix.ratio(scenario, SANDBOX, PRISM)
        ours, theirs = (part.matrix.cell(scenario, s).p99_ms for s in (SANDBOX, PRISM))
        rows += [Target("T3", rps_name, shown(ratio, RPS_TARGET), rps_required, ratio >= RPS_TARGET),
                 Target("T3", p99_name, f"{ours:.2f} ms vs {theirs:.2f} ms", p99_required,
                        ours <= theirs)]
    return rows + crowd_targets(results)


def crowd_targets(results: Results) -> list[Target]:
    """At 64 connections (a CI fleet on one sandbox): p99 no higher than Prism's, and no
    socket errors (a refused or reset connection is a failed test somewhere)."""
    required = "p99 ≤ Prism's, no socket errors"
    rows = []
    for scenario in CROWD:
        name = f"served at {CROWD_CONNECTIONS} connections, {scenario.title}: p99 and socket errors"
        part = results.comparison
        if part is None or not part.has_prism:
            rows.append(missing("T3", name, required))
            continue
        ours, theirs = (part.crowd.cell(scenario, s) for s in (SANDBOX, PRISM))
        rows.append(Target("T3", name, f"{ours.p99_ms:.2f} ms vs {theirs.p99_ms:.2f} ms; "
                                       f"{ours.socket_errors:,} errors", required,
                           ours.p99_ms <= theirs.p99_ms and ours.socket_errors == 0))
    return rows


def scale_targets(results: Results) -> list[Target]:
    worlds, part = results.worlds, results.scale
    big = f"{worlds.big_count:,}" if worlds else f"{TARGET_BIG_WORLD:,}"
    rows = []
    for scenario in SCALE_TARGETED:
        name = f"scale, {scenario.title}: req/s, {big} / {SMALL_WORLD:,} appointments"
        if part is None:
            rows.append(missing("T4", name, f"≥ {SCALE_TARGET:g}"))
            continue
        small_name, big_name = part.matrix.servers
        ratio = part.matrix.ratio(scenario, big_name, small_name)
        rows.append(Target("T4", name, shown(ratio, SCALE_TARGET), f"≥ {SCALE_TARGET:g}",
                           ratio >= SCALE_TARGET))
    for load in results.loads:
        rows.append(Target("T4", f"load a world of {load.label}",
                           f"{load.seconds:.2f} s (peak RSS {load.peak_rss_mib:,.0f} MiB)",
                           f"< {load.target_s:g} s", load.seconds < load.target_s))
    if not results.loads:
        rows.append(missing("T4", f"load a world of {big} appointments", "< 5 s YAML, < 2 s JSON"))
    return rows


def balancer_targets(results: Results) -> list[Target]:
    part = results.balancer
    rows = []
    for scenario in BALANCER:
        name = f"HAProxy, {scenario.title}: req/s, 2 processes / 1 process"
        if part is None:
            rows.append(missing("T5", name, "none (information)"))
            continue
        ratio = part.matrix.ratio(scenario, TWO_BEHIND, ONE)
        rows.append(Target("T5", name, f"{ratio:.2f}", "none (information)", None))
    return rows


def reset_targets(results: Results) -> list[Target]:
    name = "POST /_sandbox/reset, bench world (client side)"
    if results.comparison is None:
        return [missing("reset", name, f"< {RESET_TARGET_MS:g} ms")]
    median = results.comparison.reset.median_ms
    return [Target("reset", name, f"{median:.2f} ms", f"< {RESET_TARGET_MS:g} ms",
                   median < RESET_TARGET_MS)]


def smaller_world_note(results: Results) -> list[str]:
    """The T4 targets are set for 100,000 appointments; say so when this run used fewer."""
    worlds = results.worlds
    if worlds is None or worlds.big_count >= TARGET_BIG_WORLD:
        return []
    return [f"The big world of this run has {worlds.big_count:,} appointments (--quick or "
            f"--big), not the {TARGET_BIG_WORLD:,} the T4 targets are set for."]


def evaluate(results: Results) -> list[Target]:
    return [*pertest_targets(results), *inprocess_targets(results), *served_targets(results),
            *scale_targets(results), *balancer_targets(results), *reset_targets(results)]
