"""The sandbox handles: `SandboxHandle` (the API: a typed helper for every operation of the
spec, generated into `operations.py`, and `call()` under them; your own HTTP client, the control
API, the journal and its assertions), and its two transports, `InProcessSandbox` and
`ServedSandbox`. Only the standard library at import: the pytest plugin imports this in every
run; the sandbox loads when a handle is made."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .operations import OperationHelpers
from .replies import Call, Filter, Reply, SandboxControlError, journal_text, utc_text

PRODUCTION = "https://api.huskyvoice.ai"  # the base URL a client's calls are routed from
_UNSET: Any = object()


class SandboxHandle(OperationHelpers):
    """Calls the API and the control API of one sandbox; subclasses provide the transport.

    Every operation of the spec has a helper named after its operationId (`OperationHelpers`,
    generated from openapi.yaml). Four of them are written here instead, as they were before the
    others existed: `get_appointment`, `update_appointment`, `create_appointment` and
    `search_appointments` use `.key` unless `key=` is given, and the last two writes also send
    a str or bytes body as is; `availability`, `services` and `appointment_config` are the
    generated `get_availability`, `list_services` and `get_appointment_config` with `.key`."""

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
        return Reply.of(status, header_items, raw)

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
        """`GET /v1/appointment-slots/availability?date=...` (`.json["slots"]`): `get_availability()`
        with the date positional and `.key` unless `key=` is given."""
        return self.get_availability(date=date, branch_id=branch_id, session=session,
                                     key=self.key if key is None else key, headers=headers)

    def services(self, *, key: str | None = None, headers: Mapping[str, str] | None = None) -> Reply:
        """`GET /v1/services`: `list_services()` with `.key` unless `key=` is given."""
        return self.list_services(key=self.key if key is None else key, headers=headers)

    def appointment_config(self, *, key: str | None = None,
                           headers: Mapping[str, str] | None = None) -> Reply:
        """`GET /v1/appointment-config`: `get_appointment_config()` with `.key` unless `key=` is given."""
        return self.get_appointment_config(key=self.key if key is None else key, headers=headers)

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

    def run_scenario(self, source: str | PathLike[str]) -> list[Reply]:
        """Load a scenario world (a file of fixtures/scenarios/, or one `huskyvoice-sandbox
        replay --scenario` wrote; relative to the rootdir) and run its steps in order. Raises
        AssertionError naming every step whose answer is not the one it expects (or breaks
        openapi.yaml); returns the replies."""
        from ..worlds.world import load_world_file
        from .scenarios import mismatches

        path = self._root / Path(source)
        steps = (load_world_file(path).scenario or {"steps": []})["steps"]
        self.load_world(path)
        replies, problems = [], []
        for number, step in enumerate(steps, 1):
            request = step["request"]
            headers = dict(request.get("headers") or {})
            if request.get("key"):
                headers["Authorization"] = f"Bearer {request['key']}"
            data = request.get("raw_body")
            if "body" in request:
                data = json.dumps(request["body"])
                headers.setdefault("Content-Type", "application/json")
            reply = self.request(request["method"], request["path"], data=data, headers=headers)
            replies.append(reply)
            found = mismatches(step["expect"], reply, self._contract, request["method"], request["path"])
            if found:
                label = step.get("name") or f"{request['method']} {request['path']}"
                problems.append(f"{path.name} step {number} ({label}): " + "; ".join(found))
        if problems:
            raise AssertionError("\n".join(problems))
        return replies

    def freeze_clock(self, when: str | datetime) -> str:
        """Freeze the sandbox's clock at `when` (a UTC string or an aware datetime)."""
        return self._control("PUT", "/clock", {"now": utc_text(when)})["now"]

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
        wanted = Filter(self._operation(operation), status, code, appointment_id, forced)
        return [call for call in self.journal() if wanted.matches(call)]

    def call_count(self, operation: str | None = None, **filters: Any) -> int:
        return len(self.calls(operation, **filters))

    def assert_called(self, operation: str | None = None, *, times: int | None = None,
                      status: int | None = None, code: str | None = None,
                      appointment_id: str | None = None, forced: bool | None = None) -> list[Call]:
        """Fail unless matching calls were made: `times` exactly, or at least once."""
        __tracebackhide__ = True
        wanted = Filter(self._operation(operation), status, code, appointment_id, forced)
        expected = f"at least {wanted.describe(1)}" if times is None else f"exactly {wanted.describe(times)}"
        return self._check_calls(wanted, times, expected)

    def assert_not_called(self, operation: str | None = None, *, status: int | None = None,
                          code: str | None = None, appointment_id: str | None = None,
                          forced: bool | None = None) -> None:
        """Fail if any matching call was made."""
        __tracebackhide__ = True
        wanted = Filter(self._operation(operation), status, code, appointment_id, forced)
        self._check_calls(wanted, 0, wanted.describe(None))

    def _check_calls(self, wanted: Filter, times: int | None, expected: str) -> list[Call]:
        __tracebackhide__ = True
        journal = self.journal()
        found = [call for call in journal if wanted.matches(call)]
        if (len(found) != times) if times is not None else not found:
            raise AssertionError(f"expected {expected}, found {len(found)}\n{journal_text(journal)}")
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
