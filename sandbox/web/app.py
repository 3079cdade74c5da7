"""The application factory: wires the contract, the state, the API (sandbox/web/api.py), the
blueprints of the control API and the pages, one error renderer for everything (ApiError.body,
in the envelope) and the access log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from .. import __version__
from ..domain.errors import ApiError, InternalError
from ..resources import default_world_path
from ..session.journal import DEFAULT_SIZE, error_code
from ..session.sessions import DEFAULT_MAX_SESSIONS, Sessions
from ..spec.contract import Contract
from ..worlds.world import World, load_world, load_world_file
from . import control, docs, inspector, slices  # noqa: F401 - slices and the inspector add routes to the control API
from .access import ControlAccess, parse_networks
from .api import Api, date_header, log_access
from .http import (
    DEFAULT_MAX_BODY_BYTES,
    EXTENSION,
    Runtime,
    error_response,
    http_error,
    json_response,
    runtime,
)
from .wsgi import SendGuard

log = logging.getLogger("huskyvoice_sandbox")
HEALTH_CHECK_AGENT = f"huskyvoice-sandbox-health/{__version__}"  # serve/reach.py sends it
access_log = logging.getLogger("huskyvoice_sandbox.access")

WorldSource = World | str | Path | dict[str, Any] | None


class SandboxFlask(Flask):
    def ensure_sync(self, func: Any) -> Any:
        """Every view and hook here is synchronous: skip Flask's per-call coroutine check."""
        return func


def create_app(
    world: WorldSource = None,
    *,
    admin_token: str | None = None,
    control_from: Iterable[str] = (),
    journal_size: int = DEFAULT_SIZE,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    contract: Contract | None = None,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> Flask:
    """A sandbox app serving `world` (default: fixtures/default.yaml).

    `world` may be a World, a path to a YAML/JSON world file, or a parsed document. A bad world
    raises InvalidWorld with every problem listed; nothing is served from it. `admin_token` and
    `control_from` (addresses, networks or "any") open the control features to others than
    loopback clients (web/access.py); a bad network raises ValueError.
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
        control=ControlAccess(admin_token, parse_networks(control_from)),
    )
    # /v1 is served by api.Api, from the spec's operations; the rest by Flask.
    api = Api(app, app.extensions[EXTENSION], app.wsgi_app)
    app.wsgi_app = SendGuard(api)  # type: ignore[method-assign]
    app.register_blueprint(control.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(inspector.bp)
    app.add_url_rule("/", "index", _index)
    app.add_url_rule("/openapi.yaml", "spec_yaml", _spec_yaml)
    app.add_url_rule("/openapi.json", "spec_json", _spec_json)
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.before_request(_start_timer)
    app.after_request(_log)
    app.after_request(_date)
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
    """`GET /`: where to go from here. Every address in it answers; the API's operations are
    listed as the spec has them (path templates), not as one base URL, which answers nothing."""
    base = _origin()
    operations = [{"operation": op.operation_id, "method": op.method, "path": op.path}
                  for op in runtime().contract.operations.values()]
    return json_response({"success": True, "data": {
        "name": "huskyvoice-sandbox", "version": __version__,
        "docs": f"{base}/docs", "openapi": f"{base}/openapi.yaml",
        "control_api": f"{base}/_sandbox/openapi.yaml", "health": f"{base}/_sandbox/health",
        "inspector": f"{base}/_sandbox/inspector",
        "operations": operations}})


def _http_error(exc: HTTPException) -> Response:
    """Werkzeug's errors (routing, size limit, ...) in the API's envelope, never HTML."""
    return error_response(http_error(exc, request.method, request.path, request.max_content_length))


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error while serving %s %s", request.method, request.path)
    return error_response(InternalError("An unexpected error occurred."))


def _start_timer() -> None:
    g.started = time.perf_counter()


def _log(response: Response) -> Response:
    """The access log of everything but the API (sandbox/web/api.py logs its own), without the
    container's own health checks (`huskyvoice-sandbox health`, every few seconds)."""
    if access_log.isEnabledFor(logging.INFO) and request.user_agent.string != HEALTH_CHECK_AGENT:
        elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log_access(request.remote_addr, request.method, request.full_path, response.status_code,
                   _error_code(response), elapsed_ms, None)
    return response


def _date(response: Response) -> Response:
    """The Date header from the clock of the session the request named (the control API's
    answers included, after a change of the clock), or the default session's; as /v1 does."""
    if "Date" not in response.headers:
        state = g.get("sandbox_state") or runtime().sessions.default
        response.headers["Date"] = date_header(state.clock.now())
    return response


def _error_code(response: Response) -> str | None:
    if response.status_code < 400 or response.mimetype != "application/json":
        return None
    return error_code(response.get_json(silent=True))
