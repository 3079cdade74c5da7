"""`huskyvoice-sandbox mirror` against a served sandbox: the world it writes is the served one up
to the documented losses, it sends nothing but GETs (the sandbox's own journal says so), it
waits out 429s for their Retry-After, and it stops at its budget."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from huskyvoice_sandbox.remote.mirror import APPOINTMENT_FIELDS, MirrorError, Reader, mirror
from huskyvoice_sandbox.worlds.world import load_world, load_world_file

from helpers import OTHER_ORG_KEY, WRITE_KEY, LiveServer

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
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == "error: GET /v1/services answered 401: UNAUTHORIZED: Invalid API key."
    assert not (tmp_path / "m.yaml").exists()
