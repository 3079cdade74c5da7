"""The application factory: wires the contract, the state, the blueprints, one error renderer
for everything, the request journal and the access log."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from .. import __version__
from ..domain.errors import (
    ApiError,
    Detail,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ValidationError,
)
from ..resources import default_world_path
from ..session import forcing
from ..session.journal import DEFAULT_SIZE, Exchange, clip, error_code, mask_key
from ..session.journal import MAX_BODY_CHARS as MAX_JOURNAL_BODY
from ..session.sessions import DEFAULT_MAX_SESSIONS, Sessions
from ..spec.contract import Contract
from ..worlds.world import World, load_world, load_world_file
from . import control, docs, operations
from .http import (
    DEFAULT_MAX_BODY_BYTES,
    EXTENSION,
    Runtime,
    error_response,
    json_response,
    runtime,
    session_state,
)
from .wsgi import SendGuard

log = logging.getLogger("huskyvoice_sandbox")
access_log = logging.getLogger("huskyvoice_sandbox.access")

WorldSource = World | str | Path | dict[str, Any] | None
JOURNAL_HEADERS = ("Retry-After", "Allow", operations.IGNORED_HEADER)
MAX_JOURNAL_FIELD = 1024  # characters of a path, query or Content-Type the journal keeps


class SandboxFlask(Flask):
    def ensure_sync(self, func: Any) -> Any:
        """Every view and hook here is synchronous: skip Flask's per-call coroutine check."""
        return func


def create_app(
    world: WorldSource = None,
    *,
    admin_token: str | None = None,
    journal_size: int = DEFAULT_SIZE,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    contract: Contract | None = None,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> Flask:
    """A sandbox app serving `world` (default: fixtures/default.yaml).

    `world` may be a World, a path to a YAML/JSON world file, or a parsed document. A bad world
    raises InvalidWorld with every problem listed; nothing is served from it.
    """
    app = SandboxFlask("huskyvoice_sandbox")
    # No automatic OPTIONS answers: they would be empty non-JSON 200s; OPTIONS gets the 405.
    app.config.update(MAX_CONTENT_LENGTH=max_body_bytes, PROVIDE_AUTOMATIC_OPTIONS=False)
    # Responses go through http.json_response; these keep Flask's own JSON (the test client's
    # `json=` bodies) in the order written and compact, like the sandbox's answers.
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's settings
    app.json.compact = True  # type: ignore[attr-defined]
    app.url_map.strict_slashes = True
    app.url_map.merge_slashes = False  # its answer would be a 308 HTML redirect; 404 instead
    app.extensions[EXTENSION] = Runtime(
        sessions=Sessions(_resolve_world(world), journal_size, max_sessions),
        contract=contract or Contract(),
        admin_token=admin_token,
    )
    app.wsgi_app = SendGuard(app.wsgi_app)  # type: ignore[method-assign]
    app.register_blueprint(operations.blueprint(app.extensions[EXTENSION].contract))
    app.register_blueprint(control.bp)
    app.register_blueprint(docs.bp)
    app.add_url_rule("/", "index", _index)
    app.add_url_rule("/openapi.yaml", "spec_yaml", _spec_yaml)
    app.add_url_rule("/openapi.json", "spec_json", _spec_json)
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.before_request(_start_timer)
    app.after_request(_journal_and_log)
    return app


def _resolve_world(world: WorldSource) -> World:
    if isinstance(world, World):
        return world
    if world is None:
        return load_world_file(default_world_path())
    if isinstance(world, (str, Path)):
        return load_world_file(world)
    return load_world(world, "<document>")


def _spec_yaml() -> Response:
    return Response(runtime().contract.served(_origin(), False), mimetype="application/yaml")


def _spec_json() -> Response:
    return Response(runtime().contract.served(_origin(), True), mimetype="application/json")


def _origin() -> str:
    """Where the client reached this sandbox (scheme, host and port, as it asked)."""
    return request.host_url.rstrip("/")


def _index() -> Response:
    """`GET /`: where to go from here."""
    base = _origin()
    return json_response({"success": True, "data": {
        "name": "huskyvoice-sandbox", "version": __version__,
        "docs": f"{base}/docs", "openapi": f"{base}/openapi.yaml",
        "control_api": f"{base}/_sandbox/openapi.yaml", "health": f"{base}/_sandbox/health",
        "api": f"{base}/v1/"}})


def _http_error(exc: HTTPException) -> Response:
    """Werkzeug's errors (routing, size limit, ...) in the API's envelope, never HTML."""
    if exc.code == 404:
        error: ApiError = NotFound(f"No such endpoint: {request.method} {clip(request.path, 200)}.")
    elif exc.code == 405:
        unlisted = {"OPTIONS", "HEAD"} if request.path.startswith("/v1/") else {"OPTIONS"}
        allowed = sorted(set(getattr(exc, "valid_methods", None) or []) - unlisted)
        error = MethodNotAllowed(f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                                 headers={"Allow": ", ".join(allowed)})
    elif exc.code == 413:
        limit = request.max_content_length
        error = PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    elif exc.code == 400:
        error = ValidationError("The request is malformed.", [Detail("request", exc.description or "bad request")])
    else:
        error = ApiError(exc.description or exc.name)
        error.status = exc.code or 500
        error.code = (exc.name or "ERROR").upper().replace(" ", "_")
    return error_response(error)


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error while serving %s %s", request.method, request.path)
    return error_response(InternalError("An unexpected error occurred."))


def _start_timer() -> None:
    g.started = time.perf_counter()


def _journal_and_log(response: Response) -> Response:
    elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    if access_log.isEnabledFor(logging.INFO):
        dropped = forcing.DROP_KEY in request.environ
        access_log.info('%s "%s %s" %s %s %.1fms%s', request.remote_addr, request.method,
                        clip(request.full_path.rstrip("?"), 300), "-" if dropped else response.status_code,
                        _error_code(response) or "-", elapsed_ms,
                        " (dropped, as forced)" if dropped else " (forced)" if g.get("forced") else "")
    if request.path.startswith("/v1/"):
        _record(response, elapsed_ms)
    return response


def _error_code(response: Response) -> str | None:
    if response.status_code < 400 or response.mimetype != "application/json":
        return None
    return error_code(response.get_json(silent=True))


def _record(response: Response, elapsed_ms: float) -> None:
    state = session_state()
    environ = request.environ  # plain dictionary reads: this runs on every API request
    key = environ.get("HTTP_AUTHORIZATION", "").partition(" ")[2].strip()
    credential = g.get("credential")
    if forcing.DROP_KEY in environ:  # nothing was sent
        status, headers, sent = None, {}, None
    else:
        status = response.status_code
        headers = {k: v for k, v in response.headers.items() if k in JOURNAL_HEADERS}
        sent = response.get_data(as_text=True) if response.mimetype == "application/json" else None
    state.journal.record(Exchange(
        time=state.clock.now(),
        method=environ["REQUEST_METHOD"],
        path=clip(request.path, MAX_JOURNAL_FIELD),
        query=clip(environ.get("QUERY_STRING", ""), MAX_JOURNAL_FIELD),
        operation=operations.current_operation(),
        appointment_id=_clipped_id(),
        masked_key=mask_key(key) if key else None,
        organization=credential.organization.id if credential else None,
        content_type=clip(environ.get("CONTENT_TYPE") or "", MAX_JOURNAL_FIELD) or None,
        request_body=_request_bytes(),
        status=status,
        response_headers=headers,
        response_json=sent,
        duration_ms=elapsed_ms,
        forced=g.get("forced"),
    ))


def _clipped_id() -> str | None:
    appointment_id = (request.view_args or {}).get("appointment_id")
    return None if appointment_id is None else clip(appointment_id, MAX_JOURNAL_FIELD)


def _request_bytes() -> bytes | None:
    """The body as read (enough of it to show MAX_JOURNAL_BODY characters); None if it was
    over the size limit and not read."""
    try:
        return request.get_data(cache=True)[:MAX_JOURNAL_BODY * 4 + 1]
    except HTTPException:
        return None
