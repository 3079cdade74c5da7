"""The data the package loads is the data in the repository.

Run from a checkout, the tests must exercise the repository's contract and default world, not
stale copies (an old wheel, a force-included file left behind by an earlier build).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huskyvoice_sandbox.resources import (
    default_world_path,
    spec_path,
    world_schema_path,
)
from jsonschema import Draft202012Validator


@pytest.fixture
def checkout(request) -> Path:
    root = Path(request.config.rootpath)
    if not (root / "openapi.yaml").is_file():
        pytest.skip(f"not run from a checkout: {root} has no openapi.yaml")
    return root


def test_loaded_spec_is_the_repositorys_openapi_yaml(checkout: Path) -> None:
    assert spec_path().read_bytes() == (checkout / "openapi.yaml").read_bytes(), \
        f"{spec_path()} differs from {checkout / 'openapi.yaml'}"


def test_loaded_default_world_is_the_repositorys_fixtures_default_yaml(checkout: Path) -> None:
    repository_copy = checkout / "fixtures" / "default.yaml"
    assert repository_copy.is_file()
    assert default_world_path().read_bytes() == repository_copy.read_bytes(), \
        f"{default_world_path()} differs from {repository_copy}"


def test_world_schema_ships_with_the_package() -> None:
    schema = json.loads(world_schema_path().read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == {"version", "organizations"}
    Draft202012Validator.check_schema(schema)  # the sandbox trusts it without checking it again
