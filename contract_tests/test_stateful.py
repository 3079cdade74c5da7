"""Stateful run: a PATCH followed, through the spec's OpenAPI link, by a GET of the same
appointment. What a successful PATCH answered must be what the GET then reads back."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings

from contract_tests.target import Target


def test_a_patch_is_visible_in_the_following_get(target: Target, patch_schema_full: Any,
                                                 pytestconfig: pytest.Config) -> None:
    if not target.writes_ok:
        pytest.skip("the stateful run changes an appointment: needs a sandbox, or "
                    "--allow-writes with --appointment-id")
    followed: list[str] = []

    class Workflow(patch_schema_full.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            if target.is_sandbox:
                target.reset()  # a fresh world per scenario (Schemathesis pitfall P4)
            self.last_patch: dict[str, Any] | None = None

        def before_call(self, case: Any) -> None:
            # The state machine draws ids freely (no parameter override): a PATCH is steered to
            # the appointment it may change, and the link carries that id to the GET.
            if case.method.upper() == "PATCH":
                case.path_parameters["appointment_id"] = target.writable_id
            target.confine(case)

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            appointment_id = case.path_parameters.get("appointment_id")
            if response.status_code != 200:
                return
            data = response.json()["data"]
            if case.method.upper() == "PATCH":
                self.last_patch = {"id": appointment_id, "data": data}
            elif self.last_patch and self.last_patch["id"] == appointment_id:
                followed.append(appointment_id)
                assert data == self.last_patch["data"], (
                    f"GET {appointment_id} after a successful PATCH reads {data}, "
                    f"but the PATCH answered {self.last_patch['data']}")

    examples = max(10, pytestconfig.getoption("--examples") // 2)
    Workflow.run(settings=settings(Workflow.TestCase.settings, max_examples=examples,
                                   stateful_step_count=4, derandomize=True, database=None))
    assert followed, "the run never followed a PATCH with a GET of the same appointment"
