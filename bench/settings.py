"""How long and how often to measure (the FULL and QUICK presets), and the command line."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import BenchError

SMALL_WORLD = 1_000  # appointments in the small world of the scale comparison
PARTS = ("comparison", "scale", "load", "pertest", "inprocess", "balancer")


@dataclass(frozen=True)
class Settings:
    duration: int  # seconds per timed wrk run
    rounds: int  # timed runs per server and scenario (the median is reported)
    connections: int  # wrk's open connections
    warmup: int  # seconds of untimed load per server before the first round
    reset_samples: int  # resets timed per world (fewer if they take over TIMING_BUDGET_S)
    load_samples: int  # fresh processes per world load measurement
    big: int  # appointments in the big world (scale, load, reset)
    tests: int  # N: generated pytest projects of N and 3N tests (per-test cost)
    batch: int  # in-process calls per timed batch
    repeats: int  # timed batches per app and scenario, in-process (the median is reported)


# Full: 5 rounds of 3 s keep the whole run near 14 minutes with 7 scenarios on 3 servers (and
# 2 more at 64 connections);
# five short alternating runs resist a noisy moment better than two long ones.
FULL = Settings(duration=3, rounds=5, connections=8, warmup=1, reset_samples=50, load_samples=1,
                big=100_000, tests=1_000, batch=1_000, repeats=15)
QUICK = Settings(duration=2, rounds=1, connections=8, warmup=1, reset_samples=5, load_samples=1,
                 big=10_000, tests=1_000, batch=200, repeats=5)


def describe(settings: Settings) -> str:
    return ", ".join(f"--{f.name.replace('_', '-')} {getattr(settings, f.name)}"
                     for f in dataclasses.fields(settings))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark huskyvoice-sandbox against a bare Flask app and Prism.",
        epilog=f"Defaults: {describe(FULL)}; with --quick: {describe(QUICK)}. Needs wrk; "
               "Prism and HAProxy are used when on PATH.")
    parser.add_argument("--quick", action="store_true", help="smoke run of about two minutes")
    parser.add_argument("--duration", type=int, help="seconds per timed wrk run")
    parser.add_argument("--rounds", type=int, help="alternating rounds (median reported)")
    parser.add_argument("--connections", type=int, help="wrk connections (-c)")
    parser.add_argument("--warmup", type=int, help="seconds of untimed load per server")
    parser.add_argument("--reset-samples", type=int, help="resets timed per world")
    parser.add_argument("--load-samples", type=int, help="fresh processes per load measurement")
    parser.add_argument("--big", type=int, metavar="N", help="appointments in the big world")
    parser.add_argument("--tests", type=int, help="N: pytest projects of N and 3N tests are timed")
    parser.add_argument("--batch", type=int, help="in-process calls per timed batch")
    parser.add_argument("--repeats", type=int, help="in-process timed batches (median reported)")
    parser.add_argument("--no-prism", action="store_true", help="skip Prism even if installed")
    parser.add_argument("--no-haproxy", action="store_true", help="skip the HAProxy section")
    parser.add_argument("--only", action="append", choices=PARTS, metavar="PART",
                        help=f"run only this part (repeatable; one of {', '.join(PARTS)}); "
                             "the targets of the others say 'not measured'")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the report as Markdown to PATH")
    return parser.parse_args(argv)


def resolve_settings(args: argparse.Namespace) -> Settings:
    """The preset, with the values given on the command line, checked."""
    preset = QUICK if args.quick else FULL
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Settings)
             if getattr(args, f.name) is not None}
    for name, value in given.items():
        minimum = {"warmup": 0, "big": SMALL_WORLD, "tests": 2}.get(name, 1)
        if value < minimum:
            raise BenchError(f"--{name.replace('_', '-')} must be at least {minimum}, got {value}")
    return dataclasses.replace(preset, **given)


def parts(args: argparse.Namespace) -> frozenset[str]:
    return frozenset(args.only or PARTS)
