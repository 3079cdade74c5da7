"""The fuzzing budget: Schemathesis, positive and negative, against `huskyvoice-sandbox serve`
on a free port, through the packaged contract kit exactly as users run it. Zero failures.

CI runs it with a small budget on every change; the full budget is one command:

    HUSKYVOICE_FUZZ_EXAMPLES=2000 pytest -m fuzz
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from huskyvoice_sandbox.spec.contract import Contract

CI_BUDGET = 200
BUDGET = int(os.environ.get("HUSKYVOICE_FUZZ_EXAMPLES", CI_BUDGET))
KIT = [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()", "contract"]


@pytest.mark.fuzz
@pytest.mark.live
def test_generated_cases_find_no_failure_on_the_served_sandbox(live_server) -> None:
    server = live_server("--quiet")
    run = subprocess.run(
        KIT + ["--base-url", server.url, "--examples", str(BUDGET), "-k", "conforms",
               "-p", "no:cacheprovider"],
        capture_output=True, text=True, timeout=60 + BUDGET * 0.5)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    assert "1 passed" in report, report[-3000:]
    checked = dict(re.findall(r"generated cases checked: (\w+) (\d+)", report))
    print(f"budget {BUDGET} per operation; generated cases checked: {checked}")
    assert set(checked) == set(Contract().operations), report[-3000:]
    assert all(int(count) >= BUDGET for count in checked.values()), checked
