"""T3: the sandbox served against Prism (the spec's static examples) and the bare Flask app (the
cost floor), on the same requests, alternating."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from load import Matrix, measure
from resets import Timing, timed
from scenarios import COMPARISON, CROWD
from servers import (
    Argv,
    Env,
    bare_argv,
    granian_argv,
    granian_env,
    prism_argv,
    reset,
    sandbox_argv,
    serving,
    startup_rows,
)
from settings import Settings

SANDBOX, BARE, PRISM = "sandbox", "bare app", "Prism"
# Alternative servers for the same app, each measured when installed (information). `serve`
# itself runs uWSGI; waitress is its fallback (`serve --server waitress`).
GRANIAN, WAITRESS = "sandbox on granian", "sandbox on waitress"
RPS_TARGET = 1.5  # sandbox / Prism req/s, at least, on every scenario
# and the sandbox's p99 latency at most Prism's
CROWD_CONNECTIONS = 64  # the crowd's wrk connections: at most Prism's p99, and no socket errors


@dataclass
class ComparisonResult:
    matrix: Matrix  # servers: the sandbox, the bare app, Prism when there
    crowd: Matrix  # the same servers, CROWD at CROWD_CONNECTIONS
    startup: list[tuple[str, float, float | None]]
    reset: Timing  # POST /_sandbox/reset on the bench world

    @property
    def has_prism(self) -> bool:
        return PRISM in self.matrix.servers


def run_comparison(world: Path, settings: Settings, prism: str | None,
                   logs: Path) -> ComparisonResult:
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(serving(SANDBOX, sandbox_argv(world), logs, sandbox=True)),
                   stack.enter_context(serving(BARE, bare_argv, logs))]
        if prism:
            servers.append(stack.enter_context(serving(PRISM, prism_argv(prism), logs)))
        for name, module, argv, env in alternatives(world):
            if importlib.util.find_spec(module) is not None:
                servers.append(stack.enter_context(serving(name, argv, logs, sandbox=True, env=env)))
        matrix = measure(COMPARISON, servers, settings)
        crowd = measure(CROWD, servers, dataclasses.replace(settings, connections=CROWD_CONNECTIONS))
        sandbox = servers[0]
        reset_timing = timed("POST /_sandbox/reset, bench world (client side)",
                             lambda: reset(sandbox), settings.reset_samples)
        return ComparisonResult(matrix, crowd, startup_rows(servers), reset_timing)


def alternatives(world: Path) -> list[tuple[str, str, Argv, Env | None]]:
    """Each alternative server: its name, the module that must be importable, its command line
    and environment."""
    return [(WAITRESS, "waitress", sandbox_argv(world, "waitress"), None),
            (GRANIAN, "granian", granian_argv, granian_env(world))]
