"""Everything one run measured; a part not run (--only, or its tool missing) stays None."""

from __future__ import annotations

from dataclasses import dataclass, field

from balancer import BalancerResult
from comparison import ComparisonResult
from inprocess import InProcessResult
from pertest import PerTestResult
from resets import Timing
from scale import LoadResult, ScaleResult, Worlds
from settings import Settings


@dataclass
class Results:
    settings: Settings
    notes: list[str] = field(default_factory=list)  # what was skipped, and why
    worlds: Worlds | None = None
    pertest: PerTestResult | None = None  # T1
    inprocess: list[InProcessResult] | None = None  # T2
    comparison: ComparisonResult | None = None  # T3
    scale: ScaleResult | None = None  # T4, served
    loads: list[LoadResult] = field(default_factory=list)  # T4, world files
    balancer: BalancerResult | None = None  # T5
    resets: list[Timing] = field(default_factory=list)  # in-process
    others_cpu_share: float | None = None  # of the machine's CPU, used by other processes

    def startup(self) -> list[tuple[str, float, float | None]]:
        parts = (self.comparison, self.scale, self.balancer)
        return [row for part in parts if part is not None for row in part.startup]

    def all_resets(self) -> list[Timing]:
        served = [part.reset for part in (self.comparison, self.scale) if part is not None]
        return [*served, *self.resets]
