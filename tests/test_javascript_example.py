"""The JavaScript integrator's example (examples/javascript): its `node --test` suite passes
against a served sandbox; every answer the sandbox gave it conforms to openapi.yaml, and among
them are the forced 429, the dropped connections and the SLOT_FULL refusal it claims to handle;
its GitHub Actions workflow is valid and serves the sandbox the way the tests expect.

Without `node` (18.15 or newer) or `check-jsonschema` the tests that need them are skipped, unless
HUSKYVOICE_REQUIRE_TOOLS=1 (CI sets it): then they fail, saying what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml
from huskyvoice_sandbox.spec.contract import Contract
from huskyvoice_sandbox.web.api import JOURNAL_HEADERS

from helpers import LiveServer, check_response

EXAMPLE = Path(__file__).parents[1] / "examples" / "javascript"
WORKFLOW = EXAMPLE / ".github" / "workflows" / "test.yml"
JS_TESTS = 17  # the it() blocks of examples/javascript/test/*.test.js
NODE_TIMEOUT = 120  # seconds; the suite takes about 4

pytestmark = pytest.mark.skipif(not EXAMPLE.is_dir(), reason=f"{EXAMPLE} is absent (not run from a checkout)")


def missing_tool(what: str, install: str) -> NoReturn:
    """Skip, or fail where CI requires every tool."""
    message = f"{what}: {install}"
    if os.environ.get("HUSKYVOICE_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{message} (HUSKYVOICE_REQUIRE_TOOLS=1 requires it)", pytrace=False)
    pytest.skip(message)


def node_command() -> list[str]:
    """`node --test` with the TAP reporter, whose summary lines (`# pass 17`) are the same from
    Node 18 to 22. Without a path: node finds test/ itself (a directory argument fails on Node 21+)."""
    node = shutil.which("node")
    if node is None:
        missing_tool("node is not installed", "install nodejs 18.15 or newer (apt-get install nodejs)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    found = re.match(r"v(\d+)\.(\d+)\.", version)
    if not found or (int(found.group(1)), int(found.group(2))) < (18, 15):  # --test-reporter: 18.15
        missing_tool(f"node {version or '(unknown version)'} is too old for these tests",
                     "install nodejs 18.15 or newer")
    return [node, "--test", "--test-reporter=tap"]


# -- the suite, run once against one served sandbox ------------------------------------------------

@dataclass
class NodeRun:
    server: LiveServer
    process: subprocess.CompletedProcess[str]

    @property
    def output(self) -> str:
        return f"$ node --test (exit {self.process.returncode})\n{self.process.stdout}\n{self.process.stderr}"

    def summary(self, name: str) -> int:
        """A count from the summary lines at the end of the TAP output (`# pass 17`)."""
        found = re.findall(rf"^# {name} (\d+)$", self.process.stdout, re.MULTILINE)
        assert found, f"no '# {name} N' line in node's output:\n{self.output}"
        return int(found[-1])


@pytest.fixture(scope="module")
def node_run() -> Iterator[NodeRun]:
    command = node_command()
    server = LiveServer("--quiet")
    try:
        process = subprocess.run(command, cwd=EXAMPLE, capture_output=True, text=True, timeout=NODE_TIMEOUT,
                                 env={**os.environ, "HUSKYVOICE_SANDBOX_URL": server.url, "NO_COLOR": "1"})
        yield NodeRun(server, process)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def journals(node_run: NodeRun, contract: Contract) -> dict[str, list[dict[str, Any]]]:
    """The request journal of every session the JS tests used (one session per test), the
    control answers checked against the control API's spec."""
    import requests

    def control(path: str, **headers: str) -> Any:
        answer = requests.get(node_run.server.url + path, headers=headers, timeout=10)
        check_response(contract, "GET", path, answer.status_code, answer.headers, answer.content)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    sessions = control("/_sandbox/sessions")["sessions"]
    return {s["name"]: control("/_sandbox/requests", **{"X-Sandbox-Session": s["name"]})
            for s in sessions if s["name"] != "default"}


@pytest.mark.live
def test_the_javascript_tests_pass_against_a_served_sandbox(node_run: NodeRun) -> None:
    assert node_run.process.returncode == 0, node_run.output
    assert node_run.summary("fail") == 0, node_run.output
    assert node_run.summary("pass") == JS_TESTS, node_run.output


@pytest.mark.live
def test_every_answer_they_got_conforms_to_openapi(
        node_run: NodeRun, journals: dict[str, list[dict[str, Any]]], contract: Contract) -> None:
    assert node_run.process.returncode == 0, node_run.output
    # Each test takes a session of its own (support/sandbox.js); none used the default session.
    assert len(journals) == JS_TESTS, sorted(journals)
    assert all(name.startswith("js-") for name in journals), sorted(journals)
    checked = 0
    for name, entries in journals.items():
        for entry in entries:
            response = entry["response"]
            if response["status"] is None:  # a dropped connection: nothing was sent
                continue
            problems = journal_problems(contract, entry)
            assert not problems, f"session {name}: {entry['method']} {entry['path']} -> {response['status']} " \
                                 f"breaks openapi.yaml: {problems}\n{response['body']}"
            checked += 1
    assert checked >= 2 * JS_TESTS, f"only {checked} answers recorded"


def journal_problems(contract: Contract, entry: dict[str, Any]) -> list[str]:
    """How a journaled answer breaks the contract. The journal keeps only some headers
    (JOURNAL_HEADERS) and only JSON bodies, so required headers it does not keep are not
    missed, and Content-Type is JSON."""
    response = entry["response"]
    headers = {**response["headers"], "Content-Type": "application/json"}
    kept = {name.lower() for name in JOURNAL_HEADERS}
    return [problem for problem in
            contract.response_problems(entry["method"], entry["path"], response["status"], headers, response["body"])
            if not (problem.startswith("header ") and problem.endswith(" is required")
                    and problem.split(" ")[1].lower() not in kept)]


@pytest.mark.live
def test_they_exercised_the_429_the_drops_and_slot_full(journals: dict[str, list[dict[str, Any]]]) -> None:
    entries = [entry for session in journals.values() for entry in session]

    def seen(what: str, matches: Callable[[dict[str, Any]], bool]) -> None:
        assert any(matches(entry) for entry in entries), f"no {what} in the journals of the JS tests"

    seen("forced 429 with Retry-After: 1", lambda e: e["response"]["status"] == 429 and e["forced"] is not None
         and e["response"]["headers"].get("Retry-After") == "1"
         and e["response"]["body"]["error"]["code"] == "RATE_LIMIT_EXCEEDED")
    seen("dropped GET", lambda e: e["method"] == "GET" and e["response"]["status"] is None
         and e["forced"] is not None and e["forced"]["drop"] is True)
    seen("dropped POST", lambda e: e["operation"] == "createAppointment" and e["response"]["status"] is None
         and e["forced"] is not None and e["forced"]["drop"] is True)
    seen("SLOT_FULL refusal by the rules (not forced)", lambda e: e["operation"] == "updateAppointment"
         and e["response"]["status"] == 409 and e["response"]["code"] == "SLOT_FULL" and e["forced"] is None)
    seen("DUPLICATE_BOOKING refusal", lambda e: e["response"]["code"] == "DUPLICATE_BOOKING")
    seen("CANCELLATION_NOT_ALLOWED refusal", lambda e: e["response"]["code"] == "CANCELLATION_NOT_ALLOWED")
    seen("201 booking", lambda e: e["operation"] == "createAppointment" and e["response"]["status"] == 201)

    # The dropped POST was not sent again: its session holds exactly one create.
    [dropped_post] = [session for session in journals.values() if any(
        e["operation"] == "createAppointment" and e["response"]["status"] is None for e in session)]
    assert [e["response"]["status"] for e in dropped_post if e["operation"] == "createAppointment"] == [None]


# -- the workflow ---------------------------------------------------------------------------------

def check_jsonschema() -> str:
    beside = Path(sys.executable).parent / "check-jsonschema"
    found = str(beside) if beside.exists() else shutil.which("check-jsonschema")
    if found is None:
        missing_tool("check-jsonschema is not installed", 'pip install "check-jsonschema>=0.28"')
    return found


def test_the_workflow_is_a_valid_github_actions_workflow() -> None:
    run = subprocess.run([check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"


def test_the_workflow_serves_the_sandbox_and_runs_node_test() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    [job] = workflow["jobs"].values()
    [service] = job["services"].values()
    assert "8080:8080" in [str(port) for port in service["ports"]]
    assert service["env"]["HUSKYVOICE_SANDBOX_CONTROL_FROM"] == "any"
    assert "huskyvoice-sandbox" in service["image"]
    assert "huskyvoice-sandbox health" in service.get("options", "")
    [test_step] = [step for step in job["steps"] if re.match(r"node --test\b", step.get("run", ""))]
    assert test_step["env"]["HUSKYVOICE_SANDBOX_URL"] == "http://localhost:8080"
    assert {"actions/checkout@v4", "actions/setup-node@v4"} <= {step.get("uses") for step in job["steps"]}
