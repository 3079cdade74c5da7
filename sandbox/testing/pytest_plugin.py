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

import http.client
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import pytest

if TYPE_CHECKING:
    from .webhooks import WebhookReceiver

__all__ = ["Call", "Headers", "InProcessSandbox", "Reply", "SandboxControlError", "SandboxHandle",
           "ServedSandbox"]

WORLD_OPTION = "huskyvoice_world"
PRODUCTION = "https://api.huskyvoice.ai"  # the base URL a client's calls are routed from
_UNSET: Any = object()

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


# -- what the handles return ------------------------------------------------------------------------

class Headers(Mapping[str, str]):
    """Response headers; names are read case-insensitively (`reply.headers["retry-after"]`)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._by_lower: dict[str, tuple[str, str]] = {}
        for name, value in items:
            previous = self._by_lower.get(name.lower())
            self._by_lower[name.lower()] = (name, f"{previous[1]}, {value}" if previous else value)

    def __getitem__(self, name: str) -> str:
        return self._by_lower[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._by_lower.values())

    def __len__(self) -> int:
        return len(self._by_lower)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, headers, the parsed JSON body (None if not JSON)."""

    status: int
    headers: Headers
    json: Any
    body: bytes = field(repr=False, default=b"")

    @property
    def code(self) -> str | None:
        """`error.code` of an error envelope, else None."""
        error = self.json.get("error") if isinstance(self.json, dict) else None
        return error.get("code") if isinstance(error, dict) else None

    @property
    def data(self) -> Any:
        return self.json.get("data") if isinstance(self.json, dict) else None


@dataclass(frozen=True)
class Call:
    """One journal entry (an API request and its answer), as `GET /_sandbox/requests` gives it."""

    id: int
    time: str
    method: str
    path: str
    query: str
    operation: str | None
    appointment_id: str | None
    key: str | None  # masked
    organization: str | None
    request_body: Any
    status: int | None  # None: the connection was dropped (forced)
    code: str | None
    response_headers: dict[str, str]
    response_body: Any
    duration_ms: float
    forced: dict[str, Any] | None
    entry: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Call:
        request, response = entry.get("request") or {}, entry.get("response") or {}
        return cls(
            id=entry["id"], time=entry["time"], method=entry["method"], path=entry["path"],
            query=entry.get("query") or "", operation=entry.get("operation"),
            appointment_id=entry.get("appointment_id"), key=entry.get("key"),
            organization=entry.get("organization"), request_body=request.get("body"),
            status=response.get("status"), code=response.get("code"),
            response_headers=response.get("headers") or {}, response_body=response.get("body"),
            duration_ms=entry.get("duration_ms", 0.0), forced=entry.get("forced"), entry=entry)

    @property
    def dropped(self) -> bool:
        return self.status is None

    def __str__(self) -> str:
        target = f"{self.path}?{self.query}" if self.query else self.path
        answer = "dropped" if self.dropped else str(self.status)
        code = f" {self.code}" if self.code else ""
        return f"{self.method} {target} -> {answer}{code}{' (forced)' if self.forced else ''}"


class SandboxControlError(Exception):
    """The sandbox refused a control request (a missing snapshot, a bad world, ...).

    Not an AssertionError: it says the test's set-up is wrong, not that the code under test
    misbehaved, and code that retries or collects failed assertions must not swallow it.
    """

    def __init__(self, method: str, path: str, reply: Reply) -> None:
        self.reply = reply
        error = reply.json.get("error") if isinstance(reply.json, dict) else None
        error = error if isinstance(error, dict) else {}
        self.code: str | None = error.get("code")
        self.details: list[dict[str, Any]] = list(error.get("details") or [])
        message = error.get("message") or reply.body[:500].decode("utf-8", "replace")
        answer = f"{reply.status} {self.code}" if self.code else str(reply.status)
        lines = [f"{method} {path} -> {answer}: {message}"]
        lines += [f"  {d.get('location')}: {d.get('message')}" for d in self.details]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class _Filter:
    """Which journal calls a query or an assertion is about."""

    operation: str | None = None
    status: int | None = None
    code: str | None = None
    appointment_id: str | None = None
    forced: bool | None = None

    def matches(self, call: Call) -> bool:
        return ((self.operation is None or call.operation == self.operation)
                and (self.status is None or call.status == self.status)
                and (self.code is None or call.code == self.code)
                and (self.appointment_id is None or call.appointment_id == self.appointment_id)
                and (self.forced is None or bool(call.forced) == self.forced))

    def describe(self, count: int | None) -> str:
        """E.g. `2 updateAppointment calls with code='SLOT_FULL'` (count None: "no")."""
        noun = "call" if count == 1 else "calls"
        what = f"{count if count is not None else 'no'} {self.operation or 'API'} {noun}"
        given = [f"{name}={getattr(self, name)!r}" for name in ("status", "code", "appointment_id", "forced")
                 if getattr(self, name) is not None]
        return f"{what} with {', '.join(given)}" if given else what


def _journal_text(journal: list[Call]) -> str:
    if not journal:
        return "the journal is empty: no API requests were made"
    title = f"journal ({len(journal)} {'call' if len(journal) == 1 else 'calls'}):"
    return "\n".join([title] + [f"  #{c.id} {c}" for c in journal])


def _utc_text(when: str | datetime) -> str:
    if isinstance(when, str):
        return when
    if when.tzinfo is None:
        raise ValueError("freeze_clock needs an aware datetime (e.g. tzinfo=timezone.utc) or a string")
    utc = when.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


# -- the handles ------------------------------------------------------------------------------------

class SandboxHandle:
    """Calls the API and the control API of one sandbox; subclasses provide the transport."""

    def __init__(self, contract: Any, root: Path) -> None:
        self._contract = contract
        self._root = root  # relative world paths in load_world() resolve here

    def _exchange(self, method: str, path: str, body: bytes | None,
                  headers: dict[str, str]) -> tuple[int, Iterable[tuple[str, str]], bytes]:
        raise NotImplementedError

    # -- plain requests ---------------------------------------------------------------------
    def request(self, method: str, path: str, *, json: Any = _UNSET, data: str | bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Reply:
        """Any request to the sandbox; `json=` sends a JSON body, `data=` raw bytes."""
        sent = dict(headers or {})
        if json is not _UNSET:
            data = _json_bytes(json)
            sent.setdefault("Content-Type", "application/json")
        body = data.encode("utf-8") if isinstance(data, str) else data
        status, header_items, raw = self._exchange(method, path, body, sent)
        return Reply(status, Headers(header_items), _parse_json(raw), raw)

    def get_appointment(self, appointment_id: str, *, key: str | None = None,
                        headers: Mapping[str, str] | None = None) -> Reply:
        """`GET /v1/appointments/{id}` with `key` (default `.key`; "" sends no Authorization)."""
        return self.request("GET", _appointment_path(appointment_id), headers=self._auth(key, headers))

    def update_appointment(self, appointment_id: str, body: Any, *, key: str | None = None,
                           headers: Mapping[str, str] | None = None) -> Reply:
        """`PATCH /v1/appointments/{id}`; a str or bytes body is sent as is (as JSON)."""
        sent = {"Content-Type": "application/json", **self._auth(key, headers)}
        if isinstance(body, (str, bytes)):
            return self.request("PATCH", _appointment_path(appointment_id), data=body, headers=sent)
        return self.request("PATCH", _appointment_path(appointment_id), json=body, headers=sent)

    def create_appointment(self, body: Any, *, key: str | None = None,
                           headers: Mapping[str, str] | None = None) -> Reply:
        """`POST /v1/appointments`; a str or bytes body is sent as is (as JSON)."""
        sent = {"Content-Type": "application/json", **self._auth(key, headers)}
        if isinstance(body, (str, bytes)):
            return self.request("POST", "/v1/appointments", data=body, headers=sent)
        return self.request("POST", "/v1/appointments", json=body, headers=sent)

    def search_appointments(self, *, key: str | None = None, headers: Mapping[str, str] | None = None,
                            **filters: Any) -> Reply:
        """`GET /v1/appointments?...`: date, status, appointment_type, branch_id, session, batch,
        page, limit (None values are left out)."""
        return self.request("GET", "/v1/appointments" + _query(filters), headers=self._auth(key, headers))

    def availability(self, date: str, *, branch_id: str | None = None, session: str | None = None,
                     key: str | None = None, headers: Mapping[str, str] | None = None) -> Reply:
        """`GET /v1/appointment-slots/availability?date=...` (`.json["slots"]`)."""
        query = _query({"date": date, "branch_id": branch_id, "session": session})
        return self.request("GET", "/v1/appointment-slots/availability" + query,
                            headers=self._auth(key, headers))

    def services(self, *, key: str | None = None, headers: Mapping[str, str] | None = None) -> Reply:
        """`GET /v1/services`."""
        return self.request("GET", "/v1/services", headers=self._auth(key, headers))

    def appointment_config(self, *, key: str | None = None,
                           headers: Mapping[str, str] | None = None) -> Reply:
        """`GET /v1/appointment-config`."""
        return self.request("GET", "/v1/appointment-config", headers=self._auth(key, headers))

    # -- any operation of the spec -------------------------------------------------------------
    def call(self, operation_id: str, *, path: Mapping[str, Any] | None = None,
             query: Mapping[str, Any] | None = None, json: Any = _UNSET, key: str | None = None,
             headers: Mapping[str, str] | None = None) -> Reply:
        """Any operation of openapi.yaml by its operationId (`"getScheduleTracking"`): its method
        and path come from the spec. `path=` fills the path's parameters, `query=` its query
        (None values are left out), `json=` its body. `key` defaults to the world's first key
        whose scopes the operation accepts ("" sends no Authorization)."""
        operation = self._contract.operations[self._operation(operation_id)]
        given = dict(path or {})
        unknown = sorted(set(given) - set(operation.path_params))
        missing = [name for name in operation.path_params if name not in given]
        if unknown or missing:
            raise TypeError(f"{operation_id} ({operation.method} {operation.path}) takes path="
                            f"{{{', '.join(repr(n) for n in operation.path_params)}}}"
                            + (f"; missing {', '.join(missing)}" if missing else "")
                            + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        url = operation.path
        for name, value in given.items():
            url = url.replace("{" + name + "}", quote(str(value), safe=""))
        sent = self._auth(self._key_for(operation) if key is None else key, headers)
        return self.request(operation.method, url + _query(dict(query or {})), json=json, headers=sent)

    def _key_for(self, operation: Any) -> str:
        for entry in self.keys:
            if operation.allows(frozenset(entry["scopes"])):
                return str(entry["key"])
        raise LookupError(f"the world has no API key that {operation.operation_id} accepts "
                          f"({operation.scopes_wanted()}); pass key=... explicitly")

    def _auth(self, key: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
        key = self.key if key is None else key
        return {**({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})}

    # -- your own HTTP client -------------------------------------------------------------------
    def requests_session(self, base_url: str = PRODUCTION) -> Any:
        """A `requests.Session` whose calls to `base_url` (default: the production API) reach this
        sandbox; a forced drop raises `requests.exceptions.ConnectionError`. Needs the
        `requests` extra."""
        from .clients import requests_session

        return requests_session(self._exchange, base_url)

    def httpx_client(self, base_url: str = PRODUCTION, **options: Any) -> Any:
        """An `httpx.Client` on `base_url` answered by this sandbox; a forced drop raises
        `httpx.RemoteProtocolError`. Needs the `httpx` extra."""
        from .clients import httpx_client

        return httpx_client(self._exchange, base_url, **options)

    def httpx_async_client(self, base_url: str = PRODUCTION, **options: Any) -> Any:
        """The same as an `httpx.AsyncClient`."""
        from .clients import httpx_async_client

        return httpx_async_client(self._exchange, base_url, **options)

    def intercept(self, base_url: str = PRODUCTION) -> Any:
        """A context manager: while it is open, every `requests` and `httpx` call to `base_url`,
        from any code (your client as it is), reaches this sandbox."""
        from .clients import intercept

        return intercept(self._exchange, base_url)

    # -- keys ---------------------------------------------------------------------------------
    @property
    def keys(self) -> list[dict[str, Any]]:
        """Every API key of the world: {key, name, organization, scopes} (`GET /_sandbox/keys`,
        read each time: a world loaded or restored since has other keys)."""
        return self._control("GET", "/keys")

    @property
    def key(self) -> str:
        """The world's first key that can read and write appointments (`appointments:read`
        and `appointments:write`): every appointments operation takes it. The Appointment
        Slots API's own scopes (`slots:...`) are not asked for; a world names that key itself."""
        wanted = {"appointments:read", "appointments:write"}
        for entry in self.keys:
            if wanted <= set(entry["scopes"]):
                return entry["key"]
        raise LookupError("the world has no API key with appointments:read and appointments:write; "
                          "pass key=... explicitly")

    # -- control API --------------------------------------------------------------------------
    def _control(self, method: str, path: str, payload: Any = _UNSET, *, data: bytes | None = None,
                 content_type: str | None = None) -> Any:
        """A control request's `data`, or SandboxControlError with the sandbox's explanation."""
        __tracebackhide__ = True
        full = f"/_sandbox{path}"
        headers = {"Content-Type": content_type} if content_type else {}
        reply = self.request(method, full, json=payload, data=data, headers=headers)
        if reply.status >= 400 or not isinstance(reply.json, dict) or reply.json.get("success") is not True:
            raise SandboxControlError(method, full, reply)
        return reply.json.get("data")

    def add_appointments(self, organization: str, appointments: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Add appointments (as a world file writes them) to this sandbox without replacing its
        world; all or none (SandboxControlError lists the problems). Returns them as stored."""
        added = self._control("POST", "/appointments", {"organization": organization,
                                                        "appointments": [dict(a) for a in appointments]})
        return list(added["appointments"])

    def reset(self) -> dict[str, Any]:
        """Back to the world last loaded: appointments, clock, rate limits."""
        return self._control("POST", "/reset")

    def world(self) -> dict[str, Any]:
        """The current state as a world document (keys in plaintext)."""
        return self._control("GET", "/world")

    def load_world(self, source: str | PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
        """Replace the world: a file (relative to the rootdir) or a document."""
        if isinstance(source, Mapping):
            return self._control("PUT", "/world", dict(source))
        path = self._root / Path(source)
        kind = "application/json" if path.suffix.lower() == ".json" else "application/yaml"
        return self._control("PUT", "/world", data=path.read_bytes(), content_type=kind)

    def freeze_clock(self, when: str | datetime) -> str:
        """Freeze the sandbox's clock at `when` (a UTC string or an aware datetime)."""
        return self._control("PUT", "/clock", {"now": _utc_text(when)})["now"]

    def advance_clock(self, seconds: float) -> str:
        return self._control("PUT", "/clock", {"advance_seconds": seconds})["now"]

    def real_clock(self) -> str:
        return self._control("PUT", "/clock", {"now": None})["now"]

    def now(self) -> str:
        return self._control("GET", "/clock")["now"]

    def snapshot(self, name: str) -> dict[str, Any]:
        return self._control("POST", "/snapshots", {"name": name})

    def restore(self, name: str) -> dict[str, Any]:
        return self._control("POST", f"/snapshots/{quote(name, safe='')}/restore")

    def snapshots(self) -> list[dict[str, Any]]:
        return self._control("GET", "/snapshots")

    def delete_snapshot(self, name: str) -> None:
        self._control("DELETE", f"/snapshots/{quote(name, safe='')}")

    # -- forced responses ---------------------------------------------------------------------
    def force(self, status: int | None = None, *, operation: str | None = None,
              appointment_id: str | None = None, times: int = 1, example: str | None = None,
              body: Any = None, headers: Mapping[str, Any] | None = None,
              delay_ms: int | None = None, drop: bool = False) -> dict[str, Any]:
        """Answer the next `times` matching API requests as told (a status, a spec example, a
        body, headers, a delay, or a dropped connection); returns the rule."""
        rule = {"operation": self._operation(operation), "appointment_id": appointment_id,
                "times": times, "status": status, "example": example, "body": body,
                "headers": {k: str(v) for k, v in headers.items()} if headers else None,
                "delay_ms": delay_ms, "drop": drop or None}
        return self._control("POST", "/forced-responses", {k: v for k, v in rule.items() if v is not None})

    def forced(self) -> list[dict[str, Any]]:
        """The forced-response rules still pending."""
        return self._control("GET", "/forced-responses")

    def clear_forced(self) -> None:
        self._control("DELETE", "/forced-responses")

    def delete_forced(self, rule_id: str) -> None:
        """Drop one pending rule (its `id` from force())."""
        self._control("DELETE", f"/forced-responses/{quote(rule_id, safe='')}")

    # -- webhooks: what fires them, where they go ---------------------------------------------
    def agent_books(self, body: Mapping[str, Any], *, organization: str | None = None) -> dict[str, Any]:
        """The AI voice agent books during a call (the create rules; `appointment.created` with
        `booked_via: phone_call`). Returns {appointment, event, deliveries}."""
        return self._control("POST", "/agent/appointments", _with_org(body, organization))

    def dashboard_books(self, body: Mapping[str, Any], *, organization: str | None = None) -> dict[str, Any]:
        return self._control("POST", "/dashboard/appointments", _with_org(body, organization))

    def dashboard_updates(self, appointment_id: str, body: Mapping[str, Any], *,
                          organization: str | None = None) -> dict[str, Any]:
        """Staff change an appointment (the PATCH rules): `appointment.updated`, `.cancelled`
        or `.completed`."""
        return self._control("PATCH", f"/dashboard/appointments/{quote(appointment_id, safe='')}",
                             _with_org(body, organization))

    def dashboard_creates_window(self, body: Mapping[str, Any], *, organization: str | None = None) -> dict[str, Any]:
        return self._control("POST", "/dashboard/windows", _with_org(body, organization))

    def dashboard_updates_window(self, slot_id: str, body: Mapping[str, Any], *,
                                 organization: str | None = None) -> dict[str, Any]:
        return self._control("PATCH", f"/dashboard/windows/{quote(slot_id, safe='')}", _with_org(body, organization))

    def add_webhook(self, url: str, secret: str, *, events: list[str] | None = None,
                    retry_delays: list[float] | None = None, timeout_seconds: float | None = None,
                    organization: str | None = None) -> dict[str, Any]:
        """Deliver the organization's events (all six unless `events`) to `url`, signed with `secret`."""
        given = {"url": url, "secret": secret, "events": events, "retry_delays": retry_delays,
                 "timeout_seconds": timeout_seconds, "organization": organization}
        return self._control("POST", "/webhooks", {k: v for k, v in given.items() if v is not None})

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """The session's deliveries (the last 200): each with its payload, status and attempts."""
        return self._control("GET", "/webhooks/deliveries")

    # -- the journal --------------------------------------------------------------------------
    def journal(self) -> list[Call]:
        """The API requests so far (the last 500), oldest first."""
        return [Call.from_entry(entry) for entry in self._control("GET", "/requests")]

    def clear_journal(self) -> int:
        return self._control("DELETE", "/requests")["cleared"]

    def calls(self, operation: str | None = None, *, status: int | None = None, code: str | None = None,
              appointment_id: str | None = None, forced: bool | None = None) -> list[Call]:
        """The journal's calls matching every filter given."""
        wanted = _Filter(self._operation(operation), status, code, appointment_id, forced)
        return [call for call in self.journal() if wanted.matches(call)]

    def call_count(self, operation: str | None = None, **filters: Any) -> int:
        return len(self.calls(operation, **filters))

    def assert_called(self, operation: str | None = None, *, times: int | None = None,
                      status: int | None = None, code: str | None = None,
                      appointment_id: str | None = None, forced: bool | None = None) -> list[Call]:
        """Fail unless matching calls were made: `times` exactly, or at least once."""
        __tracebackhide__ = True
        wanted = _Filter(self._operation(operation), status, code, appointment_id, forced)
        expected = f"at least {wanted.describe(1)}" if times is None else f"exactly {wanted.describe(times)}"
        return self._check_calls(wanted, times, expected)

    def assert_not_called(self, operation: str | None = None, *, status: int | None = None,
                          code: str | None = None, appointment_id: str | None = None,
                          forced: bool | None = None) -> None:
        """Fail if any matching call was made."""
        __tracebackhide__ = True
        wanted = _Filter(self._operation(operation), status, code, appointment_id, forced)
        self._check_calls(wanted, 0, wanted.describe(None))

    def _check_calls(self, wanted: _Filter, times: int | None, expected: str) -> list[Call]:
        __tracebackhide__ = True
        journal = self.journal()
        found = [call for call in journal if wanted.matches(call)]
        if (len(found) != times) if times is not None else not found:
            raise AssertionError(f"expected {expected}, found {len(found)}\n{_journal_text(journal)}")
        return found

    def _operation(self, name: str | None) -> str | None:
        """An operationId of the spec, checked: a typo must not make a filter match nothing."""
        if name is not None and name not in self._contract.operations:
            valid = ", ".join(sorted(self._contract.operations))
            raise ValueError(f"unknown operation {name!r}; the spec's operations are: {valid}")
        return name


class InProcessSandbox(SandboxHandle):
    """The sandbox in this process: `.app` is the Flask app, `.client` its test client."""

    def __init__(self, app: Any, contract: Any, root: Path) -> None:
        super().__init__(contract, root)
        self.app = app

    @cached_property
    def client(self) -> Any:
        """Flask's test client for `.app`, made on first use (a test that makes no request pays
        nothing for it)."""
        return self.app.test_client()

    def _exchange(self, method: str, path: str, body: bytes | None,
                  headers: dict[str, str]) -> tuple[int, Iterable[tuple[str, str]], bytes]:
        # A forced drop raises huskyvoice_sandbox.session.forcing.ConnectionDropped (a ConnectionError) from here.
        response = self.client.open(path, method=method, data=body, headers=headers)
        return response.status_code, list(response.headers.items()), response.get_data()


    def route_webhooks_to(self, app: Any, secret: str, *, url: str = "https://integrator.test/webhooks",
                          events: list[str] | None = None, organization: str | None = None) -> dict[str, Any]:
        """Deliver the organization's events to your own WSGI app, in this process (no port):
        the sandbox POSTs to `url`, and `app` answers, as it would behind that address."""
        from ..web.http import EXTENSION

        address = urlsplit(url)
        state = self.app.extensions[EXTENSION].sessions.get(None)
        state.webhooks.local_apps[f"{address.scheme}://{address.netloc}"] = app
        return self.add_webhook(url, secret, events=events, organization=organization)


class ServedSandbox(SandboxHandle):
    """The sandbox over HTTP at `.url`; a forced drop raises http.client.RemoteDisconnected
    (a ConnectionError), as any client's would.

    `admin_token` is sent with every request (a sandbox started with one, such as a container's);
    with `session`, every request (API and control alike) names that session, so each handle on a
    shared server can have a sandbox of its own."""

    def __init__(self, url: str, contract: Any, root: Path, timeout: float = 30.0, *,
                 admin_token: str | None = None, session: str | None = None) -> None:
        super().__init__(contract, root)
        self.url = url
        self.timeout = timeout
        self.session = session
        self._own_headers = {name: value for name, value in (
            ("X-Sandbox-Admin-Token", admin_token), ("X-Sandbox-Session", session)) if value}

    def __repr__(self) -> str:
        return f"<ServedSandbox {self.url}{f' session {self.session}' if self.session else ''}>"

    @property
    def headers(self) -> dict[str, str]:
        """What your own client sends to reach this handle's session (X-Sandbox-Session)."""
        return {"X-Sandbox-Session": self.session} if self.session else {}

    def delete_session(self) -> None:
        """Delete this handle's session (its appointments, journal, forced responses...)."""
        if self.session is None:
            raise ValueError("this handle uses the default session, which cannot be deleted")
        self._control("DELETE", f"/sessions/{quote(self.session, safe='')}")

    def _exchange(self, method: str, path: str, body: bytes | None,
                  headers: dict[str, str]) -> tuple[int, Iterable[tuple[str, str]], bytes]:
        headers = {**self._own_headers, **headers}
        address = urlsplit(self.url)
        connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port,
                                                timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def _with_org(body: Mapping[str, Any], organization: str | None) -> dict[str, Any]:
    return {**body, **({"organization": organization} if organization else {})}


def _appointment_path(appointment_id: str) -> str:
    return f"/v1/appointments/{quote(appointment_id, safe='')}"


def _query(params: Mapping[str, Any]) -> str:
    given = {name: value for name, value in params.items() if value is not None}
    return "?" + urlencode(given) if given else ""


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
