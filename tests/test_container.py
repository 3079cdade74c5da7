"""The container image and the compose file, built from this checkout and run as users run them:
through published ports, from the host (issue 20; docs/docker.md).

Needs a container engine: podman (what CI installs, with `.ci/containers` making the base images
no registry here can give) or docker. Without one the module is skipped, unless
HUSKYVOICE_REQUIRE_TOOLS=1 (set by .ci/run), which fails it instead. Every container is removed,
every wait bounded. The figures the issue asks for (build time, size, first answer, stop) are
printed at the end of the module (`pytest -s` or the captured output of a failure shows them).
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
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from huskyvoice_sandbox.spec.contract import Contract
from huskyvoice_sandbox.testing.pytest_plugin import SandboxControlError, ServedSandbox

from helpers import (
    DOC_ID,
    DOC_KEY,
    DOCUMENTED_BODY,
    DOCUMENTED_RESPONSE,
    SMALL_WORLD,
    WRITE_KEY,
    check_response,
    free_port,
)

ROOT = Path(__file__).parents[1]
IMAGE = "huskyvoice-sandbox"  # the README's tag, and compose.yaml's image
MAX_GROWTH_BYTES = 80_000_000  # the image adds at most 80 MB to its base
STOP_WITHIN_SECONDS = 2.0
START_TIMEOUT = 60.0

pytestmark = [pytest.mark.container, pytest.mark.live, pytest.mark.xdist_group("container"),
              pytest.mark.skipif(not (ROOT / "Dockerfile").is_file(), reason="not run from a checkout")]

SMALL_KEY = {"Authorization": "Bearer sk_test_small"}
FIGURES: dict[str, str] = {}  # what the closing report of issue 20 gives


# -- the engine and the image -------------------------------------------------------------------

def _unavailable(reason: str) -> None:
    if os.environ.get("HUSKYVOICE_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason} (HUSKYVOICE_REQUIRE_TOOLS=1: run .ci/containers to install podman and "
                    "make the base images)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Engine:
    path: str

    @property
    def podman(self) -> bool:
        return Path(self.path).name == "podman"

    def __call__(self, *args: str, timeout: float = 120, check: bool = True,
                 **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([self.path, *args], capture_output=True, text=True, timeout=timeout, **kwargs)
        if check and result.returncode != 0:
            raise AssertionError(f"{Path(self.path).name} {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{_without_noise(result.stderr)}")
        return result

    def size(self, image: str) -> int:
        return int(self("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


def _without_noise(text: str) -> str:
    """podman without systemd says, on every run of an image with a HEALTHCHECK, that it cannot
    schedule the checks (tests run them with `podman healthcheck run`)."""
    return "\n".join(line for line in text.splitlines() if "systemd" not in line)


def base_image() -> str:
    """The image the Dockerfile builds from (its PYTHON_IMAGE argument), as podman names it."""
    found = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert found, "the Dockerfile names its base image in ARG PYTHON_IMAGE"
    name = found.group(1)
    return name if "/" in name else f"docker.io/library/{name}"


@pytest.fixture(scope="module")
def engine() -> Engine:
    path = os.environ.get("HUSKYVOICE_CONTAINER_ENGINE") or shutil.which("podman") or shutil.which("docker")
    if path is None:
        _unavailable("no container engine (podman or docker) is installed")
    found = Engine(str(path))
    if found("info", check=False, timeout=60).returncode != 0:
        _unavailable(f"{path} info fails: no usable container engine")
    if found("image", "inspect", base_image(), check=False).returncode != 0:
        _unavailable(f"the base image {base_image()} is not here, and no registry can be reached")
    return found


@pytest.fixture(scope="module")
def image(engine: Engine) -> str:
    """The image, built from this checkout as the README says (podman: in Docker's format, which
    keeps the HEALTHCHECK; --pull=never: the base image is the local one)."""
    flags = ["--format", "docker", "--pull=never"] if engine.podman else []
    started = time.monotonic()
    engine("build", *flags, "-t", IMAGE, str(ROOT), timeout=900)
    FIGURES["build"] = f"{time.monotonic() - started:.1f} s (layers cached from earlier builds are reused)"
    return IMAGE


# -- running containers -------------------------------------------------------------------------

@dataclass
class Container:
    engine: Engine
    name: str
    port: int
    started: float
    first_answer: float | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> tuple[str, str]:
        """What the container wrote on stdout and on stderr."""
        result = self.engine("logs", self.name, check=False)
        return result.stdout, result.stderr

    def wait_until_answering(self, path: str = "/openapi.yaml") -> float:
        """Seconds from `run` to the first HTTP answer."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + path, timeout=2)
                self.first_answer = time.monotonic() - self.started
                return self.first_answer
            except requests.ConnectionError:
                state = self.engine("inspect", "--format", "{{.State.Status}}", self.name, check=False).stdout
                if state.strip() in ("exited", "stopped"):
                    out, err = self.logs()
                    raise AssertionError(f"the container exited:\n{out}\n{err}") from None
                time.sleep(0.05)
        raise AssertionError(f"no answer from {self.url} within {START_TIMEOUT} s:\n{self.logs()}")

    def exit_code(self) -> int:
        return int(self.engine("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip())

    def python(self, code: str) -> str:
        """Python run inside the container (its own loopback: what the host cannot reach)."""
        return self.engine("exec", self.name, "python", "-c", code).stdout


@pytest.fixture
def run(engine: Engine, image: str) -> Iterator[Callable[..., Container]]:
    """run(*engine_options, command=[...]) -> a started container, its port (8080 unless
    `inside` says otherwise) published on a free port of the host's loopback."""
    started: list[Container] = []

    def start(*options: str, command: tuple[str, ...] = (), inside: int = 8080) -> Container:
        name = f"hv-test-{uuid.uuid4().hex[:10]}"
        port = free_port()
        began = time.monotonic()
        engine("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:{inside}", *options, image, *command)
        container = Container(engine, name, port, began)
        started.append(container)
        container.wait_until_answering()
        return container

    yield start
    for container in started:
        engine("rm", "--force", "--time", "0", container.name, check=False)


@pytest.fixture
def http(contract: Contract) -> Callable[..., requests.Response]:
    """requests, every answer checked against openapi.yaml (or the control API's spec)."""

    def send(method: str, url: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, url, timeout=15, **kwargs)
        path = re.sub(r"^https?://[^/]+", "", response.request.path_url.split("?")[0])
        check_response(contract, method, path, response.status_code, response.headers, response.content)
        return response

    return send


def documented_patch(http: Callable[..., requests.Response], base: str) -> requests.Response:
    """The request on the "Updating Appointments" page, verbatim but for the host."""
    return http("PATCH", f"{base}/v1/appointments/{DOC_ID}", data=DOCUMENTED_BODY,
                headers={"Authorization": f"Bearer {DOC_KEY}", "Content-Type": "application/json"})


# -- the image ----------------------------------------------------------------------------------

def test_the_image_is_small_unprivileged_and_describes_itself(engine: Engine, image: str) -> None:
    growth = engine.size(image) - engine.size(base_image())
    FIGURES["size"] = (f"{engine.size(image) / 1e6:.1f} MB, {growth / 1e6:.1f} MB ({growth / 2**20:.1f} MiB) "
                       f"over its base {base_image()}")
    assert growth <= MAX_GROWTH_BYTES, FIGURES["size"]
    config = json.loads(engine("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "sandbox"
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Entrypoint"] == ["huskyvoice-sandbox"] and config["Cmd"] == ["serve"]
    inspected = json.loads(engine("image", "inspect", image).stdout)[0]
    healthcheck = inspected.get("Healthcheck") or config.get("Healthcheck")  # podman's place, docker's
    assert healthcheck["Test"] == ["CMD", "huskyvoice-sandbox", "health"]
    uid = engine("run", "--rm", "--entrypoint", "id", image, "-u").stdout.strip()
    assert uid == "10001"  # not root
    assert engine("run", "--rm", image, "--version").stdout.strip() == "huskyvoice-sandbox, version 0.1.0"


def test_the_documented_curl_answers_through_a_published_port(run, http) -> None:
    container = run()
    FIGURES["first answer"] = f"{container.first_answer:.2f} s from `run` (default world)"
    response = documented_patch(http, container.url)
    assert response.status_code == 200
    assert response.json() == json.loads(DOCUMENTED_RESPONSE)
    curl = subprocess.run(["curl", "-s", "-X", "PATCH", f"{container.url}/v1/appointments/{DOC_ID}",
                           "-H", "Authorization: Bearer YOUR_API_KEY", "-H", "Content-Type: application/json",
                           "-d", DOCUMENTED_BODY], capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(curl.stdout) == json.loads(DOCUMENTED_RESPONSE)


def test_the_health_check_follows_the_servers_settings(run, engine: Engine) -> None:
    plain = run()
    healthy = engine("healthcheck", "run", plain.name, check=False)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    # Another port and an admin token, set as the image documents: the check follows both.
    moved = run("-e", "HUSKYVOICE_SANDBOX_ADMIN_TOKEN=s3cret", "-e", "HUSKYVOICE_SANDBOX_PORT=9090", inside=9090)
    assert engine("healthcheck", "run", moved.name, check=False).returncode == 0
    # Nothing on the port asked: unhealthy, saying why.
    broken = engine("exec", plain.name, "huskyvoice-sandbox", "health", "--port", "9", check=False)
    assert broken.returncode == 1
    assert broken.stderr.strip().endswith("unhealthy: http://127.0.0.1:9: Connection refused")
    # The checks do not fill the access log.
    out, _ = plain.logs()
    assert "/_sandbox/health" not in out


def test_logs_go_to_stdout(run, http) -> None:
    container = run()
    assert http("GET", f"{container.url}/v1/appointments/{DOC_ID}",
                headers={"Authorization": f"Bearer {DOC_KEY}"}).status_code == 200
    deadline = time.monotonic() + 10
    while f'"GET /v1/appointments/{DOC_ID}" 200' not in container.logs()[0]:
        assert time.monotonic() < deadline, container.logs()
        time.sleep(0.1)
    out, err = container.logs()
    assert "huskyvoice-sandbox 0.1.0 serving" in out
    assert _without_noise(err).strip() == ""


def test_a_mounted_world_is_served_and_reloaded_when_it_changes(run, http, tmp_path: Path) -> None:
    worlds = tmp_path / "worlds"
    worlds.mkdir()
    worlds.chmod(0o755)  # the image's user (uid 10001) reads it
    path = worlds / "world.yaml"
    path.write_text(yaml.safe_dump(SMALL_WORLD), encoding="utf-8")
    path.chmod(0o644)
    container = run("-v", f"{worlds}:/worlds:ro",
                    command=("serve", "--world", "/worlds/world.yaml", "--watch"))
    url = f"{container.url}/v1/appointments/appt_small_1"
    assert http("GET", url, headers=SMALL_KEY).json()["data"]["patient_name"] == "Sam"
    # An editor's save: a new file renamed over the old one (a single-file mount would miss it).
    changed = json.loads(json.dumps(SMALL_WORLD))
    changed["organizations"][0]["appointments"][0]["patient_name"] = "Samira"
    replacement = worlds / "world.yaml.tmp"
    replacement.write_text(yaml.safe_dump(changed), encoding="utf-8")
    replacement.chmod(0o644)
    replacement.replace(path)
    _wait_for(lambda: http("GET", url, headers=SMALL_KEY).json()["data"]["patient_name"] == "Samira",
              "the changed world to be served")
    # A version with a problem is reported, located, and the last good world stays served.
    path.write_text(yaml.safe_dump(changed).replace("ai_slots: 1", "ai_slots: 9"), encoding="utf-8")
    _wait_for(lambda: "ai_slots (9) exceeds max_slots (2)" in container.logs()[0], "the problem to be logged")
    assert http("GET", url, headers=SMALL_KEY).json()["data"]["patient_name"] == "Samira"
    assert "kept the previous world" in container.logs()[0]


# -- the control API from the host ----------------------------------------------------------------

def test_the_control_api_is_closed_to_the_host_unless_opened(run, http) -> None:
    container = run()
    assert documented_patch(http, container.url).status_code == 200
    for method, path in (("POST", "/_sandbox/reset"), ("GET", "/_sandbox/world"), ("PUT", "/_sandbox/clock"),
                         ("POST", "/_sandbox/forced-responses"), ("GET", "/_sandbox/requests")):
        refused = http(method, container.url + path, json={})
        assert refused.status_code == 403, (method, path, refused.text)
        assert refused.json()["error"]["code"] == "FORBIDDEN"
        assert "--control-from" in refused.json()["error"]["message"]
    forced = http("GET", f"{container.url}/v1/appointments/{DOC_ID}",
                  headers={"Authorization": f"Bearer {DOC_KEY}", "X-Sandbox-Force": "status=500"})
    assert forced.status_code == 400  # a control feature too: refused, not honoured
    # Nothing was reset: the documented PATCH is still there.
    after = http("GET", f"{container.url}/v1/appointments/{DOC_ID}", headers={"Authorization": f"Bearer {DOC_KEY}"})
    assert after.json()["data"]["assigned_doctor"] == "Dr. Priya Sharma"


def test_control_from_any_gives_a_host_test_suite_the_whole_control_api(run, http, contract) -> None:
    """The README's one-line run, then what a test suite on the host does with the plugin's
    handle: reset, worlds, the clock, forced responses, snapshots, the journal."""
    container = run("-e", "HUSKYVOICE_SANDBOX_CONTROL_FROM=any")
    sandbox = ServedSandbox(container.url, contract, ROOT)
    assert documented_patch(http, container.url).status_code == 200
    sandbox.reset()
    assert sandbox.get_appointment(DOC_ID, key=WRITE_KEY).data["assigned_doctor"] is None
    assert sandbox.freeze_clock("2026-06-01T09:00:00Z") == "2026-06-01T09:00:00.000Z"
    sandbox.force(429, operation="getAppointment", headers={"Retry-After": 1})
    limited = http("GET", f"{container.url}/v1/appointments/{DOC_ID}", headers={"Authorization": f"Bearer {DOC_KEY}"})
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
    sandbox.force(drop=True)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{container.url}/v1/appointments/{DOC_ID}", headers={"Authorization": f"Bearer {DOC_KEY}"},
                     timeout=10)
    sandbox.assert_called("getAppointment", times=2, forced=True)
    sandbox.snapshot("before")
    sandbox.load_world(SMALL_WORLD)
    assert http("GET", f"{container.url}/v1/appointments/appt_small_1", headers=SMALL_KEY).status_code == 200
    sandbox.restore("before")
    assert http("GET", f"{container.url}/v1/appointments/{DOC_ID}",
                headers={"Authorization": f"Bearer {DOC_KEY}"}).status_code == 200


def test_an_admin_token_opens_the_control_api_to_its_holders_only(run, http, contract) -> None:
    container = run("-e", "HUSKYVOICE_SANDBOX_ADMIN_TOKEN=s3cret-t0ken")
    refused = http("POST", f"{container.url}/_sandbox/reset")
    assert refused.status_code == 403 and "admin token" in refused.json()["error"]["message"]
    with pytest.raises(SandboxControlError, match="403 FORBIDDEN"):
        ServedSandbox(container.url, contract, ROOT, admin_token="wrong").reset()
    holder = ServedSandbox(container.url, contract, ROOT, admin_token="s3cret-t0ken")
    assert holder.reset()["appointments"] == 10


# -- stopping -------------------------------------------------------------------------------------

def test_sigterm_stops_it_within_two_seconds_even_during_a_forced_delay(run, engine: Engine, contract) -> None:
    container = run("-e", "HUSKYVOICE_SANDBOX_CONTROL_FROM=any")
    sandbox = ServedSandbox(container.url, contract, ROOT)
    sandbox.force(operation="getAppointment", delay_ms=60_000)
    held = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "30",
                             f"{container.url}/v1/appointments/{DOC_ID}", "-H", f"Authorization: Bearer {DOC_KEY}"],
                            stdout=subprocess.PIPE, text=True)
    _wait_for(lambda: not sandbox.forced(), "the delayed request to arrive")
    began = time.monotonic()
    engine("stop", "--time", "10", container.name)  # SIGTERM, then SIGKILL after 10 s
    took = time.monotonic() - began
    FIGURES["stop"] = f"{took:.2f} s from `stop` (SIGTERM) to exit, with a request held by a forced delay"
    assert took < STOP_WITHIN_SECONDS, FIGURES["stop"]
    assert container.exit_code() == 0  # it exited by itself: not killed (137)
    assert held.communicate(timeout=30)[0] == "200"  # the held request was answered first
    assert container.logs()[0].rstrip().endswith("stopped (SIGTERM)")


# -- drift, from the image ------------------------------------------------------------------------

def test_drift_runs_from_the_image_against_the_served_container(run, engine: Engine, image: str) -> None:
    served = run()  # drift needs no control API: it treats the sandbox as a deployment
    drift = engine("run", "--rm", "--network", "host", "-e", "HUSKYVOICE_API_KEY", image, "drift",
                   "--base-url", served.url, "--no-rate-limit-probe", check=False, timeout=300,
                   env={**os.environ, "HUSKYVOICE_API_KEY": WRITE_KEY})
    assert drift.returncode == 0, drift.stdout + drift.stderr
    assert "no drift: the deployment answered every check as the sandbox did" in drift.stdout


# -- the README's commands, verbatim but for `docker` ------------------------------------------------

def readme_docker_commands() -> list[str]:
    """The commands of the README's Docker section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Docker\n"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"(?ms)^```sh[^\n]*\n(.*?)^```", section)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


@pytest.fixture
def port_8080() -> None:
    """The README publishes 8080: it must be free here."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", 8080)) == 0:
            _unavailable("port 8080 is in use; the README's commands publish it")


def test_the_readme_docker_commands_work_as_written_with_the_engine(engine: Engine, port_8080, http,
                                                                      tmp_path: Path) -> None:
    commands = [c.replace("docker ", f"{engine.path} ", 1) for c in readme_docker_commands()]
    build, plain, mounted, opened, kit, drift = commands
    assert build.endswith(" build -t huskyvoice-sandbox .") and "--network host" in kit and "drift" in drift
    # BUILDAH_FORMAT keeps the HEALTHCHECK under podman (its default format, OCI, has none), so
    # the image the other tests use stays whole; the command is the README's.
    environment = {**os.environ, "BUILDAH_FORMAT": "docker"}
    subprocess.run(build, shell=True, cwd=ROOT, check=True, capture_output=True, timeout=900, env=environment)
    with _foreground(plain, ROOT):
        assert documented_patch(http, "http://127.0.0.1:8080").json() == json.loads(DOCUMENTED_RESPONSE)
    (tmp_path / "worlds").mkdir(mode=0o755)
    subprocess.run([sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()",
                    "init", "worlds/world.yaml"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)
    (tmp_path / "worlds").chmod(0o755)
    (tmp_path / "worlds" / "world.yaml").chmod(0o644)
    starter = yaml.safe_load((tmp_path / "worlds" / "world.yaml").read_text(encoding="utf-8"))
    appointment = starter["organizations"][0]["appointments"][0]["appointment_id"]
    key = starter["organizations"][0]["api_keys"][0]["key"]
    with _foreground(mounted, tmp_path):
        assert http("GET", f"http://127.0.0.1:8080/v1/appointments/{appointment}",
                    headers={"Authorization": f"Bearer {key}"}).status_code == 200
    with _foreground(opened, ROOT):
        assert http("POST", "http://127.0.0.1:8080/_sandbox/reset").status_code == 200
        result = subprocess.run(kit, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-4000:]
        assert re.search(r"=+ \d+ passed", result.stdout), result.stdout[-2000:]


class _foreground:  # noqa: N801 - used as a context manager, like open()
    """A README command that runs in the foreground (`docker run --rm ...`), run until the block
    ends, then stopped with Ctrl+C as a user would (the engine passes it on). Its output goes to
    a file: a pipe nobody reads would fill and stall the server's access log."""

    def __init__(self, command: str, cwd: Path) -> None:
        self.output = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(command, shell=True, cwd=cwd, stdout=self.output,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def __enter__(self) -> subprocess.Popen[str]:
        _wait_for(lambda: _answers("http://127.0.0.1:8080") or self.process.poll() is not None,
                  "the README's container to answer", timeout=START_TIMEOUT)
        if self.process.poll() is not None:
            raise AssertionError(f"exited {self.process.returncode}: {self.text()}")
        return self.process

    def __exit__(self, *exc: Any) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if exc[0] is None:
            assert "stopped (SIGINT)" in self.text(), self.text()[-3000:]
        self.output.close()
        _wait_for(lambda: not _answers("http://127.0.0.1:8080"), "the README's container to stop")

    def text(self) -> str:
        self.output.seek(0)
        return _without_noise(self.output.read())


# -- compose: two processes behind HAProxy ---------------------------------------------------------

@pytest.fixture
def compose(engine: Engine, image: str) -> Iterator[tuple[str, str]]:
    """compose.yaml up (podman-compose), as (project, balancer URL); down afterwards."""
    tool = shutil.which("podman-compose") if engine.podman else None
    command = [tool] if tool else ([engine.path, "compose"] if not engine.podman else None)
    if command is None:
        _unavailable("podman-compose is not installed")
    assert command is not None
    project = f"hvtest{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {**os.environ, "HUSKYVOICE_SANDBOX_PUBLISH": f"127.0.0.1:{port}"}
    env.pop("HUSKYVOICE_SANDBOX_ADMIN_TOKEN", None)
    base = [*command, "-f", str(ROOT / "compose.yaml"), "-p", project]
    up = subprocess.run([*base, "up", "-d"], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield project, f"http://127.0.0.1:{port}"
    finally:
        subprocess.run([*base, "down"], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def _sessions_of(engine: Engine, container: str) -> set[str]:
    """The sessions one process holds, asked on its own loopback (the balancer picks otherwise)."""
    code = ("import json, urllib.request; print(json.dumps([s['name'] for s in json.load(urllib.request"
            ".urlopen('http://127.0.0.1:8080/_sandbox/sessions'))['data']['sessions']]))")
    return set(json.loads(engine("exec", container, "python", "-c", code).stdout))


def test_compose_serves_two_processes_behind_haproxy_with_sessions_kept_in_one(compose, engine: Engine,
                                                                              http) -> None:
    project, url = compose
    _wait_for(lambda: _answers(url), "the balancer to answer", timeout=START_TIMEOUT)
    response = documented_patch(http, url)
    assert response.status_code == 200 and response.json() == json.loads(DOCUMENTED_RESPONSE)
    jobs = [f"ci-job-{n}" for n in range(16)]
    for job in jobs:  # each job books its own patient, in its own session
        headers = {"Authorization": f"Bearer {WRITE_KEY}", "X-Sandbox-Session": job, "Connection": "close"}
        patched = http("PATCH", f"{url}/v1/appointments/{DOC_ID}", json={"assigned_doctor": job}, headers=headers)
        assert patched.status_code == 200
    for job in jobs:  # each reads its own state back, on a new connection every time
        for _ in range(3):
            headers = {"Authorization": f"Bearer {WRITE_KEY}", "X-Sandbox-Session": job, "Connection": "close"}
            read = http("GET", f"{url}/v1/appointments/{DOC_ID}", headers=headers)
            assert read.json()["data"]["assigned_doctor"] == job
    first = _sessions_of(engine, f"{project}_sandbox-1_1")
    second = _sessions_of(engine, f"{project}_sandbox-2_1")
    assert not (first & second) - {"default"}  # no session in both processes
    assert set(jobs) <= first | second
    assert set(jobs) & first and set(jobs) & second  # both processes serve sessions
    # The default session lives in the first process: the documented PATCH is there only.
    code = ("import json, urllib.request; r = urllib.request.Request('http://127.0.0.1:8080/v1/appointments/"
            f"{DOC_ID}', headers={{'Authorization': 'Bearer {WRITE_KEY}'}}); "
            "print(json.load(urllib.request.urlopen(r))['data']['assigned_doctor'])")
    doctors = [engine("exec", f"{project}_sandbox-{n}_1", "python", "-c", code).stdout.strip() for n in (1, 2)]
    assert doctors == ["Dr. Priya Sharma", "None"]
    # The control API through the balancer, from the host.
    assert http("POST", f"{url}/_sandbox/reset").status_code == 200


# -- Testcontainers: the image from a Python test suite --------------------------------------------

@pytest.fixture
def docker_api(engine: Engine, tmp_path_factory: pytest.TempPathFactory,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A Docker-compatible API for testcontainers: podman's, on a socket of this test's own, with
    the settings ../shared/reference/containers.md gives (no Ryuk image to pull, the host's
    ports). With docker, its own socket."""
    pytest.importorskip("testcontainers")
    from testcontainers.core.config import ConnectionMode, testcontainers_config

    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)  # Ryuk is an image to pull
    monkeypatch.setattr(testcontainers_config, "tc_host_override", "127.0.0.1")
    monkeypatch.setattr(testcontainers_config, "connection_mode_override", ConnectionMode.docker_host)
    if not engine.podman:
        yield
        return
    socket_path = tmp_path_factory.mktemp("podman") / "podman.sock"
    service = subprocess.Popen([engine.path, "system", "service", "--time=0", f"unix://{socket_path}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(socket_path.exists, "podman's API socket")
        monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
        yield
    finally:
        service.terminate()
        service.wait(timeout=15)


def test_sandbox_container_starts_the_image_for_a_python_test_suite(docker_api, engine: Engine, image: str,
                                                                  http) -> None:
    from huskyvoice_sandbox.testing.container import SandboxContainer

    with SandboxContainer(image).with_world(SMALL_WORLD) as container:
        base = container.get_base_url()
        assert container.health()["status"] == "ok"
        assert http("GET", f"{base}/v1/appointments/appt_small_1", headers=SMALL_KEY).status_code == 200
        # The control API is the suite's (it holds the token), no one else's.
        assert http("POST", f"{base}/_sandbox/reset").status_code == 403
        first, second = container.new_session(), container.new_session()
        patched = http("PATCH", f"{base}/v1/appointments/appt_small_1", json={"assigned_doctor": "Dr. Two"},
                       headers={**SMALL_KEY, **second.headers})
        assert patched.status_code == 200
        assert first.get_appointment("appt_small_1", key="sk_test_small").data["assigned_doctor"] is None
        assert second.get_appointment("appt_small_1", key="sk_test_small").data["assigned_doctor"] == "Dr. Two"
        second.assert_called("updateAppointment", times=1)
        first.force(500, operation="getAppointment")
        assert http("GET", f"{base}/v1/appointments/appt_small_1",
                    headers={**SMALL_KEY, **first.headers}).status_code == 500
        second.delete_session()
        name = container.get_wrapped_container().name
    assert engine("container", "inspect", name, check=False).returncode != 0  # stopped and removed


def test_sandbox_container_refuses_a_bad_world_listing_its_problems(docker_api, image: str) -> None:
    from huskyvoice_sandbox.testing.container import SandboxContainer

    broken = json.loads(json.dumps(SMALL_WORLD))
    broken["organizations"][0]["calendar_windows"][0]["ai_slots"] = 9
    container = SandboxContainer(image).with_world(broken)
    try:
        with pytest.raises(SandboxControlError, match=r"ai_slots \(9\) exceeds max_slots \(2\)"):
            container.start()
    finally:
        container.stop()


def docs_block(page: str, heading: str, language: str) -> str:
    """The first `language` block under `heading` in docs/`page`."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    section = text[text.index(f"\n{heading}\n"):]
    found = re.search(rf"(?ms)^```{language}[^\n]*\n(.*?)^```", section)
    assert found, f"no {language} block under {heading} in docs/{page}"
    return found.group(1)


def test_the_documented_testcontainers_suite_runs_with_the_documented_podman_settings(
        engine: Engine, image: str, tmp_path: Path) -> None:
    """docs/docker.md's fixtures and test, as a user's test file, with the environment the page
    tells podman users to set (and its socket started as it says)."""
    if not engine.podman:
        pytest.skip("the page's settings are podman's")
    pytest.importorskip("testcontainers")
    (tmp_path / "test_with_container.py").write_text(docs_block("docker.md", "## Testcontainers (Python)",
                                                                "python"), encoding="utf-8")
    settings = docs_block("docker.md", "## Testcontainers (Python)", "sh")
    socket_path = tmp_path / "podman.sock"
    environment = dict(os.environ)
    for name, value in re.findall(r"(\w+)=(\S+)", "\n".join(line for line in settings.splitlines()
                                                           if line.startswith("export "))):
        environment[name] = value.replace("/tmp/podman.sock", str(socket_path))
    assert {"DOCKER_HOST", "TESTCONTAINERS_RYUK_DISABLED", "TESTCONTAINERS_HOST_OVERRIDE"} <= set(environment)
    service = subprocess.Popen([engine.path, "system", "service", "--time=0", f"unix://{socket_path}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(socket_path.exists, "podman's API socket")
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "test_with_container.py"], cwd=tmp_path, capture_output=True, text=True,
                                timeout=300, env=environment)
    finally:
        service.terminate()
        service.wait(timeout=15)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


# -- helpers --------------------------------------------------------------------------------------

def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/openapi.yaml", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module", autouse=True)
def _report_figures() -> Iterator[None]:
    yield
    if FIGURES:
        print("\ncontainer figures: " + "; ".join(f"{name}: {value}" for name, value in FIGURES.items()))
