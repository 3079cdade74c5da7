"""`huskyvoice-sandbox record` and `replay`, as users run them: the recorder (mitmproxy's
mitmdump) in front of a deployment without a control API (tests/faulty_deployments.py behind
nginx), a client session through it with `requests`, then the replay of what was recorded
against the mirror saved with it. A faithful deployment replays without a difference; each
faulty one is caught at the request that shows its fault. A broken recording is one located
line. The recording as a scenario runs in the contract kit."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

import faulty_deployments as faulty
from faulty_deployments import deployment
from helpers import free_port, wait_for_port

pytestmark = pytest.mark.live

CLI = [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()"]
KOLKATA = ZoneInfo("Asia/Kolkata")
SECRET = "sk-never-in-the-file"  # a key of no world: the deployment answers it 401


@pytest.fixture(scope="module", autouse=True)
def mitmdump() -> None:
    if shutil.which("mitmdump") is None:
        if os.environ.get("HUSKYVOICE_REQUIRE_TOOLS") == "1":
            pytest.fail("mitmdump is not installed (HUSKYVOICE_REQUIRE_TOOLS=1: .ci/run installs Debian's mitmproxy)")
        pytest.skip("mitmdump (mitmproxy) is not installed")


TODAY = datetime.now(UTC).date()  # the world's dates count from it, and so do the session's


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("record") / "world.json"
    path.write_text(json.dumps(faulty.world(TODAY)))
    return path


@contextmanager
def recorder(upstream: str, output: Path) -> Iterator[str]:
    """`record` in front of `upstream` until the block ends; then stopped as Ctrl+C does."""
    port = free_port()
    process = subprocess.Popen([*CLI, "record", "--upstream", upstream, "--api-key", faulty.WRITE_KEY,
                                "--port", str(port), "--output", str(output)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, process, "the recorder", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped (SIGINT)" in err and f"replay {output}" in err, err


def at(day: date, hour: int, minute: int = 0) -> str:
    """A local time at the clinic (India) as the UTC instant the API takes."""
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=KOLKATA).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def session(base: str) -> list[str]:
    """An integrator's booking flow, with the refusals it meets; the steps' names."""
    today = TODAY  # not India's today: after 18:30 UTC that is the world's tomorrow
    write = {"Authorization": f"Bearer {faulty.WRITE_KEY}"}
    names: list[str] = []

    def send(name: str, method: str, path: str, key: dict[str, str] | None = None, **kwargs: Any) -> Any:
        names.append(name)
        kwargs.setdefault("headers", write if key is None else key)
        answer = requests.request(method, base + path, timeout=10, **kwargs)
        return answer.json()

    send("availability", "GET", f"/v1/appointment-slots/availability?date={today + timedelta(days=1)}")
    created = send("create", "POST", "/v1/appointments", json={
        "appointment_type": faulty.CHECKUP, "appointment_date": at(today + timedelta(days=1), 9, 30),
        "patient_name": "Lakshmi", "parent_phone": "+919800000009", "session": "Morning", "batch": "MA"})
    new = created["appointment_id"]
    send("read", "GET", f"/v1/appointments/{new}")
    send("doctor", "PATCH", f"/v1/appointments/{new}", headers={**write, "Content-Type": "application/json"},
         data=json.dumps({"assigned_doctor": "Dr. Zoë Ñúñez"}, ensure_ascii=False).encode())  # as UTF-8
    send("notes", "PATCH", f"/v1/appointments/{new}", json={"notes": "Mother asks for a café-side room; " * 9})
    send("read-after-write", "GET", f"/v1/appointments/{new}")
    send("reschedule-evening", "PATCH", f"/v1/appointments/{new}",
         json={"appointment_date": at(today + timedelta(days=1), 16, 30)})
    send("reschedule-with-status", "PATCH", f"/v1/appointments/{new}",
         json={"appointment_date": at(today + timedelta(days=6), 9, 30), "status": "confirmed"})
    send("full-window", "POST", "/v1/appointments", json={
        "appointment_type": faulty.CHECKUP, "appointment_date": at(today + timedelta(days=3), 16, 30),
        "patient_name": "Arun", "parent_phone": "+919800000010", "session": "Evening", "batch": "EA"})
    send("duplicate", "POST", "/v1/appointments", json={
        "appointment_type": faulty.CHECKUP, "appointment_date": at(today + timedelta(days=4), 10, 0),
        "patient_name": "Asha", "parent_phone": "+919800000001", "session": "Morning", "batch": "MA"})
    send("closed-date", "POST", "/v1/appointments", json={
        "appointment_type": faulty.CHECKUP, "appointment_date": at(today + timedelta(days=5), 9, 30),
        "patient_name": "Devi", "parent_phone": "+919800000011", "session": "Morning", "batch": "MA"})
    send("cancel", "PATCH", f"/v1/appointments/{new}", json={"status": "cancelled"})
    send("cancel-again", "PATCH", f"/v1/appointments/{new}", json={"status": "cancelled"})
    send("missing-id", "GET", "/v1/appointments/appt_nobody00001")
    other = {"Authorization": f"Bearer {faulty.OTHER_KEY}"}
    send("other-organization-services", "GET", "/v1/services", key=other)
    send("other-organization", "GET", f"/v1/appointments/{new}", key=other)
    send("read-only-key", "PATCH", f"/v1/appointments/{new}", key={"Authorization": f"Bearer {faulty.READ_KEY}"},
         json={"notes": "no"})
    send("unknown-key", "GET", "/v1/services", key={"Authorization": f"Bearer {SECRET}"})
    send("search", "GET", f"/v1/appointments?date={today + timedelta(days=3)}")
    return names


def record_session(kind: str, world_file: Path, tmp_path: Path) -> tuple[Path, list[str], list[tuple[str, str]]]:
    """The session recorded against a deployment of `kind`; and what reached it besides GETs."""
    output = tmp_path / "recording.jsonl"
    with deployment(kind, world_file, tmp_path) as served, recorder(served.url, output) as proxy:
        names = session(proxy)
        writes = served.writes()
    return output, names, writes


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "replay", *args], capture_output=True, text=True, timeout=120)


def test_a_faithful_deployment_replays_without_a_difference(world_file: Path, tmp_path: Path) -> None:
    recording, names, writes = record_session("faithful", world_file, tmp_path)
    lines = recording.read_text(encoding="utf-8").splitlines()
    header, exchanges = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["recording"] == 1 and header["mirror"]["organizations"][0]["appointments"]
    assert len(exchanges) == len(names)  # every request of the session, nothing of the recorder's own
    assert [e["seq"] for e in exchanges] == list(range(1, len(names) + 1))
    # What reached the deployment besides GETs is exactly the session's writes: the mirror only read.
    assert [m for m, _ in writes] == [e["request"]["method"] for e in exchanges if e["request"]["method"] != "GET"]
    statuses = {name: e["answer"]["status"] for name, e in zip(names, exchanges, strict=True)}
    assert statuses["create"] == 201 and statuses["full-window"] == 409 and statuses["unknown-key"] == 401
    text = recording.read_text(encoding="utf-8")
    for key in (faulty.WRITE_KEY, faulty.READ_KEY, faulty.OTHER_KEY, SECRET):
        assert key not in text  # labels only
    assert {e["request"]["authorization"] for e in exchanges} == {"Bearer key_1", "Bearer key_2", "Bearer key_3",
                                                                   "Bearer key_4"}

    # A real deployment numbers its appointments its own way: the id it created is not the
    # sandbox's, and the replay pairs them.
    created = exchanges[names.index("create")]["answer"]
    new = json.loads(created["body"])["appointment_id"]
    recording.write_text(text.replace(new, "appt_deploy00001"), encoding="utf-8")
    result = replay(str(recording), "--scenario", str(tmp_path / "flow.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no differences: the sandbox answered all {len(names)} requests as the deployment did" in result.stdout
    assert "key_4 (unknown to the deployment)" in result.stdout
    assert f"created during the recording: appt_deploy00001 (sandbox: {new})" in result.stdout

    flow = tmp_path / "flow.yaml"
    kit = subprocess.run([*CLI, "contract", "--scenarios", str(flow), "-q", "-k", "flow"],
                         capture_output=True, text=True, timeout=300)
    assert kit.returncode == 0, kit.stdout[-3000:] + kit.stderr[-2000:]
    assert "1 passed" in kit.stdout

    # The pytest plugin runs it too; a step expecting another answer fails, named.
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(flow.read_text(encoding="utf-8").replace("status: 409", "status: 201", 1), encoding="utf-8")
    (tmp_path / "test_flow.py").write_text(
        f"def test_flow(huskyvoice):\n    assert len(huskyvoice.run_scenario({str(flow)!r})) == {len(names)}\n\n"
        f"def test_wrong(huskyvoice):\n    huskyvoice.run_scenario({str(wrong)!r})\n")
    plugin = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-q",
                             str(tmp_path / "test_flow.py")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "1 failed, 1 passed" in plugin.stdout, plugin.stdout[-3000:]
    assert "wrong.yaml step 9 (recorded #9 (createAppointment)): expected status 201, got 409" in plugin.stdout


# kind -> the steps of the session where the fault shows
FAULTS = {
    "full-window-books": {"full-window"},
    "duplicate-accepted": {"duplicate"},
    "closed-window-books": {"closed-date"},
    "leaks-across-organizations": {"other-organization"},
    "session-does-not-follow-window": {"reschedule-evening"},
    "date-does-not-follow-window": {"reschedule-with-status"},
    "status-ignores-request": {"reschedule-with-status"},
    "updated-at-never-moves": {"doctor"},
    "created-at-changes": {"doctor"},
    "cancel-again-moves-updated-at": {"cancel-again"},
    "text-stored-as-ascii": {"doctor"},
    "long-notes-refused": {"notes"},
    "body-read-as-latin-1": {"doctor"},
    "stale-reads": {"read-after-write"},
    "wrong-code-for-a-full-window": {"full-window"},
    "wrong-code-for-a-missing-id": {"missing-id"},
}


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_replay_reports_each_fault_at_the_request_that_shows_it(kind: str, world_file: Path, tmp_path: Path) -> None:
    recording, names, _ = record_session(kind, world_file, tmp_path)
    result = replay(str(recording))
    assert result.returncode == 1, result.stdout + result.stderr
    differing = {names[int(line.split(".", 1)[0]) - 1] for line in result.stdout.splitlines()
                 if line[:1].isdigit() and ". " in line and " of " not in line}
    assert FAULTS[kind] <= differing, result.stdout
    assert "either the sandbox or the deployment is wrong" in result.stdout


@pytest.mark.parametrize(("content", "where"), [
    ("", "empty; a recording starts with its header line"),
    ('{"recording": 1, "mirror": {}}\n{"seq": 1, "time": "2026-06-01T10:00:00.000Z", "request": {"meth',
     ":2: cut short (the line has no end)"),
    ('{"recording": 1, "mirror": {}}\n{"seq": 1, oops}\n', ":2: not JSON (Expecting property name"),
    ('{"recording": 1, "mirror": {}}\n{"seq": 1, "time": "2026-06-01T10:00:00.000Z", "answer": {"status": 200}}\n',
     ":2: not an exchange (no 'request')"),
    ('{"hello": "world"}\n', ":1: not a recording's header"),
])
def test_a_broken_recording_is_one_located_line(content: str, where: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(content, encoding="utf-8")
    result = replay(str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {path}")
    assert where in result.stderr
