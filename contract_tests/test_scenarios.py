"""Scenario suite: every scenario world is seeded on the target and its steps must get the
documented responses. Needs a target with /_sandbox/ to seed; skipped (and counted) otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from huskyvoice_contract_kit import scenarios
from huskyvoice_contract_kit.coverage import Coverage
from huskyvoice_contract_kit.target import Target


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The bundled scenario worlds, or those --scenarios names."""
    named = metafunc.config.getoption("--scenarios")
    files = [Path(p) for p in named] if named else scenarios.scenario_files()
    metafunc.parametrize("path", files, ids=[p.stem for p in files])


def test_scenario_gets_the_documented_responses(path: Path, target: Target,
                                                coverage: Coverage) -> None:
    if not target.is_sandbox:
        coverage.skipped_steps += len(scenarios.steps_of(path))
        pytest.skip("the target has no /_sandbox/ to seed this scenario's world")
    try:
        found = scenarios.run(target, path, coverage.contract, coverage.record)
    finally:
        target.seed_default()
    assert not found, "\n\n".join(str(m) for m in found)
