"""The pytest plugin (huskyvoice_sandbox.testing.pytest_plugin): the example integrator project passes with it, small
pytester projects show each way to choose a world, isolation between tests and the failure
messages, and this suite uses the fixtures itself for the handle's API."""

from __future__ import annotations

import importlib.util
import inspect
import json
import shutil
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, get_type_hints

import pytest
import yaml
from huskyvoice_sandbox.session.forcing import ConnectionDropped
from huskyvoice_sandbox.spec.contract import Contract
from huskyvoice_sandbox.testing.generate import COMMAND, OUTPUT, helper_name, render
from huskyvoice_sandbox.testing.generate import main as generate_main
from huskyvoice_sandbox.testing.operations import OperationHelpers
from huskyvoice_sandbox.testing.pytest_plugin import SandboxControlError

from helpers import DOC_ID, check_response, sample_query, sample_request

EXAMPLE = Path(__file__).parents[1] / "examples" / "clinic-reminders"
EXAMPLE_TESTS = 19  # the client tests run in process and served
DOC = "appt_a1b2c3d4e5"  # the default world's documented appointment


def tiny_world(label: str) -> dict[str, Any]:
    """A one-appointment world whose description (and read-write key, `sk_<label>`) is `label`."""
    service = "2b8f4c1e-6a3d-4e5f-9b7a-1c2d3e4f5a6b"
    return {"version": 1, "description": label, "clock": "2026-06-01T08:00:00.000Z", "organizations": [{
        "id": "org_tiny", "name": "Tiny", "timezone": "UTC",
        "api_keys": [{"key": "sk_tiny_read", "scopes": ["appointments:read"]},
                     {"key": f"sk_{label}", "scopes": ["appointments:read", "appointments:write"]}],
        "services": [{"id": service, "name": "Checkup"}],
        "branches": [{"id": "b1", "name": "Main"}],
        "calendar_windows": [{"id": "w1", "branch_id": "b1", "day": "monday", "session": "Morning",
                              "batch": "MA", "start_time": "09:00", "end_time": "12:00",
                              "max_slots": 2, "ai_slots": 2}],
        "appointments": [{"appointment_id": "appt_tiny", "appointment_type": service, "branch_id": "b1",
                          "date": "2026-06-15", "session": "Morning", "batch": "MA",
                          "patient_name": "Tia", "parent_phone": "+10000000000"}]}]}


def bad_world() -> dict[str, Any]:
    """Three problems: an unknown timezone, an unknown branch, and so an unplaced appointment."""
    world = tiny_world("bad")
    org = world["organizations"][0]
    org["timezone"] = "Mars/Olympus"
    org["calendar_windows"][0]["branch_id"] = "nowhere"
    return world


def write_worlds(pytester: pytest.Pytester, *labels: str) -> None:
    (pytester.path / "worlds").mkdir(exist_ok=True)
    for label in labels:
        (pytester.path / "worlds" / f"{label}.yaml").write_text(yaml.safe_dump(tiny_world(label)))


# -- the example project ------------------------------------------------------------------------

def test_the_example_project_passes_with_the_installed_plugin(pytester: pytest.Pytester) -> None:
    if not EXAMPLE.is_dir():
        pytest.skip(f"{EXAMPLE} is absent (an installed copy without examples/)")
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")  # the entry point loads it
    result.assert_outcomes(passed=EXAMPLE_TESTS)


# -- choosing the world ---------------------------------------------------------------------------

SOURCES = """
import os
import pytest

def described(handle):
    return handle.world()["description"]

def test_unmarked(huskyvoice):
    assert described(huskyvoice) == os.environ.get("EXPECTED_WORLD", "ini")

@pytest.mark.huskyvoice_world("worlds/marker.yaml")
def test_marker_with_a_relative_path(huskyvoice):
    assert described(huskyvoice) == "marker"

@pytest.mark.huskyvoice_world(%r)
def test_marker_with_a_document(huskyvoice):
    assert described(huskyvoice) == "document"

@pytest.mark.huskyvoice_world("worlds/class.yaml")
class TestTheClosestMarkerWins:
    def test_class_marker(self, huskyvoice):
        assert described(huskyvoice) == "class"

    @pytest.mark.huskyvoice_world(source="worlds/marker.yaml")
    def test_method_marker(self, huskyvoice):
        assert described(huskyvoice) == "marker"
"""

OVERRIDE_CONFTEST = """
import pytest

@pytest.fixture
def huskyvoice_world():
    return %r
"""

# The default fixture is session-scoped; an override may take per-test fixtures all the same.
PER_TEST_CONFTEST = """
import json
import pytest

@pytest.fixture
def huskyvoice_world(tmp_path):
    path = tmp_path / "world.yaml"
    path.write_text(json.dumps(%r))
    return path
"""

OVERRIDDEN = """
import pytest

def test_the_fixture_chooses(huskyvoice):
    assert huskyvoice.world()["description"] == %r
    assert huskyvoice.key == "sk_%s"  # the first key that can read and write

@pytest.mark.huskyvoice_world("worlds/marker.yaml")
def test_a_marker_beats_the_fixture(huskyvoice):
    assert huskyvoice.world()["description"] == "marker"
"""


def test_worlds_come_from_marker_fixture_ini_and_command_line(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write_worlds(pytester, "ini", "marker", "class", "cli", "fixture")
    pytester.makeini("[pytest]\nhuskyvoice_world = worlds/ini.yaml\n")
    pytester.makepyfile(test_sources=SOURCES % (tiny_world("document"),))
    for folder, world, label in (("by_path", "worlds/fixture.yaml", "fixture"),
                                 ("by_document", tiny_world("fixture-document"), "fixture-document")):
        (pytester.path / folder).mkdir()
        (pytester.path / folder / "conftest.py").write_text(OVERRIDE_CONFTEST % (world,))
        (pytester.path / folder / f"test_{folder}.py").write_text(OVERRIDDEN % (label, label))
    (pytester.path / "per_test").mkdir()
    (pytester.path / "per_test" / "conftest.py").write_text(PER_TEST_CONFTEST % (tiny_world("per-test"),))
    (pytester.path / "per_test" / "test_per_test.py").write_text(OVERRIDDEN % ("per-test", "per-test"))

    pytester.runpytest().assert_outcomes(passed=11)

    monkeypatch.setenv("EXPECTED_WORLD", "cli")
    pytester.runpytest("--huskyvoice-world", "worlds/cli.yaml", "-k", "unmarked").assert_outcomes(passed=1)


WRAPPED = """
import urllib.request
import pytest

CALLS = []


class Client:  # what a project's own wrapper of the handle may look like: no `.app`
    def __init__(self, sandbox):
        self.sandbox = sandbox


@pytest.fixture
def huskyvoice(huskyvoice):
    return Client(huskyvoice)


@pytest.fixture
def huskyvoice_world():
    CALLS.append("override")
    return "worlds/fixture.yaml"


def test_the_server_does_not_go_through_an_overridden_huskyvoice(huskyvoice_server):
    request = urllib.request.Request(huskyvoice_server.url + "/v1/appointments/appt_tiny",
                                     headers={"Authorization": "Bearer sk_fixture"})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200


@pytest.mark.huskyvoice_world("worlds/marker.yaml")
def test_a_marker_wins_without_running_the_override(huskyvoice):
    assert huskyvoice.sandbox.world()["description"] == "marker"
    assert CALLS == ["override"]  # the first test's call only
"""


def test_overrides_of_huskyvoice_and_huskyvoice_world_change_only_what_they_name(
        pytester: pytest.Pytester) -> None:
    write_worlds(pytester, "fixture", "marker")
    pytester.makepyfile(test_wrapped=WRAPPED)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


BAD_WORLDS = """
import pytest

@pytest.mark.huskyvoice_world(%r)
def test_bad_document(huskyvoice):
    pass

@pytest.mark.huskyvoice_world("worlds/missing.yaml")
def test_missing_file(huskyvoice_server):
    pass

@pytest.mark.huskyvoice_world(42)
def test_not_a_world(huskyvoice):
    pass
"""


def test_a_bad_world_fails_setup_listing_every_problem(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BAD_WORLDS % (bad_world(),))
    result = pytester.runpytest()
    result.assert_outcomes(errors=3)
    missing = pytester.path / "worlds" / "missing.yaml"
    for line in ("huskyvoice: the world from the huskyvoice_world marker was refused",
                 "<marker>: the world has 3 problems; nothing was loaded",
                 "  organizations[0].timezone: unknown timezone 'Mars/Olympus' "
                 "(use an IANA name such as UTC or Asia/Kolkata)",
                 "  organizations[0].calendar_windows[0].branch_id: unknown branch 'nowhere'",
                 f"{missing}: the world has 1 problem; nothing was loaded",
                 "  file: No such file or directory",
                 "huskyvoice: the huskyvoice_world marker must give a path, a world document (dict) or None, not int"):
        assert line in result.stdout.lines
    result.stdout.no_fnmatch_line("*pytest_plugin.py*")
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*During handling*")


# -- isolation --------------------------------------------------------------------------------------

ISOLATION = """
import pytest

DOC = "appt_a1b2c3d4e5"
LAKEVIEW, LIMITED_KEY = "appt_9z8y7x6w5v", "sk_test_other_write"  # 5 requests a minute

NAMED = {"X-Sandbox-Session": "worker-1"}

def check_pristine_then_change_everything(sandbox):
    assert sandbox.journal() == []
    assert sandbox.now() == "2026-05-26T11:00:00.000Z"
    assert sandbox.snapshots() == [] and sandbox.forced() == []
    assert sandbox.get_appointment(DOC).data["assigned_doctor"] is None
    assert sandbox.get_appointment(LAKEVIEW, key=LIMITED_KEY).status == 200
    assert [row["name"] for row in sandbox.request("GET", "/_sandbox/sessions").data["sessions"]] == ["default"]
    assert sandbox.get_appointment(DOC, headers=NAMED).data.get("notes") != "named"
    assert sandbox.world()["description"] != "replaced"

    assert sandbox.update_appointment(DOC, {"notes": "named"}, headers=NAMED).status == 200
    replaced = sandbox.world()
    replaced["description"] = "replaced"
    sandbox.load_world(replaced)  # first: it resets the rate-limit counters

    assert sandbox.update_appointment(DOC, {"assigned_doctor": "Dr. Leak"}).status == 200
    limited = [sandbox.get_appointment(LAKEVIEW, key=LIMITED_KEY).status for _ in range(6)]
    assert limited[-1] == 429
    sandbox.freeze_clock("2030-01-01T00:00:00.000Z")
    sandbox.snapshot("changed")
    sandbox.force(500, operation="getAppointment", times=5)

@pytest.mark.parametrize("run", [1, 2])
def test_in_process(huskyvoice, run):
    check_pristine_then_change_everything(huskyvoice)

@pytest.mark.parametrize("run", [1, 2])
def test_served(huskyvoice_server, run):
    check_pristine_then_change_everything(huskyvoice_server)

@pytest.mark.parametrize("run", [1, 2])
def test_a_changed_app_is_not_reused(huskyvoice, run):
    assert huskyvoice.app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    huskyvoice.app.config["MAX_CONTENT_LENGTH"] = 10

def test_both_handles_of_a_test_share_its_sandbox(huskyvoice, huskyvoice_server):
    huskyvoice_server.update_appointment(DOC, {"assigned_doctor": "Dr. Http"})
    assert huskyvoice.get_appointment(DOC).data["assigned_doctor"] == "Dr. Http"
"""


def test_nothing_leaks_from_one_test_to_the_next(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ISOLATION)
    pytester.runpytest().assert_outcomes(passed=7)  # whatever order pytest-randomly picks


def test_nothing_leaks_between_tests_of_xdist_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ISOLATION)
    pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly").assert_outcomes(passed=7)


SERVED = """
import json
import urllib.error
import urllib.request
import pytest

urls = []

def test_plain_urllib_reaches_it(huskyvoice_url):
    request = urllib.request.Request(huskyvoice_url + "/v1/appointments/appt_a1b2c3d4e5",
                                     headers={"Authorization": "Bearer sk_test_demo_write"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["data"]["patient_name"] == "Aadhi"
    urls.append(huskyvoice_url)
    with open("url.txt", "w") as seen:  # for the outer test: the server is gone afterwards
        seen.write(huskyvoice_url)

def test_one_server_per_session(huskyvoice_url):
    assert huskyvoice_url == urls[0]

def test_between_tests_it_answers_503():
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urls[0] + "/_sandbox/health", timeout=10)
    assert refused.value.code == 503
"""


def test_one_served_sandbox_per_session_reachable_with_urllib(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SERVED)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)

    url = (pytester.path / "url.txt").read_text()
    with pytest.raises(urllib.error.URLError):  # closed at the end of the session
        urllib.request.urlopen(url + "/_sandbox/health", timeout=5)


# -- failure messages -----------------------------------------------------------------------------

JOURNAL_ASSERTIONS = """
DOC = "appt_a1b2c3d4e5"

def test_expects_two_conflicts(huskyvoice):
    huskyvoice.force(409, example="SLOT_FULL", operation="updateAppointment")
    huskyvoice.update_appointment(DOC, {"notes": "x"})
    huskyvoice.get_appointment(DOC)
    huskyvoice.assert_called("updateAppointment", times=2, code="SLOT_FULL")

def test_expects_no_reads(huskyvoice_server):
    huskyvoice_server.get_appointment(DOC)
    huskyvoice_server.assert_not_called("getAppointment")

def test_expects_a_call(huskyvoice):
    huskyvoice.assert_called()
"""


def test_journal_assertions_show_the_expectation_and_the_journal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(JOURNAL_ASSERTIONS)
    result = pytester.runpytest()
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random([
        "E*expected exactly 2 updateAppointment calls with code='SLOT_FULL', found 1",
        "E*journal (2 calls):",
        "E*#1 PATCH /v1/appointments/appt_a1b2c3d4e5 -> 409 SLOT_FULL (forced)",
        "E*#2 GET /v1/appointments/appt_a1b2c3d4e5 -> 200",
        "E*expected no getAppointment calls, found 1",
        "E*#1 GET /v1/appointments/appt_a1b2c3d4e5 -> 200",
        "E*expected at least 1 API call, found 0",
        "E*the journal is empty: no API requests were made",
    ])
    result.stdout.no_fnmatch_line("*pytest_plugin.py*")  # the traceback ends in the test


# -- the plugin's cost when unused ------------------------------------------------------------------

def test_an_unused_plugin_does_not_import_flask(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import sys

        def test_nothing_heavy_was_imported():
            assert "huskyvoice_sandbox.testing.pytest_plugin" in sys.modules
            assert "flask" not in sys.modules
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


# -- the handles' API, through this suite's own use of the fixtures ------------------------------------

def test_a_refused_control_call_raises_with_the_sandbox_explanation(huskyvoice) -> None:
    with pytest.raises(SandboxControlError) as missing:
        huskyvoice.restore("missing")
    assert str(missing.value) == \
        "POST /_sandbox/snapshots/missing/restore -> 404 NOT_FOUND: No snapshot named missing in this session."
    assert not isinstance(missing.value, AssertionError)

    with pytest.raises(SandboxControlError) as refused:
        huskyvoice.load_world(bad_world())
    lines = str(refused.value).splitlines()
    assert lines[0] == ("PUT /_sandbox/world -> 400 INVALID_WORLD: "
                        "request body: the world has 3 problems; nothing was loaded")
    assert lines[1:3] == [
        "  organizations[0].timezone: unknown timezone 'Mars/Olympus' (use an IANA name such as UTC or Asia/Kolkata)",
        "  organizations[0].calendar_windows[0].branch_id: unknown branch 'nowhere'"]
    assert (refused.value.code, len(refused.value.details)) == ("INVALID_WORLD", 3)
    assert huskyvoice.get_appointment(DOC).status == 200  # the old world stays


def test_load_world_from_a_path_and_the_key_follows_it(huskyvoice) -> None:
    assert huskyvoice.key == "YOUR_API_KEY"
    huskyvoice.load_world("fixtures/scenarios/slot-full.yaml")  # relative to the rootdir
    assert huskyvoice.key == "sk_test_full_write"
    assert [k["organization"] for k in huskyvoice.keys] == ["org_full"]
    huskyvoice.load_world(tiny_world("document"))
    assert huskyvoice.world()["description"] == "document"
    assert huskyvoice.get_appointment("appt_tiny", key="").code == "UNAUTHORIZED"


def test_unknown_operation_names_are_refused(huskyvoice) -> None:
    from huskyvoice_sandbox.spec.contract import Contract

    valid = "the spec's operations are: " + ", ".join(sorted(Contract().operations))
    for method in (huskyvoice.calls, huskyvoice.call_count, huskyvoice.assert_called,
                   huskyvoice.assert_not_called, huskyvoice.force):
        with pytest.raises(ValueError, match=f"unknown operation 'patchAppointment'; {valid}"):
            method(operation="patchAppointment")
    assert huskyvoice.forced() == []


def test_the_clock_methods(huskyvoice) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    assert huskyvoice.freeze_clock(datetime(2026, 6, 1, 10, 0, tzinfo=india)) == "2026-06-01T04:30:00.000Z"
    assert huskyvoice.advance_clock(90) == huskyvoice.now() == "2026-06-01T04:31:30.000Z"
    with pytest.raises(ValueError, match="aware datetime"):
        huskyvoice.freeze_clock(datetime(2026, 6, 1, 10, 0))
    huskyvoice.real_clock()
    assert not huskyvoice.now().startswith("2026-06-01T04:31")
    with pytest.raises(SandboxControlError, match="the clock is not frozen"):
        huskyvoice.advance_clock(1)


def test_forced_answers_show_in_replies_and_the_journal(huskyvoice) -> None:
    rule = huskyvoice.force(429, operation="getAppointment", headers={"Retry-After": 7}, times=2)
    assert (rule["remaining"], huskyvoice.forced()[0]["id"]) == (2, rule["id"])

    reply = huskyvoice.get_appointment(DOC)
    assert (reply.status, reply.code, reply.headers["retry-after"]) == (429, "RATE_LIMIT_EXCEEDED", "7")
    huskyvoice.clear_forced()
    assert huskyvoice.get_appointment(DOC).data["appointment_id"] == DOC

    first, second = huskyvoice.journal()
    assert str(first) == f"GET /v1/appointments/{DOC} -> 429 RATE_LIMIT_EXCEEDED (forced)"
    assert (first.forced["rule"], second.forced) == (rule["id"], None)
    assert huskyvoice.call_count("getAppointment", forced=False, status=200) == 1


def test_a_forced_drop_raises_a_connection_error(huskyvoice, huskyvoice_server) -> None:
    huskyvoice.force(drop=True, times=2)
    with pytest.raises(ConnectionDropped):
        huskyvoice.get_appointment(DOC)
    with pytest.raises(ConnectionError):
        huskyvoice_server.update_appointment(DOC, {"assigned_doctor": "Dr. Lost"})

    assert [str(call) for call in huskyvoice.journal()] == [
        f"GET /v1/appointments/{DOC} -> dropped (forced)",
        f"PATCH /v1/appointments/{DOC} -> dropped (forced)"]
    assert huskyvoice.get_appointment(DOC).data["assigned_doctor"] is None


# -- forced delays and the end of a test ------------------------------------------------------------

def test_forced_delays_end_with_their_test(pytester: pytest.Pytester) -> None:
    """A test whose client timed out on forced delays (more of them than the server has
    threads) must not leave the next test, or the end of the session, waiting for them."""
    pytester.makepyfile("""
        import urllib.request
        import pytest

        def test_my_client_times_out(huskyvoice_server):
            huskyvoice_server.force(delay_ms=60000, times=12)
            for _ in range(12):
                with pytest.raises(OSError):  # a timeout
                    urllib.request.urlopen(huskyvoice_server.url + "/v1/appointments/x", timeout=0.2)

        def test_the_next_test_is_served_at_once(huskyvoice_server):
            huskyvoice_server.timeout = 20  # the delays above had 60 s left
            assert huskyvoice_server.now()
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=45).assert_outcomes(passed=2)


# -- call(): any operation of the spec by its operationId ---------------------------------------

SPEC = Contract()
WINDOW_ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"  # the default world's documented window
PATH_VALUES = {"appointment_id": DOC_ID, "slot_id": WINDOW_ID}


def spec_example_call(operation_id: str) -> dict[str, Any]:
    """call()'s arguments for a valid request, from the spec alone: the default world's ids,
    required query parameters' examples, the first request example."""
    op = SPEC.operations[operation_id]
    _, _, body = sample_request(SPEC, operation_id)
    arguments: dict[str, Any] = {"path": {name: PATH_VALUES[name] for name in op.path_params},
                                 "query": sample_query(SPEC, operation_id)}
    if body:
        arguments["json"] = json.loads(body)
    return arguments


@pytest.mark.parametrize("operation_id", sorted(SPEC.operations))
def test_call_reaches_every_operation_of_the_spec(huskyvoice, operation_id: str) -> None:
    """The method and path come from the spec; the key is the world's first its scopes allow,
    so even the slot operations (slots:read, slots:write) need no key named."""
    op = SPEC.operations[operation_id]
    reply = huskyvoice.call(operation_id, **spec_example_call(operation_id))
    assert reply.status not in (401, 403) and reply.status < 500, (reply.status, reply.json)
    if op.method == "GET":
        assert reply.status == 200, reply.json
    path = op.path.replace("{appointment_id}", DOC_ID).replace("{slot_id}", WINDOW_ID)
    check_response(SPEC, op.method, path, reply.status, reply.headers, reply.body)
    assert [(c.operation, c.method, c.path) for c in huskyvoice.calls()] == [(operation_id, op.method, path)]


def test_call_with_the_default_key_of_the_handle_is_refused_where_scopes_differ(huskyvoice) -> None:
    tracking = huskyvoice.call("getScheduleTracking", **spec_example_call("getScheduleTracking"))
    assert tracking.status == 200
    refused = huskyvoice.call("getScheduleTracking", key=huskyvoice.key, **spec_example_call("getScheduleTracking"))
    assert (refused.status, refused.code) == (403, "INSUFFICIENT_SCOPE")
    assert huskyvoice.call("getAppointment", path={"appointment_id": DOC_ID}, key="").status == 401


def test_call_names_what_is_wrong_with_its_arguments(huskyvoice) -> None:
    with pytest.raises(ValueError, match="unknown operation 'getAppointmnet'; the spec's operations are: .*"):
        huskyvoice.call("getAppointmnet")
    with pytest.raises(TypeError, match=r"takes path=\{'appointment_id'\}; missing appointment_id"):
        huskyvoice.call("getAppointment")
    with pytest.raises(TypeError, match="unknown slot_id"):
        huskyvoice.call("getAppointment", path={"appointment_id": DOC_ID, "slot_id": "x"})


# -- the typed helpers: one per operation, generated from the spec into operations.py ----------

SLOT_OPERATIONS = ("createCalendarWindow", "updateCalendarWindow", "disableCalendarWindow",
                   "getScheduleTracking", "updateScheduleTracking", "regenerateScheduleTracking")
SCHEMA_TYPES = {"string": str, "integer": int, "boolean": bool}


def test_operations_py_is_what_the_generator_writes_from_the_spec() -> None:
    written = render(SPEC)
    assert written == OUTPUT.read_text(encoding="utf-8"), \
        f"{OUTPUT.name} is not what openapi.yaml gives: run `{COMMAND}` and commit the result"


@pytest.mark.parametrize("operation_id", sorted(SPEC.operations))
def test_every_operation_has_a_typed_helper_on_the_handle(huskyvoice, operation_id: str) -> None:
    """Named after the operationId; its path parameters, then its body, positional; its query
    parameters keyword-only, typed from their schemas, required where the spec says."""
    op, name = SPEC.operations[operation_id], helper_name(operation_id)
    assert callable(getattr(huskyvoice, name, None)), f"the handle has no {name}() for {operation_id}"
    generated = getattr(OperationHelpers, name)
    parameters = list(inspect.signature(generated).parameters.values())[1:]
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [*op.path_params, *(["body"] if op.body_pointer else [])]
    keyword = {p.name: p for p in parameters if p.kind is p.KEYWORD_ONLY}
    assert list(keyword) == [param.name for param in op.query] + ["key", "headers"]
    hints = get_type_hints(generated)
    for param in op.query:
        wanted = SCHEMA_TYPES[param.kind]
        assert hints[param.name] == (wanted if param.required else wanted | None), param.name
        assert (keyword[param.name].default is inspect.Parameter.empty) == param.required, param.name
    summary = SPEC.spec["paths"][op.path][op.method.lower()]["summary"]
    assert " ".join((generated.__doc__ or "").split()).startswith(summary), generated.__doc__


def test_the_docs_name_the_rule_and_the_regenerate_command() -> None:
    """The docs give the naming rule and examples, not a second list of the spec's operations."""
    documented = (Path(__file__).parents[1] / "docs" / "pytest-plugin.md").read_text(encoding="utf-8")
    assert COMMAND in documented
    named = [name for name in SPEC.operations if f"`{name}`" in documented]
    assert len(named) < len(SPEC.operations) // 2, f"a hand-kept list of operations: {named}"
    for example in ("create_calendar_window(body)", "update_schedule_tracking(slot_id, body)", "list_services()"):
        assert f"`{example}`" in documented


def spec_path_example(op: Any, name: str) -> str:
    """A path parameter's example in the spec (a tracking record's id, a window's...)."""
    item = SPEC.spec["paths"][op.path]
    declared = [SPEC.deref(p) for p in item.get("parameters", []) + item[op.method.lower()].get("parameters", [])]
    return next(p["example"] for p in declared if p["in"] == "path" and p["name"] == name)


@pytest.mark.parametrize("operation_id", SLOT_OPERATIONS)
def test_each_generated_slot_helper_answers_its_documented_success(huskyvoice, operation_id: str) -> None:
    """The spec's examples (path parameters, required query parameters, the first request
    body) through the generated helper: the status is the operation's 2xx, its answer keeps the
    contract, and the journal shows that operation at that path."""
    op, name = SPEC.operations[operation_id], helper_name(operation_id)
    assert getattr(type(huskyvoice), name) is getattr(OperationHelpers, name), f"{name} is not the generated one"
    example = spec_example_call(operation_id)
    path_values = [spec_path_example(op, param) for param in op.path_params]
    reply = getattr(huskyvoice, name)(*path_values, *([example["json"]] if "json" in example else []),
                                      **example["query"])
    success = min(status for status in SPEC.responses[operation_id] if 200 <= status < 300)
    assert reply.status == success, reply.json
    path = op.path
    for param, value in zip(op.path_params, path_values, strict=True):
        path = path.replace("{" + param + "}", value)
    check_response(SPEC, op.method, path, reply.status, reply.headers, reply.body)
    assert [(c.operation, c.method, c.path) for c in huskyvoice.calls()] == [(operation_id, op.method, path)]


@pytest.mark.huskyvoice_world(tiny_world("alias"))
def test_the_older_helpers_send_the_handles_key_the_generated_ones_the_operations(huskyvoice) -> None:
    """availability(), services() and appointment_config() send `.key` (the first key that reads
    and writes appointments) as they always did; the generated helpers they stand for send the
    first key the operation accepts (here the read-only one)."""
    assert huskyvoice.availability("2026-06-15").status == huskyvoice.get_availability(date="2026-06-15").status == 200
    assert huskyvoice.services().data == huskyvoice.list_services().data
    assert huskyvoice.appointment_config().data == huskyvoice.get_appointment_config().data
    huskyvoice.get_availability(date="2026-06-15", key=huskyvoice.key)
    huskyvoice.get_availability(date="2026-06-15", key="sk_tiny_read")
    older, generated = [call.key for call in huskyvoice.journal()][-2:]  # as the journal masks them
    assert older != generated
    assert [call.key for call in huskyvoice.journal()][:-2] == [older, generated] * 3


def test_an_operation_added_to_the_spec_gets_a_helper_by_regenerating(tmp_path: Path) -> None:
    spec = yaml.safe_load(SPEC.text)
    spec["components"]["parameters"].update({  # by reference: the path has a template
        "IncludeDisabled": {"name": "include-disabled", "in": "query", "required": True, "schema": {"type": "boolean"}},
        "HistoryLimit": {"name": "limit", "in": "query", "schema": {"type": "integer"}}})
    spec["paths"]["/v1/appointment-slots/{slot_id}/history"] = {"get": {
        "operationId": "getWindowHistory", "summary": "A window's changes", "tags": ["slots"],
        "parameters": [{"$ref": f"#/components/parameters/{name}"}
                       for name in ("SlotId", "IncludeDisabled", "HistoryLimit")],
        "responses": {"200": {"description": "The window's changes"}}}}
    (tmp_path / "openapi.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    written = tmp_path / "operations.py"
    assert generate_main(["--spec", str(tmp_path / "openapi.yaml"), "--output", str(written)]) == 0
    loader = importlib.util.spec_from_file_location("huskyvoice_sandbox.testing._regenerated", written)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)

    class Recorder(module.OperationHelpers):  # type: ignore[name-defined, misc]
        def call(self, operation_id: str, **given: Any) -> Any:
            return operation_id, given

    sent = Recorder().get_window_history("w1", include_disabled=True)
    assert sent == ("getWindowHistory", {"path": {"slot_id": "w1"}, "query": {"include-disabled": True, "limit": None},
                                         "key": None, "headers": None})
    assert module.OperationHelpers.get_window_history.__doc__ == \
        "A window's changes: `GET /v1/appointment-slots/{slot_id}/history`."
    with pytest.raises(TypeError, match="include_disabled"):
        Recorder().get_window_history("w1")
