"""Benchmark of huskyvoice-sandbox: throughput and latency against a bare Flask app and Prism,
throughput at 1,000 and 100,000 appointments, world load time and memory, and reset time.

    python bench/run.py                      # full run, at most ~10 minutes
    python bench/run.py --quick              # smoke run, about a minute
    python bench/run.py --markdown docs/performance.md

Method
------
* Servers run as separate processes on free local ports: the sandbox under its production
  server (`huskyvoice-sandbox serve --quiet`, started as `python -c "from huskyvoice_sandbox.serve.cli import
  main; main()" serve ...` with this interpreter), `bench/bare_app.py` (a Flask app that
  answers the documented 200 body and does nothing else, served through the same
  `huskyvoice_sandbox.serve.server.make_server`, so the waitress settings are identical) and, when it is on
  PATH, Prism's mock server on the same openapi.yaml (static examples). The bare app is the
  floor: sandbox/bare is the share of throughput the sandbox keeps after its own work.
* Load comes from wrk with one thread (`-t1`): wrk's event loop needs one core, which leaves the
  other core of a 2-core machine to the server instead of having the client compete with it.
  Every server gets byte-identical requests (bench/request.lua; the same method, body and key),
  and wrk's own counters (latency percentiles, non-2xx/3xx responses, socket errors) come back
  through the script's done() hook as one JSON line.
* Alternation: each round runs every scenario on every server in turn, the order of the
  servers rotating from round to round, so a noisy moment on the machine hits all of them
  alike. Each cell reports the median of its rounds (and the range), not the mean, so one
  disturbed run does not move it.
* Before each timed run, the sandbox's world is reset (`POST /_sandbox/reset`) and the request
  is sent once: the sandbox must give the expected status (the benchmark stops if not); what
  the bare app and Prism answer is printed. wrk's non-2xx/3xx count and socket errors are
  reported for every cell.
* Load time and peak memory are measured in a fresh process per measurement, so one
  measurement's memory and caches do not leak into the next.
* The report says how much of the machine's CPU other processes took during the run (from
  /proc/stat, less the CPU time of the benchmark and everything it started) and warns when it
  is over 10%: alternation keeps the comparisons fair, but absolute numbers then run low.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

try:
    import yaml
    from huskyvoice_sandbox import create_app
    from huskyvoice_sandbox.resources import default_world_path, spec_path
    from huskyvoice_sandbox.web.http import EXTENSION

    from worlds import big_world, default_document
except ImportError as missing:
    print(f"error: {missing}. Install the sandbox first, from the checkout: "
          'pip install -e ".[test]"', file=sys.stderr)
    sys.exit(2)

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
NOTES_FILE = BENCH_DIR / "notes.md"  # the maintainers' reading of the figures, kept across runs
LUA_SCRIPT = BENCH_DIR / "request.lua"
BARE_APP = BENCH_DIR / "bare_app.py"
HOST = "127.0.0.1"
KEY = "sk_test_demo_write"
APPOINTMENT = "appt_a1b2c3d4e5"
READY_TIMEOUT_S = 180.0
SMALL_WORLD = 1_000  # appointments in the small world of the scale comparison
TIMING_BUDGET_S = 15.0  # a slow reset is sampled for at most this long (at least MIN_SAMPLES)
MIN_SAMPLES = 5
REPRODUCE = "python bench/run.py --markdown docs/performance.md"


class BenchError(Exception):
    """Something the benchmark cannot go on from; the message says what and why."""


# -- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    duration: int  # seconds per timed wrk run
    rounds: int  # timed runs per server and scenario (the median is reported)
    connections: int  # wrk's open connections
    warmup: int  # seconds of untimed load per server before the first round
    reset_samples: int  # resets timed per world (fewer if they take over TIMING_BUDGET_S)
    load_samples: int  # fresh processes per world load measurement
    big: int  # appointments in the big world (scale, load, reset)


FULL = Settings(duration=5, rounds=5, connections=8, warmup=2, reset_samples=50, load_samples=1,
                big=100_000)
QUICK = Settings(duration=2, rounds=1, connections=8, warmup=1, reset_samples=5, load_samples=1,
                 big=10_000)


def describe(settings: Settings) -> str:
    return ", ".join(f"--{f.name.replace('_', '-')} {getattr(settings, f.name)}"
                     for f in dataclasses.fields(settings))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark huskyvoice-sandbox against a bare Flask app and Prism.",
        epilog=f"Defaults: {describe(FULL)}; with --quick: {describe(QUICK)}. Needs wrk; "
               "Prism is used when on PATH.")
    parser.add_argument("--quick", action="store_true", help="smoke run of about a minute")
    parser.add_argument("--duration", type=int, help="seconds per timed wrk run")
    parser.add_argument("--rounds", type=int, help="alternating rounds (median reported)")
    parser.add_argument("--connections", type=int, help="wrk connections (-c)")
    parser.add_argument("--warmup", type=int, help="seconds of untimed load per server")
    parser.add_argument("--reset-samples", type=int, help="resets timed per world")
    parser.add_argument("--load-samples", type=int, help="fresh processes per load measurement")
    parser.add_argument("--big", type=int, metavar="N", help="appointments in the big world")
    parser.add_argument("--no-prism", action="store_true", help="skip Prism even if installed")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the report as Markdown to PATH")
    return parser.parse_args(argv)


def resolve_settings(args: argparse.Namespace) -> Settings:
    preset = QUICK if args.quick else FULL
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Settings)
             if getattr(args, f.name) is not None}
    for name, value in given.items():
        minimum = {"warmup": 0, "big": SMALL_WORLD}.get(name, 1)
        if value < minimum:
            raise BenchError(f"--{name.replace('_', '-')} must be at least {minimum}, got {value}")
    return dataclasses.replace(preset, **given)


# -- scenarios ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    title: str
    method: str
    body: dict[str, Any] | None
    expected: int  # the sandbox's status on the default world, checked before each timed run
    path: str = f"/v1/appointments/{APPOINTMENT}"

    @property
    def body_text(self) -> str:
        return json.dumps(self.body) if self.body is not None else ""


NOTES = Scenario("PATCH notes only", "PATCH", {"notes": "Patient requested morning slot"}, 200)
RESCHEDULE = Scenario("PATCH reschedule, 200", "PATCH",
                      {"appointment_date": "2026-06-15T14:30:00.000Z"}, 200)
SLOT_FULL = Scenario("PATCH reschedule, 409 SLOT_FULL", "PATCH",
                     {"appointment_date": "2026-06-16T10:00:00.000Z"}, 409)
READ = Scenario("GET appointment", "GET", None, 200)
SCENARIOS = (NOTES, RESCHEDULE, SLOT_FULL, READ)
SCALE_SCENARIOS = (NOTES, RESCHEDULE)


# -- HTTP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def label(self) -> str:
        """The status, with the error code when the body is the error envelope."""
        try:
            code = json.loads(self.body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return str(self.status)
        return f"{self.status} {code}"


def send(url: str, method: str = "GET", body: str = "", timeout: float = 60.0) -> Answer:
    headers = {"Authorization": f"Bearer {KEY}"}
    if body:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body.encode() or None, headers=headers,
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# -- servers --------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    startup_s: float  # from process start to the first answered request
    sandbox: bool  # has the control API (POST /_sandbox/reset)

    def peak_rss_mib(self) -> float | None:
        """The process's peak resident memory so far (VmHWM), while it runs."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None


def sandbox_argv(world: Path) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()", "serve",
                         "--quiet", "--host", HOST, "--port", str(port), "--fixtures", str(world)]


def bare_argv(port: int) -> list[str]:
    return [sys.executable, str(BARE_APP), "--host", HOST, "--port", str(port)]


def prism_argv(prism: str) -> Callable[[int], list[str]]:
    return lambda port: [prism, "mock", "--host", HOST, "--port", str(port), "--dynamic", "false",
                         "--verboseLevel", "error", str(spec_path())]


@contextlib.contextmanager
def serving(name: str, argv: Callable[[int], list[str]], log_dir: Path,
            sandbox: bool = False) -> Iterator[Server]:
    """Start a server on a free port, wait until it answers, and stop it on exit."""
    port = free_port()
    log = log_dir / f"{name.replace(' ', '-').replace(',', '')}.log"
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv(port), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                   start_new_session=True)  # its own group, stopped as one
    try:
        url = f"http://{HOST}:{port}"
        answered = wait_until_answering(name, url, process, log)
        progress(f"{name}: answering after {answered - started:.2f} s ({url})")
        yield Server(name, url, process, answered - started, sandbox)
    finally:
        stop(process)


def wait_until_answering(name: str, url: str, process: subprocess.Popen[bytes],
                         log: Path) -> float:
    deadline = time.perf_counter() + READY_TIMEOUT_S
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{name} exited with status {process.returncode} before answering; "
                             f"its output:\n{tail(log)}")
        try:
            send(url + READ.path, timeout=5)
            return time.perf_counter()
        except (OSError, http.client.HTTPException):
            time.sleep(0.02)
    raise BenchError(f"{name} did not answer within {READY_TIMEOUT_S:.0f} s; "
                     f"its output:\n{tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def reset(server: Server) -> None:
    answer = send(server.url + "/_sandbox/reset", "POST")
    if answer.status != 200:
        raise BenchError(f"{server.name}: POST /_sandbox/reset answered {answer.label()}")


# -- wrk ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: int  # connect + read + write + timeout

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk_argv(url: str, duration: int, connections: int, script: Path = LUA_SCRIPT) -> list[str]:
    return ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
            url]


def run_wrk(server: Server, scenario: Scenario, duration: int, connections: int) -> WrkRun:
    env = {**os.environ, "BENCH_METHOD": scenario.method, "BENCH_BODY": scenario.body_text,
           "BENCH_KEY": KEY}
    argv = wrk_argv(server.url + scenario.path, duration, connections)
    done = subprocess.run(argv, env=env, check=False, capture_output=True, text=True,
                          timeout=duration + 120)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return parse_wrk_result(json.loads(line.removeprefix("BENCH_RESULT ")))
    raise BenchError(f"wrk gave no result (status {done.returncode}) for {scenario.title} on "
                     f"{server.name}:\n{done.stdout}\n{done.stderr}")


def parse_wrk_result(raw: dict[str, int]) -> WrkRun:
    return WrkRun(
        requests=raw["requests"], seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000, non_2xx=raw["non_2xx_3xx"],
        socket_errors=sum(raw[k] for k in ("connect", "read", "write", "timeout")))


# -- the alternating matrix -----------------------------------------------------------------


@dataclass
class Cell:
    """One scenario on one server: its timed runs and what the server answered."""

    scenario: Scenario
    server: str
    answers: list[str] = field(default_factory=list)
    runs: list[WrkRun] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(run.rps for run in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(run.p50_ms for run in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(run.p99_ms for run in self.runs)

    @property
    def requests(self) -> int:
        return sum(run.requests for run in self.runs)

    @property
    def non_2xx(self) -> int:
        return sum(run.non_2xx for run in self.runs)

    @property
    def socket_errors(self) -> int:
        return sum(run.socket_errors for run in self.runs)


Cells = dict[tuple[str, str], Cell]  # (scenario title, server name)


def rotated(servers: Sequence[Server], by: int) -> list[Server]:
    shift = by % len(servers)
    return [*servers[shift:], *servers[:shift]]


def prepare(server: Server, scenario: Scenario) -> str:
    """Reset the sandbox, send the request once, and check the sandbox's status."""
    if server.sandbox:
        reset(server)
    answer = send(server.url + scenario.path, scenario.method, scenario.body_text)
    if server.sandbox and answer.status != scenario.expected:
        raise BenchError(f"{server.name} answered {answer.label()} to {scenario.title}, expected "
                         f"{scenario.expected}: {answer.body[:500].decode(errors='replace')}")
    return answer.label()


def warm_up(servers: Sequence[Server], scenario: Scenario, settings: Settings) -> None:
    if not settings.warmup:
        return
    for server in servers:
        prepare(server, scenario)
        run_wrk(server, scenario, settings.warmup, settings.connections)


def measure(scenarios: Sequence[Scenario], servers: Sequence[Server], settings: Settings) -> Cells:
    """Every scenario on every server, `rounds` times, alternating (see the module docstring)."""
    cells = {(s.title, srv.name): Cell(s, srv.name) for s in scenarios for srv in servers}
    warm_up(servers, scenarios[0], settings)
    total, done = settings.rounds * len(cells), 0
    for round_index in range(settings.rounds):
        for scenario in scenarios:
            for server in rotated(servers, round_index):
                cell = cells[scenario.title, server.name]
                answer = prepare(server, scenario)
                if answer not in cell.answers:
                    cell.answers.append(answer)
                run = run_wrk(server, scenario, settings.duration, settings.connections)
                cell.runs.append(run)
                done += 1
                progress(f"[{done:>2}/{total}] {scenario.title:<32} {server.name:<16} "
                         f"{run.rps:>8,.0f} req/s  p50 {run.p50_ms:6.2f} ms  "
                         f"p99 {run.p99_ms:6.2f} ms  ({answer})")
    return cells


# -- worlds, load, reset --------------------------------------------------------------------


@dataclass(frozen=True)
class Worlds:
    small_json: Path
    big_json: Path
    big_yaml: Path
    small_count: int
    big_count: int


def appointment_count(document: dict[str, Any]) -> int:
    return sum(len(org.get("appointments", [])) for org in document["organizations"])


def write_worlds(directory: Path, big_count: int) -> Worlds:
    """bench/worlds.py's default world grown to 1,000 and to `big_count` appointments."""
    base = default_document()
    own = appointment_count(base)
    small, big = big_world(SMALL_WORLD - own, base), big_world(big_count - own, base)
    paths = Worlds(directory / f"world-{SMALL_WORLD}.json", directory / f"world-{big_count}.json",
                   directory / f"world-{big_count}.yaml", appointment_count(small),
                   appointment_count(big))
    paths.small_json.write_text(json.dumps(small), encoding="utf-8")
    paths.big_json.write_text(json.dumps(big), encoding="utf-8")
    started = time.perf_counter()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the pure-Python one is very slow
    paths.big_yaml.write_text(yaml.dump(big, Dumper=dumper, sort_keys=False), encoding="utf-8")
    progress(f"worlds written to {directory} (YAML dump {time.perf_counter() - started:.1f} s)")
    return paths


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
    seconds: float  # median over fresh processes
    rss_before_mib: float  # RSS after the imports, before loading
    peak_rss_mib: float
    appointments: int


def measure_load(label: str, path: Path, samples: int) -> LoadResult:
    """`load_world_file(path)` in `samples` fresh processes: time and peak RSS (medians)."""
    probes = []
    for _ in range(samples):
        done = subprocess.run([sys.executable, "-c", LOAD_PROBE, str(path)], check=False,
                              capture_output=True, text=True, timeout=600, cwd=ROOT)
        if done.returncode:
            raise BenchError(f"loading {path} failed:\n{done.stderr[-2000:]}")
        probes.append(json.loads(done.stdout))
    result = LoadResult(label, statistics.median(p["seconds"] for p in probes),
                        statistics.median(p["before_kib"] for p in probes) / 1024,
                        statistics.median(p["peak_kib"] for p in probes) / 1024,
                        probes[0]["appointments"])
    progress(f"load {label}: {result.seconds:.2f} s, peak RSS {result.peak_rss_mib:.0f} MiB")
    return result


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
    state = create_app(world).extensions[EXTENSION].state
    return timed(label, state.reset, samples)


# -- the whole run --------------------------------------------------------------------------


@dataclass
class Results:
    worlds: Worlds
    prism_note: str | None
    servers: list[str] = field(default_factory=list)  # of the comparison; the sandbox first
    comparison: Cells = field(default_factory=dict)
    scale_servers: list[str] = field(default_factory=list)  # the small world first
    scale: Cells = field(default_factory=dict)
    startup: list[tuple[str, float, float | None]] = field(default_factory=list)  # name, s, MiB
    loads: list[LoadResult] = field(default_factory=list)
    resets: list[Timing] = field(default_factory=list)  # the default world's POST first
    others_cpu_share: float | None = None  # of the machine's CPU, used by other processes


def record_startup(results: Results, servers: Sequence[Server]) -> None:
    results.startup += [(s.name, s.startup_s, s.peak_rss_mib()) for s in servers]


def run_comparison(results: Results, settings: Settings, prism: str | None, logs: Path) -> None:
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(serving("sandbox", sandbox_argv(default_world_path()),
                                               logs, sandbox=True)),
                   stack.enter_context(serving("bare app", bare_argv, logs))]
        if prism:
            servers.append(stack.enter_context(serving("Prism", prism_argv(prism), logs)))
        results.servers = [s.name for s in servers]
        results.comparison = measure(SCENARIOS, servers, settings)
        results.resets.append(timed("POST /_sandbox/reset, default world (client side)",
                                    lambda: reset(servers[0]), settings.reset_samples))
        record_startup(results, servers)


def run_scale(results: Results, settings: Settings, logs: Path) -> None:
    worlds = results.worlds
    with contextlib.ExitStack() as stack:  # one after the other, so each start is timed alone
        servers = [stack.enter_context(serving(f"sandbox {count:,}", sandbox_argv(path), logs,
                                               sandbox=True))
                   for count, path in ((worlds.small_count, worlds.small_json),
                                       (worlds.big_count, worlds.big_json))]
        results.scale_servers = [s.name for s in servers]
        results.scale = measure(SCALE_SCENARIOS, servers, settings)
        results.resets.append(timed(f"POST /_sandbox/reset, {worlds.big_count:,} appointments "
                                    "(client side)", lambda: reset(servers[1]),
                                    settings.reset_samples))
        record_startup(results, servers)


def run_load_and_reset(results: Results, settings: Settings) -> None:
    worlds = results.worlds
    for label, path in (("JSON", worlds.big_json), ("YAML", worlds.big_yaml)):
        results.loads.append(measure_load(f"{worlds.big_count:,} appointments, {label}", path,
                                          settings.load_samples))
    for label, path in (("default world", default_world_path()),
                        (f"{worlds.big_count:,} appointments", worlds.big_json)):
        results.resets.append(inprocess_reset(f"SandboxState.reset(), {label} (in-process)",
                                              path, settings.reset_samples))


def run_all(settings: Settings, prism: str | None, prism_note: str | None,
            work: Path) -> Results:
    before = cpu_sample()
    results = Results(write_worlds(work, settings.big), prism_note)
    run_comparison(results, settings, prism, work)
    run_scale(results, settings, work)
    run_load_and_reset(results, settings)
    results.others_cpu_share = others_share(before, cpu_sample())
    return results


# -- how busy the machine was ---------------------------------------------------------------

BUSY_SHARE = 0.10  # other processes using more than this share of the CPU: warn


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.perf_counter()
    busy_s: float  # machine-wide non-idle CPU time (/proc/stat)
    own_s: float  # CPU time of this process and of its children that have ended


def cpu_sample() -> CpuSample | None:
    """None where /proc/stat is missing (not Linux)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    own = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return CpuSample(time.perf_counter(),
                     (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK"),
                     sum(usage.ru_utime + usage.ru_stime for usage in own))


def others_share(start: CpuSample | None, end: CpuSample | None) -> float | None:
    """The share of the machine's CPU that processes other than the benchmark's used between
    the two samples (every server, wrk and probe has ended, so its time is counted as own)."""
    if start is None or end is None:
        return None
    others = (end.busy_s - start.busy_s) - (end.own_s - start.own_s)
    return max(0.0, others) / ((end.at - start.at) * (os.cpu_count() or 1))


def busy_machine_note(share: float | None) -> list[str]:
    if share is None:
        return []
    note = (f"Other processes used {share:.0%} of the machine's CPU during the run (from "
            "/proc/stat, less the CPU time of the benchmark and everything it started).")
    if share <= BUSY_SHARE:
        return [note]
    return [note, ("**Warning: the machine was busy**: other processes competed for the CPU, "
                   "so the numbers are lower and noisier than on a quiet machine. Alternation "
                   "spreads that noise over all servers alike, but rerun on a quiet machine "
                   "before drawing conclusions.")]


# -- machine --------------------------------------------------------------------------------


def command_output(argv: Sequence[str]) -> str | None:
    """What the command printed (stdout, else stderr), stripped; None if it could not run or
    failed without printing anything."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60,
                              cwd=ROOT)
        return (done.stdout or done.stderr).strip() or (None if done.returncode else "")
    return None


def first_line(text: str | None) -> str:
    return text.splitlines()[0] if text else "unavailable"


def proc_field(path: str, name: str) -> str | None:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    return None


def os_name() -> str:
    release = {}
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            release[key] = value.strip('"')
    return f"{release.get('PRETTY_NAME', platform.system())}, kernel {platform.release()}"


def package_versions() -> str:
    names = ("huskyvoice-sandbox", "flask", "waitress", "werkzeug", "jsonschema", "jsonschema-rs",
             "pyyaml")
    versions = []
    for name in names:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return ", ".join(versions)


def checkout() -> str:
    commit = command_output(["git", "rev-parse", "--short", "HEAD"])
    if not commit or commit.startswith("fatal"):
        return "not a git checkout"
    dirty = command_output(["git", "status", "--porcelain", "--", "sandbox"])
    return commit + (" + uncommitted changes in sandbox/" if dirty else "")


def machine(prism: str | None) -> list[tuple[str, str]]:
    memory_kib = proc_field("/proc/meminfo", "MemTotal") or "0 kB"
    return [
        ("CPU", proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown"),
        ("Cores", str(os.cpu_count())),
        ("RAM", f"{int(memory_kib.split()[0]) / 1024 ** 2:.1f} GiB"),
        ("OS", os_name()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Packages", package_versions()),
        ("wrk", first_line(command_output(["wrk", "-v"])).split(" Copyright")[0]),
        ("Prism", first_line(command_output([prism, "--version"])) if prism else "not used"),
        ("Checkout", checkout()),
    ]


# -- report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]

    def text(self) -> str:
        widths = [max(len(str(r[i])) for r in (self.headers, *self.rows))
                  for i in range(len(self.headers))]
        lines = [self.headers, ["-" * w for w in widths], *self.rows]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
                         for r in lines)

    def markdown(self) -> str:
        def row(cells: Sequence[str]) -> str:
            return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
        return "\n".join([row(self.headers), row(["---"] * len(self.headers)),
                          *map(row, self.rows)])


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: Sequence[str] = ()
    table: Table | None = None

    def text(self) -> str:
        parts = [f"{self.title}\n{'=' * len(self.title)}", *self.paragraphs]
        return "\n\n".join(parts + ([self.table.text()] if self.table else []))

    def markdown(self) -> str:
        parts = [f"## {self.title}", *self.paragraphs]
        return "\n\n".join(parts + ([self.table.markdown()] if self.table else []))


@dataclass(frozen=True)
class Target:
    name: str
    measured: float
    limit: float
    at_least: bool  # True: measured >= limit passes; False: measured < limit passes
    unit: str

    @property
    def passed(self) -> bool:
        return self.measured >= self.limit if self.at_least else self.measured < self.limit

    def row(self) -> list[str]:
        sign = "≥" if self.at_least else "<"
        return [self.name, f"{self.measured:.2f}{self.unit}", f"{sign} {self.limit:g}{self.unit}",
                "PASS" if self.passed else "MISS"]


def cells_table(cells: Cells, scenarios: Sequence[Scenario], servers: Sequence[str]) -> Table:
    rows = []
    for scenario in scenarios:
        for server in servers:
            c = cells[scenario.title, server]
            low, high = min(r.rps for r in c.runs), max(r.rps for r in c.runs)
            rows.append([scenario.title, server, ", ".join(c.answers), f"{c.rps:,.0f}",
                         f"{low:,.0f}–{high:,.0f}", f"{c.p50_ms:.2f}", f"{c.p99_ms:.2f}",
                         f"{c.non_2xx:,} of {c.requests:,}", f"{c.socket_errors:,}"])
    return Table(["Scenario", "Server", "Answer", "req/s (median)", "req/s (range)",
                  "p50 ms", "p99 ms", "non-2xx/3xx", "socket errors"], rows)


def ratio(cells: Cells, scenario: Scenario, top: str, bottom: str) -> float:
    return cells[scenario.title, top].rps / cells[scenario.title, bottom].rps


def ratio_table(cells: Cells, scenarios: Sequence[Scenario],
                pairs: Sequence[tuple[str, str]]) -> Table:
    rows = [[s.title, *(f"{ratio(cells, s, top, bottom):.2f}" for top, bottom in pairs)]
            for s in scenarios]
    return Table(["Scenario", *(f"{top} / {bottom}" for top, bottom in pairs)], rows)


def targets(results: Results) -> list[Target]:
    sandbox, bare = results.servers[0], results.servers[1]
    small, big = results.scale_servers
    default_reset = results.resets[0]
    found = [Target(f"{sandbox} / {bare}, {NOTES.title} (req/s)",
                    ratio(results.comparison, NOTES, sandbox, bare), 0.8, True, "")]
    found += [Target(f"{big} / {small}, {s.title} (req/s)", ratio(results.scale, s, big, small),
                     0.9, True, "") for s in SCALE_SCENARIOS]
    found += [Target(f"load {load.label}", load.seconds, 3, False, " s") for load in results.loads]
    found.append(Target(default_reset.label, default_reset.median_ms, 100, False, " ms"))
    return found


def build_sections(results: Results, settings: Settings, prism: str | None, command: str,
                   started_at: datetime, elapsed_s: float) -> list[Section]:
    return [
        run_section(results, settings, command, started_at, elapsed_s),
        Section("Machine", table=Table(["What", "Value"], machine(prism))),
        *comparison_sections(results),
        *scale_sections(results),
        load_section(results.loads),
        startup_section(results.startup),
        reset_section(results.resets, settings),
        Section("Targets", table=Table(["Target", "Measured", "Required", "Result"],
                                       [t.row() for t in targets(results)])),
    ]


def run_section(results: Results, settings: Settings, command: str, started_at: datetime,
                elapsed_s: float) -> Section:
    wrk_line = shlex.join(wrk_argv("URL", settings.duration, settings.connections,
                                   LUA_SCRIPT.relative_to(ROOT)))
    return Section("This run", [
        f"Command: `{command}`",
        (f"Started {started_at:%Y-%m-%d %H:%M} UTC, took {elapsed_s / 60:.1f} min. Settings: "
         f"{settings.rounds} alternating round(s) of `{wrk_line}` per server and scenario "
         f"(median reported), {settings.warmup} s untimed warm-up per server, key `{KEY}`, "
         f"appointment `{APPOINTMENT}`, world reset before each sandbox run."),
        *busy_machine_note(results.others_cpu_share),
        *([results.prism_note] if results.prism_note else [])])


def comparison_sections(results: Results) -> list[Section]:
    sandbox, *others = results.servers
    return [
        Section("Sandbox, bare Flask app and Prism", [
            ("The sandbox serves the default world; the bare app answers the documented 200 "
             "body to everything; Prism serves the examples of openapi.yaml. Answer: what each "
             "server answered to the request (checked before each timed run); non-2xx/3xx and "
             "socket errors: wrk's counts over all rounds.")],
                cells_table(results.comparison, SCENARIOS, results.servers)),
        Section("Ratios (requests per second)", table=ratio_table(
            results.comparison, SCENARIOS, [(sandbox, other) for other in others])),
    ]


def scale_sections(results: Results) -> list[Section]:
    small, big = results.scale_servers
    worlds = results.worlds
    return [
        Section(f"Scale: {worlds.small_count:,} against {worlds.big_count:,} appointments", [
            ("The same requests on worlds grown by bench/worlds.py (the default world plus "
             "filler appointments on their own branch), both served at once and measured "
             "alternately.")], cells_table(results.scale, SCALE_SCENARIOS, results.scale_servers)),
        Section("Scale ratio", table=ratio_table(results.scale, SCALE_SCENARIOS, [(big, small)])),
    ]


def load_section(loads: Sequence[LoadResult]) -> Section:
    return Section("World load (fresh process each)", [
        ("`huskyvoice_sandbox.worlds.world.load_world_file(path)` in a fresh process; RSS before: after the "
         "imports, before loading; peak RSS: the process's VmHWM (not `ru_maxrss`, which Linux "
         "carries over from the spawning process across exec).")],
        Table(["World", "Appointments", "Load s", "RSS before MiB", "Peak RSS MiB"],
              [[w.label, f"{w.appointments:,}", f"{w.seconds:.2f}", f"{w.rss_before_mib:.0f}",
                f"{w.peak_rss_mib:.0f}"] for w in loads]))


def startup_section(startup: Sequence[tuple[str, float, float | None]]) -> Section:
    return Section("Server start-up", [
        "From process start to the first answered request; peak RSS (VmHWM) after its runs."],
        Table(["Server", "Time to first response s", "Peak RSS MiB"],
              [[name, f"{seconds:.2f}", f"{rss:.0f}" if rss else "n/a"]
               for name, seconds, rss in startup]))


def reset_section(resets: Sequence[Timing], settings: Settings) -> Section:
    return Section("Reset", [
        (f"Median of {settings.reset_samples} resets, or of as many as {TIMING_BUDGET_S:.0f} s "
         f"allow (at least {MIN_SAMPLES}). Client side: `POST /_sandbox/reset` over HTTP, a new "
         "connection each; in-process: `SandboxState.reset()` on "
         "`create_app(world).extensions[\"huskyvoice_sandbox\"].state`.")],
        Table(["Reset", "Samples", "Median ms", "Min ms", "Max ms"],
              [[t.label, str(len(t.samples_ms)), f"{t.median_ms:.2f}",
                f"{min(t.samples_ms):.2f}", f"{max(t.samples_ms):.2f}"] for t in resets]))


def markdown(sections: Sequence[Section]) -> str:
    head = [
        "# Performance of huskyvoice-sandbox",
        ("Measured by `bench/run.py`; the method is described in its module docstring. To "
         "reproduce, from a checkout with the test extra installed (`pip install -e \".[test]\"`) "
         "and wrk present (`apt-get install -y wrk`; Prism optional: "
         f"`npm install -g @stoplight/prism-cli`):\n\n```sh\n{REPRODUCE}\n```"),
    ]
    notes = NOTES_FILE.read_text(encoding="utf-8").strip() if NOTES_FILE.exists() else ""
    return "\n\n".join([*head, *(s.markdown() for s in sections), notes]).rstrip() + "\n"


# -- entry point ----------------------------------------------------------------------------


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        print("error: wrk is not on PATH. Install it: sudo apt-get install -y wrk "
              "(macOS: brew install wrk)", file=sys.stderr)
        sys.exit(2)


def find_prism(skip: bool) -> tuple[str | None, str | None]:
    """Prism's path, or None and the note saying why it is left out."""
    if skip:
        return None, "Prism: skipped (--no-prism)."
    prism = shutil.which("prism")
    if prism is None:
        return None, ("Prism: not on PATH, skipped (install it with "
                      "`npm install -g @stoplight/prism-cli`).")
    return prism, None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    require_wrk()
    command = shlex.join(["python", *sys.argv] if argv is None
                         else ["python", "bench/run.py", *argv])
    try:
        settings = resolve_settings(args)
        prism, prism_note = find_prism(args.no_prism)
        if prism_note:
            progress(prism_note)
        started_at, started = datetime.now(UTC), time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="huskyvoice-bench-") as work:
            results = run_all(settings, prism, prism_note, Path(work))
        sections = build_sections(results, settings, prism, command, started_at,
                                  time.perf_counter() - started)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n\n".join(s.text() for s in sections))
    if args.markdown:
        args.markdown.write_text(markdown(sections), encoding="utf-8")
        progress(f"Markdown report written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
