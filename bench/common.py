"""What every part of the benchmark shares: where things are, the key and appointment the
requests use, the one error type, and progress output.

The bench modules import each other as top-level modules: `python bench/run.py` puts bench/ first
on sys.path, and mypy and ruff are configured with bench/ as a source root.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
NOTES_FILE = BENCH_DIR / "notes.md"  # the maintainers' reading of the figures, kept across runs
LUA_SCRIPT = BENCH_DIR / "request.lua"
BARE_APP = BENCH_DIR / "bare_app.py"
HOST = "127.0.0.1"
KEY = "sk_test_demo_write"  # read and write; org_demo has no rate limit, so no 429 under load
APPOINTMENT = "appt_a1b2c3d4e5"
REPRODUCE = "python bench/run.py --markdown docs/performance.md"


class BenchError(Exception):
    """Something the benchmark cannot go on from; the message says what and why."""


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout carries the report alone."""
    print(message, file=sys.stderr, flush=True)
