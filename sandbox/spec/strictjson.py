"""JSON parsing without Python's leniencies: a key given twice, NaN and Infinity are errors
(ValueError), rather than silently last-wins or non-standard numbers."""

from __future__ import annotations

import json
from typing import Any


def loads(text: str) -> Any:
    """json.loads, strict. Raises json.JSONDecodeError for syntax, ValueError for the rest."""
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key[:64]!r}")
        result[key] = value
    return result
