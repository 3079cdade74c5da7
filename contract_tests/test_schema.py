"""Schema-driven checks (Schemathesis): positive and negative cases for both operations.

Checks: server errors, status codes, content types, response schemas and headers, negative data
rejected, positive data accepted, auth not ignored, missing Authorization, unsupported methods.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from contract_tests.coverage import Coverage
from contract_tests.target import Target


def _call(case: Any, target: Target, coverage: Coverage, test: str) -> None:
    if target.is_sandbox:
        target.reset()  # no case leaks state into the next
    target.confine(case)
    coverage.record_case(test, case.method, case.path)
    case.call_and_validate(headers={"Authorization": f"Bearer {target.api_key}"})


# The operation filter goes on the lazy schema: on the fixture's schema Schemathesis ignores it,
# and each test would run every operation's cases.
get_operation = schemathesis.pytest.from_fixture("get_schema").include(operation_id="getAppointment")
patch_operation = schemathesis.pytest.from_fixture("patch_schema").include(operation_id="updateAppointment")


@get_operation.parametrize()
def test_get_conforms_to_the_contract(case: Any, target: Target, coverage: Coverage) -> None:
    _call(case, target, coverage, "test_get_conforms_to_the_contract")


@patch_operation.parametrize()
def test_patch_conforms_to_the_contract(case: Any, target: Target, coverage: Coverage) -> None:
    _call(case, target, coverage, "test_patch_conforms_to_the_contract")
