"""JSON parsing without Python's leniencies: a key given twice, NaN and Infinity are errors
(ValueError), rather than silently last-wins or non-standard numbers."""

from __future__ import annotations

import json
from typing import Any


def loads(text: str) -> Any:
    """json.loads, strict. Raises json.JSONDecodeError for syntax, ValueError for the rest."""
    return _DECODER.decode(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # a key given twice: name the first one repeated
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key[:64]!r}")
            seen.add(key)
    return result


# One decoder for every call, as json.loads keeps one for its defaults (it is stateless).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
