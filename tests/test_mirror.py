"""`huskyvoice-sandbox mirror` against a served sandbox: the world it writes is the served one up
to the documented losses, it sends nothing but GETs (the sandbox's own journal says so), it
waits out 429s for their Retry-After, and it stops at its budget. And, for `mirror` and `drift`
alike: a target that does not answer or is not the API, and an interrupted run, are said in one
line, with exit status 2."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from huskyvoice_sandbox.remote.mirror import APPOINTMENT_FIELDS, MirrorError, Reader, mirror
from huskyvoice_sandbox.worlds.world import load_world, load_world_file

from helpers import OTHER_ORG_KEY, WRITE_KEY, LiveServer, free_port, wait_for_port

pytestmark = pytest.mark.live

CLI = [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()"]
START, DAYS = date(2026, 6, 15), 14


def control(server: LiveServer, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + "/_sandbox" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


@pytest.fixture
def served():
    server = LiveServer("--quiet")
    try:
        yield server
    finally:
        server.stop()


def served_org(server: LiveServer, org_id: str) -> dict[str, Any]:
    world = control(server, "GET", "/world")
    return next(org for org in world["organizations"] if org["id"] == org_id)


def test_mirror_reproduces_the_served_world_with_gets_only(served, tmp_path: Path) -> None:
    output = tmp_path / "mirror.yaml"
    run = subprocess.run([*CLI, "mirror", "--base-url", served.url, "--api-key", WRITE_KEY,
                          "--from", START.isoformat(), "--days", str(DAYS), "-o", str(output)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert f"wrote {output}: 9 appointments" in run.stdout
    assert {entry["method"] for entry in control(served, "GET", "/requests")} == {"GET"}

    world = load_world_file(output)  # what `validate` and `serve` load
    mirrored = yaml.safe_load(output.read_text())["organizations"][0]
    original = served_org(served, "org_demo")
    assert len(world.appointments) == len(original["appointments"])
    ours = {a["appointment_id"]: a for a in mirrored["appointments"]}
    for theirs in original["appointments"]:  # every field the API shows; notes and start: not shown
        shown = {k: v for k, v in theirs.items() if k in APPOINTMENT_FIELDS and v is not None}
        assert ours[theirs["appointment_id"]] == shown
    active = {w["id"]: w for w in original["calendar_windows"] if w.get("active", True)}
    assert {w["id"] for w in mirrored["calendar_windows"]} == set(active)  # inactive: not seen
    for window in mirrored["calendar_windows"]:
        theirs = active[window["id"]]
        for name in ("branch_id", "day", "session", "batch", "start_time", "end_time", "max_slots",
                     "ai_slots", "appointment_type"):
            assert window[name] == theirs[name], (window["id"], name)
        in_range = [d for d in theirs.get("closed_dates", [])
                    if START <= date.fromisoformat(d) < date(2026, 6, 29)]
        assert window["closed_dates"] == in_range
    assert [s["id"] for s in mirrored["services"]] == [s["id"] for s in original["services"]]
    assert (mirrored["timezone"], mirrored["cancellation_notice_hours"]) == (
        original["timezone"], original["cancellation_notice_hours"])


def test_appointments_in_windows_availability_never_shows_are_named_and_left_out(served) -> None:
    world = control(served, "GET", "/world")
    org = world["organizations"][0]
    hidden = next(w for w in org["calendar_windows"] if w["id"] == "a1b2c3d4-e5f6-7890-abcd-ef1234567890")
    hidden["active"] = False
    control(served, "PUT", "/world", world)
    result = mirror(Reader(served.url, WRITE_KEY, budget=100), START, DAYS,
                    now=datetime(2026, 5, 26, 11, tzinfo=UTC))
    assert any(loss.startswith("appt_a1b2c3d4e5 ") and "left out" in loss for loss in result.losses)
    kept = {a["appointment_id"] for a in result.document["organizations"][0]["appointments"]}
    assert "appt_a1b2c3d4e5" not in kept
    load_world(result.document)  # still a valid world


def test_a_429_is_waited_out_for_its_retry_after(served) -> None:
    """Lakeview's key may send 5 requests a minute: the mirror waits each 429 out. The wait
    moves the sandbox's clock instead of sleeping (its rate limit counts in sandbox time)."""
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        control(served, "PUT", "/clock", {"advance_seconds": seconds})

    result = mirror(Reader(served.url, OTHER_ORG_KEY, budget=100, sleep=wait), START, 7)
    assert waits and all(w > 0 for w in waits)
    statuses = [e["response"]["status"] for e in control(served, "GET", "/requests")]
    assert statuses.count(429) == len(waits) and statuses.count(200) == 2 + 7 + 1
    assert result.document["organizations"][0]["appointments"]


def test_the_budget_stops_the_mirror_with_a_clear_error(served) -> None:
    with pytest.raises(MirrorError, match="budget of 5 requests is spent"):
        mirror(Reader(served.url, WRITE_KEY, budget=5), START, DAYS)
    assert len(control(served, "GET", "/requests")) == 5


def test_an_unknown_key_is_said_in_a_line(served, tmp_path: Path) -> None:
    run = subprocess.run([*CLI, "mirror", "--base-url", served.url, "--api-key", "sk_nobody",
                          "-o", str(tmp_path / "m.yaml")], capture_output=True, text=True, timeout=30)
    assert run.returncode == 2  # it could not run
    assert run.stderr.strip().splitlines()[-1] == "error: GET /v1/services answered 401: UNAUTHORIZED: Invalid API key."
    assert not (tmp_path / "m.yaml").exists()


@pytest.fixture(scope="module")
def not_the_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Addresses where the API is not: a port nobody listens on, a server that does not speak
    HTTP (an SSH banner), a static file server (the standard library's), and a sandbox asked
    under a path prefix it does not have."""
    banner = socket.create_server(("127.0.0.1", 0))

    def answer_with_a_banner() -> None:
        while True:
            try:
                connection, _ = banner.accept()
            except OSError:  # closed: the module is done
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=answer_with_a_banner, daemon=True).start()
    root = tmp_path_factory.mktemp("static")
    (root / "index.html").write_text("<!doctype html><h1>Welcome</h1>\n")
    port = free_port()
    files = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                              "--directory", str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sandbox = LiveServer("--quiet")
    try:
        wait_for_port(port, files, "the static file server")
        yield {"dead-port": f"http://127.0.0.1:{free_port()}", "static-files": f"http://127.0.0.1:{port}",
               "wrong-prefix": f"{sandbox.url}/api", "not-http": f"http://127.0.0.1:{banner.getsockname()[1]}"}
    finally:
        banner.close()
        sandbox.stop()
        files.terminate()
        files.communicate(timeout=10)


SAID = {  # what the one line says, after "error: <base url> ": as `contract` says it (serve/reach.py)
    "dead-port": "does not answer (Connection refused); is the address right, and is it running?",
    "not-http": "does not answer in HTTP (BadStatusLine: 'SSH-2.0-OpenSSH_9.6')",
    "static-files": "is not the HuskyVoice API: GET /v1/appointments without a key answered 404 text/html, "
                    "not the documented 401; is the base URL right (the API's paths start with /v1/)?",
    "wrong-prefix": "is not the HuskyVoice API: GET /api/v1/appointments without a key answered 404 "
                    "application/json, not the documented 401; is the base URL right (the API's paths "
                    "start with /v1/)?",
}


def _command(command: str, url: str, tmp_path: Path) -> list[str]:
    output = ["-o", str(tmp_path / "mirror.yaml")] if command == "mirror" else []
    return [*CLI, command, "--base-url", url, "--api-key", WRITE_KEY, *output]


@pytest.mark.parametrize("target", sorted(SAID))
@pytest.mark.parametrize("command", ["mirror", "drift"])
def test_a_target_that_is_not_the_api_is_said_in_one_line(command: str, target: str, not_the_api: dict[str, str],
                                                           tmp_path: Path) -> None:
    url = not_the_api[target]
    result = subprocess.run(_command(command, url, tmp_path), capture_output=True, text=True, timeout=60)
    printed = (result.stdout + result.stderr).splitlines()
    assert (result.returncode, printed) == (2, [f"error: {url} {SAID[target]}"])
    assert not (tmp_path / "mirror.yaml").exists()


@pytest.mark.parametrize("command", ["mirror", "drift"])
def test_an_interrupted_run_is_said_in_one_line(command: str, tmp_path: Path) -> None:
    """Ctrl+C while the command waits for its first answer: exit 2, one line, no traceback."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(30)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        process = subprocess.Popen(_command(command, url, tmp_path), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        connection, _ = listener.accept()  # the command sent its first request: it waits for the answer
        with connection:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
    assert (process.returncode, (out + err).splitlines()) == (2, ["error: interrupted (nothing was written)"])
