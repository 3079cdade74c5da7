"""A scenario step's expectation, checked against a reply: what the contract kit and the pytest
plugin (`run_scenario`) both say when a step got another answer than its scenario expects.
Only the standard library at import (the plugin imports this module lazily all the same)."""

from __future__ import annotations

from typing import Any

from .replies import Reply


def mismatches(expect: dict[str, Any], reply: Reply, contract: Any = None,
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
