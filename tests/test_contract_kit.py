"""The contract kit, run as users run it (`huskyvoice-sandbox contract`): it passes on the
sandbox in-process and over HTTP, it is safe against a deployment by default, and it catches
each deliberately broken variant of the sandbox, naming the failed check."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from broken_targets import NAMES

TESTS = Path(__file__).parent
KIT_ARGS = ["--examples", "15", "-p", "no:randomly"]


def kit(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    script = shutil.which("huskyvoice-sandbox")
    command = [script] if script else [sys.executable, "-c", "from sandbox.serve.cli import main; main()"]
    return subprocess.run(command + ["contract", *KIT_ARGS, *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for(url: str, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.communicate()}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error is an answer
                return
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


@pytest.fixture
def serve_python(free_port_factory) -> Iterator:
    processes: list[subprocess.Popen] = []

    def start(*argv: str) -> str:
        port = free_port_factory()
        process = subprocess.Popen([sys.executable, *[a.replace("{port}", str(port)) for a in argv]],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   env={**os.environ, "PYTHONPATH": str(TESTS)})
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/openapi.yaml", process)
        return url

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def free_port_factory():
    import socket

    def pick() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    return pick


SERVE = ["-c", "from sandbox.serve.cli import main; main()", "serve", "--quiet", "--port", "{port}"]


def test_kit_passes_on_the_sandbox_in_process() -> None:
    run = kit()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "contract kit target: sandbox in-process" in run.stdout
    assert "contract kit seed: 20260615" in run.stdout
    assert "documented responses seen" in run.stdout
    assert " failed" not in run.stdout


def test_each_schema_test_sends_only_its_own_operations_cases() -> None:
    """Each operation's generated cases run once, under its own test's name."""
    run = kit("-k", "conforms")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    sent = {test: dict(re.findall(r"(\w+) (\d+)", counts)) for test, counts in
            re.findall(r"cases sent by (\w+): (.*)", run.stdout)}
    assert set(sent) == {"test_get_conforms_to_the_contract", "test_patch_conforms_to_the_contract"}
    operations = {"getAppointment", "updateAppointment"}
    assert operations & set(sent["test_get_conforms_to_the_contract"]) == {"getAppointment"}
    assert operations & set(sent["test_patch_conforms_to_the_contract"]) == {"updateAppointment"}
    checked = dict(re.findall(r"generated cases checked: (\w+) (\d+)", run.stdout))
    # The cases each test sent are the operation's cases checked, each once.
    assert int(sent["test_get_conforms_to_the_contract"]["getAppointment"]) == int(checked["getAppointment"])
    assert int(sent["test_patch_conforms_to_the_contract"]["updateAppointment"]) == int(checked["updateAppointment"])


def test_kit_passes_on_the_sandbox_served_over_http(serve_python) -> None:
    url = serve_python(*SERVE)
    run = kit("--base-url", url)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"sandbox at {url}" in run.stdout
    assert "scenario steps skipped" not in run.stdout  # it seeded every scenario


def test_against_a_deployment_the_kit_changes_nothing_by_default(serve_python) -> None:
    """A sandbox hiding its control API behind a token looks like any deployment to the kit."""
    url = serve_python(*SERVE, "--admin-token", "secret")
    run = kit("--base-url", url, "--api-key", "sk_test_demo_write",
              "--read-only-key", "sk_test_demo_read", "--appointment-id", "appt_a1b2c3d4e5")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "read-only (no request can change an appointment)" in run.stdout
    assert "scenario steps skipped" in run.stdout
    request = urllib.request.Request(url + "/_sandbox/requests",
                                     headers={"X-Sandbox-Admin-Token": "secret"})
    journal = json.load(urllib.request.urlopen(request))["data"]
    assert journal, "the kit sent nothing"
    changed = [e for e in journal if e["method"] != "GET"
               and e["path"] != "/v1/appointments/appt_contractkit_does_not_exist"]
    assert changed == []
    world = json.load(urllib.request.urlopen(urllib.request.Request(
        url + "/_sandbox/world", headers={"X-Sandbox-Admin-Token": "secret"})))["data"]
    lent = next(a for a in world["organizations"][0]["appointments"]
                if a["appointment_id"] == "appt_a1b2c3d4e5")
    assert lent["updated_at"] == "2026-05-26T10:00:00.000Z"  # as seeded: never written


# What the kit must say for each broken variant: the check that failed, by its words.
CAUGHT_BY = {
    "slot-full-as-400": ["expected status 409, got 400"],
    "no-success-in-errors": ["'success' is a required property"],
    "accepts-empty-body": ["Schema-violating request accepted"],
    "ignores-bearer-key": ["API accepts invalid authentication"],
    "date-as-datetime": ["is not a 'date'"],
    "answers-html": ["Undocumented Content-Type"],
    "forgets-patches": ["after a successful PATCH reads"],
}


@pytest.mark.parametrize("name", NAMES)
def test_kit_catches_a_broken_target(serve_python, name: str) -> None:
    url = serve_python(str(TESTS / "broken_targets.py"), name, "{port}")
    run = kit("--base-url", url)
    output = run.stdout + run.stderr
    assert run.returncode != 0, f"the kit did not catch {name}:\n{output[-3000:]}"
    for words in CAUGHT_BY[name]:
        assert words in output, f"{name}: expected the report to say {words!r}:\n{output[-5000:]}"


def test_pytest_contract_tests_from_a_checkout_passes(request: pytest.FixtureRequest) -> None:
    """The literal command the README gives, from the repository root."""
    root = request.config.rootpath
    if not (root / "contract_tests" / "conftest.py").exists():
        pytest.skip("not run from a checkout")
    script = shutil.which("pytest")
    command = [script] if script else [sys.executable, "-m", "pytest"]
    run = subprocess.run(command + ["contract_tests", "--examples", "15", "-q"], cwd=root,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "documented responses seen" in run.stdout


def test_junitxml_report_names_each_check(tmp_path: Path) -> None:
    report = tmp_path / "contract.xml"
    run = kit("--junitxml", str(report))
    assert run.returncode == 0, run.stdout[-3000:]
    text = report.read_text(encoding="utf-8")
    for name in ("test_get_conforms_to_the_contract", "test_patch_conforms_to_the_contract",
                 "test_a_patch_is_visible_in_the_following_get",
                 "test_scenario_gets_the_documented_responses[slot-full]"):
        assert name in text, name
