"""How long going back to the loaded world takes: `POST /_sandbox/reset` over HTTP (what a
test suite pays between tests against a served sandbox) and `SandboxState.reset()` in-process."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huskyvoice_sandbox import create_app
from huskyvoice_sandbox.web.http import EXTENSION

from common import progress

TIMING_BUDGET_S = 15.0  # a slow reset is sampled for at most this long (at least MIN_SAMPLES)
MIN_SAMPLES = 5


@dataclass(frozen=True)
class Timing:
    label: str
    samples_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)


def timed(label: str, action: Callable[[], object], samples: int) -> Timing:
    """Time `action` `samples` times, or fewer when that takes over TIMING_BUDGET_S."""
    times: list[float] = []
    deadline = time.perf_counter() + TIMING_BUDGET_S
    while len(times) < samples and (len(times) < MIN_SAMPLES or time.perf_counter() < deadline):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    result = Timing(label, tuple(times))
    progress(f"{label}: median {result.median_ms:.2f} ms")
    return result


def inprocess_reset(label: str, world: Path, samples: int) -> Timing:
    state = create_app(world).extensions[EXTENSION].state  # the default session's
    return timed(label, state.reset, samples)
