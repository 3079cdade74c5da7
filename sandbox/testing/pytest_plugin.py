"""pytest fixtures for testing against the HuskyVoice sandbox (loaded for everyone who installs
huskyvoice-sandbox, through the `pytest11` entry point).

Every test gets a fresh sandbox: its own appointments, clock, journal, snapshots, forced
responses, sessions and rate-limit counters. Nothing one test does is seen by the next. The
Flask app is built once per pytest session and given new state for each test (well under a
millisecond); a test that changes the app itself (its config, routes, hooks) gets it rebuilt
for the next test.

- `huskyvoice`: the sandbox in-process, over Flask's test client (fastest).
- `huskyvoice_server`: the sandbox served over real HTTP on 127.0.0.1 by one waitress server
  per pytest session; `huskyvoice_url` is its base URL, for your own SDK. A test that asks for
  both fixtures gets one sandbox, seen both ways.
- `huskyvoice_world`: the world served. Default: `--huskyvoice-world PATH` (relative to the
  current directory), else the `huskyvoice_world` ini option (relative to the rootdir), else the
  packaged default world. Override the fixture to return a path (relative to the rootdir) or a
  world document (dict), or mark a test, class or module with
  `@pytest.mark.huskyvoice_world("worlds/other.yaml")`: the closest marker wins over the fixture.
  A world with problems fails the test's setup, listing them.

Both handles (`SandboxHandle`) call the API (`get_appointment`, `update_appointment`, with the
world's read-write `key`) and drive the sandbox only through its HTTP control API
(`/_sandbox/...`): reset, worlds, clock, snapshots, forced responses (`force(429, ...)`,
`force(drop=True)`) and the request journal, with assertions such as
`huskyvoice.assert_called("updateAppointment", times=1, code="SLOT_FULL")`. A refused control
call raises SandboxControlError with the sandbox's explanation.

Only pytest and the standard library are imported here: the sandbox (Flask, the spec) loads when
a test first asks for a fixture, not in every pytest run of every project that installed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .handle import InProcessSandbox, SandboxHandle, ServedSandbox
from .replies import Call, Headers, Reply, SandboxControlError

if TYPE_CHECKING:
    from .webhooks import WebhookReceiver

__all__ = ["Call", "Headers", "InProcessSandbox", "Reply", "SandboxControlError", "SandboxHandle",
           "ServedSandbox"]

WORLD_OPTION = "huskyvoice_world"

# -- pytest hooks ---------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("huskyvoice", "HuskyVoice sandbox")
    group.addoption("--huskyvoice-world", dest=WORLD_OPTION, metavar="PATH", default=None,
                    help="world file the huskyvoice fixtures serve (relative to the current directory)")
    parser.addini(WORLD_OPTION, "world file the huskyvoice fixtures serve (relative to the rootdir)",
                  default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "huskyvoice_world(source): the world this test's sandbox serves: a path "
        "(relative to the rootdir) or a world document (dict)")


# -- session-wide caches ----------------------------------------------------------------------------

_CONTRACT = pytest.StashKey[Any]()
_WORLDS = pytest.StashKey[dict]()
_DEFAULT_WORLD = pytest.StashKey[Any]()


def _contract(config: pytest.Config) -> Any:
    """The parsed spec, built once per session: every fresh app shares it."""
    if _CONTRACT not in config.stash:
        from ..spec.contract import Contract

        config.stash[_CONTRACT] = Contract()
    return config.stash[_CONTRACT]


def _world_from_file(config: pytest.Config, path: Path) -> Any:
    """A world file parsed once per version of it (path, mtime, size): a test that rewrites the
    file gets the new version, every other test a cached World (immutable, so shareable)."""
    from ..worlds.world import load_world_file

    try:
        stat = path.stat()
    except OSError:
        return load_world_file(path)  # raises InvalidWorld naming the file and why
    cache = config.stash.setdefault(_WORLDS, {})
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in cache:
        cache[key] = load_world_file(path)
    return cache[key]


def _load_world(config: pytest.Config, source: Any, kind: str) -> Any:
    """The World for the value of the marker or the fixture (`kind`); a bad one fails the test's
    setup with every problem listed, and no traceback into this plugin."""
    from ..domain.errors import InvalidWorld
    from ..resources import default_world_path
    from ..worlds.world import World, load_world

    try:
        if source is None:  # the packaged default world: parsed once, never changed by a test
            if _DEFAULT_WORLD not in config.stash:
                config.stash[_DEFAULT_WORLD] = _world_from_file(config, default_world_path())
            return config.stash[_DEFAULT_WORLD]
        if isinstance(source, World):
            return source
        if isinstance(source, (str, PathLike)):
            return _world_from_file(config, config.rootpath / Path(source))
        if isinstance(source, Mapping):
            return load_world(dict(source), f"<{kind}>")
        problem = (f"the huskyvoice_world {kind} must give a path, a world document (dict) or None, "
                   f"not {type(source).__name__}")
    except InvalidWorld as exc:
        problem = f"the world from the huskyvoice_world {kind} was refused\n{exc.report()}"
    pytest.fail(f"huskyvoice: {problem}", pytrace=False)  # outside `except`: no chained traceback


def _world_source(request: pytest.FixtureRequest) -> tuple[Any, str]:
    """The closest huskyvoice_world marker's value, else the huskyvoice_world fixture's (asked
    for only then: a marker wins without running an override); and which of the two it is."""
    marker = request.node.get_closest_marker(WORLD_OPTION)
    if marker is None:
        return request.getfixturevalue(WORLD_OPTION), "fixture"
    if len(marker.args) + len(marker.kwargs) != 1 or (marker.kwargs and "source" not in marker.kwargs):
        pytest.fail("huskyvoice: use @pytest.mark.huskyvoice_world(source) with one path or dict",
                    pytrace=False)
    return (marker.args or (marker.kwargs["source"],))[0], "marker"


# -- fixtures ---------------------------------------------------------------------------------------

# Session-scoped: the option and ini value cannot change during a run, and a per-test fixture
# costs every test pytest's own setup and teardown. An override may have any scope.
@pytest.fixture(scope="session")
def huskyvoice_world(request: pytest.FixtureRequest) -> str | Path | dict[str, Any] | None:
    """The world tests serve: override it to return a path or a world document (dict)."""
    config = request.config
    cli = config.getoption(WORLD_OPTION)
    if cli:
        return config.invocation_params.dir / cli  # typed on the command line: relative to cwd
    return config.getini(WORLD_OPTION) or None


_APP = pytest.StashKey[tuple[Any, tuple[Any, ...]]]()


def _shared_app(config: pytest.Config) -> tuple[Any, tuple[Any, ...]]:
    """The session's app (built on first use) and its fingerprint when built."""
    if _APP not in config.stash:
        from huskyvoice_sandbox import create_app

        app = create_app(_load_world(config, None, "fixture"), contract=_contract(config))
        config.stash[_APP] = (app, _fingerprint(app))
    return config.stash[_APP]


def _fingerprint(app: Any) -> tuple[Any, ...]:
    """What a test could change on the app through `huskyvoice.app` (its config, routes,
    hooks, middleware, admin token): a change means the app is not reused."""
    from ..web.http import EXTENSION

    runtime = app.extensions[EXTENSION]
    return (dict(app.config), len(app.url_map._rules), app.wsgi_app, runtime.control,
            runtime.contract, runtime.sessions.max_sessions,
            tuple(len(funcs) for funcs in app.before_request_funcs.values()),
            tuple(len(funcs) for funcs in app.after_request_funcs.values()),
            tuple(app.error_handler_spec.get(None, {}).get(None, {}).items()))


_FRESH = pytest.StashKey[Any]()


def _fresh_app(request: pytest.FixtureRequest) -> Any:
    """This test's app: the session's one app, given fresh state (sessions, store, clock,
    journal, snapshots, forced responses and rate-limit counters, all new) for this test's
    world, by whichever of huskyvoice and huskyvoice_server is set up first; the other shares
    it. A plain function, not a fixture of its own: every fixture costs each test pytest's own
    setup and teardown, and an override of huskyvoice must not change what huskyvoice_server
    serves."""
    from ..web.http import EXTENSION

    item = request.node
    if _FRESH in item.stash:
        return item.stash[_FRESH]
    source, kind = _world_source(request)
    world = _load_world(request.config, source, kind)
    app, fingerprint = _shared_app(request.config)
    runtime = app.extensions[EXTENSION]
    runtime.sessions = sessions = runtime.sessions.fresh(world)
    item.stash[_FRESH] = app

    def end() -> None:
        # A forced delay still running (a client timed out on it) must not hold a server
        # thread into the next test, or the end of the session.
        sessions.clear_forced()
        if _fingerprint(app) != fingerprint and _APP in request.config.stash:
            del request.config.stash[_APP]  # the test changed the app: the next gets a new one

    item.addfinalizer(end)  # after the fixture that asked first is torn down
    return app


@pytest.fixture
def huskyvoice(request: pytest.FixtureRequest) -> InProcessSandbox:
    """The sandbox in-process, over Flask's test client (see _fresh_app). huskyvoice_server
    serves the same app. Building an app costs ~10 ms (Flask compiles its URL rules); fresh
    state costs ~0.05 ms."""
    return InProcessSandbox(_fresh_app(request), _contract(request.config), request.config.rootpath)


WEBHOOK_SECRET = "whsec_huskyvoice_test"  # noqa: S105 - a test receiver's, never a real one
TEST_RETRY_DELAYS = [0.1, 0.2, 0.4, 0.8, 1.6]  # the sandbox's default schedule, ten times faster


@pytest.fixture
def huskyvoice_webhooks(request: pytest.FixtureRequest, huskyvoice: InProcessSandbox) -> Iterator[WebhookReceiver]:
    """A real HTTP receiver on a free local port, registered for every event of the world's
    first organization (retries ten times faster than the default); `.wait_for(event)`
    returns deliveries once they arrive, their signature and shape checked."""
    from .webhooks import WebhookReceiver

    receiver = WebhookReceiver(WEBHOOK_SECRET, _contract(request.config),
                               nothing_coming=lambda url: _nothing_coming(huskyvoice, url))
    huskyvoice.add_webhook(receiver.url, WEBHOOK_SECRET, retry_delays=TEST_RETRY_DELAYS, timeout_seconds=2)
    yield receiver
    receiver.stop()


def _nothing_coming(sandbox: SandboxHandle, url: str) -> str | None:
    """Why no delivery to `url` can arrive any more (the sandbox sent it none and has none
    pending), naming the REST writes the test made, which never fire webhooks; None otherwise."""
    if any(d["url"] == url for d in sandbox.webhook_deliveries()):
        return None
    writes = [str(call) for call in sandbox.journal() if call.method in ("POST", "PATCH", "DELETE")]
    said = (f" This test's REST writes ({'; '.join(writes[:3])}{'; ...' if len(writes) > 3 else ''}) fired "
            "none: as documented, REST writes never fire webhooks." if writes else "")
    return ("the sandbox has sent this receiver nothing and has nothing pending for it." + said +
            " Changes by the voice agent or the dashboard do: huskyvoice.agent_books(...), "
            "dashboard_books(...), dashboard_updates(...), dashboard_creates_window(...), "
            "dashboard_updates_window(...).")


class _Dispatcher:
    """The WSGI app of the session's one server: forwards to the running test's sandbox."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        app = self.app
        if app is not None:
            return app(environ, start_response)
        start_response("503 Service Unavailable", [("Content-Type", "application/json")])
        return [b'{"success":false,"error":{"code":"NO_TEST_RUNNING","message":'
                b'"No test is using the huskyvoice_server fixture right now."}}\n']


@pytest.fixture(scope="session")
def _huskyvoice_served() -> Iterator[tuple[_Dispatcher, str]]:
    """One waitress server for the whole session (started on first use); tests swap its app."""
    from ..serve.server import ServerThread

    dispatcher = _Dispatcher()
    with ServerThread(dispatcher) as server:
        yield dispatcher, server.url


@pytest.fixture
def huskyvoice_server(request: pytest.FixtureRequest,
                      _huskyvoice_served: tuple[_Dispatcher, str]) -> Iterator[ServedSandbox]:
    """The sandbox over real HTTP: `.url` for your SDK, the same control methods as huskyvoice
    (and the same sandbox: a test may take both)."""
    dispatcher, url = _huskyvoice_served
    dispatcher.app = _fresh_app(request)
    try:
        yield ServedSandbox(url, _contract(request.config), request.config.rootpath)
    finally:
        dispatcher.app = None  # late requests from this test get a 503, not the next test's state


@pytest.fixture
def huskyvoice_url(huskyvoice_server: ServedSandbox) -> str:
    """`http://127.0.0.1:PORT` of this test's served sandbox."""
    return huskyvoice_server.url
