"""The scenario worlds in fixtures/scenarios/: each is a small world that shows one documented
error code or rule, with a `scenario:` block of requests and what each must get back.

These tests load every scenario world, check that it is a valid world with steps, run its steps
in order through the Flask test client (every response is also checked against openapi.yaml by
the `scenario_client` fixture), and check that together the scenarios show every documented
error code and a 200.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from huskyvoice_contract_kit import scenarios
from huskyvoice_contract_kit.target import Target
from huskyvoice_sandbox.domain.errors import InvalidWorld
from huskyvoice_sandbox.resources import scenarios_dir
from huskyvoice_sandbox.spec.contract import Contract
from huskyvoice_sandbox.worlds.world import load_world_file

SCENARIO_FILES = sorted(scenarios_dir().glob("*.yaml"))

# Every error code the spec documents, but the HTTP server's own (a scenario cannot send a 64 MiB
# body or a 256 KiB header block) and the internal error (forced-response tests show those).
TRANSPORT_CODES = {"PAYLOAD_TOO_LARGE", "REQUEST_HEADER_FIELDS_TOO_LARGE", "INTERNAL_ERROR"}
DOCUMENTED_ERROR_CODES = set(Contract().status_of_codes()) - TRANSPORT_CODES

STATUS_OF_CODE = Contract().status_of_codes()  # from the spec's named examples

# Scenarios whose expectations are right but which the sandbox does not meet yet:
# {scenario name: "sandbox bug: ..."}. Each entry is a strict xfail, so fixing the bug
# turns it into a failure that asks for the entry to be removed.
KNOWN_SANDBOX_BUGS: dict[str, str] = {}


def _scenario(path: Path) -> dict[str, Any]:
    world = load_world_file(path)
    assert world.scenario is not None, f"{path.name}: has no scenario block"
    return world.scenario


_steps = scenarios.steps_of
_step_label = scenarios.step_label


def _scenario_params() -> list[Any]:
    params = []
    for path in SCENARIO_FILES:
        marks = []
        if path.stem in KNOWN_SANDBOX_BUGS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_SANDBOX_BUGS[path.stem]))
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


# -- the files themselves ---------------------------------------------------------------------

def test_scenario_folder_has_a_world_per_documented_error_code_and_rule() -> None:
    names = {path.stem for path in SCENARIO_FILES}
    expected = {
        "documented-example", "validation-error", "unauthorized", "insufficient-scope",
        "not-found", "outside-availability", "slot-full", "window-closed", "duplicate-booking",
        "rate-limit", "rescheduled-status", "session-batch-move", "reactivation", "timezone",
        "cancellation-policy", "repeated-cancel", "create", "search", "availability",
    }
    assert expected <= names, f"missing scenario worlds: {sorted(expected - names)}"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_scenario_world_is_valid_and_has_steps(path: Path) -> None:
    try:
        world = load_world_file(path)  # what `huskyvoice-sandbox validate` runs
    except InvalidWorld as exc:
        pytest.fail(exc.report())
    assert world.scenario is not None, f"{path.name}: no scenario block"
    assert world.scenario["steps"], f"{path.name}: the scenario has no steps"
    assert world.scenario.get("summary"), f"{path.name}: the scenario has no summary"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_scenario_file_starts_with_a_comment_on_how_to_trigger_it(path: Path) -> None:
    first = path.read_text(encoding="utf-8").lstrip("\ufeff").splitlines()[0]
    assert first.startswith("#"), f"{path.name}: must start with a comment saying what it shows"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_scenario_expectations_are_precise(path: Path) -> None:
    """Errors name their code (with its documented status); API 200s name data fields."""
    for index, step in enumerate(_steps(path)):
        label = _step_label(path, index, step)
        expect = step["expect"]
        status = expect["status"]
        if status >= 400:
            assert "code" in expect, f"{label}: an error step must name its error code"
        if "code" in expect and expect["code"] in STATUS_OF_CODE:
            assert status == STATUS_OF_CODE[expect["code"]], \
                f"{label}: {expect['code']} is sent with {STATUS_OF_CODE[expect['code']]}, not {status}"
        if status in (200, 201) and step["request"]["path"].startswith("/v1/"):
            assert expect.get("data") or expect.get("json"), \
                f"{label}: a success from the API must name data fields (data, or json pointers)"
        request = step["request"]
        assert not ("body" in request and "raw_body" in request), \
            f"{label}: give body or raw_body, not both"


# -- running the steps (with the contract kit's runner, so both run scenarios one way) -----------

def _target(make_app) -> Target:
    """An in-process target whose client also checks every response against openapi.yaml."""
    return Target(None, "", None, True, [], app=make_app(), is_sandbox=True)


@pytest.mark.parametrize("path", _scenario_params())
def test_scenario_steps_get_the_documented_responses(path: Path, make_app, contract) -> None:
    found = scenarios.run(_target(make_app), path, contract)
    assert not found, "\n\n".join(str(m) for m in found)


def test_scenario_runner_catches_a_wrong_expectation(make_app) -> None:
    """The runner is not a rubber stamp: a step expecting the wrong outcome is reported, by
    name, with a curl line to reproduce it."""
    path = scenarios_dir() / "not-found.yaml"
    step = _steps(path)[0]
    wrong = {**step["expect"], "status": 200}
    wrong.pop("code", None)
    target = _target(make_app)
    target.seed(path)
    reply = scenarios.send(target, step["request"])
    assert scenarios.mismatches(wrong, reply) == [f"expected status 200, got {reply.status}"]


# -- coverage of the documented codes ---------------------------------------------------------

def test_scenarios_together_show_every_documented_error_code_and_a_200() -> None:
    codes: set[str] = set()
    statuses: set[int] = set()
    for path in SCENARIO_FILES:
        for step in _steps(path):
            if step["request"]["path"].startswith("/v1/"):
                statuses.add(step["expect"]["status"])
                if "code" in step["expect"]:
                    codes.add(step["expect"]["code"])
    assert codes >= DOCUMENTED_ERROR_CODES, f"no scenario shows {sorted(DOCUMENTED_ERROR_CODES - codes)}"
    assert 200 in statuses, "no scenario shows a 200"


def test_scenarios_together_show_every_operation_succeed() -> None:
    contract = Contract()
    succeeded = set()
    for path in SCENARIO_FILES:
        for step in _steps(path):
            request = step["request"]
            op = contract.operation_for(request["method"], request["path"].split("?")[0])
            if op is not None and step["expect"]["status"] < 300:
                succeeded.add(op.operation_id)
    missing = sorted(set(contract.operations) - succeeded)
    assert not missing, f"no scenario shows {missing} succeed"

