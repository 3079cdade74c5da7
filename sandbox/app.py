"""The application factory: wires the contract, the state, the blueprints, one error renderer
for everything, the request journal and the access log."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import api, control, strictjson
from .clock import format_timestamp
from .contract import Contract
from .errors import (ApiError, Detail, InternalError, MethodNotAllowed, NotFound,
                     PayloadTooLarge, ValidationError)
from .http import DEFAULT_MAX_BODY_BYTES, EXTENSION, Runtime, error_response, runtime
from .journal import DEFAULT_SIZE, MAX_BODY_CHARS as MAX_JOURNAL_BODY, clip, mask_key
from .resources import default_world_path
from .state import SandboxState
from .world import World, load_world, load_world_file

log = logging.getLogger("huskyvoice_sandbox")
access_log = logging.getLogger("huskyvoice_sandbox.access")

WorldSource = World | str | Path | dict[str, Any] | None


def create_app(
    world: WorldSource = None,
    *,
    admin_token: str | None = None,
    journal_size: int = DEFAULT_SIZE,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    contract: Contract | None = None,
) -> Flask:
    """A sandbox app serving `world` (default: fixtures/default.yaml).

    `world` may be a World, a path to a YAML/JSON world file, or a parsed document. A bad world
    raises InvalidWorld with every problem listed; nothing is served from it.
    """
    app = Flask("huskyvoice_sandbox")
    # No automatic OPTIONS answers: they would be empty non-JSON 200s; OPTIONS gets the 405.
    app.config.update(MAX_CONTENT_LENGTH=max_body_bytes, PROVIDE_AUTOMATIC_OPTIONS=False)
    app.json.sort_keys = False  # keep the documented field order
    app.json.compact = True
    app.url_map.strict_slashes = True
    app.url_map.merge_slashes = False  # its answer would be a 308 HTML redirect; 404 instead
    app.extensions[EXTENSION] = Runtime(
        state=SandboxState(_resolve_world(world), journal_size),
        contract=contract or Contract(),
        admin_token=admin_token,
    )
    app.register_blueprint(api.bp)
    app.register_blueprint(control.bp)
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
    return Response(runtime().contract.text, mimetype="application/yaml")


def _spec_json() -> Response:
    return Response(runtime().contract.json_text, mimetype="application/json")


def _http_error(exc: HTTPException) -> Response:
    """Werkzeug's errors (routing, size limit, ...) in the API's envelope, never HTML."""
    if exc.code == 404:
        error: ApiError = NotFound(f"No such endpoint: {request.method} {clip(request.path, 200)}.")
    elif exc.code == 405:
        allowed = sorted(set(getattr(exc, "valid_methods", None) or []) - {"OPTIONS"})
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
    code = _error_code(response)
    access_log.info('%s "%s %s" %s %s %.1fms', request.remote_addr, request.method,
                    clip(request.full_path.rstrip("?"), 300), response.status_code, code or "-",
                    elapsed_ms)
    if request.path.startswith("/v1/"):
        _record(response, code, elapsed_ms)
    return response


def _error_code(response: Response) -> str | None:
    if response.status_code < 400 or response.mimetype != "application/json":
        return None
    body = response.get_json(silent=True)
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _record(response: Response, code: str | None, elapsed_ms: float) -> None:
    rt = runtime()
    header = request.headers.get("Authorization", "")
    key = header.partition(" ")[2].strip()
    credential = g.get("credential")
    rt.state.journal.record({
        "time": _now(rt),
        "method": request.method,
        "path": request.path,
        "query": request.query_string.decode("latin-1"),
        "key": mask_key(key) if key else None,
        "organization": credential.organization.id if credential else None,
        "request": {"content_type": request.headers.get("Content-Type"), "body": _request_body()},
        "response": {"status": response.status_code, "code": code,
                     "headers": {k: v for k, v in response.headers.items()
                                 if k in ("Retry-After", "Allow", api.IGNORED_HEADER)},
                     "body": response.get_json(silent=True) if response.is_json else None},
        "duration_ms": round(elapsed_ms, 2),
    })


def _request_body() -> Any:
    """The body as JSON when it is strict, finite and shallow enough to render again, else as
    (clipped) text; never fails the response, nor a later read of the journal."""
    try:
        raw = request.get_data(cache=True)
    except HTTPException:  # over the size limit: not read, not recorded
        return None
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if len(text) > MAX_JOURNAL_BODY:
        return clip(text, MAX_JOURNAL_BODY)
    value = g.get("request_json", _UNPARSED)
    if value is _UNPARSED:
        try:
            value = strictjson.loads(text)
        except (ValueError, RecursionError):
            return text
    return value if _renderable(value) else text


_UNPARSED = object()


def _renderable(value: Any, max_depth: int = 32) -> bool:
    """Shallow enough for jsonify, and only finite numbers (1e999 parses to inf)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, (dict, list)):
            if depth >= max_depth:
                return False
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return True


def _now(rt: Runtime) -> str:
    return format_timestamp(rt.state.clock.now())
