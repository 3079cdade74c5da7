"""JSON Schema validation in two steps: jsonschema-rs says yes or no, jsonschema says where.

jsonschema locates every problem well, but costs tens of microseconds per object: over ten
seconds for a 100,000-appointment world, and most of a PATCH's time. jsonschema-rs, compiled
from the same schema, answers "valid" far faster; only what it refuses is walked again by
jsonschema for the located report. tests/test_world_gate.py checks that the two agree.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import jsonschema_rs

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema import ValidationError as SchemaError
    from referencing import Registry


def located_validator(schema: dict[str, Any], registry: Registry | None = None) -> Draft202012Validator:
    """jsonschema's validator of `schema`, formats checked. jsonschema is imported here, on
    first use: importing it costs ~100 ms, which only a refused document needs to pay (a test
    run's first sandbox, a CLI command, a server's start all did before)."""
    from jsonschema import Draft202012Validator

    options: dict[str, Any] = {"registry": registry} if registry is not None else {}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER, **options)


class GatedValidator:
    def __init__(self, schema: dict[str, Any],
                 located: Callable[[], Draft202012Validator] | None = None) -> None:
        """`schema` must be self-contained (its `$ref`s inside it); `located` makes the
        jsonschema validator that means the same (by default, of `schema` itself), on the first
        refusal."""
        self._gate = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
        self._located = located or (lambda: located_validator(schema))

    @cached_property
    def located(self) -> Draft202012Validator:
        return self._located()

    def iter_errors(self, instance: Any) -> list[SchemaError]:
        """Every problem, located; empty when the instance is valid."""
        if self._gate.is_valid(instance):
            return []
        errors = list(self.located.iter_errors(instance))
        if errors:
            return errors
        # The two disagree: the stricter one wins, in its own words.
        from jsonschema import ValidationError as SchemaError

        return [SchemaError(e.message, path=list(e.instance_path), validator="schema", schema={})
                for e in self._gate.iter_errors(instance)]


_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def impossible_day(error: SchemaError) -> str | None:
    """For a date or date-time in the right form whose day does not exist ("2026-02-30"), the
    message that says so; None for any other failure."""
    if error.validator != "format" or error.validator_value not in ("date", "date-time"):
        return None
    found = _DAY.match(error.instance) if isinstance(error.instance, str) else None
    if found is None:
        return None
    year, month, day = (int(part) for part in found.groups())
    if year == 0:
        return "year 0000 does not exist; years run from 0001 to 9999"
    if not 1 <= month <= 12:
        return f"{found.group(0)} does not exist: there is no month {found.group(2)}"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return (f"{found.group(0)} does not exist: {calendar.month_name[month]} {year} has {days} days")
    return None


def short_message(error: SchemaError) -> str:
    """jsonschema's message, shorter, and without echoing a huge value back."""
    if (impossible := impossible_day(error)) is not None:
        return impossible
    if error.validator == "maxLength":
        return f"is longer than {error.validator_value} characters"
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"must be of type {expected}, got {type(error.instance).__name__}"
    if error.validator == "enum":
        choices: Any = error.validator_value  # the enum's list
        return f"must be one of {', '.join(map(str, choices))}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        extra = sorted(set(error.instance) - set(schema.get("properties", {})))
        return "unknown field" + ("s " if len(extra) > 1 else " ") + ", ".join(map(repr, extra))
    return error.message
