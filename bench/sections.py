"""The report's sections, one per part of the run, each saying briefly how it was measured."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import datetime

from balancer import ONE, ONE_BEHIND, TWO_BEHIND
from common import KEY, LUA_SCRIPT, ROOT
from comparison import BARE, CROWD_CONNECTIONS, GRANIAN, PRISM, SANDBOX, WAITRESS
from load import Matrix, wrk_argv
from machine import busy_machine_note, describe_machine
from report import Section, Table, cells_table, ratio_table
from resets import MIN_SAMPLES, TIMING_BUDGET_S, Timing
from results import Results
from targets import evaluate, smaller_world_note


def run_section(results: Results, command: str, started_at: datetime,
                elapsed_s: float) -> Section:
    settings = results.settings
    wrk_line = shlex.join(wrk_argv("URL", settings.duration, settings.connections,
                                   LUA_SCRIPT.relative_to(ROOT)))
    return Section("This run", [
        f"Command: `{command}`",
        (f"Started {started_at:%Y-%m-%d %H:%M} UTC, took {elapsed_s / 60:.1f} min. Served "
         f"load: {settings.rounds} alternating round(s) of `{wrk_line}` per server and scenario "
         f"(median reported), {settings.warmup} s untimed warm-up per server, key `{KEY}`, "
         "the sandbox's world reset before each run that writes. In-process: "
         f"{settings.repeats} batches of {settings.batch:,} calls per app and scenario. "
         f"Per-test cost: pytest projects of {settings.tests:,} and {3 * settings.tests:,} tests, "
         f"with the fixture and without, {settings.rounds} alternating round(s) each."),
        *busy_machine_note(results.others_cpu_share), *results.notes])


def machine_section(prism: str | None, haproxy: str | None) -> Section:
    return Section("Machine", ["Every figure below was measured on this machine, in this run."],
                   [Table(["What", "Value"], describe_machine(prism, haproxy))])


def targets_section(results: Results) -> Section:
    return Section("Targets", [
        ("T1 fresh sandbox per test, T2 in-process request cost, T3 served throughput and "
         "latency against Prism, T4 scale, T5 past one process (information only); each is "
         "detailed in its section below."), *smaller_world_note(results)],
        [Table(["", "Target", "Measured", "Required", "Result"],
               [t.row() for t in evaluate(results)])])


def pertest_section(results: Results) -> list[Section]:
    found = results.pertest
    if found is None:
        return []
    rows = [[run.label, f"{run.tests:,}", f"{run.median_ms:,.0f}",
             f"{min(run.seconds) * 1000:,.0f}-{max(run.seconds) * 1000:,.0f}"] for run in found.runs()]
    n = found.fixture[0].tests
    return [Section("T1: fresh sandbox per test (pytest plugin)", [
        ("Four generated pytest projects run in a subprocess (`python -m pytest -q -p no:randomly "
         f"-p no:cacheprovider -p no:xdist`): {n:,} and {3 * n:,} tests that take `huskyvoice` on "
         "the default world and do nothing else, and the same without the fixture; each project "
         "runs once a round, in turn, and its median wall time is kept."),
        ("The fixture's setup and teardown per test (the slope) is the extra time the 2N more "
         "tests take with the fixture, over 2N; what it costs once (the first test's app, world "
         f"and spec) is what remains: **{found.slope_ms:.3f} ms a test** and "
         f"**{found.intercept_ms:.0f} ms once**.")],
        [Table(["Project", "Tests", "Median wall ms", "Range ms"], rows)])]


def inprocess_section(results: Results) -> list[Section]:
    found = results.inprocess
    if found is None:
        return []
    rows = [[r.scenario.title, f"{r.sandbox_ns / 1000:.1f}", f"{r.bare_ns / 1000:.1f}",
             f"{r.ratio:.2f}", f"≤ {r.target:.1f}" if r.target else "information"] for r in found]
    return [Section("T2: in-process request cost", [
        ("The sandbox's WSGI app (`create_app()` on the bench world) and the bare app "
         "(`bench/bare_app.py`'s `build_app()`) called as a WSGI server calls them, "
         "`app(environ, start_response)`, with an environ built once per scenario by Werkzeug's "
         "EnvironBuilder (copied, with a fresh `wsgi.input`, per call) and the response "
         "exhausted and closed. Batches alternate between the apps, gc off as in timeit; the "
         "median batch is reported. The reschedule alternates between two dates, so every call "
         "moves the appointment; every create books a new patient; every call's status is "
         "checked (the warm-up's too). The bare app answers the same request with the "
         "documented body and does nothing else. Availability and create, the costliest "
         "served scenarios, are shown for information.")],
        [Table(["Scenario", "Sandbox µs/call", "Bare app µs/call", "Sandbox / bare",
                "Target"], rows)])]


def comparison_sections(results: Results) -> list[Section]:
    part = results.comparison
    if part is None:
        return []
    others = [s for s in (BARE, PRISM) if s in part.matrix.servers]
    return [
        Section("T3: served, against the bare Flask app and Prism", [
            ("The sandbox serves the bench world (the default world and a Saturday window with "
             "room for 10,000,000 bookings, where every create books a new patient); the bare "
             "app answers each path with the spec's documented example and does nothing else "
             "(the cost floor); Prism serves the examples of openapi.yaml. Answer: what each "
             "server answered (checked before each timed run; the sandbox's answers under load "
             "are checked too, by wrk's non-2xx/3xx count); non-2xx/3xx and socket errors: "
             "wrk's counts over all rounds.")], [cells_table(part.matrix)]),
        Section("T3: ratios", table_note(part.matrix.servers), [ratio_table(
            part.matrix, [(SANDBOX, other) for other in others],
            [(SANDBOX, PRISM)] if PRISM in others else [])]),
        Section(f"T3: {CROWD_CONNECTIONS} connections", [
            (f"The same servers, with `wrk -c{CROWD_CONNECTIONS}` (a CI fleet sharing one sandbox), "
             "in alternating rounds of their own after the others. Target: the sandbox's p99 at most Prism's, and no "
             "socket errors.")], [cells_table(part.crowd)]),
        *alternative_sections(part.matrix, others),
    ]


# What each alternative server is, and why `serve` does not use it by default.
_ALTERNATIVES = {
    GRANIAN: ("granian 2 (a WSGI server written in Rust; one worker, 8 blocking threads; "
              "`bench/granian_app.py`). It cannot close a connection without answering (a "
              "forced `drop` would be a 500), and it answers the requests it refuses itself "
              "(a malformed request line, oversized headers) in its own format, not the API's "
              "JSON envelope."),
    WAITRESS: ("waitress 3 (`serve --server waitress`, 8 threads): the fallback where uWSGI has no "
               "build (Windows), and the pytest plugin's in-thread server. It parses HTTP in "
               "Python."),
}


def alternative_sections(matrix: Matrix, others: Sequence[str]) -> list[Section]:
    """The same sandbox under other servers, when they are installed: what a faster server
    would give, and why `serve` does not use it."""
    found = [name for name in _ALTERNATIVES if name in matrix.servers]
    if not found:
        return []
    text = ["The same app under other servers, measured in the same rounds; `serve` runs "
            "uWSGI's router.", *(f"- {_ALTERNATIVES[name]}" for name in found)]
    pairs = [(name, other) for name in found for other in (SANDBOX, *others)]
    p99 = [(name, PRISM) for name in found] if PRISM in others else []
    return [Section("T3: the sandbox under other servers (information)", ["\n".join(text)],
                    [ratio_table(matrix, pairs, p99)])]


def table_note(servers: Sequence[str]) -> list[str]:
    if PRISM in servers:
        return ["Target: sandbox / Prism ≥ 1.5 and the sandbox's p99 at most Prism's."]
    return ["Prism was not measured: the T3 targets are not measured."]


def scale_sections(results: Results) -> list[Section]:
    part, worlds = results.scale, results.worlds
    sections = []
    if part is not None and worlds is not None:
        small, big = part.matrix.servers
        sections += [
            Section(f"T4: scale, {worlds.small_count:,} against {worlds.big_count:,} "
                    "appointments", [
                ("The same requests on the bench world grown by bench/worlds.py (filler "
                 "appointments on their own branch), both served at once and measured "
                 "alternately. Targets on the reads (search, availability); the PATCHes are "
                 "for information.")], [cells_table(part.matrix)]),
            Section("T4: scale ratio", tables=[ratio_table(part.matrix, [(big, small)])]),
        ]
    if results.loads:
        sections.append(Section("T4: world load (fresh process each)", [
            ("`huskyvoice_sandbox.worlds.world.load_world_file(path)` in a fresh process; RSS "
             "before: after the imports, before loading; peak RSS: the process's VmHWM (not "
             "`ru_maxrss`, which Linux carries over from the spawning process across exec).")],
            [Table(["World", "Appointments", "Load s", "Target s", "RSS before MiB",
                    "Peak RSS MiB"],
                   [[w.label, f"{w.appointments:,}", f"{w.seconds:.2f}", f"< {w.target_s:g}",
                     f"{w.rss_before_mib:.0f}", f"{w.peak_rss_mib:.0f}"]
                    for w in results.loads])]))
    return sections


def balancer_sections(results: Results) -> list[Section]:
    part = results.balancer
    if part is None:
        return []
    return [
        Section("T5: past one process (HAProxy)", [
            ("Two `serve` processes behind HAProxy with the shipped configuration "
             "(`sandbox/serve/haproxy.cfg`, sessions hashed to processes), against one process "
             "alone and one process behind the same HAProxy (both its backends pointing at it), "
             "so the balancer's own cost shows apart from the second process's gain. Every "
             f"request names one of {len(part.sessions)} sessions in turn "
             f"({', '.join(part.sessions)}), chosen so that half of them live in each process; "
             "the same sessions are sent to every setup. Information only: on a 2-core "
             "machine, wrk, HAProxy and two servers share two cores.")],
            [cells_table(part.matrix)]),
        Section("T5: ratios", tables=[ratio_table(
            part.matrix, [(ONE_BEHIND, ONE), (TWO_BEHIND, ONE), (TWO_BEHIND, ONE_BEHIND)])]),
    ]


def startup_section(results: Results) -> list[Section]:
    rows = [[name, f"{seconds:.2f}", f"{rss:.0f}" if rss else "n/a"]
            for name, seconds, rss in results.startup()]
    if not rows:
        return []
    return [Section("Server start-up", [
        "From process start to the first answered request; peak RSS (VmHWM) after its runs."],
        [Table(["Server", "Time to first response s", "Peak RSS MiB"], rows)])]


def reset_section(results: Results) -> list[Section]:
    resets: list[Timing] = results.all_resets()
    if not resets:
        return []
    return [Section("Reset", [
        (f"Median of {results.settings.reset_samples} resets, or of as many as "
         f"{TIMING_BUDGET_S:.0f} s allow (at least {MIN_SAMPLES}). Client side: "
         "`POST /_sandbox/reset` over HTTP, a new connection each; in-process: "
         "`SandboxState.reset()` on the default session of `create_app(world)`.")],
        [Table(["Reset", "Samples", "Median ms", "Min ms", "Max ms"],
               [[t.label, str(len(t.samples_ms)), f"{t.median_ms:.2f}",
                 f"{min(t.samples_ms):.2f}", f"{max(t.samples_ms):.2f}"] for t in resets])])]


def build_sections(results: Results, prism: str | None, haproxy: str | None, command: str,
                   started_at: datetime, elapsed_s: float) -> list[Section]:
    return [
        run_section(results, command, started_at, elapsed_s),
        machine_section(prism, haproxy),
        targets_section(results),
        *pertest_section(results),
        *inprocess_section(results),
        *comparison_sections(results),
        *scale_sections(results),
        *balancer_sections(results),
        *startup_section(results),
        *reset_section(results),
    ]
