"""T5: past one process. The shipped HAProxy configuration (sandbox/serve/haproxy.cfg) in front
of two `serve` processes, against one process alone and one process behind the same HAProxy
(so the balancer's own cost is visible apart from what a second process brings).

HAProxy sends each named session to one process (a consistent hash of X-Sandbox-Session), so
the load names several sessions, chosen so that half of them land on each process: the bench
asks each process which sessions it holds rather than guessing HAProxy's hash.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import huskyvoice_sandbox

from common import BenchError, progress
from load import Matrix, measure
from scenarios import BALANCER
from servers import READY_PATH, Argv, Server, sandbox_argv, send, serving, startup_rows
from settings import Settings

CONFIG = Path(huskyvoice_sandbox.__file__).resolve().parent / "serve" / "haproxy.cfg"
MAX_PROBES = 200  # session names tried before giving up on an even split
ONE, ONE_BEHIND, TWO_BEHIND = "1 process", "HAProxy → 1 process", "HAProxy → 2 processes"


@dataclass
class BalancerResult:
    matrix: Matrix  # servers: one process, HAProxy in front of one, HAProxy in front of two
    sessions: tuple[str, ...]
    startup: list[tuple[str, float, float | None]]


def find_haproxy(skip: bool) -> tuple[str | None, str | None]:
    """HAProxy's path, or None and the note saying why the section is left out."""
    if skip:
        return None, "HAProxy: skipped (--no-haproxy)."
    if not CONFIG.exists():
        return None, f"HAProxy: skipped, no configuration at {CONFIG}."
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        return None, ("HAProxy: not on PATH, so the section past one process is skipped "
                      "(install it with `apt-get install -y haproxy`).")
    return haproxy, None


def haproxy_argv(haproxy: str) -> Argv:
    return lambda port: [haproxy, "-db", "-f", str(CONFIG)]  # -db: foreground, no daemon


def haproxy_env(first: Server, second: Server) -> Callable[[int], Mapping[str, str]]:
    """The shipped configuration's variables: where to listen and the two backends."""
    return lambda port: {"SANDBOX_BIND": f"127.0.0.1:{port}", "SANDBOX_1": first.address,
                         "SANDBOX_2": second.address}


def held_sessions(server: Server) -> set[str]:
    answer = send(server.url + "/_sandbox/sessions")
    if answer.status != 200:
        raise BenchError(f"{server.name}: GET /_sandbox/sessions answered {answer.label()}")
    return {row["name"] for row in json.loads(answer.body)["data"]["sessions"]}


def split_sessions(balancer: Server, backends: tuple[Server, Server], count: int) -> tuple[str, ...]:
    """`count` session names, half of which HAProxy sends to each backend."""
    wanted = count // 2
    chosen: dict[str, list[str]] = {b.name: [] for b in backends}
    for probe in range(MAX_PROBES):
        name = f"bench-{probe}"
        send(balancer.url + READY_PATH, session=name)  # creates the session where it lands
        for backend in backends:
            if name in held_sessions(backend) and len(chosen[backend.name]) < wanted:
                chosen[backend.name].append(name)
        if all(len(names) == wanted for names in chosen.values()):
            first, second = chosen.values()
            return tuple(name for pair in zip(first, second, strict=True) for name in pair)
    raise BenchError(f"HAProxy did not spread {MAX_PROBES} session names over both processes")


def run_balancer(world: Path, settings: Settings, haproxy: str, logs: Path) -> BalancerResult:
    with contextlib.ExitStack() as stack:
        first, second = (stack.enter_context(serving(f"sandbox process {n}", sandbox_argv(world),
                                                     logs, sandbox=True)) for n in (1, 2))
        one_behind = stack.enter_context(serving(
            ONE_BEHIND, haproxy_argv(haproxy), logs, sandbox=True, env=haproxy_env(first, first)))
        two_behind = stack.enter_context(serving(
            TWO_BEHIND, haproxy_argv(haproxy), logs, sandbox=True, env=haproxy_env(first, second)))
        sessions = split_sessions(two_behind, (first, second), settings.connections)
        progress(f"sessions, alternating between the two processes: {', '.join(sessions)}")
        direct = Server(ONE, first.url, first.process, first.startup_s, sandbox=True)
        matrix = measure(BALANCER, [direct, one_behind, two_behind], settings, sessions)
        return BalancerResult(matrix, sessions,
                              startup_rows([first, second, one_behind, two_behind]))
