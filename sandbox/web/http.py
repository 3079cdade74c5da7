"""HTTP plumbing shared by the blueprints: the sandbox on the current app, reading a JSON
object from a request without surprises, and rendering responses in the envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from ..domain.errors import (
    ApiError,
    Detail,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ValidationError,
)
from ..session.journal import clip
from ..session.sessions import SESSION_HEADER, Sessions
from ..session.state import SandboxState
from ..spec import strictjson
from ..spec.contract import Contract
from .access import ADMIN_HEADER as ADMIN_HEADER  # where tests and the plugin have found it
from .access import ControlAccess

EXTENSION = "huskyvoice_sandbox"
DEFAULT_MAX_BODY_BYTES = 64 * 1024
JSON_TYPES = ("application/json",)


@dataclass
class Runtime:
    """What the blueprints need, kept on `app.extensions` (no module-level state)."""

    sessions: Sessions
    contract: Contract
    control: ControlAccess = ControlAccess()

    @property
    def state(self) -> SandboxState:
        """The default session's state."""
        return self.sessions.default


def runtime() -> Runtime:
    return current_app.extensions[EXTENSION]


def session_state() -> SandboxState:
    """The state of the session this request names in X-Sandbox-Session (the default session
    without it), looked up once per request (the control API and pages; the API pipeline's
    `session` step does the same for operations)."""
    state = g.get("sandbox_state")
    if state is None:
        state = g.sandbox_state = runtime().sessions.named_by(request.headers.get(SESSION_HEADER))
    return state


def require_control_access(feature: str) -> None:
    """Control features (the control API, the X-Sandbox-Force header) are for the clients the
    operator allowed (web/access.py): loopback ones unless the server was told otherwise."""
    refusal = runtime().control.refusal(feature, request.environ)
    if refusal is not None:
        raise Forbidden(refusal)


def http_error(exc: HTTPException, method: str, path: str, max_body: int | None) -> ApiError:
    """Werkzeug's errors (routing, size limit, ...) as the API's errors, never HTML."""
    if exc.code == 404:
        return NotFound(f"No such endpoint: {method} {clip(path, 200)}.")
    if exc.code == 405:
        unlisted = {"OPTIONS", "HEAD"} if path.startswith("/v1/") else {"OPTIONS"}
        allowed = sorted(set(getattr(exc, "valid_methods", None) or []) - unlisted)
        return MethodNotAllowed(f"{method} is not allowed here; use {', '.join(allowed)}.",
                                headers={"Allow": ", ".join(allowed)})
    if exc.code == 413:
        return payload_too_large(max_body)
    if exc.code == 400:
        return ValidationError("The request is malformed.", [Detail("request", exc.description or "bad request")])
    error = ApiError(exc.description or exc.name)
    error.status = exc.code or 500
    error.code = (exc.name or "ERROR").upper().replace(" ", "_")
    return error


MAX_HEADER_CHARS = 512  # the longest header value the sandbox writes itself


def header_text(text: str, limit: int = MAX_HEADER_CHARS) -> str:
    """`text` as a header value any HTTP server can send: printable ASCII only (anything else as
    a Python escape such as \\n or \\u00ef, spaces at either end as \\x20), at most `limit`
    characters ("..." where it was clipped, never inside an escape). Every header value the
    sandbox composes from request data goes through here, so a response can never fail to be
    sent after the state it reports was changed."""
    pieces = [_escaped(c) for c in text[:limit + 1]]  # each character gives one or more
    for index in (0, -1):  # HTTP trims header values: keep their edge spaces visible
        if pieces and pieces[index] == " ":
            pieces[index] = "\\x20"
    if sum(map(len, pieces)) <= limit and len(text) <= limit:
        return "".join(pieces)
    kept, size = [], 3
    for piece in pieces:
        if size + len(piece) > limit:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept).rstrip(" ") + "..."


def _escaped(char: str) -> str:
    if " " <= char <= "~" and char != "\\":
        return char
    return char.encode("unicode_escape").decode("ascii")


def header_list(items: list[str], limit: int = MAX_HEADER_CHARS, item_limit: int = 64) -> str:
    """Names as one comma-separated header value: each escaped by header_text (a comma inside
    a name as \\x2c, an empty name as "") and clipped to `item_limit`; when they do not all fit in `limit`
    characters, as many as fit, then "... (+N more)"."""
    names = [header_text(item, item_limit).replace(",", "\\x2c") or '""' for item in items]
    shown: list[str] = []
    size = 0
    for index, name in enumerate(names):
        rest = len(names) - index - 1
        tail = len(f", ... (+{rest} more)") if rest else 0
        grown = size + (2 if shown else 0) + len(name)
        if grown + tail > limit:
            break
        shown.append(name)
        size = grown
    left = len(names) - len(shown)
    if left:
        shown.append(f"... (+{left} more)")
    return ", ".join(shown)


def sendable(value: str) -> bool:
    """Can a server put this header value on the wire as it is?"""
    return value.isascii() and value.isprintable()


# Compact, in the order built, ASCII-only and never NaN: what Flask's jsonify gives with the
# app's settings, without its per-call set-up (a fifth of a PATCH's own time).
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def json_text(payload: Any) -> str:
    # The newline keeps a shell prompt off the body when curl prints it, as jsonify does.
    return _encode(payload) + "\n"


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json_text(payload), status=status, headers=headers, mimetype="application/json")


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers)


def read_json(request: Request) -> Any:
    """The request body parsed as JSON, or a 400 VALIDATION_ERROR saying exactly why not.

    Strict where Python's json module is lenient: no NaN/Infinity, no duplicate keys, no
    unpaired surrogates, only UTF-8.
    """
    if request.environ.get("CONTENT_TYPE") != "application/json":  # else: nothing to parse
        _check_json_type(request)
    raw = request.get_data(cache=True)
    if request.content_length is None:
        # A chunked body has no Content-Length for Werkzeug to refuse up front, and its
        # limited stream stops at the limit silently: a byte beyond it means "too large".
        limit = request.max_content_length
        if limit is not None and len(raw) >= limit and request.environ["wsgi.input"].read(1):
            raise payload_too_large(limit)
    return parse_json_text(raw)


def payload_too_large(limit: int | None) -> PayloadTooLarge:
    """The one 413 for a body over its limit, whoever refuses it (the app, or the HTTP server
    before the app saw it: serve/server.py)."""
    return PayloadTooLarge(f"The request body is larger than {limit} bytes.")


def _check_json_type(request: Request) -> None:
    if request.mimetype not in JSON_TYPES:
        got = request.headers.get("Content-Type") or "none"
        raise ValidationError("The request body must be JSON.",
                              [Detail("header.Content-Type", f"must be application/json, got {got}")])
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ValidationError("The request body must be UTF-8.",
                              [Detail("header.Content-Type", f"charset must be utf-8, got {charset}")])


def parse_json_text(raw: bytes) -> Any:
    def problem(message: str) -> ValidationError:
        return ValidationError("The request body is not valid JSON.", [Detail("body", message)])

    if not raw.strip():
        raise problem("the body is empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise problem(f"invalid UTF-8 at byte {exc.start}") from None
    try:
        value = strictjson.loads(text)
    except json.JSONDecodeError as exc:
        raise problem(f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise problem("nested too deeply") from None
    except ValueError as exc:  # our hooks, and integers too long to convert
        message = str(exc)
        if "integer string conversion" in message:
            message = "a number has too many digits"
        raise problem(message[:200]) from None
    if b"\\u" in raw:  # only a \u escape can carry an unpaired surrogate
        _check_strings(value)
    return value


def read_json_object(request: Request) -> dict[str, Any]:
    value = read_json(request)
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number")
        raise ValidationError("The request body must be a JSON object.",
                              [Detail("body", f"must be a JSON object, got {kind}")])
    return value


def _check_strings(value: Any) -> None:
    """Reject unpaired surrogates (\\ud800): valid JSON escapes, but not text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValidationError("The request body is not valid JSON text.",
                                      [Detail("body", "contains an unpaired surrogate escape")]) from None
