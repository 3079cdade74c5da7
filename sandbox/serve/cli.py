"""The `huskyvoice-sandbox` command: serve a world, or validate world files."""

from __future__ import annotations

import gc
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from ..resources import balancer_config_path, default_world_path, starter_world_path
from .defaults import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_THREADS

if TYPE_CHECKING:
    from ..worlds.world import World

# The sandbox's modules are imported by the commands that use them: `health`, a container's
# health check every few seconds, and `--help` start in a fraction of the time.


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="huskyvoice-sandbox")
def main() -> None:
    """A stateful sandbox for the HuskyVoice appointments API."""


def _networks(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """--control-from's values, checked before anything is loaded."""
    from ..web.access import parse_networks

    try:
        parse_networks(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return value


# Every option of `serve` can come from the environment (HUSKYVOICE_SANDBOX_*), so a container
# (or a compose file, or a CI service) is configured without repeating the command.
@main.command()
@click.option("--world", "--fixtures", "world_path", type=click.Path(dir_okay=False, path_type=Path),
              envvar="HUSKYVOICE_SANDBOX_WORLD",
              help="World file (YAML or JSON) to serve (--fixtures is the same). Default: the "
                   "packaged default world.")
@click.option("--host", default=DEFAULT_HOST, show_default=True, envvar="HUSKYVOICE_SANDBOX_HOST",
              help="Address to bind (0.0.0.0: every interface, as in the container image).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              envvar="HUSKYVOICE_SANDBOX_PORT", help="Port to listen on; 0 picks a free one.")
@click.option("--admin-token", envvar="HUSKYVOICE_SANDBOX_ADMIN_TOKEN",
              help="Require this token (X-Sandbox-Admin-Token) on every control request, and "
                   "allow control requests from non-loopback clients.")
@click.option("--control-from", multiple=True, envvar="HUSKYVOICE_SANDBOX_CONTROL_FROM",
              callback=_networks, metavar="NETWORKS",
              help="Also serve the control API (and X-Sandbox-Force) to clients on these networks "
                   "(addresses or CIDRs, comma-separated, or 'any'): how the host reaches a "
                   "sandbox in a container. Default: loopback clients only.")
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(1, 256),
              envvar="HUSKYVOICE_SANDBOX_THREADS", help="Worker threads of the WSGI server.")
@click.option("--server", type=click.Choice(["uwsgi", "waitress"]), default=None, envvar="HUSKYVOICE_SANDBOX_SERVER",
              help="The HTTP server. Default: uwsgi (compiled, the faster) where pyuwsgi is "
                   "installed (not on Windows), else waitress.")
@click.option("--quiet", is_flag=True, envvar="HUSKYVOICE_SANDBOX_QUIET", help="Do not log each request.")
@click.option("--watch", is_flag=True, envvar="HUSKYVOICE_SANDBOX_WATCH",
              help="Reload the world file (--world) when it changes; a world with problems "
                   "is reported and the previous one stays served.")
@click.option("--log-stream", type=click.Choice(["stderr", "stdout"]), default="stderr", show_default=True,
              envvar="HUSKYVOICE_SANDBOX_LOG_STREAM", help="Where the access log and warnings go.")
def serve(world_path: Path | None, host: str, port: int, admin_token: str | None,
          control_from: tuple[str, ...], threads: int, server: str | None, quiet: bool, watch: bool,
          log_stream: str) -> None:
    """Serve the sandbox on a production HTTP server (uWSGI, or waitress). Stops on Ctrl+C or
    SIGTERM."""
    from ..web.app import create_app
    from ..web.http import EXTENSION
    from . import routed
    from .watch import WorldWatcher

    if server is None:
        server = "uwsgi" if routed.available() else "waitress"
    elif server == "uwsgi" and not routed.available():
        raise click.UsageError("--server uwsgi needs pyuwsgi, which has no build for this platform; "
                               "use --server waitress.")

    if watch and world_path is None:
        raise click.UsageError("--watch needs --world PATH: a world file of yours to watch "
                               "(huskyvoice-sandbox init writes one).")
    path = world_path or default_world_path()
    # Made before loading, so an edit saved while the server starts is reloaded, not missed.
    watcher = WorldWatcher(path) if watch else None
    world = _load_or_exit(path)
    app = create_app(world, admin_token=admin_token, control_from=control_from)
    try:
        runner = _server(server, app, host, port, threads)
    except OSError as exc:
        click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}. "
                   "Is another server using that port? Choose another with --port.", err=True)
        sys.exit(1)
    stream = _configure_logging(quiet, sys.stdout if log_stream == "stdout" else sys.stderr, server)
    url = f"http://{_url_host(host)}:{runner.port}"
    runtime = app.extensions[EXTENSION]
    paths = list(dict.fromkeys(op.path for op in runtime.contract.operations.values()))

    def banner() -> None:  # once the server accepts: a script may start on its first line
        _banner(url, world, runtime.control.describe(), path if watcher else None, paths, server)

    # The loaded world and the app live as long as the server: kept out of the cycle
    # collector's full passes, which would otherwise walk every appointment of a large world
    # again and again while requests are served.
    gc.freeze()
    if isinstance(runner, routed.Routed):
        stopped_by = _serve_uwsgi(runner, runtime, watcher, stream, banner)
    else:
        banner()
        stopped_by = _serve_waitress(runner, runtime, watcher)
    click.echo(f"stopped ({stopped_by})")


def _server(server: str, app: Any, host: str, port: int, threads: int) -> Any:
    """The server, bound (waitress) or its port reserved (uWSGI); OSError if it cannot be."""
    if server == "uwsgi":
        from .routed import Routed

        return Routed(app, host, port, threads)
    from .server import ServerThread

    return ServerThread(app, host, port, threads)


def _serve_uwsgi(runner: Any, runtime: Any, watcher: Any, stream: Any, banner: Callable[[], None]) -> str:
    if watcher:  # in the worker, where the state is
        runner.after_fork.append(lambda: watcher.start(runtime.state.replace))
        runner.on_stop.append(watcher.stop)
    runner.on_stop.append(runtime.sessions.clear_forced)  # a forced delay ends, answered first
    runner.start(stream)
    try:
        if runner.wait_ready():
            banner()
        stopped_by: str = runner.wait_for_signal()
        if stopped_by == "uWSGI exited":
            click.echo(f"error: uWSGI stopped unexpectedly:\n{runner.failure()}", err=True)
            sys.exit(1)
    finally:
        runner.close()
    return stopped_by


def _serve_waitress(server: Any, runtime: Any, watcher: Any) -> str:
    from .server import run_until_signalled

    if watcher:
        watcher.start(runtime.state.replace)

    def before_stop() -> None:
        if watcher:
            watcher.stop()
        runtime.sessions.clear_forced()  # a forced delay would hold its worker up to a minute

    return run_until_signalled(server, before_stop=before_stop)


@main.command()
@click.option("--url", help="The sandbox to ask. Default: the one `serve` runs here with the same "
                            "HUSKYVOICE_SANDBOX_* settings (port, host), on this machine.")
@click.option("--port", default=DEFAULT_PORT, type=click.IntRange(1, 65535), envvar="HUSKYVOICE_SANDBOX_PORT",
              show_default=True, help="Port of the local sandbox (without --url).")
@click.option("--host", default=DEFAULT_HOST, envvar="HUSKYVOICE_SANDBOX_HOST", show_default=True,
              help="Address the local sandbox is bound to (without --url).")
@click.option("--admin-token", envvar="HUSKYVOICE_SANDBOX_ADMIN_TOKEN",
              help="Its admin token, if it was started with one.")
@click.option("--timeout", default=3.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="Seconds to wait for the answer.")
def health(url: str | None, port: int, host: str, admin_token: str | None, timeout: float) -> None:
    """Ask a sandbox whether it is up (GET /_sandbox/health): exit 0 if it is, 1 if not. The
    container image's HEALTHCHECK."""
    from .reach import health_problem

    target = (url or f"http://{_url_host(host)}:{port}").rstrip("/")
    answer, problem = health_problem(target, admin_token, timeout)
    if problem:
        click.echo(f"unhealthy: {target}: {problem}", err=True)
        sys.exit(1)
    click.echo(f"healthy: {target}: huskyvoice-sandbox {answer.get('version')}, "
               f"{answer.get('appointments')} appointments in the default session")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default="world.yaml")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def init(path: Path, force: bool) -> None:
    """Write a commented starter world (default: ./world.yaml) to edit and serve."""
    if path.exists() and not force:
        click.echo(f"error: {path} exists; choose another path, or --force to overwrite it", err=True)
        sys.exit(1)
    path.write_text(starter_world_path().read_text(encoding="utf-8"), encoding="utf-8")
    click.echo(f"wrote {path}: one clinic, its keys, a service, a branch, two windows, one appointment")
    click.echo("next:")
    click.echo(f"  huskyvoice-sandbox validate {path}")
    click.echo(f"  huskyvoice-sandbox serve --world {path} --watch")


def _mirror_range(command: Any) -> Any:
    """The options of what a mirror reads: shared by `mirror` and `drift`."""
    for option in reversed((
        click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None,
                     help="First date of availability to read (default: the deployment's today, UTC, "
                          "per its Date header)."),
        click.option("--days", default=14, show_default=True, type=click.IntRange(1, 366),
                     help="Dates of availability to read (two weeks see every weekday twice)."),
        click.option("--budget", default=600, show_default=True, type=click.IntRange(1),
                     help="At most this many requests for the mirror (429s are waited out, per Retry-After)."))):
        command = option(command)
    return command


@main.command("mirror")
@click.option("--base-url", required=True, help="The deployment to read, e.g. https://api.huskyvoice.ai.")
@click.option("--api-key", envvar="HUSKYVOICE_API_KEY", required=True,
              help="A key with appointments:read (default: $HUSKYVOICE_API_KEY). Only GETs are sent.")
@_mirror_range
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default="mirror.yaml",
              show_default=True, help="The world file to write (.json for JSON).")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def mirror_command(base_url: str, api_key: str, start: Any, days: int, budget: int, output: Path,
                   force: bool) -> None:
    """Write a world file from what a deployment shows (GET requests only), to serve locally.
    Exits 0 when written, 2 if it cannot run (no answer, not the API, an error answer)."""
    from ..domain.errors import InvalidWorld
    from ..remote.mirror import MirrorError, Reader, mirror
    from ..worlds.world import dump_yaml, load_world

    _exit_unless_writable_and_the_api("--base-url", base_url, output, force)
    reader = Reader(base_url, api_key, budget, progress=lambda m: click.echo(f"  {m}", err=True))
    try:
        mirrored = mirror(reader, start.date() if start else None, days)
        world = load_world(mirrored.document, str(output))
    except MirrorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except InvalidWorld as exc:
        click.echo(f"error: the deployment's state does not make a valid world:\n{exc.report()}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("error: interrupted (nothing was written)", err=True)
        sys.exit(2)
    document = mirrored.document
    text = json.dumps(document, indent=2) + "\n" if output.suffix == ".json" else dump_yaml(document)
    output.write_text(text, encoding="utf-8")
    windows = len(document["organizations"][0]["calendar_windows"])
    click.echo(f"wrote {output}: {len(world.appointments)} appointments, {windows} windows, "
               f"from {reader.sent} GET requests")
    for loss in mirrored.losses:
        click.echo(f"  not mirrored: {loss}", err=True)
    click.echo(f"next: huskyvoice-sandbox serve --world {output}   (keys: sk_mirror_write, sk_mirror_read)")


@main.command("drift")
@click.option("--base-url", envvar="HUSKYVOICE_BASE_URL", required=True,
              help="The deployment to check (default: $HUSKYVOICE_BASE_URL).")
@click.option("--api-key", envvar="HUSKYVOICE_API_KEY", required=True,
              help="A key with appointments:read and :write (default: $HUSKYVOICE_API_KEY).")
@click.option("--read-only-key", envvar="HUSKYVOICE_READ_ONLY_KEY",
              help="A key without appointments:write, for the 403 check.")
@click.option("--other-key", envvar="HUSKYVOICE_OTHER_KEY",
              help="A key of another organization, for the isolation checks (read only).")
@click.option("--allow-writes", is_flag=True,
              help="Send the writes whose outcome the mirror predicts, to the first --appointment-id "
                   "only, and put it back afterwards.")
@click.option("--appointment-id", multiple=True, help="A lent appointment (repeatable; writes go to the first).")
@_mirror_range
@click.option("--rate-limit", envvar="HUSKYVOICE_RATE_LIMIT", default=None, type=click.IntRange(1, 100_000),
              help="The deployment's requests a minute per key; a deployment that never answers 429 is then "
                   "drift. Default: the documented 60, checked if the deployment answers 429 at all.")
@click.option("--no-rate-limit-probe", is_flag=True,
              help="Skip the last check: GETs until a 429 (it spends the key's minute).")
@click.option("--junitxml", type=click.Path(dir_okay=False, path_type=Path), help="Write the report as JUnit XML.")
@click.option("--save-mirror", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the mirrored world (to serve it, or to attach to a bug report).")
def drift_command(base_url: str, api_key: str, read_only_key: str | None, other_key: str | None,
                  allow_writes: bool, appointment_id: tuple[str, ...], start: Any, days: int, budget: int,
                  rate_limit: int | None, no_rate_limit_probe: bool, junitxml: Path | None,
                  save_mirror: Path | None) -> None:
    """Mirror a deployment, send the same requests to it and to the mirror, and report every
    difference with the documented rule involved. Exits 0 without drift, 1 on drift, 2 if it
    cannot run (no answer, not the API, bad options, interrupted)."""
    from ..remote.drift import DriftError, Options, run
    from ..remote.mirror import MirrorError
    from ..remote.report import console, junit
    from ..remote.wire import url_problem
    from ..worlds.world import dump_yaml

    if allow_writes and not appointment_id:
        raise click.UsageError("--allow-writes needs --appointment-id: the appointment the writes may change")
    problem = url_problem(base_url)
    if problem:
        click.echo(f"error: --base-url {base_url!r}: {problem}", err=True)
        sys.exit(2)
    _exit_unless_the_api(base_url)
    options = Options(base_url, api_key, read_only_key, other_key, allow_writes, appointment_id,
                      start.date() if start else None, days, budget, rate_limit, not no_rate_limit_probe)
    try:  # no answer, or not the API: the mirror's first request says so, in one line
        outcome = run(options, progress=lambda m: click.echo(f"  {m}", err=True))
    except (MirrorError, DriftError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:  # before any write (run() says where the lent appointment is after one)
        click.echo("error: interrupted (nothing was written)", err=True)
        sys.exit(2)
    click.echo(console(outcome), nl=False)
    if junitxml:
        junit(outcome, junitxml)
        click.echo(f"JUnit report: {junitxml}")
    if save_mirror:
        save_mirror.write_text(dump_yaml(outcome.mirror.document), encoding="utf-8")
        click.echo(f"mirror: {save_mirror}")
    sys.exit(1 if outcome.drifted else 0)


@main.command("record")
@click.option("--upstream", required=True, help="The deployment to forward to, e.g. https://staging.example.com.")
@click.option("--api-key", envvar="HUSKYVOICE_API_KEY", required=True,
              help="A key with appointments:read, for the mirror made first (GETs only; default: "
                   "$HUSKYVOICE_API_KEY). Never written to the recording.")
@_mirror_range
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default="recording.jsonl",
              show_default=True, help="The recording to write (JSON Lines).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Where the proxy listens.")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(1, 65535), help="The proxy's port.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def record_command(upstream: str, api_key: str, start: Any, days: int, budget: int, output: Path, host: str,
                   port: int, force: bool) -> None:
    """Mirror a deployment (GETs only), then forward every request a client sends to
    http://HOST:PORT to it, unchanged, through mitmproxy, recording each exchange (keys
    replaced by labels) until Ctrl+C or SIGTERM. Exits 0 when stopped, 2 if it cannot run."""
    from ..remote import record
    from ..remote.mirror import MirrorError, Reader, mirror

    try:
        record.mitmdump()
    except record.RecordError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    _exit_unless_writable_and_the_api("--upstream", upstream, output, force)
    reader = Reader(upstream, api_key, budget, progress=lambda m: click.echo(f"  {m}", err=True))
    try:
        mirrored = mirror(reader, start.date() if start else None, days)
        process = record.start(upstream, output, mirrored.document, reader.clock.now(), host, port)
    except (MirrorError, record.RecordError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("error: interrupted (nothing was recorded)", err=True)
        sys.exit(2)
    click.echo(f"recording: point your client at http://{_url_host(host)}:{port} (forwarded to {upstream}); "
               f"exchanges go to {output}. Ctrl+C to stop.", err=True)
    record.wait(process, lambda why: click.echo(
        f"stopped ({why}): {record.exchanges_in(output)} exchanges in {output}\n"
        f"next: huskyvoice-sandbox replay {output}", err=True))


@main.command("replay")
@click.argument("recording", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scenario", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the recording as a scenario world (YAML) that `contract --scenarios` and "
                   "the pytest plugin's run_scenario() run.")
def replay_command(recording: Path, scenario: Path | None) -> None:
    """Serve the mirror saved with RECORDING, send its requests in order, and report every
    answer that differs from the deployment's. Exits 0 without differences, 1 with, 2 if it
    cannot run (a broken recording)."""
    from ..domain.errors import InvalidWorld
    from ..remote.recording import RecordingError, read
    from ..remote.replay import replay
    from ..remote.replay_report import console
    from ..remote.scenario import scenario as as_scenario
    from ..worlds.world import dump_yaml, load_world

    try:
        outcome = replay(read(recording))
    except RecordingError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except InvalidWorld as exc:
        click.echo(f"error: {recording}:1: its mirror is not a valid world:\n{exc.report()}", err=True)
        sys.exit(2)
    click.echo(console(outcome), nl=False)
    if scenario is not None:
        if not outcome.rows:
            click.echo("error: no exchanges to write as a scenario's steps", err=True)
            sys.exit(2)
        document = as_scenario(outcome)
        load_world(document, str(scenario))  # what is written loads: a scenario that runs
        scenario.write_text(dump_yaml(document), encoding="utf-8")
        count = len(outcome.different)
        differ = f"; {count} steps expect what the sandbox does not answer" if count else ""
        click.echo(f"scenario: {scenario} ({len(outcome.rows)} steps{differ})")
    sys.exit(1 if outcome.different else 0)


@main.command("haproxy-config")
def haproxy_config() -> None:
    """Print an HAProxy configuration that puts several `serve` processes behind one address,
    each session always in the same process (docs/scaling.md)."""
    click.echo(balancer_config_path().read_text(encoding="utf-8"), nl=False)


@main.command()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check world files; print every problem, located. Exits 1 if any file has one."""
    from ..domain.errors import InvalidWorld
    from ..worlds.world import load_world_file

    failed = 0
    for path in paths:
        try:
            world = load_world_file(path)
        except InvalidWorld as exc:
            failed += 1
            click.echo(exc.report(), err=True)
            continue
        count = len(world.appointments)
        click.echo(f"{path}: ok ({len(world.organizations)} organizations, {count} appointments)")
    if failed:
        click.echo(f"{failed} of {len(paths)} world files have problems", err=True)
        sys.exit(1)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--base-url", help="Deployment to check (default: the sandbox in-process).")
@click.option("--api-key", help="Key with appointments:read and appointments:write.")
@click.option("--read-only-key", help="Key without appointments:write, for the 403 checks.")
@click.option("--other-key", help="Key of another organization (appointments:read), for the isolation "
                                  "checks; only GETs are sent with it.")
@click.option("--allow-writes", is_flag=True,
              help="Allow PATCHes that can change appointments, only to --appointment-id.")
@click.option("--appointment-id", multiple=True, help="Disposable appointment id (repeatable).")
@click.option("--admin-token", help="Admin token of a sandbox started with --admin-token.")
@click.option("--seed", type=int, help="Seed of the generated cases.")
@click.option("--examples", type=int, help="Generated cases per operation.")
@click.option("--scenarios", "scenario", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A scenario world to run instead of the bundled ones, e.g. one `replay --scenario` "
                   "wrote (repeatable).")
@click.pass_context
def contract(ctx: click.Context, base_url: str | None, api_key: str | None,
             read_only_key: str | None, other_key: str | None, allow_writes: bool,
             appointment_id: tuple[str, ...], admin_token: str | None, seed: int | None,
             examples: int | None, scenario: tuple[str, ...]) -> None:
    """Check a deployment (or the sandbox) against openapi.yaml with the packaged contract kit.

    Options can also come from HUSKYVOICE_* environment variables; anything else (e.g.
    --junitxml report.xml, -x, -k NAME) goes to pytest. Exits 0 when every check passed, 1 when
    one failed, 2 when it could not run (an address that does not answer or is not the API, a
    bad option).
    """
    missing = [name for name in ("pytest", "schemathesis", "requests") if not _importable(name)]
    if missing:
        click.echo(f"error: the contract kit needs {', '.join(missing)}: "
                   'pip install "huskyvoice-sandbox[contract]"', err=True)
        sys.exit(2)
    import pytest

    # Found, not imported: pytest must be the first to import the kit's modules (to rewrite them).
    spec = importlib.util.find_spec("huskyvoice_contract_kit")
    assert spec is not None and spec.submodule_search_locations
    kit = Path(next(iter(spec.submodule_search_locations)))

    url = base_url or os.environ.get("HUSKYVOICE_BASE_URL")
    if url:  # one line, before any check runs, for an address that does not answer or is not the API
        _exit_unless_the_api(url, admin_token or os.environ.get("HUSKYVOICE_SANDBOX_ADMIN_TOKEN"))

    args = [str(kit), "-c", str(kit / "pytest.ini"), "--rootdir", str(kit)]
    for flag, value in (("--base-url", base_url), ("--api-key", api_key),
                        ("--read-only-key", read_only_key), ("--other-key", other_key),
                        ("--admin-token", admin_token), ("--seed", seed), ("--examples", examples)):
        if value is not None:
            args += [flag, str(value)]
    if allow_writes:
        args.append("--allow-writes")
    for appointment in appointment_id:
        args += ["--appointment-id", appointment]
    for path in scenario:
        args += ["--scenarios", str(Path(path).resolve())]
    # pytest's own statuses: 0 passed, 1 a check failed; anything else (an interruption, an
    # internal or usage error, no check selected) means the kit could not run: 2.
    code = int(pytest.main(args + list(ctx.args)))
    sys.exit(code if code in (0, 1) else 2)


def _exit_unless_writable_and_the_api(option: str, url: str, output: Path, force: bool) -> None:
    """`mirror` and `record`: a well-formed address, an output file they may write, then the API there."""
    from ..remote.wire import url_problem

    problem = url_problem(url)
    if problem:
        click.echo(f"error: {option} {url!r}: {problem}", err=True)
        sys.exit(2)
    if output.exists() and not force:
        click.echo(f"error: {output} exists; choose another path, or --force to overwrite it", err=True)
        sys.exit(2)
    _exit_unless_the_api(url)


def _exit_unless_the_api(base_url: str, admin_token: str | None = None) -> None:
    """`contract`, `drift` and `mirror` alike: an address that does not answer, or is not the
    HuskyVoice API, is one line and exit 2 (could not run), before anything else is sent."""
    from .reach import not_the_api

    try:
        problem = not_the_api(base_url, admin_token=admin_token)
    except KeyboardInterrupt:
        problem = "interrupted (nothing was written)"
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(2)


def _importable(name: str) -> bool:
    """Installed, without importing it (pytest must be the first to import its plugins)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


def _load_or_exit(path: Path) -> World:
    from ..domain.errors import InvalidWorld
    from ..worlds.world import load_world_file

    try:
        return load_world_file(path)
    except InvalidWorld as exc:
        click.echo(exc.report(), err=True)
        click.echo("error: the world was refused; fix the problems above "
                   "(huskyvoice-sandbox validate PATH checks a file)", err=True)
        sys.exit(2)


def _configure_logging(quiet: bool, stream: Any, server: str) -> Any:
    """Logging to `stream`; the stream it writes to. Under uWSGI, a copy of the stream's
    descriptor, which uWSGI's remapping of stdout and stderr to its own log leaves alone."""
    if server == "uwsgi":
        stream.flush()
        stream = os.fdopen(os.dup(stream.fileno()), "w", buffering=1, encoding="utf-8")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=stream)
    logging.getLogger("huskyvoice_sandbox.access").setLevel(logging.WARNING if quiet else logging.INFO)
    logging.getLogger("waitress").setLevel(logging.WARNING)
    return stream


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _banner(url: str, world: World, control: str, watching: Path | None, paths: list[str],
            server: str) -> None:
    from ..domain.clock import format_timestamp

    echo = click.echo
    echo(f"huskyvoice-sandbox {__version__} serving {world.source} ({server})")
    if watching:
        echo(f"  watching     {watching} (reloaded when it changes)")
    echo(f"  API          {url}: " + ", ".join(paths))
    echo(f"  contract     {url}/openapi.yaml")
    echo(f"  docs         {url}/docs")
    echo(f"  control API  {url}/_sandbox/ ({control})")
    clock = format_timestamp(world.clock) if world.clock else "real time"
    echo(f"  clock        {clock}{' (frozen)' if world.clock else ''}")
    echo("  API keys")
    for org in world.organizations:
        for key in org.api_keys:
            scopes = ", ".join(sorted(key.scopes)) or "no scopes"
            echo(f"    {key.key:<24} {org.id:<16} {scopes}")
    first = next((a for a in world.appointments), None)
    read_key = next((k.key for o in world.organizations for k in o.api_keys
                     if first and o.id == first.org_id and "appointments:read" in k.scopes), None)
    if first and read_key:
        echo("  try")
        echo(f"    curl -s {url}/v1/appointments/{first.appointment_id} "
             f"-H 'Authorization: Bearer {read_key}'")
    echo("Press Ctrl+C to stop.", err=False)
    sys.stdout.flush()
