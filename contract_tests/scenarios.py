"""Scenario worlds (fixtures/scenarios/*.yaml): each carries steps, a request and what it must
get back. This runs the steps against a target and says, per step, what did not match."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huskyvoice_contract_kit.target import Target
from huskyvoice_sandbox.remote.reply import Reply
from huskyvoice_sandbox.resources import scenarios_dir
from huskyvoice_sandbox.spec.contract import Contract
from huskyvoice_sandbox.testing.scenarios import mismatches
from huskyvoice_sandbox.worlds.world import load_world_file


def scenario_files() -> list[Path]:
    return sorted(scenarios_dir().glob("*.yaml"))


def steps_of(path: Path) -> list[dict[str, Any]]:
    world = load_world_file(path)
    if world.scenario is None:
        raise ValueError(f"{path.name} has no scenario block")
    return world.scenario["steps"]


def step_label(path: Path, index: int, step: dict[str, Any]) -> str:
    request = step["request"]
    name = step.get("name") or f"{request['method']} {request['path']}"
    return f"{path.name} step {index + 1} ({name})"


def send(target: Target, request: dict[str, Any]) -> Reply:
    """One step's request. `body` goes as JSON (`body: null` sends the JSON text null)."""
    kwargs: dict[str, Any] = {"key": request.get("key"),
                              "headers": dict(request.get("headers") or {})}
    if "body" in request:
        kwargs["raw_body"] = json.dumps(request["body"])
        kwargs["headers"].setdefault("Content-Type", "application/json")
    elif "raw_body" in request:
        kwargs["raw_body"] = request["raw_body"]
    return target.request(request["method"], request["path"], **kwargs)


@dataclass
class Mismatch:
    label: str
    problems: list[str]
    reproduce: list[str]  # commands, as pasted: load the scenario's world, then its steps so far
    reply: Reply

    def __str__(self) -> str:
        return (f"{self.label}:\n  " + "\n  ".join(self.problems) +
                "\n  reproduce (each command in turn):\n    " + "\n    ".join(self.reproduce) +
                f"\n  got {self.reply.status}: {self.reply.text[:2000]}")


def run(target: Target, path: Path, contract: Contract | None = None,
        record: Any = None) -> list[Mismatch]:
    """Seed the scenario's world on the target, run its steps in order, list what differed."""
    target.seed(path)
    session = f"repro-{path.stem}"  # a reproduction runs in a session of its own too
    commands = [target.seed_command(path, session)]
    if target.base_url is None:  # the kit ran the sandbox in process: serve one to reproduce
        commands.insert(0, "huskyvoice-sandbox serve --quiet &")
    found = []
    for index, step in enumerate(steps_of(path)):
        request = step["request"]
        reply = send(target, request)
        if record is not None:
            record(request["method"], request["path"], reply.status, reply.json)
        commands.append(target.curl(request["method"], request["path"], request.get("key"),
                                    request.get("body"), request.get("headers"),
                                    request.get("raw_body"), session=session))
        problems = mismatches(step["expect"], reply, contract, request["method"], request["path"])
        if problems:
            found.append(Mismatch(step_label(path, index, step), problems, list(commands), reply))
    return found
