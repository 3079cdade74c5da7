"""Schema-driven checks (Schemathesis): positive and negative cases for every operation of the
spec that the target may be sent (against a deployment without --allow-writes: those whose
method cannot write). Each operation runs as its own subtest, named by its method and path.

Checks: server errors, status codes, content types, response schemas and headers, negative data
rejected, positive data accepted, auth not ignored, missing Authorization, unsupported methods.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from huskyvoice_contract_kit.coverage import Coverage
from huskyvoice_contract_kit.run import operation_allowed
from huskyvoice_contract_kit.target import Target

# The filter goes on the lazy schema: on the fixture's schema Schemathesis ignores it.
operations = schemathesis.pytest.from_fixture("kit_schema").include(func=operation_allowed)


@operations.parametrize()
def test_operation_conforms_to_the_contract(case: Any, target: Target, coverage: Coverage) -> None:
    if target.is_sandbox:
        target.reset()  # no case leaks state into the next
    if not target.confine(case):
        coverage.not_sent += 1  # a write the target may not be sent (budget spent, no lent id)
        return
    coverage.record_case(case.operation.label, case.method, case.path)
    response = case.call_and_validate()  # the key comes from the schema's auth (schemas.py)
    target.note_created(case.method, response.status_code, _json(response))


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
