"""T1: what a fresh sandbox costs a test: the pytest plugin's setup of the `huskyvoice` fixture.

Two throw-away pytest projects of `tests` tests each are generated and run in a subprocess, as a
user's suite would run: one whose test takes `huskyvoice` and GETs the documented appointment,
and one whose test takes no fixture (the floor: pytest's own per-test setup). A conftest plugin
times each test's setup phase (a hookwrapper around pytest_runtest_setup) and writes the
durations to a JSON file. The first test of the fixture project also builds the session's app,
so it is reported apart from the median and p95.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from common import APPOINTMENT, BenchError, progress

TARGET_MS = 1.0  # median setup of the fixture, at most

CONFTEST = '''\
"""Times each test's setup phase; writes the durations (seconds, in run order) on exit."""
import json
import os
import time

import pytest

DURATIONS = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    started = time.perf_counter()
    yield
    DURATIONS.append(time.perf_counter() - started)


def pytest_sessionfinish(session, exitstatus):
    with open(os.environ["BENCH_SETUP_TIMES"], "w") as out:
        json.dump(DURATIONS, out)
'''

WITH_FIXTURE = f'''\
import pytest


@pytest.mark.parametrize("n", range({{tests}}))
def test_get(huskyvoice, n):
    assert huskyvoice.get_appointment("{APPOINTMENT}").status == 200
'''

WITHOUT_FIXTURE = '''\
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_nothing(n):
    assert n >= 0
'''


@dataclass(frozen=True)
class SetupTimes:
    label: str
    seconds: tuple[float, ...]  # in run order

    @property
    def first_ms(self) -> float:
        return self.seconds[0] * 1000

    @property
    def median_ms(self) -> float:
        """Of every test but the first, which may build what the others reuse."""
        return statistics.median(self.seconds[1:]) * 1000

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.seconds[1:], n=20)[-1] * 1000


@dataclass(frozen=True)
class PerTestResult:
    fixture: SetupTimes
    floor: SetupTimes

    @property
    def difference_ms(self) -> float:
        return self.fixture.median_ms - self.floor.median_ms


def write_project(directory: Path, test_source: str, tests: int) -> None:
    directory.mkdir(parents=True)
    # An empty ini file makes this the rootdir: the checkout's own pytest settings stay out.
    (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (directory / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (directory / "test_bench.py").write_text(test_source.format(tests=tests),
                                             encoding="utf-8")


def run_project(label: str, directory: Path, tests: int) -> SetupTimes:
    times_file = directory / "setup-times.json"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
            str(directory)]
    done = subprocess.run(argv, cwd=directory, capture_output=True, text=True, timeout=600,
                          env={**_environ(), "BENCH_SETUP_TIMES": str(times_file)}, check=False)
    if done.returncode != 0 or not times_file.exists():
        raise BenchError(f"pytest ({label}) failed with status {done.returncode}:\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    seconds = tuple(json.loads(times_file.read_text(encoding="utf-8")))
    if len(seconds) != tests:
        raise BenchError(f"pytest ({label}) timed {len(seconds)} setups, expected {tests}")
    result = SetupTimes(label, seconds)
    progress(f"per-test setup, {label}: median {result.median_ms:.3f} ms, "
             f"p95 {result.p95_ms:.3f} ms, first {result.first_ms:.1f} ms")
    return result


def _environ() -> dict[str, str]:
    """This environment, less what would change which plugins pytest loads or how."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}


def run_pertest(work: Path, tests: int) -> PerTestResult:
    """Both projects, the fixture's first: neither's files are cached by the other's run."""
    with_fixture, floor = work / "pertest-fixture", work / "pertest-floor"
    write_project(with_fixture, WITH_FIXTURE, tests)
    write_project(floor, WITHOUT_FIXTURE, tests)
    return PerTestResult(run_project("huskyvoice fixture", with_fixture, tests),
                         run_project("no fixture (pytest's floor)", floor, tests))
