"""Watch mode: `serve --fixtures PATH --watch` reloads the world when the file changes, reports
a version with problems and keeps the previous world, and survives files that disappear or are
caught half written. First through the command line, as users run it; then `WorldWatcher` on its
own (no Flask), step by step with `check()` and on its thread."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from huskyvoice_sandbox.resources import default_world_path
from huskyvoice_sandbox.serve.watch import WorldWatcher
from huskyvoice_sandbox.worlds.world import World

from helpers import DOC_ID, WRITE_KEY, appointment_in

WAIT = 10.0  # seconds: the bound on every wait for the server or the watcher
NAME_LINE = "        patient_name: Aadhi\n"  # the documented appointment's, in the default world
KEPT = "kept the previous world"


def default_text() -> str:
    return default_world_path().read_text(encoding="utf-8")


def renamed(name: str) -> str:
    """The default world with the documented appointment's patient renamed."""
    text = default_text()
    assert text.count(NAME_LINE) == 1
    return text.replace(NAME_LINE, f"        patient_name: {name}\n")


def with_unknown_field() -> tuple[str, str]:
    """A world failing the schema, and the located line its report must hold."""
    return (default_text().replace(NAME_LINE, NAME_LINE + "        colour: red\n"),
            "  organizations[0].appointments[0]: unknown field 'colour'")


def with_yaml_error() -> tuple[str, re.Pattern[str]]:
    """A world that is not YAML, and the located line its report must hold."""
    text = default_text()
    line = text[:text.index(NAME_LINE)].count("\n") + 1
    return (renamed("Clinic: Main"), re.compile(rf"^  line {line}, column \d+: not valid YAML"))


def wait_until(condition: Callable[[], bool], what: str, output: Callable[[], str] = str,
               timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s\n{output()}")
        time.sleep(0.05)


# -- the command line -------------------------------------------------------------------------

class WatchingServer:
    """`huskyvoice-sandbox serve --port 0 --fixtures PATH --watch --quiet`, its output (stdout
    and stderr merged) read line by line as it comes; the URL is taken from the banner."""

    def __init__(self, path: Path) -> None:
        command = [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()", "serve",
                   "--port", "0", "--fixtures", str(path), "--watch", "--quiet"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for_output(lambda lines: any(" API " in x for x in lines), "banner")
        found = re.search(r"http://127\.0\.0\.1:\d+", "\n".join(self.lines))
        assert found, self.lines
        self.url = found.group(0)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_output(self, condition: Callable[[list[str]], bool], what: str) -> None:
        wait_until(lambda: condition(list(self.lines)) or self.process.poll() is not None,
                   what, self.said)
        assert condition(list(self.lines)), f"no {what}\n{self.said()}"

    def said(self) -> str:
        return "the server said:\n" + "\n".join(self.lines)

    def stop(self) -> str:
        self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        return "\n".join(self.lines)


@pytest.fixture
def watching_server() -> Iterator[Callable[[Path], WatchingServer]]:
    servers: list[WatchingServer] = []

    def start(path: Path) -> WatchingServer:
        servers.append(WatchingServer(path))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.mark.live
def test_serve_watch_follows_the_file_and_keeps_the_world_through_problems(
        watching_server, checked_http, tmp_path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(default_text(), encoding="utf-8")
    server = watching_server(path)
    url = server.url

    def patient() -> str:
        world = checked_http("GET", f"{url}/_sandbox/world").json()["data"]
        return appointment_in(world, DOC_ID)["patient_name"]

    def served(name: str) -> None:
        wait_until(lambda: patient() == name, f"{name} served", server.said)

    def reports(count: int) -> Callable[[list[str]], bool]:
        return lambda lines: lines.count(KEPT) >= count

    assert patient() == "Aadhi"
    patched = checked_http("PATCH", f"{url}/v1/appointments/{DOC_ID}",
                           headers={"Authorization": f"Bearer {WRITE_KEY}"}, json={"notes": "x"})
    assert patched.status_code == 200

    # an edit is served, from a fresh state: the PATCH above is gone with the old world
    path.write_text(renamed("Beatrice"), encoding="utf-8")
    served("Beatrice")
    world = checked_http("GET", f"{url}/_sandbox/world").json()["data"]
    assert appointment_in(world, DOC_ID)["notes"] is None
    server.wait_for_output(lambda lines: f"reloaded {path}: 2 organizations, 10 appointments"
                           in " ".join(lines), "reload line")

    # a schema problem and a YAML syntax error: reported, located; the previous world stays
    text, located = with_unknown_field()
    path.write_text(text, encoding="utf-8")
    server.wait_for_output(reports(1), "report of the unknown field")
    assert located in server.lines
    assert server.process.poll() is None and patient() == "Beatrice"
    text, pattern = with_yaml_error()
    path.write_text(text, encoding="utf-8")
    server.wait_for_output(reports(2), "report of the YAML error")
    assert any(pattern.search(line) for line in server.lines), server.lines
    assert server.process.poll() is None and patient() == "Beatrice"

    # the fix is picked up
    path.write_text(renamed("Carmen"), encoding="utf-8")
    served("Carmen")

    # deleted: reported, kept; recreated: loaded
    path.unlink()
    server.wait_for_output(reports(3), "report of the missing file")
    assert "  file: No such file or directory" in server.lines
    assert server.process.poll() is None and patient() == "Carmen"
    path.write_text(renamed("Dora"), encoding="utf-8")
    served("Dora")

    # written the way editors save: a temporary file renamed over it
    temporary = tmp_path / ".world.yaml.tmp"
    temporary.write_text(renamed("Esme"), encoding="utf-8")
    os.replace(temporary, path)
    served("Esme")

    output = server.stop()
    assert re.search(rf"^  watching +{re.escape(str(path))} ", output, re.M), output
    reloads = re.findall(rf"reloaded {re.escape(str(path))}: 2 organizations", output)
    assert len(reloads) == 4 and output.count(KEPT) == 3, output
    assert "Traceback" not in output


@pytest.mark.live
def test_serve_watch_needs_a_world_file() -> None:
    cli = [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()"]
    result = subprocess.run(cli + ["serve", "--port", "0", "--watch"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "--watch needs --world PATH" in result.stderr
    assert "http://" not in result.stdout


# -- WorldWatcher on its own ------------------------------------------------------------------

@pytest.fixture
def world_file(tmp_path) -> Path:
    path = tmp_path / "world.yaml"
    path.write_text(default_text(), encoding="utf-8")
    return path


def patient_of(world: World) -> str:
    return next(a.patient_name for a in world.appointments if a.appointment_id == DOC_ID)


def settle(watcher: WorldWatcher) -> World | None:
    """Two looks: the first sees a change, the second finds it held still and acts on it."""
    assert watcher.check() is None
    return watcher.check()


def test_an_edit_is_loaded_once_the_file_holds_still(world_file) -> None:
    watcher = WorldWatcher(world_file)
    assert watcher.check() is None  # nothing changed yet
    world_file.write_text(renamed("Beatrice"), encoding="utf-8")
    world = settle(watcher)
    assert world is not None and patient_of(world) == "Beatrice"
    assert world.source == str(world_file)
    assert watcher.check() is None and watcher.check() is None  # loaded once


def test_a_touch_without_a_change_reloads_nothing(world_file, caplog) -> None:
    watcher = WorldWatcher(world_file)
    stat = world_file.stat()
    os.utime(world_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert settle(watcher) is None
    assert watcher.check() is None
    assert caplog.records == []


def test_an_edit_that_keeps_the_stamp_is_still_caught(world_file, monkeypatch) -> None:
    """File systems with coarse times can give an edit the stamp of the version before it."""
    watcher = WorldWatcher(world_file)
    frozen = os.stat(world_file)
    world_file.write_text(renamed("Bea"), encoding="utf-8")  # "Aadhi" -> "Bea": same size
    real_stat = os.stat

    def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        return frozen if Path(path) == world_file else real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    world = settle(watcher)
    assert world is not None and patient_of(world) == "Bea"


def test_a_file_caught_half_written_is_not_reported(world_file, caplog) -> None:
    watcher = WorldWatcher(world_file)
    full = renamed("Beatrice")
    world_file.write_text(full[: len(full) // 2], encoding="utf-8")
    assert watcher.check() is None
    world_file.write_text("", encoding="utf-8")
    assert watcher.check() is None
    world_file.write_text(full, encoding="utf-8")
    world = settle(watcher)
    assert world is not None and patient_of(world) == "Beatrice"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_each_bad_version_is_reported_once_and_the_next_good_one_loaded(world_file, caplog) -> None:
    caplog.set_level(logging.INFO, logger="huskyvoice_sandbox.watch")
    watcher = WorldWatcher(world_file)
    schema_text, schema_line = with_unknown_field()
    yaml_text, yaml_pattern = with_yaml_error()
    steps: list[tuple[Callable[[], Any], Callable[[str], bool]]] = [
        (lambda: world_file.write_text(schema_text, encoding="utf-8"),
         lambda report: schema_line in report.splitlines()),
        (lambda: world_file.write_text(yaml_text, encoding="utf-8"),
         lambda report: any(yaml_pattern.search(x) for x in report.splitlines())),
        (lambda: world_file.write_text(" \n", encoding="utf-8"),
         lambda report: "  file: is empty" in report.splitlines()),
        (world_file.unlink,
         lambda report: "  file: No such file or directory" in report.splitlines()),
    ]
    for change, located in steps:
        caplog.clear()
        change()
        assert settle(watcher) is None
        for _ in range(3):
            assert watcher.check() is None
        [record] = caplog.records
        report = record.getMessage()
        assert record.levelno == logging.WARNING
        assert report.startswith(f"{world_file}: the world has 1 problem")
        assert located(report), report
        assert report.endswith(KEPT)
    world_file.write_text(renamed("Carmen"), encoding="utf-8")
    world = settle(watcher)
    assert world is not None and patient_of(world) == "Carmen"


def test_putting_back_the_served_content_reloads_nothing(world_file, caplog) -> None:
    caplog.set_level(logging.INFO, logger="huskyvoice_sandbox.watch")
    watcher = WorldWatcher(world_file)
    world_file.unlink()
    assert settle(watcher) is None
    world_file.write_text(default_text(), encoding="utf-8")
    assert settle(watcher) is None
    assert [r.getMessage() for r in caplog.records][-1] == \
        f"{world_file} holds the world being served again"


def test_an_atomic_replace_is_loaded(world_file) -> None:
    watcher = WorldWatcher(world_file)
    temporary = world_file.with_name("world.yaml~")
    temporary.write_text(renamed("Esme"), encoding="utf-8")
    os.replace(temporary, world_file)
    world = settle(watcher)
    assert world is not None and patient_of(world) == "Esme"


def test_the_thread_calls_back_logs_survives_a_failing_callback_and_stops(world_file, caplog) -> None:
    caplog.set_level(logging.INFO, logger="huskyvoice_sandbox.watch")
    served: list[World] = []

    def on_world(world: World) -> None:
        served.append(world)
        if len(served) == 1:
            raise RuntimeError("boom")

    watcher = WorldWatcher(world_file, interval=0.02)
    watcher.start(on_world)
    try:
        world_file.write_text(renamed("Beatrice"), encoding="utf-8")
        wait_until(lambda: len(served) == 1, "first callback")
        wait_until(lambda: any(r.exc_info for r in caplog.records), "logged failure")
        world_file.write_text(renamed("Carmen"), encoding="utf-8")
        wait_until(lambda: len(served) == 2, "second callback")
        wait_until(lambda: f"reloaded {world_file}: 2 organizations, 10 appointments"
                   in caplog.messages, "reload line")
    finally:
        watcher.stop()
    assert [patient_of(w) for w in served] == ["Beatrice", "Carmen"]
    assert watcher._thread is not None and not watcher._thread.is_alive()
