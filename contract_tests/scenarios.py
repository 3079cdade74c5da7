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


def mismatches(expect: dict[str, Any], reply: Reply, contract: Contract | None = None,
               method: str = "", path: str = "") -> list[str]:
    """How a reply differs from a step's expectation (and, given a contract, from the spec)."""
    problems = []
    body = reply.json
    if reply.status != expect["status"]:
        problems.append(f"expected status {expect['status']}, got {reply.status}")
    if "code" in expect:
        error = body.get("error") if isinstance(body, dict) else None
        got = error.get("code") if isinstance(error, dict) else None
        if got != expect["code"]:
            problems.append(f"expected error.code {expect['code']}, got {got}")
    if "data" in expect:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            problems.append("expected a data object")
        else:
            for field, value in expect["data"].items():
                if data.get(field, "<absent>") != value:
                    problems.append(f"expected data.{field} == {value!r}, got {data.get(field, '<absent>')!r}")
    for pointer, value in (expect.get("json") or {}).items():
        found = _at(body, pointer)
        if found != value:
            problems.append(f"expected {pointer} == {value!r}, got {found!r}")
    for name, value in (expect.get("headers") or {}).items():
        if reply.headers.get(name) != value:
            problems.append(f"expected header {name}: {value!r}, got {reply.headers.get(name)!r}")
    if contract is not None and path.startswith("/v1/") and method != "HEAD":
        problems += [f"contract: {p}" for p in
                     contract.response_problems(method, path.split("?")[0], reply.status,
                                                reply.headers, body)]
    return problems


def _at(body: Any, pointer: str) -> Any:
    """The value a JSON pointer names in `body`, or "<absent>"."""
    node = body
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return "<absent>"
    return node


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
