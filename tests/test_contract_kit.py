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
    command = [script] if script else [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()"]
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


SERVE = ["-c", "from huskyvoice_sandbox.serve.cli import main; main()", "serve", "--quiet", "--port", "{port}"]


def test_kit_passes_on_the_sandbox_in_process() -> None:
    run = kit()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "contract kit target: sandbox in-process" in run.stdout
    assert "contract kit seed: 20260615" in run.stdout
    assert "documented responses seen" in run.stdout
    assert " failed" not in run.stdout


def test_each_operation_runs_its_own_cases_once_under_its_own_name() -> None:
    """The schema suite runs every operation of the spec as a subtest named by its method and
    path; each sends that operation's cases only, and each case once."""
    from huskyvoice_sandbox.spec.contract import Contract

    run = kit("-k", "conforms")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    sent = {label: dict(re.findall(r"(\w+) (\d+)", counts)) for label, counts in
            re.findall(r"cases sent by (\w+ \S+): (.*)", run.stdout)}
    operations = Contract().operations.values()
    assert set(sent) == {f"{op.method} {op.path}" for op in operations}
    checked = dict(re.findall(r"generated cases checked: (\w+) (\d+)", run.stdout))
    for op in operations:
        own = {name for name in sent[f"{op.method} {op.path}"] if name in Contract().operations}
        assert own == {op.operation_id}, (op.operation_id, sent[f"{op.method} {op.path}"])
        assert int(sent[f"{op.method} {op.path}"][op.operation_id]) == int(checked[op.operation_id])


def test_kit_passes_on_the_sandbox_served_over_http(serve_python) -> None:
    url = serve_python(*SERVE)
    run = kit("--base-url", url)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"sandbox at {url}" in run.stdout
    assert "scenario steps skipped" not in run.stdout  # it seeded every scenario


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def test_against_a_deployment_the_kit_sends_no_write_by_default(serve_python, tmp_path) -> None:
    """A served sandbox behind nginx, which hides its control API: a deployment to the kit.
    Without --allow-writes, nginx's own log shows not one request that could write."""
    from proxy import NginxProxy

    upstream = serve_python(*SERVE)
    with NginxProxy(upstream, tmp_path / "nginx") as proxy:
        run = kit("--base-url", proxy.url, "--api-key", "sk_test_demo_write",
                  "--read-only-key", "sk_test_demo_read", "--appointment-id", "appt_a1b2c3d4e5")
        journal = proxy.journal()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "read-only (only GET requests are sent)" in run.stdout
    assert "skipped against this target: createAppointment, updateAppointment" in run.stdout
    assert "scenario steps skipped" in run.stdout
    assert len(journal) > 50, "the kit sent (almost) nothing"
    assert {method for method, _, _ in journal} <= {"GET", "OPTIONS", "TRACE"}, \
        sorted({(m, u) for m, u, _ in journal if m in WRITE_METHODS})[:10]
    world = json.load(urllib.request.urlopen(upstream + "/_sandbox/world"))["data"]
    lent = next(a for a in world["organizations"][0]["appointments"]
                if a["appointment_id"] == "appt_a1b2c3d4e5")
    assert lent["updated_at"] == "2026-05-26T10:00:00.000Z"  # as seeded: never written
    assert sum(len(o["appointments"]) for o in world["organizations"]) == 10  # nothing created


def test_with_allow_writes_the_kit_creates_at_most_its_budget_and_names_them(serve_python, tmp_path) -> None:
    """Creates are permanent on a deployment: only with --allow-writes, at most --max-creates,
    each id reported; PATCHes go only to the lent appointment."""
    from proxy import NginxProxy

    upstream = serve_python(*SERVE)
    with NginxProxy(upstream, tmp_path / "nginx") as proxy:
        run = kit("--base-url", proxy.url, "--api-key", "sk_test_demo_write", "--allow-writes",
                  "--appointment-id", "appt_a1b2c3d4e5", "--max-creates", "2", "-k", "conforms")
        journal = proxy.journal()
    output = run.stdout + run.stderr
    assert "creates are real and permanent: up to 2 new appointments" in output
    posts = [(u.split("?")[0], status) for m, u, status in journal if m == "POST"]
    assert {path for path, _ in posts} <= {"/v1/appointments"}, posts  # no probe POSTs anywhere
    assert len(posts) <= 2  # every create sent counts, whatever it got
    created = [path for path, status in posts if status == 201]
    patched = {u.split("?")[0] for m, u, _ in journal if m == "PATCH"}
    assert patched <= {"/v1/appointments/appt_a1b2c3d4e5", "/v1/appointments/appt_contractkit_does_not_exist"}
    assert not [(m, u) for m, u, _ in journal if m in ("PUT", "DELETE") and "appt_contractkit" not in u]
    world = json.load(urllib.request.urlopen(upstream + "/_sandbox/world"))["data"]
    ids = [a["appointment_id"] for o in world["organizations"] for a in o["appointments"]]
    new = [i for i in ids if i not in DEFAULT_IDS]
    assert len(new) == len(created)
    if new:
        assert "appointments were created and stay" in output and all(i in output for i in new)


DEFAULT_IDS = {"appt_a1b2c3d4e5", "appt_b2c3d4e5f6", "appt_c3d4e5f6a7", "appt_d4e5f6a7b8",
               "appt_e5f6a7b8c9", "appt_f6a7b8c9d0", "appt_0a1b2c3d4e", "appt_1b2c3d4e5f",
               "appt_2c3d4e5f6a", "appt_9z8y7x6w5v"}


# What the kit must say for each broken variant: the check that failed, by its words.
CAUGHT_BY = {
    "slot-full-as-400": ["expected status 409, got 400"],
    "no-success-in-errors": ["'success' is a required property"],
    "accepts-empty-body": ["Schema-violating request accepted"],
    "ignores-bearer-key": ["API accepts invalid authentication"],
    "date-as-datetime": ["is not a 'date'"],
    "answers-html": ["Undocumented Content-Type"],
    "forgets-patches": ["but the last successful write of that appointment answered"],
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
    for name in ("test_operation_conforms_to_the_contract",
                 "test_what_was_written_is_what_is_read_back",
                 "test_scenario_gets_the_documented_responses[slot-full]"):
        assert name in text, name
