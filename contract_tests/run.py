"""What one run of the kit shares between its pytest hooks and its tests: the target, the
contract and the coverage record. A plain module, so that the conftest (which pytest imports by
file) and the test modules (imported by name) see the same objects."""

from __future__ import annotations

from typing import Any

STATE: dict[str, Any] = {}


def operation_allowed(ctx: Any) -> bool:
    """May the target be sent this operation? (Safety by HTTP method: see Target.may_send.)"""
    return bool(STATE["target"].may_send(ctx.operation.method))
