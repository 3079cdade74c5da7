"""`huskyvoice-sandbox drift` against deployments without a control API: a faithful one (no
drift; the lent appointment put back; nothing else written) and faulty ones that each break one
documented rule with schema-valid answers (tests/faulty_deployments.py), behind nginx, which
hides `/_sandbox/` and logs every request that reached the deployment; and against a sandbox
served with its defaults (a frozen clock, no rate limit), the first run a user makes."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from huskyvoice_sandbox.remote.drift import Options, Outcome, run
from huskyvoice_sandbox.remote.plan import NO_SUCH
from huskyvoice_sandbox.remote.rules import RULES

import faulty_deployments as faulty
from faulty_deployments import Served, deployment
from helpers import DOC_ID, OTHER_ORG_KEY, READ_KEY, WRITE_KEY, LiveServer

pytestmark = pytest.mark.live

CLI = [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()"]
DAYS = 14  # two of each weekday: a window closed on one of its dates is still seen on the other

# kind -> (rules reported read-only, rules reported with --allow-writes and the lent appointment)
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "full-window-books": (set(), {"capacity"}),
    "duplicate-accepted": (set(), {"duplicate"}),
    "closed-window-books": (set(), {"closed"}),
    "wrong-code-for-a-full-window": (set(), {"capacity"}),
    "wrong-code-for-a-missing-id": ({"not-found", "isolation", "contract"},) * 2,
    "leaks-across-organizations": ({"isolation"}, {"isolation"}),
    "stale-reads": (set(), {"read-after-write"}),
    "date-does-not-follow-window": (set(), {"reschedule"}),
    "session-does-not-follow-window": (set(), {"reschedule"}),
    "status-ignores-request": (set(), {"explicit-status"}),
    "no-retry-after-on-429": ({"rate-limit"}, {"rate-limit"}),
    # Relations where values cannot be predicted, and awkward text: only writes can show them, so
    # these are run with writes only (a read-only run of them is the faithful one's).
    "updated-at-never-moves": (set(), {"updated-at"}),
    "cancel-again-moves-updated-at": (set(), {"cancel-again"}),
    "created-at-changes": (set(), {"created-at"}),
    "text-stored-as-ascii": (set(), {"free-text"}),
    "long-notes-refused": (set(), {"free-text"}),
    "body-read-as-latin-1": (set(), {"free-text"}),  # only text sent as UTF-8, not as \u escapes, shows it
}
WRITES_ONLY = {"updated-at-never-moves", "cancel-again-moves-updated-at", "created-at-changes",
               "text-stored-as-ascii", "long-notes-refused", "body-read-as-latin-1"}
CASES = [pytest.param(kind, writes, id=f"{'writes' if writes else 'read-only'}-{kind}")
         for writes in (False, True) for kind in sorted(EXPECTED) if writes or kind not in WRITES_ONLY]


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("drift") / "world.json"
    path.write_text(json.dumps(faulty.world(datetime.now(UTC).date())))
    return path


def check(url: str, writes: bool) -> Outcome:
    def no_waiting(seconds: float) -> None:
        pytest.fail(f"the run was rate limited ({seconds} s): the world's limit is too low for it")

    options = Options(url, faulty.WRITE_KEY, faulty.READ_KEY, faulty.OTHER_KEY, allow_writes=writes,
                      appointment_ids=(faulty.LENT,) if writes else (), days=DAYS,
                      rate_limit=faulty.RATE_LIMIT)
    return run(options, sleep=no_waiting)


def drifted_rules(outcome: Outcome) -> set[str]:
    return {row.rule for row in outcome.drifted}


def only_safe_writes(served: Served, lent: str | None) -> None:
    """What reached the deployment besides GETs: PATCHes to the id nobody has, and, when
    lent, to the lent appointment; nothing else, and never a create."""
    allowed = {f"/v1/appointments/{NO_SUCH}"} | ({f"/v1/appointments/{lent}"} if lent else set())
    for method, uri in served.writes():
        assert method == "PATCH" and uri in allowed, (method, uri)


@pytest.mark.parametrize(("kind", "writes"), CASES)
def test_each_fault_is_reported_under_its_rule(kind: str, writes: bool, world_file: Path, tmp_path: Path) -> None:
    with deployment(kind, world_file, tmp_path) as served:
        outcome = check(served.url, writes)
        only_safe_writes(served, faulty.LENT if writes else None)
    expected = EXPECTED[kind][writes]
    assert drifted_rules(outcome) == expected, [(r.rule, r.request, r.differences) for r in outcome.drifted]
    if writes:  # everything a lent appointment can show was shown
        assert set(outcome.not_exercised) == set()


def test_a_faithful_deployment_shows_no_drift_and_gets_its_appointment_back(world_file: Path, tmp_path: Path) -> None:
    with deployment("faithful", world_file, tmp_path) as served:
        before = served.control("/world")
        report = tmp_path / "drift.xml"
        result = subprocess.run(
            [*CLI, "drift", "--base-url", served.url, "--api-key", faulty.WRITE_KEY, "--read-only-key",
             faulty.READ_KEY, "--other-key", faulty.OTHER_KEY, "--allow-writes", "--appointment-id", faulty.LENT,
             "--days", str(DAYS), "--rate-limit", str(faulty.RATE_LIMIT), "--junitxml", str(report)],
            capture_output=True, text=True, timeout=120)
        after = served.control("/world")
        only_safe_writes(served, faulty.LENT)
        writes_sent = served.writes()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no drift: the deployment answered every check as the sandbox did" in result.stdout
    assert "not exercised" not in result.stdout
    for rule in RULES:  # every documented behaviour of the catalogue was exercised, and agreed
        assert any(line.split()[:2] == [rule, "agrees"] for line in result.stdout.splitlines()), rule
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and suite.get("skipped") == "0"
    assert int(suite.get("tests") or 0) == len(suite.findall("testcase")) > 40
    assert any(uri.endswith(faulty.LENT) for _, uri in writes_sent)  # writes were sent, and ...
    assert _appointments(after) == _appointments(before)  # ... everything is as it was


def _appointments(world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every appointment as the API shows it, but for updated_at (writes move it)."""
    shown = ("appointment_type", "branch_id", "date", "session", "batch", "token", "patient_name",
             "parent_phone", "assigned_doctor", "status", "external_reference_id", "created_at")
    return {a["appointment_id"]: {k: a.get(k) for k in shown}
            for org in world["organizations"] for a in org["appointments"]}


def test_the_console_report_names_the_request_both_answers_and_the_rule(world_file: Path, tmp_path: Path) -> None:
    with deployment("full-window-books", world_file, tmp_path) as served:
        report = tmp_path / "drift.xml"
        result = subprocess.run(
            [*CLI, "drift", "--base-url", served.url, "--api-key", faulty.WRITE_KEY, "--allow-writes",
             "--appointment-id", faulty.LENT, "--days", str(DAYS), "--no-rate-limit-probe", "--junitxml", str(report)],
            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("2 differences (") for line in lines)  # the write, its read-back
    row = next(line for line in lines if line.startswith("  1  capacity"))
    assert f"PATCH /v1/appointments/{faulty.LENT}" in row and "200 rescheduled" in row and "409 SLOT_FULL" in row
    assert f"   rule: {RULES['capacity'].text} ({RULES['capacity'].source})" in lines
    assert "   - status 200, expected 409" in lines
    assert "  scope            no --read-only-key" in lines  # what this run could not show, and why
    assert "  isolation        no --other-key (a key of another organization)" in lines
    failures = [case for case in ET.parse(report).getroot().iter("testcase") if case.find("failure") is not None]
    assert {case.get("classname") for case in failures} == {"drift.capacity"}


def _los_angeles(world: dict[str, Any], today: date) -> None:
    """Windows in America/Los_Angeles, the evening one across midnight UTC, bookings at their
    own times (not their windows' openings, which is all a mirror can see)."""
    org = world["organizations"][0]
    org["timezone"] = "America/Los_Angeles"
    for window in org["calendar_windows"]:
        if window["session"] == "Evening":
            window["start_time"], window["end_time"] = "15:00", "18:00"
    for n, appointment in enumerate(org["appointments"]):
        hour = "17" if appointment["session"] == "Evening" else "10"
        local = datetime.fromisoformat(f"{appointment['date']}T{hour}:{10 * n % 60:02d}:00-08:00")
        appointment["start_time"] = local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _many(world: dict[str, Any], today: date) -> None:
    """More appointments than a page holds, each at its own time in its window."""
    org = world["organizations"][0]
    for window in org["calendar_windows"]:
        if window["session"] == "Morning":
            window["max_slots"] = window["ai_slots"] = 8
    closed = today + timedelta(days=5)
    for n in range(60):
        on = today + timedelta(days=6 + n % 8)
        if on == closed:
            continue
        org["appointments"].append({
            "appointment_id": f"appt_many{n:06d}", "appointment_type": faulty.CHECKUP, "branch_id": "branch_main",
            "date": on.isoformat(), "session": "Morning", "batch": "MA", "patient_name": f"Patient {n}",
            "parent_phone": f"+9198100{n:05d}", "start_time": f"{on.isoformat()}T0{4 + n % 2}:{n % 60:02d}:00.000Z"})


def _left_out(world: dict[str, Any], today: date) -> None:
    """The lent patient's other booking sits in a disabled window: the mirror cannot see it,
    yet the deployment's duplicate rule counts it."""
    org = world["organizations"][0]
    on = today + timedelta(days=6)
    day = faulty.DAY_NAMES[on.weekday()]
    org["calendar_windows"].append({"id": "win-afternoon-off", "branch_id": "branch_main", "day": day,
                                    "session": "Afternoon", "batch": "AA", "start_time": "13:00",
                                    "end_time": "15:00", "max_slots": 2, "ai_slots": 2, "active": False})
    org["appointments"].append({"appointment_id": "appt_asha000009", "appointment_type": faulty.CHECKUP,
                                "branch_id": "branch_main", "date": on.isoformat(), "session": "Afternoon",
                                "batch": "AA", "patient_name": "Asha", "parent_phone": "+919800000001"})


@pytest.mark.parametrize("change", [_los_angeles, _many, _left_out], ids=["los-angeles", "many", "left-out"])
def test_a_faithful_deployment_the_mirror_sees_only_in_part_shows_no_drift(change: Any, tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    world = faulty.world(today)
    change(world, today)
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world))
    with deployment("faithful", path, tmp_path) as served:
        outcome = check(served.url, writes=True)
        only_safe_writes(served, faulty.LENT)
    assert outcome.drifted == [], [(r.rule, r.request, r.differences) for r in outcome.drifted]
    assert outcome.put_back and "is back as it was" in outcome.put_back


def test_a_run_cut_short_puts_the_lent_appointment_back_and_says_so(world_file: Path) -> None:
    """The deployment drops the connection on the first write to the lent appointment: the
    run stops with status 2, after putting the appointment back, and says so. (`serve` itself:
    it can drop a connection on demand, which nginx would turn into its own 502.)"""
    server = LiveServer("--world", str(world_file), "--quiet")
    try:
        def world() -> dict[str, Any]:
            return _appointments(Served(server.url, server.url, None).control("/world"))
        before = world()[faulty.LENT]
        rule = json.dumps({"operation": "updateAppointment", "appointment_id": faulty.LENT, "drop": True}).encode()
        urllib.request.urlopen(urllib.request.Request(server.url + "/_sandbox/forced-responses", data=rule,
                                                      headers={"Content-Type": "application/json"}), timeout=10)
        result = subprocess.run(
            [*CLI, "drift", "--base-url", server.url, "--api-key", faulty.WRITE_KEY, "--allow-writes",
             "--appointment-id", faulty.LENT, "--days", str(DAYS), "--no-rate-limit-probe"],
            capture_output=True, text=True, timeout=120)
        after = world()[faulty.LENT]
    finally:
        server.stop()
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: PATCH /v1/appointments/{faulty.LENT} got no answer"), last
    assert f"{faulty.LENT} is back as it was" in last
    assert after == before


def test_a_lent_id_the_mirror_does_not_hold_stops_the_run_before_any_write(world_file: Path, tmp_path: Path) -> None:
    with deployment("faithful", world_file, tmp_path) as served:
        result = subprocess.run(
            [*CLI, "drift", "--base-url", served.url, "--api-key", faulty.WRITE_KEY, "--allow-writes",
             "--appointment-id", "appt_nowhere0001", "--days", "7"], capture_output=True, text=True, timeout=60)
        assert served.writes() == []
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: the lent appointment appt_nowhere0001 is not in the mirror: the key's search does not show it")


def test_a_sandbox_served_with_its_defaults_shows_no_drift() -> None:
    """The first run a user makes: `serve` on the default world (its clock frozen in May 2026, no
    rate limit), then `drift` with one of its keys; then with writes to the documented
    appointment. Time is the sandbox's, from its Date header: on this machine's clock its
    appointments would be in the past, and the mirror would refuse the cancellation it accepts.
    A deployment that never answers 429 is said in one line, not drift (no --rate-limit given)."""
    server = LiveServer()  # `huskyvoice-sandbox serve`: no options but a free port
    try:
        runs = [subprocess.run([*CLI, "drift", "--base-url", server.url, "--api-key", WRITE_KEY, *more],
                               capture_output=True, text=True, timeout=120)
                for more in ([], ["--read-only-key", READ_KEY, "--other-key", OTHER_ORG_KEY, "--allow-writes",
                                  "--appointment-id", DOC_ID, "--from", "2026-06-10"])]
    finally:
        server.stop()
    for result in runs:
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert "no drift: the deployment answered every check as the sandbox did" in lines
        assert any(line.startswith("  time: the deployment's, from its Date header: 2026-05-26T11:00:00Z at the start")
                   for line in lines)
        [limit] = [line for line in lines if "rate-limit" in line]
        assert limit.split()[:5] == ["rate-limit", "no", "429", "after", "61"], limit
        assert "rate_limit_per_minute: null" in limit and "--rate-limit N" in limit
    exercised = [line.split()[0] for line in runs[1].stdout.splitlines() if line[2:3].isalpha()
                 and line.split()[1:2] == ["agrees"]]
    assert set(exercised) == set(RULES) - {"rate-limit"}  # every rule a lent appointment can show


def test_writes_need_a_lent_appointment() -> None:
    result = subprocess.run([*CLI, "drift", "--base-url", "http://127.0.0.1:9", "--api-key", "k", "--allow-writes"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--allow-writes needs --appointment-id" in result.stderr


def _nightly_step(page: Path) -> dict[str, Any]:
    """The drift step of the GitHub Actions workflow a page shows."""
    import yaml

    text = page.read_text(encoding="utf-8")
    start = text.index("```yaml no-run (a GitHub Actions workflow")
    block = text[text.index("\n", start) + 1:text.index("```", start + 3)]
    steps = yaml.safe_load(block)["jobs"]["drift"]["steps"]
    return next(step for step in steps if step.get("name") == "Drift check against staging")


def test_the_nightly_workflow_step_runs_as_written(world_file: Path, tmp_path: Path) -> None:
    """The step the README and docs/drift.md show, with its secrets and variables filled in
    and staging replaced by a faithful deployment: it passes, and leaves its report and mirror."""
    import re

    root = Path(__file__).parents[1]
    if not (root / "docs").is_dir():
        pytest.skip("not run from a checkout")
    step = _nightly_step(root / "README.md")
    assert step == _nightly_step(root / "docs" / "drift.md")
    given = {"secrets.HUSKYVOICE_API_KEY": faulty.WRITE_KEY, "secrets.HUSKYVOICE_READ_ONLY_KEY": faulty.READ_KEY,
             "secrets.HUSKYVOICE_OTHER_KEY": faulty.OTHER_KEY, "vars.HUSKYVOICE_LENT_APPOINTMENT": faulty.LENT}
    env = {name: re.sub(r"\$\{\{ *([\w.]+) *\}\}", lambda m: given[m.group(1)], str(value))
           for name, value in step["env"].items()}
    assert env["HUSKYVOICE_BASE_URL"] == "https://staging.example.com"
    with deployment("faithful", world_file, tmp_path) as served:
        env["HUSKYVOICE_BASE_URL"] = served.url
        env["HUSKYVOICE_RATE_LIMIT"] = str(faulty.RATE_LIMIT)  # the test world's limit, not the documented 60
        bin_dir = str(Path(sys.executable).parent)
        result = subprocess.run(["bash", "-c", step["run"]], cwd=tmp_path, capture_output=True, text=True,
                                timeout=120, env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env})
        only_safe_writes(served, faulty.LENT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no drift" in result.stdout
    assert (tmp_path / "drift.xml").is_file()
    subprocess.run([*CLI, "validate", str(tmp_path / "staging-mirror.yaml")], check=True, capture_output=True)
