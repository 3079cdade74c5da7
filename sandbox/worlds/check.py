"""A world document checked against the world schema (and the additions' and webhooks'
schemas): every problem located, with a suggestion for a misspelt field."""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..domain.errors import Detail, location
from ..resources import world_schema_path
from ..spec.gate import GatedValidator

if TYPE_CHECKING:
    from jsonschema import ValidationError as SchemaError


@lru_cache(maxsize=1)
def _schema_validator() -> GatedValidator:
    # The schema ships with the package and is checked against its meta-schema by the tests
    # (test_packaging), not here: that check costs more than every world it would guard.
    schema = json.loads(world_schema_path().read_text(encoding="utf-8"))
    return GatedValidator(schema)


def schema_problems(document: Any) -> list[tuple[tuple[Any, ...], Detail]]:
    return [(path, Detail(d.location or "world", d.message))
            for path, d in problems_of(_schema_validator(), document)]


def _describe(error: SchemaError) -> tuple[tuple[Any, ...], str]:
    path = tuple(error.absolute_path)
    if error.validator == "required":
        missing = re.match(r"'(.+?)' is a required property", error.message)
        if missing:
            return path + (missing.group(1),), "is required"
    if error.validator == "additionalProperties":
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = list(schema.get("properties", {}))
        instance: Any = error.instance  # an object: additionalProperties failed on it
        extra = sorted(set(instance) - set(known))
        return path, "unknown field" + ("s " if len(extra) > 1 else " ") + ", ".join(
            repr(name) + _suggestion(name, known) for name in extra)
    if error.validator == "pattern" and path and path[-1] in ("start_time", "end_time"):
        return path, f"{error.instance!r} is not a time HH:MM (00:00 to 24:00)"
    if error.validator in ("format", "pattern", "oneOf") and path and path[-1] in (
            "clock", "created_at", "updated_at"):
        return path, f"{error.instance!r} is not an ISO 8601 UTC datetime, e.g. 2026-05-26T10:00:00.000Z"
    return path, error.message


def _suggestion(name: Any, known: list[str]) -> str:
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def not_a_mapping(document: Any) -> str:
    if document is None:
        return ("the document is empty; a world is a mapping with version: 1 and organizations "
                "(huskyvoice-sandbox init writes a commented one)")
    kind = {list: "a list", str: "a single string", bool: "a boolean"}.get(type(document), "a number")
    return (f"the document is {kind}, not a mapping; a world is a mapping with version: 1 and "
            "organizations (huskyvoice-sandbox init writes a commented one)")


@lru_cache(maxsize=1)
def additions_validator() -> GatedValidator:
    world = json.loads(world_schema_path().read_text(encoding="utf-8"))
    schema = {"type": "object", "additionalProperties": False,
              "required": ["organization", "appointments"],
              "properties": {"organization": {"$ref": "#/$defs/id"},
                             "appointments": {"type": "array", "minItems": 1, "maxItems": 100000,
                                              "items": {"$ref": "#/$defs/appointment"}}},
              "$defs": world["$defs"]}
    return GatedValidator(schema)


@lru_cache(maxsize=1)
def webhook_validator() -> GatedValidator:
    world = json.loads(world_schema_path().read_text(encoding="utf-8"))
    endpoint = world["$defs"]["webhook"]
    schema = {**endpoint, "properties": {"organization": {"$ref": "#/$defs/id"}, **endpoint["properties"]},
              "$defs": world["$defs"]}
    return GatedValidator(schema)


def problems_of(validator: GatedValidator, document: Any) -> list[tuple[tuple[Any, ...], Detail]]:
    found = []
    for error in validator.iter_errors(document):
        path, message = _describe(error)
        found.append((path, Detail(location(path), message)))
    return sorted(found, key=lambda p: [str(x) for x in p[0]])
