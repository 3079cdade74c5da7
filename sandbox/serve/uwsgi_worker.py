"""The app as uWSGI's worker runs it (`--module`): imported only inside uWSGI, by routed.py's
command line, in the process that built the app (the master) before it forks the worker.

What the router does differently from waitress, made the same here, so that a client sees
one sandbox whichever server `serve` runs:
- The router hands on the request target's path decoded and with its dot segments resolved
  (`/v1/appointments/../_sandbox/reset` would reach the reset). PATH_INFO is made again from
  the raw target, as PEP 3333 and waitress do: percent-decoded, nothing resolved.
- It lets through what waitress refuses with a 400: raw bytes outside printable ASCII in the
  request target, control characters (NUL) in a header value, a Content-Length that is not a
  number, a Transfer-Encoding other than chunked; and a Content-Length over the largest body
  any path takes (413). These get waitress's answers (refusals.py) before the app runs.
- A chunked request body reaches the worker only through `uwsgi.chunked_read()`, not
  `wsgi.input`: it is read here (up to the largest body any path takes, plus one byte, so that
  the app's own limit answers 413) and handed on as a terminated input.
- A forced drop must close the client's connection with nothing sent. `uwsgi.disconnect()`
  closes only the worker's side; the router would keep a kept-alive client waiting until its
  idle time ends. So, on a keep-alive HTTP/1.1 request, the worker first sends the router a
  header line it refuses ("X", no colon), and the router closes the client's connection at
  once, having forwarded nothing. Other requests (HTTP/1.0, `Connection: close`, a chunked
  body, which puts the router in raw mode) are closed by the disconnect itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

import uwsgi

from ..session.forcing import ConnectionDropped
from . import routed
from .refusals import MAX_BODY_BYTES, body_limits, refusal

_REFUSED_BY_ROUTER = b"HTTP/1.1 200 OK\r\nX\r\n\r\n"

assert routed.SERVED is not None, "uwsgi_worker is imported only by routed.Routed's uWSGI"
_app = routed.SERVED.app
_LIMITS = body_limits(_app)
_UNSENDABLE_TARGET = re.compile(r"[^\x21-\x7e]")
_CONTROL_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _after_fork() -> None:
    assert routed.SERVED is not None
    for start in routed.SERVED.after_fork:
        start()
    threading.Thread(target=_when_stopping, args=(routed.SERVED,), name="huskyvoice-sandbox-stop",
                     daemon=True).start()


def _when_stopping(served: routed.Routed) -> None:
    """Block until the supervisor says it is stopping (a byte, or its end of the pipe closed)."""
    with contextlib.suppress(OSError):
        os.read(served.stopping_read_fd, 1)
    for step in served.on_stop:
        step()


uwsgi.post_fork_hook = _after_fork


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    target = environ.get("REQUEST_URI", "")
    environ["PATH_INFO"] = _path(target)
    refusal = _refusal(environ, target)
    if refusal is None and environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        try:
            environ["wsgi.input"] = io.BytesIO(_chunked_body(MAX_BODY_BYTES))
            environ["wsgi.input_terminated"] = True
        except OSError:  # uWSGI's words: "unable to receive chunked part"
            refusal = 400, "the chunked body is malformed"
    if refusal:
        return _refuse(environ, start_response, *refusal)
    try:
        answer: Iterable[bytes] = _app(environ, start_response)
    except ConnectionDropped:
        _drop(environ)
        return []
    _drain(environ)
    return answer


def _drain(environ: dict[str, Any]) -> None:
    """Read what is left of a body the app answered without reading (a 413, a 401 before the
    body mattered). The router resets a client still sending, and the answer would be lost;
    waitress reads every body before the app runs. Bodies larger than any path takes are
    left: the client gets the reset, as from a server that refuses them outright."""
    length = environ.get("CONTENT_LENGTH")
    if length and length.isdigit() and 0 < int(length) <= MAX_BODY_BYTES:
        source = environ["wsgi.input"]
        while source.read(65536):
            pass


def _path(target: str) -> str:
    """PATH_INFO from the raw request target (PEP 3333: percent-decoded bytes as latin-1); an
    absolute-form target (`GET http://host/path`) counts from its path, as waitress does."""
    path = target.split("?", 1)[0]
    if "://" in path[:8]:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return unquote_to_bytes(path).decode("latin-1")


def _refusal(environ: dict[str, Any], target: str) -> tuple[int, str] | None:
    """What waitress would refuse (its status, the reason), for a request the router let by."""
    if _UNSENDABLE_TARGET.search(target):
        return 400, "the request target has characters outside printable ASCII"
    for name, value in environ.items():
        if name.startswith("HTTP_") and _CONTROL_IN_VALUE.search(value):
            return 400, f"header {name[5:].replace('_', '-').title()} has a control character"
    encoding = environ.get("HTTP_TRANSFER_ENCODING")
    if encoding is not None and encoding.lower() != "chunked":
        return 501, f"Transfer-Encoding {encoding[:40]!r} is not supported (only chunked)"
    length = environ.get("CONTENT_LENGTH", "")
    if encoding is not None and length:  # RFC 9112 6.1 lets a server refuse the pair: smuggling
        return 400, "Transfer-Encoding and Content-Length are both given"
    if length and not length.isdigit():
        return 400, "Content-Length is not a number"
    if length and int(length) >= MAX_BODY_BYTES:
        return 413, f"Content-Length {length} is over the limit"
    return None


def _refuse(environ: dict[str, Any], start_response: Callable[..., Any], code: int,
            reason: str) -> list[bytes]:
    status, payload = refusal(code, reason, environ["PATH_INFO"], _LIMITS, environ.get("REMOTE_ADDR"),
                              environ.get("REQUEST_METHOD", "-"))
    start_response(status, [
        ("Content-Type", "application/json"), ("Content-Length", str(len(payload))), ("Connection", "close")])
    return [payload]


def _chunked_body(limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < limit:
        part = uwsgi.chunked_read()
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)[:limit]


def _drop(environ: dict[str, Any]) -> None:
    kept_alive = (environ.get("SERVER_PROTOCOL") == "HTTP/1.1"
                  and "close" not in environ.get("HTTP_CONNECTION", "").lower()
                  and "HTTP_TRANSFER_ENCODING" not in environ)
    if kept_alive:
        uwsgi.send(_REFUSED_BY_ROUTER)
    uwsgi.disconnect()
