"""Every example in the README and docs/ runs as written.

- `sh` blocks run in bash, in order, against a fresh `huskyvoice-sandbox serve` per page (`$B`
  is its URL; the repository is the working directory, for `@fixtures/...` paths). A command
  followed by `# <output>` lines must print that (`...` standing for what the page leaves out);
  a command with none must succeed, and a JSON answer it prints must not be an error.
- `python` blocks that hold tests run with pytest in an empty project, the plugin active.
- `yaml` blocks that are worlds (`version: 1`) load.
- A block marked `no-run (reason)` says why it is not run here; the reason names where it is
  (the CI script, a twin test). `text` blocks show output and are not code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from huskyvoice_sandbox.worlds.world import load_world

from helpers import LiveServer

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"(?ms)^```([^\n]*)\n(.*?)^```")
EXPECTED = re.compile(r"# (\{.*\}|(\d{3} )*\d{3})$")
DEFAULT_URL = re.compile(r"^B=http://127\.0\.0\.1:8080$")

pytestmark = pytest.mark.skipif(not (ROOT / "docs").is_dir(), reason="not run from a checkout")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    info: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        info = match.group(1).strip()
        found.append(Block(page, text[:match.start()].count("\n") + 1, info.split(" ")[0], info, match.group(2)))
    return found


def runnable(page: Path, language: str) -> list[Block]:
    return [b for b in blocks(page) if b.language == language and "no-run" not in b.info]


def steps(code: str) -> list[tuple[str, str | None]]:
    """(command, the output the page prints under it, if any), in order."""
    found: list[tuple[str, str | None]] = []
    command: list[str] = []
    for line in code.splitlines():
        if EXPECTED.fullmatch(line):
            found.append(("\n".join(command), line[2:]))
            command = []
        elif line.strip() and not line.startswith("#") and not DEFAULT_URL.match(line):
            if command and not command[-1].endswith("\\") and not _open_quote(command) \
                    and not _open_loop(command):
                found.append(("\n".join(command), None))
                command = []
            command.append(line)
    if command:
        found.append(("\n".join(command), None))
    return found


def _open_loop(lines: list[str]) -> bool:
    """Is a `for` or `while` loop still open (no `done` yet)?"""
    text = "\n".join(lines)
    return bool(re.match(r"(for|while) ", text)) and not re.search(r"\bdone\b", text)


def _open_quote(lines: list[str]) -> bool:
    """Is a single-quoted argument still open (a body spread over lines)?"""
    return "\n".join(lines).count("'") % 2 == 1


def matches(expected: str, printed: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, printed.strip(), re.DOTALL) is not None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_first_shell_block_using_b_defines_it(page: Path) -> None:
    """A reader pastes the first example alone: `$B` must be set in it, before it is used."""
    using = [b for b in blocks(page) if b.language == "sh" and "$B" in b.code]
    if not using:
        return
    first = using[0]
    lines = first.code.splitlines()
    defined = [n for n, line in enumerate(lines) if DEFAULT_URL.match(line)]
    used = min(n for n, line in enumerate(lines) if "$B" in line)
    assert defined and defined[0] < used, f"{first.where}: $B is used before it is set (B=http://127.0.0.1:8080)"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_keeps_its_own_list_of_the_operations(page: Path, contract) -> None:
    """The spec lists the operations (and `GET /`, `/docs` show them); a page that names them
    all is a second list, kept by hand, that the next operation would make wrong."""
    text = page.read_text(encoding="utf-8")
    named = [name for name in contract.operations if f"`{name}`" in text]
    assert len(named) < len(contract.operations) - 2, f"{page.name} lists the operations: {named}"


def test_every_block_that_is_not_run_says_why() -> None:
    silent = [b.where for page in PAGES for b in blocks(page)
              if "no-run" in b.info and not re.search(r"no-run \(.+\)", b.info)]
    assert not silent, f"no-run blocks without a reason: {silent}"


@pytest.mark.live
@pytest.mark.parametrize("page", [p for p in PAGES if runnable(p, "sh")], ids=lambda p: p.name)
def test_shell_examples_run_as_written(page: Path) -> None:
    server = LiveServer("--quiet")
    try:
        for block in runnable(page, "sh"):
            for command, expected in steps(block.code):
                run = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30,
                                     cwd=ROOT, env={"B": server.url, "PATH": "/usr/bin:/bin:/usr/local/bin"})
                assert run.returncode == 0, f"{block.where}: {command}\n{run.stderr}"
                if expected is not None:
                    assert matches(expected, run.stdout), \
                        f"{block.where}: {command}\npage:    {expected}\nprinted: {run.stdout}"
                else:
                    assert_not_an_error(block, command, run.stdout)
    finally:
        server.stop()


def assert_not_an_error(block: Block, command: str, printed: str) -> None:
    try:
        answer = json.loads(printed)
    except ValueError:
        return  # headers (curl -i), YAML, or nothing
    assert not (isinstance(answer, dict) and answer.get("success") is False), \
        f"{block.where}: {command}\nanswered an error the page does not show: {printed}"


@pytest.mark.parametrize("block", [b for p in PAGES for b in runnable(p, "python")],
                         ids=lambda b: b.where)
def test_python_examples_pass_as_written(block: Block, tmp_path: Path) -> None:
    assert "def test_" in block.code, f"{block.where}: a python example is a test module"
    (tmp_path / "test_example.py").write_text(block.code, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{block.where}:\n{run.stdout[-3000:]}{run.stderr[-2000:]}"
    assert " passed" in run.stdout and "failed" not in run.stdout


@pytest.mark.parametrize("block", [b for p in PAGES for b in runnable(p, "yaml")], ids=lambda b: b.where)
def test_world_examples_load(block: Block) -> None:
    document = yaml.safe_load(block.code)
    assert isinstance(document, dict) and document.get("version") == 1, \
        f"{block.where}: a yaml example is a world (or is marked no-run with why)"
    load_world(document, block.where)
