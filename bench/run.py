"""Benchmark of huskyvoice-sandbox, against its targets:

  T1  a fresh sandbox per test: the `huskyvoice` fixture costs a suite ≤ 0.5 ms a test, ≤ 400 ms once;
  T2  in-process request cost: notes PATCH ≤ 2.0 × the bare Flask app's, reschedule ≤ 2.5 ×;
  T3  served: ≥ 1.5 × Prism's req/s on every scenario, and a p99 no higher than Prism's;
      at 64 connections (PATCH notes, GET), a p99 no higher than Prism's and no socket errors;
  T4  scale: search and availability on 100,000 appointments ≥ 0.9 × on 1,000; a 100,000-
      appointment world loads in < 5 s as YAML and < 2 s as JSON (peak memory reported);
  T5  past one process: two processes behind HAProxy against one (information).

    python bench/run.py                      # full run, about 14 minutes
    python bench/run.py --quick              # smoke run, about 2 minutes
    python bench/run.py --markdown docs/performance.md

Method
------
* Served servers run as separate processes on free local ports: the sandbox under its
  production server (`huskyvoice-sandbox serve --quiet`, started with this interpreter), the
  bare app (bench/bare_app.py: the spec's documented example on each path and nothing else,
  served on the same server through the same code, `huskyvoice_sandbox.serve.routed` (uWSGI),
  so the settings are identical; it is the cost floor) and, when on PATH, Prism's mock server on the same
  openapi.yaml (static examples). The sandbox serves the bench world (bench/worlds.py): the
  default world plus a Saturday window with room for the creates.
* Load comes from wrk with one thread (`-t1`): wrk's event loop needs one core, which leaves the
  other core of a 2-core machine to the server instead of having the client compete with it.
  Every server gets the same requests (bench/request.lua; the same method, bodies and key),
  and wrk's own counters (latency percentiles, non-2xx/3xx responses, socket errors) come back
  through the script's done() hook as one JSON line. Scenarios with several bodies cycle them
  per request (the reschedule moves the appointment back and forth between two dates); "{n}"
  in a body is a per-request number, so every create books a new patient.
* Alternation: each round runs every scenario on every server in turn, the order of the
  servers rotating from round to round, so a noisy moment on the machine hits all of them
  alike. Each cell reports the median of its rounds (and the range), not the mean.
* Before each timed run of a scenario that writes, the sandbox's world is reset
  (`POST /_sandbox/reset`); the reads ask about a date no write touches, so they need no reset
  (a reset of a big world leaves the garbage collector work that would land in the timed run).
  Then each body is sent once: the sandbox must give the expected status, and after the run
  wrk's non-2xx/3xx count must agree with it (the benchmark stops if not); what the bare app and
  Prism answer is printed.
* In-process (T2) and per-test (T1) figures are taken while no server runs; per-test cost
  comes from the wall time of generated pytest projects (N and 3N tests, with the fixture and
  without) run in a subprocess, as a user's suite runs.
* Past one process (T5): the shipped HAProxy configuration in front of two `serve` processes,
  one process alone, and one process behind the same HAProxy; the load names sessions picked so
  that half of them live in each process.
* Load time and peak memory are measured in a fresh process per measurement, so one
  measurement's memory and caches do not leak into the next.
* The report says how much of the machine's CPU other processes took during the run (from
  /proc/stat, less the CPU time of the benchmark and everything it started) and warns when it
  is over 10%: alternation keeps the comparisons fair, but absolute numbers then run low.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

try:
    import huskyvoice_sandbox  # noqa: F401  (checked first, for a helpful message)
    import yaml  # noqa: F401
except ImportError as missing:
    print(f"error: {missing}. Install the sandbox first, from the checkout: "
          'pip install -e ".[test]"', file=sys.stderr)
    sys.exit(2)

from balancer import find_haproxy, run_balancer
from common import BenchError, progress
from comparison import run_comparison
from inprocess import run_inprocess
from machine import cpu_sample, others_share
from pertest import run_pertest
from report import markdown, text
from resets import inprocess_reset
from results import Results
from scale import run_loads, run_scale, write_worlds
from sections import build_sections
from settings import parse_args, parts, resolve_settings


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        print("error: wrk is not on PATH. Install it: sudo apt-get install -y wrk "
              "(macOS: brew install wrk)", file=sys.stderr)
        sys.exit(2)


def find_prism(skip: bool) -> tuple[str | None, str | None]:
    """Prism's path, or None and the note saying why it is left out."""
    if skip:
        return None, "Prism: skipped (--no-prism); the T3 targets are not measured."
    prism = shutil.which("prism")
    if prism is None:
        return None, ("Prism: not on PATH, so the T3 targets are not measured (install it with "
                      "`npm install -g @stoplight/prism-cli`).")
    return prism, None


def run_all(results: Results, chosen: frozenset[str], prism: str | None, haproxy: str | None,
            work: Path) -> None:
    """Each part in turn; the in-process ones first, while no server competes for the CPU."""
    settings = results.settings
    before = cpu_sample()
    worlds = results.worlds = write_worlds(work, settings.big)
    if "pertest" in chosen:
        results.pertest = run_pertest(work, settings.tests, settings.rounds)
    if "inprocess" in chosen:
        results.inprocess = run_inprocess(settings, worlds.bench)
    if "comparison" in chosen:
        results.comparison = run_comparison(worlds.bench, settings, prism, work)
    if "scale" in chosen:
        results.scale = run_scale(worlds, settings, work)
    if "balancer" in chosen and haproxy:
        results.balancer = run_balancer(worlds.bench, settings, haproxy, work)
    if "load" in chosen:
        results.loads = run_loads(worlds, settings.load_samples)
        results.resets = [
            inprocess_reset(f"SandboxState.reset(), {label} (in-process)", path,
                            settings.reset_samples)
            for label, path in (("bench world", worlds.bench),
                                (f"{worlds.big_count:,} appointments", worlds.big_json))]
    results.others_cpu_share = others_share(before, cpu_sample())


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    require_wrk()
    command = shlex.join(["python", *sys.argv] if argv is None
                         else ["python", "bench/run.py", *argv])
    try:
        results = Results(resolve_settings(args))
        prism, prism_note = find_prism(args.no_prism)
        haproxy, haproxy_note = find_haproxy(args.no_haproxy)
        results.notes = [note for note in (prism_note, haproxy_note) if note]
        if args.only:
            results.notes.append(f"Only {', '.join(sorted(parts(args)))} (--only): the other "
                                 "parts' targets are not measured.")
        for note in results.notes:
            progress(note)
        started_at, started = datetime.now(UTC), time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="huskyvoice-bench-") as work:
            run_all(results, parts(args), prism, haproxy, Path(work))
        sections = build_sections(results, prism, haproxy, command, started_at,
                                  time.perf_counter() - started)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(text(sections))
    if args.markdown:
        args.markdown.write_text(markdown(sections), encoding="utf-8")
        progress(f"Markdown report written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
