"""The last step before the server: what the WSGI layer guarantees about every response.

- A request marked to drop (a forced `drop`) raises ConnectionDropped instead of starting its
  response, so nothing is sent; the server (sandbox.server) then closes the connection.
- No header value reaches the server that it cannot send. Values the sandbox composes are made
  safe where they are built (http.header_text), before the state they report is changed; a
  value that is still unsendable here is a bug: it is escaped, and logged, rather than turned
  into a 500 for a change that was already made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..session.forcing import DROP_KEY, ConnectionDropped
from .http import header_text, sendable

log = logging.getLogger("huskyvoice_sandbox")


class SendGuard:
    def __init__(self, wsgi_app: Callable[..., Any]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if DROP_KEY in environ:
                raise ConnectionDropped("The sandbox dropped the connection without answering, as forced.")
            if not all(sendable(value) for _, value in headers):
                headers = _sendable(headers, environ)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, respond)


def _sendable(headers: list[tuple[str, str]], environ: dict[str, Any]) -> list[tuple[str, str]]:
    bad = [name for name, value in headers if not sendable(value)]
    log.error("BUG: unsendable header value(s) %s on %s %s; sent escaped", ", ".join(bad),
              environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")[:200])
    return [(name, value if sendable(value) else header_text(value)) for name, value in headers]
