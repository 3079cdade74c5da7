"""The README's session against the default world, run as written: every command of the block
through bash and curl against `huskyvoice-sandbox serve`, in order, each answer compared with the
line printed under it (`...` standing for what the README leaves out)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import LiveServer

README = Path(__file__).parents[1] / "README.md"
SECTION = "## A session against the default world"
EXPECTED = re.compile(r"# (\{.*\}|(\d{3} )*\d{3})$")


def session_steps() -> list[tuple[str, str]]:
    """(command, expected output) pairs of the section's shell block, in order."""
    text = README.read_text(encoding="utf-8").split(SECTION, 1)[1]
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    steps, command = [], []
    for line in block.splitlines():
        if EXPECTED.fullmatch(line):
            steps.append(("\n".join(command), line[2:]))
            command = []
        elif line and not line.startswith("#"):
            command.append(line)
    assert not command, f"a command without its answer: {command}"
    return steps


def matches(expected: str, printed: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, printed.strip(), re.DOTALL) is not None


@pytest.mark.live
def test_the_readme_session_works_as_written() -> None:
    if not README.is_file():
        pytest.skip("not run from a checkout")
    if shutil.which("curl") is None:
        pytest.fail("curl is needed (.ci/run installs it)")
    steps = session_steps()
    assert len(steps) >= 20
    server = LiveServer("--quiet")
    try:
        for command, expected in steps:
            run = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30,
                                 env={"B": server.url, "PATH": "/usr/bin:/bin:/usr/local/bin"})
            assert run.returncode == 0, (command, run.stderr)
            assert matches(expected, run.stdout), f"{command}\nREADME: {expected}\nprinted: {run.stdout}"
    finally:
        server.stop()
