"""Past one process: two `serve` processes behind HAProxy (Debian's, installed by .ci/run) with
the configuration `huskyvoice-sandbox haproxy-config` prints (docs/scaling.md). Each session
always reaches the same process, sessions stay isolated, and requests without a session (the
default session) all reach the first process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huskyvoice_sandbox.resources import balancer_config_path

from helpers import DOC_ID, WRITE_KEY, LiveServer, free_port, wait_for_port

pytestmark = pytest.mark.live

SESSIONS = [f"worker-{n}" for n in range(12)]


def call(base: str, method: str, path: str, session: str | None = None,
         body: dict[str, Any] | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {WRITE_KEY}", "Content-Type": "application/json"}
    if session is not None:
        headers["X-Sandbox-Session"] = session
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def sessions_on(server: LiveServer) -> set[str]:
    status, body = call(server.url, "GET", "/_sandbox/sessions")
    assert status == 200
    return {row["name"] for row in body["data"]["sessions"]} - {"default"}


def doctor(base: str, session: str | None) -> Any:
    status, body = call(base, "GET", f"/v1/appointments/{DOC_ID}", session)
    assert status == 200, body
    return body["data"]["assigned_doctor"]


def haproxy() -> str:
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if binary is None:
        raise RuntimeError("haproxy is not installed (.ci/run installs Debian's haproxy)")
    return binary


def printed_config(tmp_path: Path) -> Path:
    """What `huskyvoice-sandbox haproxy-config` prints, as a file."""
    config = tmp_path / "haproxy.cfg"
    printed = subprocess.run([sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()",
                              "haproxy-config"], capture_output=True, text=True, check=True)
    config.write_text(printed.stdout)
    return config


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[tuple[str, LiveServer, LiveServer]]:
    """HAProxy on a free port in front of two sandboxes serving the default world."""
    binary, config = haproxy(), printed_config(tmp_path)
    first, second = LiveServer("--quiet"), LiveServer("--quiet")
    port = free_port()
    env = {**os.environ, "SANDBOX_BIND": f"127.0.0.1:{port}",
           "SANDBOX_1": f"127.0.0.1:{first.port}", "SANDBOX_2": f"127.0.0.1:{second.port}"}
    proxy = subprocess.Popen([binary, "-db", "-f", str(config)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, proxy, "haproxy")
        yield f"http://127.0.0.1:{port}", first, second
    finally:
        proxy.terminate()
        proxy.communicate(timeout=10)
        first.stop()
        second.stop()


def test_the_printed_configuration_is_haproxys_valid_configuration(tmp_path: Path) -> None:
    binary, config = haproxy(), printed_config(tmp_path)
    env = {**os.environ, "SANDBOX_BIND": "127.0.0.1:1", "SANDBOX_1": "127.0.0.1:2", "SANDBOX_2": "127.0.0.1:3"}
    checked = subprocess.run([binary, "-c", "-f", str(config)], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "[WARNING]" not in checked.stdout + checked.stderr


def test_the_page_shows_the_configuration_as_printed() -> None:
    page = (Path(__file__).parents[1] / "docs" / "scaling.md").read_text()
    shown = page.split("```text\n", 1)[1].split("```", 1)[0]
    printed = balancer_config_path().read_text().splitlines()
    assert [line for line in shown.splitlines() if line != "..." and line not in printed] == []


def test_each_session_lives_in_one_process_and_stays_isolated(balanced) -> None:
    base, first, second = balanced
    for session in SESSIONS:
        status, _ = call(base, "PATCH", f"/v1/appointments/{DOC_ID}", session, {"assigned_doctor": f"by {session}"})
        assert status == 200
    on_first, on_second = sessions_on(first), sessions_on(second)
    assert on_first | on_second == set(SESSIONS)
    assert not on_first & on_second, "a session was created in both processes"
    assert on_first and on_second, "the hash sent every session to one process"

    for session in reversed(SESSIONS):  # again and again: the same process, its own state
        for _ in range(3):
            assert doctor(base, session) == f"by {session}"
    for session in SESSIONS:  # straight to the process that holds it: the same answer
        holder = first if session in on_first else second
        assert doctor(holder.url, session) == f"by {session}"
    assert doctor(base, None) is None  # the default session saw none of it


def test_requests_without_a_session_reach_the_first_process(balanced) -> None:
    base, first, second = balanced
    status, _ = call(base, "PATCH", f"/v1/appointments/{DOC_ID}", None, {"assigned_doctor": "default"})
    assert status == 200
    assert doctor(base, None) == "default"
    assert doctor(base, "default") == "default"  # the default session, named
    assert doctor(first.url, None) == "default"
    assert doctor(second.url, None) is None
    status, reset = call(base, "POST", "/_sandbox/reset")
    assert status == 200, reset
    assert doctor(first.url, None) is None


def test_a_session_is_deleted_in_the_process_that_holds_it(balanced) -> None:
    base, first, second = balanced
    for session in SESSIONS:
        call(base, "GET", f"/v1/appointments/{DOC_ID}", session)
    for session in SESSIONS:
        status, body = call(base, "DELETE", f"/_sandbox/sessions/{session}")
        assert (status, body["data"]) == (200, {"deleted": session})
    assert sessions_on(first) == sessions_on(second) == set()
