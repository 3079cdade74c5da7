"""Requests sent byte for byte over a socket, and their answers parsed: for what an HTTP client
library would refuse to send (NUL bytes, bad lengths, odd methods, oversized header blocks)."""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
from collections.abc import Mapping
from typing import Any, Protocol

from huskyvoice_sandbox.remote.reply import Reply


class Served(Protocol):
    """A server listening on 127.0.0.1 (LiveServer, ServerThread)."""

    port: int


HeaderValue = str | bytes


class _Replay:
    """The one socket method http.client.HTTPResponse needs, over bytes already read."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self.data)


def encode_request(port: int, method: str, path: str | bytes,
                   headers: Mapping[str, HeaderValue], body: bytes) -> bytes:
    fields: dict[str, HeaderValue] = {"Host": f"127.0.0.1:{port}", "Connection": "close", **headers}
    chunked = fields.get("Transfer-Encoding") == "chunked"
    if chunked:
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 8192]), body[i:i + 8192])
                        for i in range(0, len(body), 8192)) + b"0\r\n\r\n"
    elif "Content-Length" not in fields and (body or method in ("PATCH", "PUT", "POST")):
        fields["Content-Length"] = str(len(body))
    lines = [method.encode("ascii") + b" " + as_bytes(path) + b" HTTP/1.1"]
    lines += [name.encode("ascii") + b": " + as_bytes(value) for name, value in fields.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def as_bytes(text: str | bytes) -> bytes:
    """Bytes pass through exactly; text is sent as latin-1 (HTTP's historical header charset)."""
    return text if isinstance(text, bytes) else text.encode("latin-1")


def exchange_raw(port: int, request: bytes, timeout: float = 5) -> bytes:
    """Send `request` as is; every byte received until the server closes the connection."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer and close before reading all of an oversized request.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        # An RST after the answer, when the server did not read the whole request.
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
    return bytes(received)


def exchange(port: int, request: bytes, method: str) -> Reply:
    """Send `request` as is; read the answer until the server closes (Connection: close)."""
    received = exchange_raw(port, request, timeout=10)
    replay: Any = _Replay(received)
    response = http.client.HTTPResponse(replay, method=method)
    response.begin()
    body = received.partition(b"\r\n\r\n")[2] if method == "HEAD" else response.read()
    # For HEAD, the body is whatever followed the header block (must be nothing).
    return Reply.of(response.status, response.headers.items(), body)


CLOSED = "closed without an answer"


def closed_without_answer(server: Served, method: str, path: str | bytes,
                          headers: Mapping[str, HeaderValue] | None = None, body: bytes = b"") -> bool:
    """Whether the server closed the connection having sent nothing at all (no status line):
    what a client gets from uWSGI's router for a request it will not parse."""
    try:
        send(server, method, path, headers, body)
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return True
    return False


def send(server: Served, method: str, path: str | bytes,
         headers: Mapping[str, HeaderValue] | None = None, body: bytes = b"") -> Reply:
    request = encode_request(server.port, method, path, headers or {}, body)
    return exchange(server.port, request, method)
