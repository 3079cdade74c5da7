"""A world passes the schema by jsonschema-rs first (fast) and only a refused one goes through
jsonschema (for the located report). The two must agree, or a world jsonschema refuses could
slip through. These tests load worlds with values at the edges of every format and pattern in
the world schema, and check that the sandbox's verdict is jsonschema's verdict."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from huskyvoice_sandbox.domain.errors import InvalidWorld
from huskyvoice_sandbox.resources import default_world_path, world_schema_path
from huskyvoice_sandbox.worlds.world import load_world
from jsonschema import Draft202012Validator

DATES = ["2026-06-15", "2026-02-30", "2026-13-01", "2026-6-15", "2026-06-15 ", "+2026-06-15",
         "２０２６-06-15", "٢٠٢٦-٠٦-١٥", "2026-06-15T00:00:00Z", "2026-06-1\u0665", ""]
STAMPS = ["2026-05-26T10:00:00.000Z", "2026-05-26T10:00:00Z", "2026-05-26t10:00:00z",
          "2026-05-26T10:00:60Z", "2026-05-26T24:00:00Z", "2026-05-26 10:00:00Z",
          "2026-05-26T10:00:00+00:00", "2026-05-26T10:00:00.123456789Z", "2026-02-30T10:00:00Z",
          "2026-05-26T10:00Z", "2026-05-26T10:00:00+05:30", "2026-05-26T10:00:00-00:00",
          "２０２６-05-26T10:00:00Z", "2026-05-26T10:00:00.Z"]
IDS = ["appt_x", "a b", "a\u00a0b", "a/b", "a\u2028b", "a\tb", "x" * 128, "x" * 129, "😀" * 128]
TIMES = ["09:00", "24:00", "9:00", "23:60", "٠٩:٠٠", "09:00:00", "24:01"]
NUMBERS = [1, 1.0, 1.5, 0, -1, True, "1", 10**20]

# (what to change, the values to put there)
EDGES: list[tuple[str, list[Any]]] = [
    ("appointment.date", DATES),
    ("appointment.created_at", STAMPS),
    ("clock", STAMPS),
    ("appointment.appointment_id", IDS),
    ("window.start_time", TIMES),
    ("window.max_slots", NUMBERS),
    ("organization.rate_limit_per_minute", NUMBERS),
    ("version", NUMBERS),
    ("appointment.patient_name", ["", "x" * 200, "x" * 201, "😀" * 200, "😀" * 201, "e\u0301" * 100]),
]


def _document() -> dict[str, Any]:
    return yaml.safe_load(default_world_path().read_text(encoding="utf-8"))


def _set(document: dict[str, Any], where: str, value: Any) -> None:
    org = document["organizations"][0]
    target = {"appointment": org["appointments"][0], "window": org["calendar_windows"][0],
              "organization": org}
    if "." in where:
        part, field = where.split(".")
        target[part][field] = value
    else:
        document[where] = value


@pytest.fixture(scope="module")
def reference() -> Draft202012Validator:
    schema = json.loads(world_schema_path().read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("where, value", [(w, v) for w, values in EDGES for v in values],
                         ids=lambda x: repr(x)[:30])
def test_the_world_gate_agrees_with_jsonschema(reference, where: str, value: Any) -> None:
    document = _document()
    _set(document, where, value)
    schema_valid = reference.is_valid(copy.deepcopy(document))
    try:
        load_world(document)
    except InvalidWorld as exc:
        if schema_valid:  # refused for a rule, not the schema: it must say so
            assert exc.details, exc.report()
        else:
            field = where.split(".")[-1]
            assert any(field in d.location or field in d.message for d in exc.details), exc.report()
    else:
        assert schema_valid, f"{where}={value!r} was loaded, but jsonschema refuses it"
