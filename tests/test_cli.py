"""The `huskyvoice-sandbox` command, run as users run it: real processes, real ports.

Servers are started with `--port 0` and the URL is read from the banner they print, so these
tests also check that the banner tells the truth. Every server is stopped, every wait bounded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from huskyvoice_sandbox import __version__
from huskyvoice_sandbox.resources import default_world_path

from helpers import DOCUMENTED_BODY, DOCUMENTED_RESPONSE, SMALL_WORLD

START_TIMEOUT = 30.0
RUN_TIMEOUT = 60.0
DOC_ID = "appt_a1b2c3d4e5"
DEMO_KEYS = ["YOUR_API_KEY", "sk_test_demo_write", "sk_test_demo_read", "sk_test_demo_calls",
             "sk_test_other_write"]

# The request on the "Updating Appointments" page, verbatim.
DOCUMENTED_CURL = r"""curl -s -X PATCH https://api.huskyvoice.ai/v1/appointments/appt_a1b2c3d4e5 \
-H "Authorization: Bearer YOUR_API_KEY" \
-H "Content-Type: application/json" \
-d '{
"assigned_doctor": "Dr. Priya Sharma",
"notes": "Patient requested morning slot"
}'"""
DOCUMENTED_HOST = "https://api.huskyvoice.ai"



def cli() -> list[str]:
    script = shutil.which("huskyvoice-sandbox")
    return [script] if script else [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the variables `serve` and `health` read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUSKYVOICE_SANDBOX_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli() + list(args), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, env=kwargs.pop("env", clean_env()), **kwargs)


def bad_world_file(directory: Path) -> tuple[Path, list[str]]:
    """A world with three problems of three kinds, and the lines that must locate them."""
    document = yaml.safe_load(json.dumps(SMALL_WORLD))
    org = document["organizations"][0]
    org["appointments"][0]["branch_id"] = "x"
    org["calendar_windows"][0]["ai_slots"] = 9
    org["services"][0]["colour"] = "red"
    document["organizations"].append(dict(org, id="org_second", appointments=[],
                                          timezone="Nowhere/Land", services=[], api_keys=[],
                                          calendar_windows=[]))
    path = directory / "bad-world.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path, ["organizations[0].services[0]: unknown field 'colour'",
                  "organizations[1].timezone: unknown timezone 'Nowhere/Land'"]


def bad_world_refs(directory: Path) -> tuple[Path, list[str]]:
    """A schema-valid world with reference and rule problems in one organization."""
    document = json.loads(json.dumps(SMALL_WORLD))
    org = document["organizations"][0]
    org["appointments"][0]["branch_id"] = "x"
    org["calendar_windows"][0]["ai_slots"] = 9
    path = directory / "bad-refs.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path, ["organizations[0].calendar_windows[0].ai_slots: ai_slots (9) exceeds max_slots (2)",
                  "organizations[0].appointments[0].branch_id: unknown branch 'x'"]


# -- a served process -------------------------------------------------------------------------

class Served:
    """`huskyvoice-sandbox serve --port 0 ...`, its output collected by two reader threads."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            cli() + ["serve", "--port", "0", *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env or clean_env())
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.process.stdout, self.stdout),
                                               (self.process.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()
        self.url = self._wait_for_url()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for line in list(self.stdout):
                found = re.search(r"(http://[\w.\[\]:-]+?:\d+)/v1/", line)
                if found:
                    return found.group(1)
            if self.process.poll() is not None:
                self.stop()
                raise AssertionError(f"serve exited {self.process.returncode}:\n"
                                     + "\n".join(self.stdout + self.stderr))
            time.sleep(0.05)
        self.stop()
        raise AssertionError("serve printed no URL in time:\n" + "\n".join(self.stdout + self.stderr))

    def wait_for_stderr(self, predicate: Callable[[list[str]], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not predicate(list(self.stderr)):
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None and not stream.closed:
                stream.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Served:
        server = Served(*args, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# -- validate ---------------------------------------------------------------------------------

def test_validate_good_files(tmp_path) -> None:
    json_world = tmp_path / "small.json"
    json_world.write_text(json.dumps(SMALL_WORLD, indent=2), encoding="utf-8")
    result = run("validate", str(default_world_path()), str(json_world))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{default_world_path()}: ok (2 organizations, 10 appointments)",
        f"{json_world}: ok (1 organizations, 1 appointments)",
    ]


def test_validate_bad_file_prints_every_located_problem(tmp_path) -> None:
    path, expected = bad_world_refs(tmp_path)
    result = run("validate", str(path))
    assert result.returncode == 1
    assert "ok" not in result.stdout
    lines = result.stderr.splitlines()
    assert lines[0] == f"{path}: the world has 2 problems; nothing was loaded"
    assert sorted(line.strip() for line in lines[1:3]) == sorted(expected)
    assert lines[-1] == "1 of 1 world files have problems"


def test_validate_several_paths_reports_each(tmp_path) -> None:
    refs, ref_problems = bad_world_refs(tmp_path)
    schema, schema_problems = bad_world_file(tmp_path)
    missing = tmp_path / "missing.yaml"
    result = run("validate", str(default_world_path()), str(refs), str(schema), str(missing))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{default_world_path()}: ok (2 organizations, 10 appointments)"]
    for expected in ref_problems + schema_problems:
        assert any(line.strip().startswith(expected) for line in result.stderr.splitlines()), \
            (expected, result.stderr)
    assert f"{missing}: the world has 1 problem" in result.stderr
    assert "  file: " in result.stderr
    assert result.stderr.splitlines()[-1] == "3 of 4 world files have problems"


def test_validate_reports_yaml_syntax_errors_by_line(tmp_path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\norganizations:\n  - id: org_a\n    name: Clinic: Main\n",
                    encoding="utf-8")
    result = run("validate", str(path))
    assert result.returncode == 1
    assert re.search(r"^  line 4, column \d+: not valid YAML", result.stderr, re.M), result.stderr


def test_validate_needs_a_path() -> None:
    result = run("validate")
    assert result.returncode != 0
    assert "PATHS" in result.stderr


# -- serve ------------------------------------------------------------------------------------

@pytest.mark.live
def test_serve_prints_the_url_and_the_demo_keys_and_serves(serve, checked_http) -> None:
    server = serve()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url) and not server.url.endswith(":0")
    banner = "\n".join(server.stdout)
    assert f"{server.url}/v1/appointments/" in banner
    for key in DEMO_KEYS:
        assert re.search(rf"^\s+{re.escape(key)}\s", banner, re.M), (key, banner)
    response = checked_http("GET", f"{server.url}/v1/appointments/{DOC_ID}",
                            headers={"Authorization": "Bearer sk_test_demo_read"})
    assert response.status_code == 200
    assert response.json()["data"]["appointment_id"] == DOC_ID
    health = checked_http("GET", f"{server.url}/_sandbox/health")
    assert health.status_code == 200 and health.json()["data"]["status"] == "ok"
    spec = checked_http("GET", f"{server.url}/openapi.yaml")
    assert spec.status_code == 200 and "openapi:" in spec.text


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
@pytest.mark.skipif(not shutil.which("sh"), reason="no POSIX shell to run the documented command")
@pytest.mark.live
def test_documented_curl_prints_the_documented_response(serve) -> None:
    server = serve()
    command = DOCUMENTED_CURL.replace(DOCUMENTED_HOST, server.url)
    assert command.count(server.url) == 1
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                            timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stderr
    expected = json.loads(DOCUMENTED_RESPONSE)
    printed = json.loads(result.stdout)
    assert printed == expected
    assert list(printed["data"]) == list(expected["data"])


@pytest.mark.live
def test_documented_request_with_requests_gets_the_documented_response(serve, checked_http) -> None:
    server = serve()
    response = checked_http(
        "PATCH", f"{server.url}/v1/appointments/{DOC_ID}",
        headers={"Authorization": "Bearer YOUR_API_KEY", "Content-Type": "application/json"},
        data=DOCUMENTED_BODY.encode("utf-8"))
    assert response.status_code == 200
    expected = json.loads(DOCUMENTED_RESPONSE)
    assert response.json() == expected
    assert list(response.json()["data"]) == list(expected["data"])
    # the notes were stored, though the documented object does not show them
    world = checked_http("GET", f"{server.url}/_sandbox/world").json()["data"]
    stored = next(a for a in world["organizations"][0]["appointments"] if a["appointment_id"] == DOC_ID)
    assert stored["notes"] == "Patient requested morning slot"


def test_documented_texts_here_match_the_reference_page(request) -> None:
    page = request.config.rootpath.parent / "shared" / "reference" / "updating-appointments.txt"
    if not page.is_file():
        pytest.skip(f"no reference page at {page}")
    text = page.read_text(encoding="utf-8")
    assert DOCUMENTED_CURL in text
    assert DOCUMENTED_RESPONSE in text


@pytest.mark.live
def test_serve_logs_each_request_in_one_line_on_stderr(serve, checked_http) -> None:
    server = serve()
    checked_http("PATCH", f"{server.url}/v1/appointments/{DOC_ID}",
                 headers={"Authorization": "Bearer sk_test_demo_write"}, json={"notes": "x"})
    checked_http("GET", f"{server.url}/v1/appointments/{DOC_ID}")
    checked_http("GET", f"{server.url}/no/such/path")
    checked_http("GET", f"{server.url}/_sandbox/health")
    expected = [
        r'"PATCH /v1/appointments/appt_a1b2c3d4e5" 200 ',
        r'"GET /v1/appointments/appt_a1b2c3d4e5" 401 UNAUTHORIZED ',
        r'"GET /no/such/path" 404 NOT_FOUND ',
        r'"GET /_sandbox/health" 200 ',
    ]
    request_line = re.compile(r'"(GET|PATCH|PUT|POST|DELETE|HEAD|OPTIONS) /')
    server.wait_for_stderr(lambda lines: len([x for x in lines if request_line.search(x)]) >= 4)
    logged = [line for line in server.stderr if request_line.search(line)]
    assert len(logged) == 4, server.stderr
    for pattern, line in zip(expected, logged, strict=True):
        assert re.search(pattern, line), (pattern, line)
        assert "127.0.0.1" in line


@pytest.mark.live
def test_serve_bad_world_exits_with_the_problems(tmp_path) -> None:
    path, expected = bad_world_refs(tmp_path)
    result = run("serve", "--port", "0", "--fixtures", str(path))
    assert result.returncode != 0
    assert "http://" not in result.stdout
    for problem in expected:
        assert f"  {problem}" in result.stderr.splitlines(), result.stderr
    assert "error: the world was refused" in result.stderr


@pytest.mark.live
def test_serve_missing_world_file_exits_with_a_clear_message(tmp_path) -> None:
    result = run("serve", "--port", "0", "--fixtures", str(tmp_path / "absent.yaml"))
    assert result.returncode != 0
    assert "http://" not in result.stdout
    assert "absent.yaml" in result.stderr and "error:" in result.stderr


@pytest.mark.live
def test_serve_on_a_busy_port_exits_with_a_clear_message() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run("serve", "--host", "127.0.0.1", "--port", str(port))
    assert result.returncode != 0
    assert "http://" not in result.stdout
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr


@pytest.mark.live
def test_serve_fixtures_serves_that_world(serve, checked_http, tmp_path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL_WORLD), encoding="utf-8")
    server = serve("--fixtures", str(path))
    banner = "\n".join(server.stdout)
    assert str(path) in banner and "sk_test_small" in banner and "YOUR_API_KEY" not in banner
    small = checked_http("GET", f"{server.url}/v1/appointments/appt_small_1",
                         headers={"Authorization": "Bearer sk_test_small"})
    assert small.status_code == 200 and small.json()["data"]["patient_name"] == "Sam"
    default = checked_http("GET", f"{server.url}/v1/appointments/{DOC_ID}",
                           headers={"Authorization": "Bearer YOUR_API_KEY"})
    assert default.status_code == 401
    clock = checked_http("GET", f"{server.url}/_sandbox/clock").json()["data"]
    assert clock == {"now": "2026-07-01T08:00:00.000Z", "frozen": True}


@pytest.mark.live
def test_serve_fixtures_accepts_a_json_world(serve, checked_http, tmp_path) -> None:
    path = tmp_path / "small.json"
    path.write_text(json.dumps(SMALL_WORLD), encoding="utf-8")
    server = serve("--fixtures", str(path))
    response = checked_http("GET", f"{server.url}/v1/appointments/appt_small_1",
                            headers={"Authorization": "Bearer sk_test_small"})
    assert response.status_code == 200


@pytest.mark.live
def test_serve_admin_token_guards_the_control_api(serve, checked_http) -> None:
    server = serve("--admin-token", "s3cret-token")
    assert "admin token required" in "\n".join(server.stdout)
    refused = checked_http("GET", f"{server.url}/_sandbox/health")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    wrong = checked_http("POST", f"{server.url}/_sandbox/reset",
                         headers={"X-Sandbox-Admin-Token": "s3cret"})
    assert wrong.status_code == 403
    allowed = checked_http("GET", f"{server.url}/_sandbox/health",
                           headers={"X-Sandbox-Admin-Token": "s3cret-token"})
    assert allowed.status_code == 200
    api = checked_http("GET", f"{server.url}/v1/appointments/{DOC_ID}",
                       headers={"Authorization": "Bearer YOUR_API_KEY"})
    assert api.status_code == 200


@pytest.mark.live
def test_serve_admin_token_from_the_environment(serve, checked_http) -> None:
    server = serve(env=clean_env(HUSKYVOICE_SANDBOX_ADMIN_TOKEN="from-env"))
    assert checked_http("GET", f"{server.url}/_sandbox/health").status_code == 403
    assert checked_http("GET", f"{server.url}/_sandbox/health",
                        headers={"X-Sandbox-Admin-Token": "from-env"}).status_code == 200


@pytest.mark.live
def test_serve_without_admin_token_serves_loopback_control(serve, checked_http) -> None:
    server = serve()
    assert "loopback clients only" in "\n".join(server.stdout)
    assert checked_http("POST", f"{server.url}/_sandbox/reset").status_code == 200


@pytest.mark.live
def test_serve_control_from_is_in_the_banner(serve, checked_http) -> None:
    server = serve("--control-from", "10.88.0.0/16,172.17.0.1")
    banner = "\n".join(server.stdout)
    assert "/_sandbox/ (loopback clients and 10.88.0.0/16, 172.17.0.1/32)" in banner
    assert checked_http("POST", f"{server.url}/_sandbox/reset").status_code == 200  # loopback still


@pytest.mark.parametrize("value", ["localhost", "10.0.0.0/40"])
def test_serve_refuses_a_bad_control_from_before_loading_anything(value) -> None:
    result = run("serve", "--port", "0", "--control-from", value)
    assert result.returncode == 2
    assert f"Invalid value for '--control-from': {value!r} is not an address, a network" in result.stderr
    assert "serving" not in result.stdout


@pytest.mark.live
def test_serve_takes_every_option_from_the_environment(serve, checked_http, tmp_path) -> None:
    """What a container image or a compose file sets: world, watch, quiet, log stream, control."""
    world = tmp_path / "small.yaml"
    world.write_text(yaml.safe_dump(SMALL_WORLD), encoding="utf-8")
    server = serve(env=clean_env(HUSKYVOICE_SANDBOX_WORLD=str(world), HUSKYVOICE_SANDBOX_WATCH="1",
                                 HUSKYVOICE_SANDBOX_CONTROL_FROM="any", HUSKYVOICE_SANDBOX_LOG_STREAM="stdout",
                                 HUSKYVOICE_SANDBOX_THREADS="2"))
    banner = "\n".join(server.stdout)
    assert f"serving {world}" in banner and f"watching     {world}" in banner
    assert "/_sandbox/ (any client)" in banner
    response = checked_http("GET", f"{server.url}/v1/appointments/appt_small_1",
                            headers={"Authorization": "Bearer sk_test_small"})
    assert response.status_code == 200
    deadline = time.monotonic() + 10  # the access log, on stdout as asked
    while not any('"GET /v1/appointments/appt_small_1" 200' in line for line in server.stdout):
        assert time.monotonic() < deadline, server.stdout
        time.sleep(0.05)
    assert not any("appt_small_1" in line for line in server.stderr)
    quiet = serve(env=clean_env(HUSKYVOICE_SANDBOX_QUIET="true"))
    checked_http("GET", f"{quiet.url}/v1/appointments/{DOC_ID}", headers={"Authorization": "Bearer YOUR_API_KEY"})
    quiet.stop()
    assert not any(f"GET /v1/appointments/{DOC_ID}" in line for line in quiet.stdout + quiet.stderr)


@pytest.mark.live
def test_serve_stops_on_sigterm_at_once_even_while_a_forced_delay_holds_a_request(serve, checked_http) -> None:
    """A container engine stops its PID 1 with SIGTERM and kills it 10 s later; the sandbox
    must stop well before (the image promises 2 s), ending a forced delay under way."""
    server = serve()
    rule = checked_http("POST", f"{server.url}/_sandbox/forced-responses", json={"delay_ms": 60_000})
    assert rule.status_code == 201
    held: dict[str, Any] = {}

    def slow_request() -> None:
        try:
            held["status"] = checked_http("GET", f"{server.url}/v1/appointments/{DOC_ID}",
                                          headers={"Authorization": "Bearer YOUR_API_KEY"}).status_code
        except Exception as exc:  # noqa: BLE001 - whatever the client sees is recorded
            held["error"] = exc

    client = threading.Thread(target=slow_request)
    client.start()
    deadline = time.monotonic() + 10
    while checked_http("GET", f"{server.url}/_sandbox/forced-responses").json()["data"]:
        assert time.monotonic() < deadline  # the rule is taken: the request is being held
        time.sleep(0.02)
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    assert server.process.wait(timeout=10) == 0
    stopped_after = time.monotonic() - signalled
    client.join(timeout=10)
    assert stopped_after < 2.0, f"took {stopped_after:.2f} s to stop"
    assert held == {"status": 200}  # the delay ended early and the answer was sent first
    server.stop()
    assert server.stdout[-1] == "stopped (SIGTERM)"


@pytest.mark.live
def test_serve_stops_on_ctrl_c(serve) -> None:
    server = serve()
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=10) == 0
    server.stop()
    assert server.stdout[-1] == "stopped (SIGINT)"


# -- health: the container's HEALTHCHECK --------------------------------------------------------

@pytest.mark.live
def test_health_says_healthy_and_exits_0(serve) -> None:
    server = serve()
    port = server.url.rsplit(":", 1)[1]
    for args, env in ((["--url", server.url], clean_env()), ([], clean_env(HUSKYVOICE_SANDBOX_PORT=port))):
        result = run("health", *args, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == (f"healthy: {server.url}: huskyvoice-sandbox {__version__}, "
                                 "10 appointments in the default session\n")
    server.stop()
    # Its checks stay out of the access log: a container runs one every few seconds.
    assert not any("/_sandbox/health" in line for line in server.stderr), server.stderr


@pytest.mark.live
def test_health_with_an_admin_token(serve) -> None:
    server = serve("--admin-token", "s3cret")
    refused = run("health", "--url", server.url)
    assert (refused.returncode, refused.stderr) == (1, f"unhealthy: {server.url}: 403 FORBIDDEN\n")
    from_env = run("health", "--url", server.url, env=clean_env(HUSKYVOICE_SANDBOX_ADMIN_TOKEN="s3cret"))
    assert from_env.returncode == 0, from_env.stderr


def test_health_of_something_that_is_not_http_exits_1_saying_why() -> None:
    with socket.socket() as garbage:
        garbage.bind(("127.0.0.1", 0))
        garbage.listen(1)
        port = garbage.getsockname()[1]

        def answer() -> None:
            connection, _ = garbage.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"SSH-2.0-OpenSSH\r\n")

        threading.Thread(target=answer, daemon=True).start()
        result = run("health", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == (f"unhealthy: http://127.0.0.1:{port}: the answer is not HTTP "
                             "(BadStatusLine: 'SSH-2.0-OpenSSH')\n")


def test_health_of_nothing_exits_1_saying_why() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("health", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == f"unhealthy: http://127.0.0.1:{port}: Connection refused\n"


@pytest.mark.live
def test_serve_fixtures_serves_a_packaged_scenario(serve, checked_http) -> None:
    from huskyvoice_sandbox.resources import scenarios_dir
    from huskyvoice_sandbox.worlds.world import load_world_file

    scenarios = sorted(scenarios_dir().glob("*.yaml")) if scenarios_dir().is_dir() else []
    if not scenarios:
        pytest.skip("no scenario worlds in fixtures/scenarios")
    path = scenarios[0]
    world = load_world_file(path)
    server = serve("--fixtures", str(path))
    assert str(path) in "\n".join(server.stdout)
    health = checked_http("GET", f"{server.url}/_sandbox/health").json()["data"]
    assert (health["organizations"], health["appointments"]) == \
        (len(world.organizations), len(world.appointments))
    served = checked_http("GET", f"{server.url}/_sandbox/world").json()["data"]
    assert [o["id"] for o in served["organizations"]] == [o.id for o in world.organizations]


# -- init, and --world ------------------------------------------------------------------------------

def test_init_writes_a_commented_starter_world_that_validates(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    written = run("init", str(path))
    assert written.returncode == 0, written.stderr
    assert f"huskyvoice-sandbox serve --world {path} --watch" in written.stdout
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#") and text.count("#") > 10  # commented, to be edited
    checked = run("validate", str(path))
    assert checked.returncode == 0 and "ok (1 organizations, 1 appointments)" in checked.stdout


def test_init_does_not_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text("mine", encoding="utf-8")
    refused = run("init", str(path))
    assert refused.returncode == 1 and "exists" in refused.stderr
    assert path.read_text(encoding="utf-8") == "mine"
    assert run("init", str(path), "--force").returncode == 0
    assert path.read_text(encoding="utf-8").startswith("# A starter world")


@pytest.mark.live
@pytest.mark.parametrize("option", ["--world", "--fixtures"])
def test_serve_takes_the_world_as_world_or_fixtures(serve, checked_http, tmp_path, option) -> None:
    path = tmp_path / "small.json"
    path.write_text(json.dumps(SMALL_WORLD), encoding="utf-8")
    server = serve(option, str(path))
    response = checked_http("GET", f"{server.url}/v1/appointments/appt_small_1",
                            headers={"Authorization": "Bearer sk_test_small"})
    assert response.status_code == 200


@pytest.mark.parametrize("text, words", [
    ("", "the document is empty"), ("- a\n- b\n", "the document is a list, not a mapping"),
    ("just words\n", "the document is a single string, not a mapping"),
])
def test_a_world_that_is_not_a_mapping_is_told_in_a_sentence(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(text, encoding="utf-8")
    checked = run("validate", str(path))
    assert checked.returncode == 1
    assert f"document: {words}" in checked.stderr and "huskyvoice-sandbox init" in checked.stderr
    assert "None is not of type" not in checked.stderr
