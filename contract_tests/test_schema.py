"""Schema-driven checks (Schemathesis): positive and negative cases for both operations.

Checks: server errors, status codes, content types, response schemas and headers, negative data
rejected, positive data accepted, auth not ignored, missing Authorization, unsupported methods.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from contract_tests.target import Target


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
