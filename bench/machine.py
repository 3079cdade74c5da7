"""The machine every figure was measured on, and how busy other processes kept it meanwhile."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from common import ROOT

BUSY_SHARE = 0.10  # other processes using more than this share of the CPU: warn
PACKAGES = ("huskyvoice-sandbox", "flask", "pyuwsgi", "waitress", "werkzeug", "jsonschema", "jsonschema-rs",
            "pyyaml", "pytest")


# -- how busy the machine was ---------------------------------------------------------------


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
    the two samples (every server, wrk and probe has ended by then, so its time is own)."""
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


# -- what the machine is --------------------------------------------------------------------


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
    versions = []
    for name in PACKAGES:
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


def tool_version(path: str | None, flag: str) -> str:
    return first_line(command_output([path, flag])) if path else "not used"


def describe_machine(prism: str | None, haproxy: str | None) -> list[tuple[str, str]]:
    """(what, value) rows printed with every report, so each figure says where it came from."""
    memory_kib = proc_field("/proc/meminfo", "MemTotal") or "0 kB"
    return [
        ("CPU", proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown"),
        ("Cores", str(os.cpu_count())),
        ("RAM", f"{int(memory_kib.split()[0]) / 1024 ** 2:.1f} GiB"),
        ("OS", os_name()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Packages", package_versions()),
        ("wrk", first_line(command_output(["wrk", "-v"])).split(" Copyright")[0]),
        ("Prism", tool_version(prism, "--version")),
        ("HAProxy", tool_version(haproxy, "-v").split(" - ")[0]),
        ("Checkout", checkout()),
    ]
