"""The `/v1` API's own WSGI layer: every request under `/v1/` is routed (with the app's URL map,
where sandbox/web/pipeline.py registered the spec's operations), run through the API pipeline,
answered, journaled and logged here; everything else (the control API, /docs, the spec) is Flask's.

Why not Flask's dispatch: the API's requests are what integrators' tests and load tests send,
thousands of times. Flask's request context, hooks and proxies cost more than the sandbox's own
work (the checks, the rules, the journal); a Werkzeug request, read directly, does not. Errors
are the same exception classes, rendered in the same envelope (ApiError.body).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES, http_date
from werkzeug.routing import MapAdapter
from werkzeug.wrappers import Request

from ..domain.errors import ApiError, InternalError, MethodNotAllowed
from ..session import forcing
from ..session.journal import MAX_BODY_CHARS as MAX_JOURNAL_BODY
from ..session.journal import Exchange, clip, error_code, mask_key
from ..session.sessions import SESSION_ENVIRON
from ..session.state import SandboxState
from ..spec.contract import Operation
from . import slices  # noqa: F401 - registers the views that register() routes
from .call import Answer, ApiRequest, Call
from .http import Runtime, header_list, http_error, json_text
from .pipeline import IGNORED_HEADER, Handler, register

log = logging.getLogger("huskyvoice_sandbox")
access_log = logging.getLogger("huskyvoice_sandbox.access")

PREFIX = "/v1/"
JOURNAL_HEADERS = ("Retry-After", "Allow", IGNORED_HEADER)
ROUTE_CACHE = 4096  # (path, method) pairs whose route is remembered
MAX_JOURNAL_FIELD = 1024  # characters of a path, query or Content-Type the journal keeps
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Api:
    """A WSGI app: `/v1/` requests answered here, the rest passed to `fallback` (Flask's)."""

    def __init__(self, app: Flask, runtime: Runtime, fallback: WSGIApp) -> None:
        self._app = app
        self._runtime = runtime  # its sessions are replaced whole (the pytest plugin): read per request
        self._fallback = fallback
        self._routes: dict[str, tuple[Operation, Handler]] = register(app, runtime.contract)
        self._adapter: MapAdapter | None = None
        # Routing is a pure function of (path, method): the answers for recent paths are kept.
        self._match = functools.lru_cache(maxsize=ROUTE_CACHE)(self._route)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith(PREFIX):
            return self._fallback(environ, start_response)
        started = time.perf_counter()
        req = ApiRequest(environ)
        req.max_content_length = self._app.config["MAX_CONTENT_LENGTH"]
        call = Call(req, self._runtime)
        answer = self._answer(call)
        body = b"" if answer.payload is None else json_text(answer.payload).encode("ascii")
        # The session whose journal records the request: the one it named, even when it was
        # refused before its session was looked up (no such path, a wrong method).
        state = call.session or self._runtime.sessions.journal_of(environ.get(SESSION_ENVIRON))
        headers = _headers(answer, call, body, state.clock.now())
        elapsed_ms = (time.perf_counter() - started) * 1000
        _record(call, state, answer, headers, body, elapsed_ms)
        if access_log.isEnabledFor(logging.INFO):
            _log(call, answer, elapsed_ms)
        status = f"{answer.status} {HTTP_STATUS_CODES.get(answer.status, 'UNKNOWN')}"
        start_response(status, headers)  # raises ConnectionDropped on a forced drop (SendGuard)
        return [b""] if req.method == "HEAD" else [body]  # HEAD: the headers of the answer only

    def _answer(self, call: Call) -> Answer:
        req = call.req
        try:
            op, handler, args = self._match(req.path, req.method)
            call.operation, call.path = op, dict(args)
            if req.method == "HEAD":  # Werkzeug would serve it as a GET; the spec has no HEAD
                raise _head_refused(self._adapter_for(), req.path)
            return handler(call)
        except ApiError as error:
            return _error_answer(error)
        except HTTPException as exc:  # routing, a body over the size limit
            return _error_answer(http_error(exc, req.method, req.path, req.max_content_length))
        except Exception:
            log.exception("unexpected error while serving %s %s", req.method, req.path)
            return _error_answer(InternalError("An unexpected error occurred."))

    def _route(self, path: str, method: str) -> tuple[Operation, Handler, tuple[tuple[str, Any], ...]]:
        endpoint, args = self._adapter_for().match(path, method)
        op, handler = self._routes[endpoint]
        return op, handler, tuple(args.items())

    def _adapter_for(self) -> MapAdapter:
        # Bound once, after every blueprint added its rules; match() reads it without state.
        if self._adapter is None:
            self._adapter = self._app.url_map.bind("sandbox")
        return self._adapter


def _head_refused(adapter: MapAdapter, path: str) -> MethodNotAllowed:
    allowed = sorted(set(adapter.allowed_methods(path)) - {"HEAD", "OPTIONS"})
    return MethodNotAllowed(f"HEAD is not allowed here; use {', '.join(allowed)}.",
                            headers={"Allow": ", ".join(allowed)})


@functools.lru_cache(maxsize=16)
def _http_date(second: datetime) -> str:
    return http_date(second)


def date_header(now: datetime) -> str:
    """The `Date` header of an answer: the answering session's clock (RFC 9110's "origin
    server's clock"), so a frozen clock answers with its frozen moment, as its timestamps do.
    Waitress sends the app's Date instead of its own."""
    return _http_date(now.replace(microsecond=0))


def _error_answer(error: ApiError) -> Answer:
    return Answer(error.status, error.body(), error.headers)


def _headers(answer: Answer, call: Call, body: bytes, now: datetime) -> list[tuple[str, str]]:
    headers = [("Content-Length", str(len(body)))]
    if answer.payload is not None:
        headers.insert(0, ("Content-Type", "application/json"))
    if answer.headers:
        headers += answer.headers.items()
    if not answer.headers or not any(name.lower() == "date" for name in answer.headers):  # a forced one stays
        headers.append(("Date", date_header(now)))
    if call.ignored_fields:  # named on every answer that got past validation
        headers.append((IGNORED_HEADER, header_list(call.ignored_fields)))
    return headers


def _record(call: Call, state: SandboxState, answer: Answer, headers: list[tuple[str, str]],
            body: bytes, elapsed_ms: float) -> None:
    req = call.req
    environ = req.environ  # plain dictionary reads: this runs on every API request
    key = environ.get("HTTP_AUTHORIZATION", "").partition(" ")[2].strip()
    credential = call.credential
    dropped = forcing.DROP_KEY in environ
    state.journal.record(Exchange(
        time=state.clock.now(),
        method=environ["REQUEST_METHOD"],
        path=clip(req.path, MAX_JOURNAL_FIELD),
        query=clip(environ.get("QUERY_STRING", ""), MAX_JOURNAL_FIELD),
        operation=call.operation.operation_id if call.operation else None,
        appointment_id=_clipped_id(call),
        masked_key=mask_key(key) if key else None,
        organization=credential.organization.id if credential else None,
        content_type=clip(environ.get("CONTENT_TYPE") or "", MAX_JOURNAL_FIELD) or None,
        request_body=_request_bytes(req),
        status=None if dropped else answer.status,  # None: nothing was sent
        response_headers={} if dropped else {k: v for k, v in headers if k in JOURNAL_HEADERS},
        response_json=None if dropped or not body else body.decode("ascii"),
        duration_ms=elapsed_ms,
        forced=call.forced,
    ))


def _clipped_id(call: Call) -> str | None:
    appointment_id = call.path.get("appointment_id")
    return None if appointment_id is None else clip(appointment_id, MAX_JOURNAL_FIELD)


def _request_bytes(req: Request) -> bytes | None:
    """The body as read (enough of it to show MAX_JOURNAL_BODY characters); None if it was
    over the size limit and not read."""
    try:
        return req.get_data(cache=True)[:MAX_JOURNAL_BODY * 4 + 1]
    except HTTPException:
        return None


def _log(call: Call, answer: Answer, elapsed_ms: float) -> None:
    req = call.req
    dropped = forcing.DROP_KEY in req.environ
    code = error_code(answer.payload) if answer.status >= 400 else None
    log_access(req.remote_addr, req.method, req.full_path, None if dropped else answer.status, code,
               elapsed_ms, "dropped" if dropped else "forced" if call.forced else None)


def log_access(remote: str | None, method: str, full_path: str, status: int | None, code: str | None,
               elapsed_ms: float, how: str | None) -> None:
    """One access-log line (INFO on huskyvoice_sandbox.access): the same for every request."""
    note = {"dropped": " (dropped, as forced)", "forced": " (forced)"}.get(how or "", "")
    access_log.info('%s "%s %s" %s %s %.1fms%s', remote, method, clip(full_path.rstrip("?"), 300),
                    "-" if status is None else status, code or "-", elapsed_ms, note)
