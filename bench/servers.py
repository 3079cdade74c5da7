"""Starting and stopping the servers under test, on free local ports, and talking to them."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from huskyvoice_sandbox.resources import spec_path

from common import APPOINTMENT, BARE_APP, HOST, KEY, ROOT, BenchError, progress

READY_TIMEOUT_S = 180.0
READY_PATH = f"/v1/appointments/{APPOINTMENT}"  # every server answers it, the bare app too
SESSION_HEADER = "X-Sandbox-Session"
Argv = Callable[[int], list[str]]  # the command line, given the port to listen on
Env = Callable[[int], Mapping[str, str]]  # the environment a server starts with, given its port


# -- HTTP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def label(self) -> str:
        """The status, with the error code when the body is the error envelope."""
        try:
            code = json.loads(self.body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return str(self.status)
        return f"{self.status} {code}"

    def excerpt(self) -> str:
        return self.body[:500].decode(errors="replace")


def send(url: str, method: str = "GET", body: str = "", session: str | None = None,
         timeout: float = 60.0) -> Answer:
    """One request with the bench's key, on a new connection; HTTP errors are answers too."""
    headers = {"Authorization": f"Bearer {KEY}"}
    if body:
        headers["Content-Type"] = "application/json"
    if session:
        headers[SESSION_HEADER] = session
    request = urllib.request.Request(url, data=body.encode() or None, headers=headers,
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# -- servers --------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    startup_s: float  # from process start to the first answered request
    sandbox: bool  # answers the control API (POST /_sandbox/reset), directly or through HAProxy

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def peak_rss_mib(self) -> float | None:
        """The process's peak resident memory so far (VmHWM), while it runs."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None


def sandbox_argv(world: Path, server: str | None = None) -> Argv:
    """`huskyvoice-sandbox serve` on its default HTTP server, or on `server`."""
    # This interpreter, not whatever `huskyvoice-sandbox` PATH finds: the checkout under test.
    chosen = ["--server", server] if server else []
    return lambda port: [sys.executable, "-c",
                         "from huskyvoice_sandbox.serve.cli import main; main()", "serve",
                         "--quiet", "--host", HOST, "--port", str(port), "--fixtures", str(world), *chosen]


def granian_argv(port: int) -> list[str]:
    """The sandbox under granian, one worker (the state lives in one process), as many
    blocking threads as `serve` has worker threads."""
    return [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", HOST,
            "--port", str(port), "--workers", "1", "--blocking-threads", "8", "--no-ws",
            "--log-level", "warning", "granian_app:app"]


def granian_env(world: Path) -> Env:
    """What bench/granian_app.py needs: the world, and bench/ to import it from."""
    bench = str(Path(__file__).resolve().parent)
    return lambda port: {"HUSKYVOICE_BENCH_WORLD": str(world),
                         "PYTHONPATH": os.pathsep.join(filter(None, [bench, os.environ.get("PYTHONPATH")]))}


def bare_argv(port: int) -> list[str]:
    return [sys.executable, str(BARE_APP), "--host", HOST, "--port", str(port)]


def prism_argv(prism: str) -> Argv:
    return lambda port: [prism, "mock", "--host", HOST, "--port", str(port), "--dynamic", "false",
                         "--verboseLevel", "error", str(spec_path())]


@contextlib.contextmanager
def serving(name: str, argv: Argv, log_dir: Path, sandbox: bool = False,
            env: Env | None = None) -> Iterator[Server]:
    """Start a server on a free port, wait until it answers, and stop it on exit."""
    port = free_port()
    log = log_dir / f"{name.replace(' ', '-').replace(',', '')}.log"
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv(port), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                   env={**os.environ, **(env(port) if env else {})},
                                   start_new_session=True)  # its own group, stopped as one
    try:
        url = f"http://{HOST}:{port}"
        answered = wait_until_answering(name, url, process, log)
        progress(f"{name}: answering after {answered - started:.2f} s ({url})")
        yield Server(name, url, process, answered - started, sandbox)
    finally:
        stop(process)


def wait_until_answering(name: str, url: str, process: subprocess.Popen[bytes],
                         log: Path) -> float:
    deadline = time.perf_counter() + READY_TIMEOUT_S
    last = "nothing"
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{name} exited with status {process.returncode} before answering; "
                             f"its output:\n{tail(log)}")
        try:
            answer = send(url + READY_PATH, timeout=5)
            if answer.status < 500:  # a 5xx: a balancer whose backend is not there yet
                return time.perf_counter()
            last = f"{answer.label()}: {answer.excerpt()}"
        except (OSError, http.client.HTTPException) as error:
            last = repr(error)
        time.sleep(0.02)
    raise BenchError(f"{name} did not answer GET {READY_PATH} within {READY_TIMEOUT_S:.0f} s "
                     f"(last: {last}); its output:\n{tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (Prism's node children too), SIGKILL if stuck."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def reset(server: Server, session: str | None = None) -> None:
    """Back to the world loaded: the default session, or the named one."""
    answer = send(server.url + "/_sandbox/reset", "POST", session=session)
    if answer.status != 200:
        raise BenchError(f"{server.name}: POST /_sandbox/reset answered {answer.label()}")


def startup_rows(servers: list[Server]) -> list[tuple[str, float, float | None]]:
    """(name, seconds to first answer, peak RSS MiB) while they still run."""
    return [(s.name, s.startup_s, s.peak_rss_mib()) for s in servers]
