"""The contract kit, run as users run it (`huskyvoice-sandbox contract`): it passes on the
sandbox in-process and over HTTP, it is safe against a deployment by default, it catches each
deliberately broken variant of the sandbox, naming the failed check, its stateful run books only
what availability offers and is the same for the same seed, and it says in one line (exit 2)
when the target does not answer or is not the API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broken_targets import NAMES

pytestmark = pytest.mark.kit  # about 2.5 minutes: not in the quick run

TESTS = Path(__file__).parent
KIT_ARGS = ["--examples", "15", "-p", "no:randomly"]


def kit_command() -> list[str]:
    """The kit as users run it, from the interpreter that runs this suite: the console script
    installed next to it, else its entry point run by it; never whatever is first on PATH."""
    script = Path(sys.executable).with_name("huskyvoice-sandbox")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()"]


def kit(*args: str, timeout: int = 600, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(kit_command() + ["contract", *KIT_ARGS, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


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


# The whole kit on the sandbox in process, run once for the two tests that read it (its console
# report and its JUnit report): the same command, about 10 s; the group keeps them on one worker.
IN_PROCESS = pytest.mark.xdist_group("kit-in-process")


@pytest.fixture(scope="module")
def in_process_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    report = tmp_path_factory.mktemp("kit-in-process") / "contract.xml"
    return kit("--junitxml", str(report)), report


@IN_PROCESS
def test_kit_passes_on_the_sandbox_in_process(in_process_run) -> None:
    run, _ = in_process_run
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "contract kit target: sandbox in-process" in run.stdout
    assert "contract kit seed: 20260615" in run.stdout
    assert "documented responses seen" in run.stdout
    assert " failed" not in run.stdout
    assert "warnings summary" not in run.stdout  # nothing to wade through
    checks = run.stdout.split("contract checks", 1)[1].split("contract coverage", 1)[0]
    assert [line.split()[0] for line in checks.strip("= \n").splitlines() if line.strip()] == \
        ["isolation", "scenarios", "schema", "stateful"]  # one line per check group
    assert "%]" not in run.stdout  # no percentages: subtests would make them jump about


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


def get_json(url: str) -> Any:
    return json.load(urllib.request.urlopen(url))["data"]


def test_kit_passes_on_the_sandbox_served_over_http_and_leaves_its_sessions_alone(serve_python) -> None:
    url = serve_python(*SERVE)
    moved = urllib.request.Request(f"{url}/v1/appointments/appt_a1b2c3d4e5", method="PATCH",
                                   data=b'{"notes": "mine"}', headers={
                                       "Authorization": "Bearer sk_test_demo_write",
                                       "Content-Type": "application/json"})
    urllib.request.urlopen(moved)  # the default session is not the loaded world any more
    before = [get_json(f"{url}/_sandbox/{path}") for path in ("world", "requests", "clock")]
    run = kit("--base-url", url)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"sandbox at {url}, in a session of its own (X-Sandbox-Session: contract-kit-" in run.stdout
    assert "scenario steps skipped" not in run.stdout  # it seeded every scenario, in its session
    assert [get_json(f"{url}/_sandbox/{path}") for path in ("world", "requests", "clock")] == before
    assert [s["name"] for s in get_json(f"{url}/_sandbox/sessions")["sessions"]] == ["default"]


def test_an_address_where_nothing_answers_is_one_line_and_exit_2() -> None:
    run = kit("--base-url", "http://127.0.0.1:9")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == ("error: http://127.0.0.1:9 does not answer (Connection refused); "
                          "is the address right, and is it running?\n")


@pytest.mark.parametrize("what", ["static-files", "wrong-path-prefix"])
def test_an_address_that_is_not_the_api_is_one_line_and_exit_2(serve_python, tmp_path: Path, what: str) -> None:
    """A static file server (HTML for every path it has, a 404 page for the others) and the API
    under a path prefix it does not have: no check runs, and the kit says why in one line."""
    if what == "static-files":
        (tmp_path / "index.html").write_text("<html><body><h1>Welcome</h1></body></html>")
        url = serve_python("-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", str(tmp_path))
        said = "404 text/html"
    else:
        url = serve_python(*SERVE) + "/api"
        said = "404 application/json"
    run = kit("--base-url", url, "--api-key", "sk_test_demo_write")
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr[-3000:]  # one line, not pages of HTML in tracebacks
    assert run.stderr.startswith(f"error: {url} is not the HuskyVoice API: GET ")
    assert f"without a key answered {said}, not the documented 401" in run.stderr


@pytest.mark.parametrize("args", [["--examples", "many"], ["--no-such-option"]],
                         ids=["a-bad-option-of-the-kit", "a-bad-option-of-pytest"])
def test_a_run_that_cannot_check_anything_exits_2(args: list[str]) -> None:
    """0: every check passed; 1: a check failed (the broken targets' tests); 2: it could not run
    (pytest's own statuses other than 0 and 1 among them: here its usage error, 4)."""
    run = kit(*args)
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def test_against_a_deployment_the_kit_sends_no_write_by_default(serve_python, tmp_path) -> None:
    """A served sandbox behind nginx, which hides its control API: a deployment to the kit.
    Without --allow-writes, nginx's own log shows not one request that could write."""
    from proxy import NginxProxy

    upstream = serve_python(*SERVE)
    with NginxProxy(upstream, tmp_path / "nginx") as proxy:
        run = kit("--base-url", proxy.url, "--api-key", "sk_test_demo_write",
                  "--read-only-key", "sk_test_demo_read", "--appointment-id", "appt_a1b2c3d4e5",
                  "--other-key", "sk_test_other_write")
        journal = proxy.journal()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "read-only (only GET requests are sent)" in run.stdout
    assert "isolation  1 passed" in run.stdout  # another organization's key, with GETs only
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
    assert "skipped against this target: isolation checks (no --other-key" in output
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
    "leaks-across-organizations": ["this organization's appointment, read with another organization's key",
                                   "expected status 404, got 200"],
}
# The group of checks that must catch it by itself, and say so in those words: the scenarios
# (the documented responses of each rule), the schema suite (Schemathesis' checks, per
# operation), the stateful run (writes read back), isolation (another organization's key). The
# kit exits 1 when any group fails, so a group that catches a target by itself, naming it in
# these words, means the whole kit does too (pinning the group says more than the whole kit's
# exit status did); running every group against every target took twice as long.
CAUGHT_WITH = {
    "slot-full-as-400": "scenario",
    "no-success-in-errors": "scenario",
    "accepts-empty-body": "conforms",
    "ignores-bearer-key": "conforms",
    "date-as-datetime": "scenario",
    "answers-html": "conforms",
    "forgets-patches": "stateful",
    "leaks-across-organizations": "isolation",
}


@pytest.mark.parametrize("name", NAMES)
def test_kit_catches_a_broken_target(serve_python, name: str) -> None:
    url = serve_python(str(TESTS / "broken_targets.py"), name, "{port}")
    run = kit("--base-url", url, "-k", CAUGHT_WITH[name])
    output = run.stdout + run.stderr
    assert run.returncode == 1, f"the kit did not catch {name}:\n{output[-3000:]}"
    for words in CAUGHT_BY[name]:
        assert words in output, f"{name}: expected the report to say {words!r}:\n{output[-5000:]}"


def test_against_a_deployment_isolation_takes_only_gets_and_catches_a_leak(serve_python, tmp_path) -> None:
    """A deployment that answers another organization's key with this one's appointments (and
    nothing else wrong): without /_sandbox/ no scenario can show it; the isolation check, with
    --other-key, does, with GET requests only."""
    from proxy import NginxProxy

    upstream = serve_python(str(TESTS / "broken_targets.py"), "leaks-across-organizations", "{port}")
    with NginxProxy(upstream, tmp_path / "nginx") as proxy:
        run = kit("--base-url", proxy.url, "--api-key", "sk_test_demo_write", "--appointment-id",
                  "appt_a1b2c3d4e5", "--other-key", "sk_test_other_write", "-k", "isolation")
        journal = proxy.journal()
    assert run.returncode == 1, run.stdout[-4000:] + run.stderr[-2000:]
    assert "isolation  1 failed" in run.stdout
    assert "read with another organization's key: GET /v1/appointments/appt_a1b2c3d4e5" in run.stdout
    assert '-H "Authorization: Bearer $HUSKYVOICE_OTHER_KEY"' in run.stdout  # a command, without the key
    assert "sk_test_other_write" not in run.stdout + run.stderr
    assert {method for method, _, _ in journal} == {"GET"}


def test_a_failing_scenario_prints_commands_that_reproduce_it_as_pasted(serve_python) -> None:
    url = serve_python(str(TESTS / "broken_targets.py"), "slot-full-as-400", "{port}")
    run = kit("--base-url", url, "-k", "scenario and slot-full")
    assert run.returncode == 1
    block = run.stdout.split("reproduce (each command in turn):\n", 1)[1]
    commands = [line.strip().removeprefix("E").strip() for line in block.splitlines()]
    commands = commands[:next(i for i, c in enumerate(commands) if c.startswith("got "))]
    assert commands[0].startswith("curl -s -X PUT --data-binary @") and "slot-full.yaml" in commands[0]
    printed = ""
    for command in commands:  # as pasted, in order
        printed = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30).stdout
    assert json.loads(printed)["error"]["code"] == "SLOT_FULL"  # the 400 the kit reported, again
    assert "got 400" in block


def test_a_failing_generated_case_prints_a_curl_that_reads_the_key_from_the_environment(serve_python) -> None:
    url = serve_python(str(TESTS / "broken_targets.py"), "no-success-in-errors", "{port}")
    run = kit("--base-url", url, "-k", "conforms")
    assert run.returncode == 1
    lines = [line.strip().lstrip("|").strip() for line in run.stdout.splitlines()]
    curls = [line for line in lines if line.startswith("curl ")]
    assert curls and all("sk_test_demo_write" not in c for c in curls), curls[:3]
    command = next(c for c in curls if '"Authorization: Bearer $HUSKYVOICE_API_KEY"' in c)
    replayed = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "HUSKYVOICE_API_KEY": "sk_test_demo_write"})
    assert replayed.returncode == 0 and replayed.stdout  # it runs, with the key from the environment
    assert "sk_test_demo_write" not in run.stdout + run.stderr


def test_pytest_contract_tests_from_a_checkout_passes(request: pytest.FixtureRequest) -> None:
    """The literal command the README gives, from the repository root."""
    root = request.config.rootpath
    if not (root / "contract_tests" / "conftest.py").exists():
        pytest.skip("not run from a checkout")
    run = subprocess.run([sys.executable, "-m", "pytest", "contract_tests", "--examples", "15", "-q"], cwd=root,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "documented responses seen" in run.stdout


def test_a_failing_check_has_the_same_name_on_the_console_and_in_junit(serve_python, tmp_path: Path) -> None:
    url = serve_python(str(TESTS / "broken_targets.py"), "slot-full-as-400", "{port}")
    report = tmp_path / "contract.xml"
    # The scenarios are the check that fails here (CAUGHT_WITH); the other groups pass either way.
    run = kit("--base-url", url, "--junitxml", str(report), "-k", CAUGHT_WITH["slot-full-as-400"])
    assert run.returncode == 1
    line = next(text for text in run.stdout.splitlines() if text.startswith("scenarios "))
    failed_on_console = set(line.split(": ", 1)[1].split("; "))
    import xml.etree.ElementTree as ET

    failed_in_junit = {case.get("name") for case in ET.parse(report).iter("testcase")
                       if case.find("failure") is not None}
    assert failed_on_console and failed_on_console <= failed_in_junit


@IN_PROCESS
def test_junitxml_report_names_each_check(in_process_run) -> None:
    run, report = in_process_run
    assert run.returncode == 0, run.stdout[-3000:]
    text = report.read_text(encoding="utf-8")
    for name in ("test_operation_conforms_to_the_contract",
                 "test_what_was_written_is_what_is_read_back",
                 "test_scenario_gets_the_documented_responses[slot-full]"):
        assert name in text, name


def test_without_the_contract_extra_the_kit_names_the_install_command() -> None:
    hide = "import sys; sys.modules['schemathesis'] = None; "  # as if it were not installed
    run = subprocess.run([sys.executable, "-c", hide + "from huskyvoice_sandbox.serve.cli import main; main()",
                          "contract"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip() == ('error: the contract kit needs schemathesis: '
                                  'pip install "huskyvoice-sandbox[contract]"')
    assert "Traceback" not in run.stderr


# -- the stateful run: what availability offers, the same run for the same seed ----------------

PLACEMENT = ("appointment_date", "session", "batch")
WORLDS = {  # world file (None: the default world), write key, read key, the lent appointment
    "default": (None, "sk_test_demo_write", "sk_test_demo_read", "appt_a1b2c3d4e5"),
    "branch-hours": ("branch-hours.yaml", "sk_test_hours_write", "sk_test_hours_read", "appt_h0urs00001"),
}


def send_json(url: str, method: str, body: Any = None, key: str | None = None) -> Any:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers)) as answer:
        return json.load(answer)


def offered(get: Any, days: int = 14) -> set[tuple[str, str, str, str, str | None]]:
    """What a sandbox's availability offers from its clock's now on, read straight from it with
    `get(path)` (its JSON): (branch, start in UTC, session, batch, the service a window is
    restricted to)."""
    zone = ZoneInfo(get("/v1/appointment-config")["data"]["timezone"])
    now = datetime.fromisoformat(get("/_sandbox/clock")["data"]["now"].replace("Z", "+00:00"))
    found = set()
    for offset in range(days):
        on: date = now.astimezone(zone).date() + timedelta(days=offset)
        for slot in get(f"/v1/appointment-slots/availability?date={on}")["slots"]:
            start = datetime.combine(on, clock_time.fromisoformat(slot["start_time"]), zone)
            if slot["available_slots"] > 0 and start > now:
                found.add((slot["branch_id"], start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                           slot["session"], slot["batch"], slot["appointment_type"]))
    return found


def fits(body: dict[str, Any], offers: set[tuple[str, str, str, str, str | None]], branch: str,
         service: str) -> bool:
    """Is this booking one window's, as availability offered it (its branch, time, session and
    batch together, and a service the window takes)?"""
    return any(body.get("appointment_date") == start and body.get("session") == session and
               body.get("batch") == batch and branch == where and restricted in (None, service)
               for where, start, session, batch, restricted in offers)


@pytest.mark.parametrize(("world", "now", "examples"), [
    ("default", "2026-12-07T06:00:00.000Z", "1"),  # the reported Monday: East opens at 08:00, Main at 09:00
    ("default", "2026-06-13T12:00:00.000Z", "3"),  # a Saturday: no window before Monday
    ("branch-hours", "2026-06-14T20:00:00.000Z", "15"),  # Monday 01:30 in India: Hills opens 22:30 UTC
], ids=["default-world-monday-examples-1", "default-world-saturday-examples-3", "branch-hours-sunday-utc-examples-15"])
def test_on_a_deployment_the_stateful_run_moves_the_lent_appointment_only_where_availability_offers(
        serve_python, tmp_path: Path, world: str, now: str, examples: str) -> None:
    """A faithful deployment with writes allowed, on several dates: the run passes, creates
    nothing, moves the lent appointment only into windows of its own branch that availability
    offered, as offered (never a 422), and reads back each write that succeeded at once."""
    from huskyvoice_sandbox.resources import scenarios_dir

    from proxy import NginxProxy

    file, key, read_key, lent = WORLDS[world]
    upstream = serve_python(*SERVE, *(["--world", str(scenarios_dir() / file)] if file else []))
    send_json(f"{upstream}/_sandbox/clock", "PUT", {"now": now})  # before the control API is hidden
    offers = offered(lambda path: send_json(upstream + path, "GET", key=read_key))
    appointment = send_json(f"{upstream}/v1/appointments/{lent}", "GET", key=read_key)["data"]
    with NginxProxy(upstream, tmp_path / "nginx") as proxy:
        run = kit("--base-url", proxy.url, "--api-key", key, "--allow-writes", "--appointment-id", lent,
                  "--examples", examples, "-k", "stateful")
        sent = proxy.requests()
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "stateful   1 passed" in run.stdout
    assert not [r for r in sent if r["method"] not in ("GET", "PATCH")]  # no create on a deployment
    patches = [r for r in sent if r["method"] == "PATCH" and r["status"] != 401]
    assert {r["uri"] for r in patches} == {f"/v1/appointments/{lent}"}
    moves = [r for r in patches if isinstance(r["body"], dict) and set(PLACEMENT) & set(r["body"])]
    assert moves, "the run moved the lent appointment nowhere"
    for move in moves:
        assert fits(move["body"], offers, appointment["branch_id"], appointment["appointment_type"]), move
    assert not [r for r in patches if r["status"] == 422], [r for r in patches if r["status"] == 422]
    for index, request in enumerate(sent):  # each write that succeeded, read back at once
        if request["method"] == "PATCH" and request["status"] == 200:
            assert (sent[index + 1]["method"], sent[index + 1]["uri"]) == ("GET", f"/v1/appointments/{lent}")


def test_the_kits_cases_do_not_depend_on_the_sandboxs_source_code() -> None:
    """Schemathesis draws values from the string literals in an in-process app's Python source:
    any edit to the sandbox's code (a log message) then changed the kit's cases for the same seed.
    The kit turns that off."""
    from huskyvoice_contract_kit.schemas import build_schema
    from huskyvoice_contract_kit.target import Target
    from huskyvoice_sandbox.spec.contract import Contract
    from schemathesis.python._constants.orchestrator import make_constants_value_source

    contract = Contract()
    schema = build_schema(Target.build(None, None, None, False, [], contract=contract), 1, 1, contract)
    assert schema.app is not None
    assert make_constants_value_source(schema) is None


def test_the_stateful_run_is_the_same_for_the_same_seed_and_books_what_is_offered(tmp_path: Path) -> None:
    """The same seed twice, on the sandbox in process, in processes whose string hashes differ:
    the same requests in the same order, with the same bodies, and every create one window's
    offer, as offered. No example database is kept."""
    from huskyvoice_sandbox import create_app

    client = create_app().test_client()
    offers = offered(lambda path: client.get(path, headers={"Authorization": "Bearer sk_test_demo_read"}).get_json())
    runs = []
    for hashes in ("1", "2"):
        record = tmp_path / f"requests-{hashes}.jsonl"
        run = kit("-p", "proxy", "--examples", "6", "-k", "stateful", cwd=tmp_path,
                  env={"PYTHONHASHSEED": hashes, "PYTHONPATH": str(TESTS), "HUSKYVOICE_KIT_RECORD": str(record)})
        assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
        runs.append([json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()])
    assert len(runs[0]) > 50
    assert runs[0] == runs[1], next(pair for pair in zip(runs[0], runs[1], strict=False) if pair[0] != pair[1])
    creates = [(r["status"], json.loads(r["body"])) for r in runs[0]
               if (r["method"], r["uri"]) == ("POST", "/v1/appointments") and r["status"] != 401]
    assert creates
    for status, body in creates:  # booked, or refused for a documented conflict; never outside availability
        assert fits(body, offers, body.get("branch_id"), body.get("appointment_type")), body
        assert status in (201, 409), (status, body)
    assert not (tmp_path / ".hypothesis" / "examples").exists()
