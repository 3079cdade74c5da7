"""The answers for requests the HTTP server refuses before the app runs (waitress's parser, or
the checks uwsgi_worker makes where uWSGI's router lets such a request through): in the API's
JSON error envelope, with the statuses and codes the spec documents."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ..web.api import access_log, log_access
from ..web.control import WORLD_MAX_BYTES, body_limit
from ..web.http import payload_too_large

# Bodies a server takes at all (a Content-Length of this or more is refused before the app):
# up to the largest the control API takes, a world; the API's own limit (64 KiB) is the app's.
MAX_BODY_BYTES = WORLD_MAX_BYTES + 1

# Waitress's refusals, as the API's documented answers: (status, code, where the problem is).
# An unsupported Transfer-Encoding is the client's mistake like any malformed request: 400,
# which every operation documents (HTTP suggests 501, which the API documents nowhere).
REFUSALS = {
    400: (400, "VALIDATION_ERROR", "request"),
    413: (413, "PAYLOAD_TOO_LARGE", "body"),
    431: (431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "headers"),
    501: (400, "VALIDATION_ERROR", "header.Transfer-Encoding"),
}
REASONS = {400: "Bad Request", 413: "Payload Too Large", 431: "Request Header Fields Too Large",
            500: "Internal Server Error"}


def refusal_body(waitress_code: int, reason: str, body_limit: int | None = None) -> tuple[int, dict[str, object]]:
    """The status and envelope the sandbox sends for a request waitress refused itself (or,
    500, for an app that failed before answering). A body too large gets the app's own words
    for the limit of the request's path, so one mistake has one message whoever caught it."""
    if waitress_code not in REFUSALS:
        return 500, {"code": "INTERNAL_ERROR", "message": "An unexpected error occurred."}
    status, code, where = REFUSALS[waitress_code]
    error: dict[str, object] = {"code": code, "message": "The request is malformed."}
    if status == 413:
        error["message"] = (payload_too_large(body_limit).message if body_limit is not None
                            else f"The request body is too large: {reason}.")
    elif status == 431:
        error["message"] = f"The request's header block is too large: {reason}."
    if status in (400, 431):
        error["details"] = [{"location": where, "message": reason}]
    return status, error


def body_limits(app: Any) -> Callable[[str], int] | None:
    """The largest body each path of `app` takes; None for an app that is not a sandbox (the
    benchmark's bare one)."""
    api_limit = getattr(app, "config", {}).get("MAX_CONTENT_LENGTH")
    return (lambda path: body_limit(path, api_limit)) if api_limit else None


def refusal(code: int, reason: str, path: str | None, limits: Callable[[str], int] | None,
            remote: str | None, method: str) -> tuple[str, bytes]:
    """A refusal's status line and JSON payload, logged as the app logs the requests it answers.
    `code` is waitress's (400, 413, 431, 501); `path` is None when the request line itself was
    refused."""
    status, envelope = refusal_body(code, reason, limits(path) if limits and path else None)
    if access_log.isEnabledFor(logging.INFO):
        log_access(remote, method, path or "-", status, str(envelope["code"]), 0.0, None)
    return f"{status} {REASONS[status]}", json.dumps({"success": False, "error": envelope}).encode("utf-8")
