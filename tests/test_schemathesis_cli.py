"""An independent check: Schemathesis' own command line (`schemathesis run`), not this project's
contract kit, against `huskyvoice-sandbox serve`, with every check on, the stateful phase
following the spec's links, a fixed seed and a bounded budget (tests/schemathesis-cli.toml).

Our suites share our assumptions; this run shares none but the spec. It is how a server error,
an undocumented status or a header that breaks its schema was found once; it keeps any of them
from coming back unnoticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from huskyvoice_sandbox.resources import spec_path
from huskyvoice_sandbox.spec.contract import Contract

from helpers import LiveServer

CONFIG = Path(__file__).parent / "schemathesis-cli.toml"


def schemathesis_cli() -> list[str]:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        pytest.fail("the schemathesis command is not installed (it comes with the test extra)")
    return [found]


@pytest.mark.live
def test_schemathesis_cli_finds_nothing_on_the_served_sandbox(tmp_path: Path) -> None:
    server = LiveServer("--quiet")
    try:
        run = subprocess.run(
            [*schemathesis_cli(), "--config-file", str(CONFIG), "run", str(spec_path()),
             "--url", server.url, "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
             "--no-color"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its cache stays in tmp
            env={**os.environ, "NO_COLOR": "1"})
    finally:
        server.stop()
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-8000:]
    assert "No issues found" in report, report[-3000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅  {phase}" in report, f"the {phase} phase did not pass:\n{report[-3000:]}"
    count = len(Contract().operations)
    assert f"Selected: {count}/{count}" in report and f"Tested: {count}" in report, report[-3000:]
