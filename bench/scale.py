"""T4: the sandbox on a small and a big world: served throughput of the same requests, and how
long a big world file takes to load (YAML and JSON) and how much memory it needs."""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from common import ROOT, BenchError, progress
from load import Matrix, measure
from resets import Timing, timed
from scenarios import SCALE
from servers import reset, sandbox_argv, serving, startup_rows
from settings import SMALL_WORLD, Settings
from worlds import bench_document, big_world

LOAD_TARGETS_S = {"YAML": 5.0, "JSON": 2.0}  # a big world's load, at most (below, strictly)


@dataclass(frozen=True)
class Worlds:
    bench: Path  # the comparison's world: the default world and the create window
    small_json: Path
    big_json: Path
    big_yaml: Path
    small_count: int
    big_count: int


def appointment_count(document: dict[str, Any]) -> int:
    return sum(len(org.get("appointments", [])) for org in document["organizations"])


def write_worlds(directory: Path, big_count: int) -> Worlds:
    """The bench world, and it grown to 1,000 and to `big_count` appointments."""
    base = bench_document()
    own = appointment_count(base)
    small, big = big_world(SMALL_WORLD - own, base), big_world(big_count - own, base)
    paths = Worlds(directory / "world-bench.json", directory / f"world-{SMALL_WORLD}.json",
                   directory / f"world-{big_count}.json", directory / f"world-{big_count}.yaml",
                   appointment_count(small), appointment_count(big))
    paths.bench.write_text(json.dumps(base), encoding="utf-8")
    paths.small_json.write_text(json.dumps(small), encoding="utf-8")
    paths.big_json.write_text(json.dumps(big), encoding="utf-8")
    started = time.perf_counter()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the pure-Python one is very slow
    paths.big_yaml.write_text(yaml.dump(big, Dumper=dumper, sort_keys=False), encoding="utf-8")
    progress(f"worlds written to {directory} (YAML dump {time.perf_counter() - started:.1f} s)")
    return paths


# -- served throughput ----------------------------------------------------------------------


@dataclass
class ScaleResult:
    matrix: Matrix  # servers: the small world's first
    startup: list[tuple[str, float, float | None]]
    reset: Timing  # POST /_sandbox/reset on the big world


def run_scale(worlds: Worlds, settings: Settings, logs: Path) -> ScaleResult:
    """Both worlds served at once (started one after the other, so each start is timed alone)
    and measured alternately."""
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(serving(f"sandbox {count:,}", sandbox_argv(path), logs,
                                               sandbox=True))
                   for count, path in ((worlds.small_count, worlds.small_json),
                                       (worlds.big_count, worlds.big_json))]
        matrix = measure(SCALE, servers, settings)
        big = servers[1]
        reset_timing = timed(f"POST /_sandbox/reset, {worlds.big_count:,} appointments "
                             "(client side)", lambda: reset(big), settings.reset_samples)
        return ScaleResult(matrix, startup_rows(servers), reset_timing)


# -- world load -----------------------------------------------------------------------------

# Peak RSS is the kernel's VmHWM of the probe's own address space. ru_maxrss (getrusage) is
# the fallback only: on Linux it carries over across exec the peak RSS of the process that
# spawned the probe, here the benchmark itself, which has held whole worlds in memory.
LOAD_PROBE = """\
import json, resource, sys, time
from huskyvoice_sandbox.worlds.world import load_world_file

def rss_kib(field):
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

before = rss_kib("VmRSS")
started = time.perf_counter()
world = load_world_file(sys.argv[1])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "before_kib": before, "peak_kib": rss_kib("VmHWM"),
                  "appointments": len(world.appointments)}))
"""


@dataclass(frozen=True)
class LoadResult:
    label: str
    kind: str  # "YAML" or "JSON"
    seconds: float  # median over fresh processes
    rss_before_mib: float  # RSS after the imports, before loading
    peak_rss_mib: float
    appointments: int

    @property
    def target_s(self) -> float:
        return LOAD_TARGETS_S[self.kind]


def measure_load(kind: str, path: Path, count: int, samples: int) -> LoadResult:
    """`load_world_file(path)` in `samples` fresh processes, so one measurement's memory and
    caches do not leak into the next: time and peak RSS (medians)."""
    probes = []
    for _ in range(samples):
        done = subprocess.run([sys.executable, "-c", LOAD_PROBE, str(path)], check=False,
                              capture_output=True, text=True, timeout=600, cwd=ROOT)
        if done.returncode:
            raise BenchError(f"loading {path} failed:\n{done.stderr[-2000:]}")
        probes.append(json.loads(done.stdout))
    result = LoadResult(f"{count:,} appointments, {kind}", kind,
                        statistics.median(p["seconds"] for p in probes),
                        statistics.median(p["before_kib"] for p in probes) / 1024,
                        statistics.median(p["peak_kib"] for p in probes) / 1024,
                        probes[0]["appointments"])
    progress(f"load {result.label}: {result.seconds:.2f} s, "
             f"peak RSS {result.peak_rss_mib:.0f} MiB")
    return result


def run_loads(worlds: Worlds, samples: int) -> list[LoadResult]:
    return [measure_load(kind, path, worlds.big_count, samples)
            for kind, path in (("JSON", worlds.big_json), ("YAML", worlds.big_yaml))]
