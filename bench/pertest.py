"""T1: what a fresh sandbox costs a test suite: the pytest plugin's `huskyvoice` fixture.

Measured as a suite feels it, by the wall time of whole pytest runs in a subprocess. Four
throw-away projects: N and 3N tests that take `huskyvoice` (and do nothing else), and N and 3N
tests that take no fixture. Each project runs `rounds` times, alternating, and the median wall
time is kept. Then, with F and P the fixture's and the plain projects' times:

- slope, the fixture's setup and teardown per test: ((F(3N) - F(N)) - (P(3N) - P(N))) / 2N;
- intercept, what the fixture costs once (the first test's app, world and spec):
  (F(N) - P(N)) - N × slope.

Both sides run the same interpreter and pytest with the same plugins, so what remains is the
fixture's alone. Each run's wall time is taken by a conftest hook from the session's start to its
end (start-up and plugin imports, the same on both sides, are left out with their noise).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from common import BenchError, progress

SLOPE_TARGET_MS = 0.5  # per test, at most
INTERCEPT_TARGET_MS = 400.0  # once, at most

# The run's wall time is taken inside pytest, from the session's start (before collection) to
# its end: interpreter start-up and plugin imports are the same on both sides, and timing them
# only added their noise (a second either way here) to the difference.
CONFTEST = '''\
import os
import time

STARTED = []


def pytest_sessionstart(session):
    STARTED.append(time.perf_counter())


def pytest_sessionfinish(session, exitstatus):
    with open(os.environ["BENCH_WALL_TIME"], "w") as out:
        out.write(repr(time.perf_counter() - STARTED[0]))
'''

WITH_FIXTURE = '''\
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_fresh_sandbox(huskyvoice, n):
    pass
'''

WITHOUT_FIXTURE = '''\
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_nothing(n):
    pass
'''


@dataclass(frozen=True)
class Run:
    label: str
    tests: int
    seconds: tuple[float, ...]  # wall time of each round

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000


@dataclass(frozen=True)
class PerTestResult:
    fixture: tuple[Run, Run]  # N, 3N
    plain: tuple[Run, Run]

    @property
    def slope_ms(self) -> float:
        (f1, f3), (p1, p3) = self.fixture, self.plain
        return ((f3.median_ms - f1.median_ms) - (p3.median_ms - p1.median_ms)) / (f3.tests - f1.tests)

    @property
    def intercept_ms(self) -> float:
        f1, p1 = self.fixture[0], self.plain[0]
        return (f1.median_ms - p1.median_ms) - f1.tests * self.slope_ms

    def runs(self) -> list[Run]:
        return [*self.fixture, *self.plain]


def write_project(directory: Path, test_source: str, tests: int) -> None:
    directory.mkdir(parents=True)
    # An empty ini file makes this the rootdir: the checkout's own pytest settings stay out.
    (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (directory / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (directory / "test_bench.py").write_text(test_source.format(tests=tests), encoding="utf-8")


def time_project(label: str, directory: Path) -> float:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
            "-p", "no:xdist", str(directory)]
    wall_time = directory / "wall-time.txt"
    wall_time.unlink(missing_ok=True)
    done = subprocess.run(argv, cwd=directory, capture_output=True, text=True, timeout=600,
                          env={**_environ(), "BENCH_WALL_TIME": str(wall_time)}, check=False)
    if done.returncode != 0 or not wall_time.exists():
        raise BenchError(f"pytest ({label}) failed with status {done.returncode}:\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return float(wall_time.read_text(encoding="utf-8"))


def _environ() -> dict[str, str]:
    """This environment, less what would change which plugins pytest loads or how."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}


def run_pertest(work: Path, tests: int, rounds: int) -> PerTestResult:
    """The four projects, `rounds` times each, alternating (a noisy moment hits all four)."""
    projects = [(f"huskyvoice fixture, {n:,} tests", "fixture", WITH_FIXTURE, n) for n in (tests, 3 * tests)]
    projects += [(f"no fixture, {n:,} tests", "plain", WITHOUT_FIXTURE, n) for n in (tests, 3 * tests)]
    for _label, kind, source, n in projects:
        write_project(work / f"pertest-{kind}-{n}", source, n)
    seconds: dict[str, list[float]] = {label: [] for label, *_ in projects}
    for _ in range(rounds):
        for label, kind, _source, n in projects:
            seconds[label].append(time_project(label, work / f"pertest-{kind}-{n}"))
    runs = [Run(label, n, tuple(seconds[label])) for label, _kind, _source, n in projects]
    result = PerTestResult((runs[0], runs[1]), (runs[2], runs[3]))
    for run in runs:
        progress(f"per-test, {run.label}: median {run.median_ms:.0f} ms of {rounds}")
    progress(f"per-test: the fixture costs {result.slope_ms:.3f} ms a test "
             f"and {result.intercept_ms:.0f} ms once")
    return result
