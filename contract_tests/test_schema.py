"""Schema-driven checks (Schemathesis): positive and negative cases for both operations.

Checks: server errors, status codes, content types, response schemas and headers, negative data
rejected, positive data accepted, auth not ignored, missing Authorization, unsupported methods.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import Config

from contract_tests.target import Target
from sandbox.resources import spec_path

# Valid requests the API may refuse for documented business reasons (a window that does not
# exist at that time is 422, a full or closed one 409), besides the generic ones.
PATCH_ACCEPTS_VALID_DATA_WITH = ["2xx", 401, 403, 404, 409, 422, 429]


def _schema(target: Target, seed: int, examples: int, operation_id: str | None,
            appointment_id: str) -> Any:
    config = Config.from_dict({
        "seed": seed,
        "generation": {"max-examples": examples, "database": "none", "deterministic": True},
        "parameters": {"path.appointment_id": appointment_id},
        "phases": {"coverage": {"unexpected-methods": _probe_methods(target)}},
        "operations": [{
            "include-operation-id": "updateAppointment",
            "checks": {"positive_data_acceptance": {
                "expected-statuses": PATCH_ACCEPTS_VALID_DATA_WITH}},
        }],
    })
    schema = schemathesis.openapi.from_path(str(spec_path()), config=config)
    if target.app is not None:
        schema.app = target.app
        schema.config.update(base_url="http://localhost")
    else:
        schema.config.update(base_url=target.base_url)
    return schema.include(operation_id=operation_id) if operation_id else schema


def _probe_methods(target: Target) -> list[str]:
    """Undeclared methods sent to the path. Against a deployment they go to an id that cannot
    exist (Target.confine), and never DELETE/PUT/POST a lent appointment."""
    if target.is_sandbox or not target.writes_ok:
        return ["DELETE", "PUT", "POST", "OPTIONS", "TRACE"]
    return ["OPTIONS", "TRACE"]


@pytest.fixture(scope="session")
def get_schema(target: Target, pytestconfig: pytest.Config) -> Any:
    return _schema(target, pytestconfig.getoption("--seed"), pytestconfig.getoption("--examples"),
                   "getAppointment", target.readable_id)


@pytest.fixture(scope="session")
def patch_schema(target: Target, pytestconfig: pytest.Config) -> Any:
    return _schema(target, pytestconfig.getoption("--seed"), pytestconfig.getoption("--examples"),
                   "updateAppointment", target.writable_id)


def _call(case: Any, target: Target) -> None:
    if target.is_sandbox:
        target.reset()  # no case leaks state into the next
    target.confine(case)
    case.call_and_validate(headers={"Authorization": f"Bearer {target.api_key}"})


get_operation = schemathesis.pytest.from_fixture("get_schema")
patch_operation = schemathesis.pytest.from_fixture("patch_schema")


@get_operation.parametrize()
def test_get_conforms_to_the_contract(case: Any, target: Target) -> None:
    _call(case, target)


@patch_operation.parametrize()
def test_patch_conforms_to_the_contract(case: Any, target: Target) -> None:
    _call(case, target)
