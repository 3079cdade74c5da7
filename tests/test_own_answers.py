"""Every answer the sandbox gives on the `/v1` paths is documented in openapi.yaml for its
operation, including the answers that come from the sandbox itself rather than from the API's
rules: its own headers (X-Sandbox-Session, X-Sandbox-Force), methods the spec does not list,
refusals by the HTTP server (waitress) before the app runs, and internal errors.

Each row is sent byte for byte to a served sandbox and its answer is validated against the
spec with the real method and path: an undocumented status or code fails the row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from huskyvoice_sandbox import create_app
from huskyvoice_sandbox.serve.server import ServerThread
from huskyvoice_sandbox.spec.contract import Contract
from huskyvoice_sandbox.web.http import EXTENSION

from helpers import DOC_ID, SERVED_BY, WRITE_KEY, LiveServer, check_response, sample_request
from wire import closed_without_answer, exchange_raw, send

pytestmark = pytest.mark.live

DOC = f"/v1/appointments/{DOC_ID}"
KEY = {"Authorization": f"Bearer {WRITE_KEY}"}
AUTH_JSON = {**KEY, "Content-Type": "application/json"}
BODY = b'{"notes": "x"}'
TOKEN = "s3cret"
OPERATIONS = {"GET": (KEY, b""), "PATCH": (AUTH_JSON, BODY)}

# (id, headers added to the operation's own, body or None for the operation's, status, code)
OWN = [
    ("session-name-with-a-space", {"X-Sandbox-Session": "two words"}, None, 400, "VALIDATION_ERROR"),
    ("force-header-unreadable", {"X-Sandbox-Force": "status=abc"}, None, 400, "VALIDATION_ERROR"),
    ("force-header-undocumented-status", {"X-Sandbox-Force": "status=418"}, None, 400, "VALIDATION_ERROR"),
    ("transfer-encoding-not-chunked", {"Transfer-Encoding": "gzip"}, b"", 400, "VALIDATION_ERROR"),
    ("nul-in-a-header", {"X-Note": b"a\x00b"}, None, 400, "VALIDATION_ERROR"),
    ("bad-content-length", {"Content-Length": "12abc"}, b"", 400, "VALIDATION_ERROR"),
    ("header-block-over-256KiB", {"X-Filler": "f" * 263_000}, None, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE"),
    ("content-length-over-the-server-limit", {"Content-Length": str(64 * 1024 * 1024 + 1)}, b"",
     413, "PAYLOAD_TOO_LARGE"),
]


# What a client gets from uWSGI's router where it answers nothing itself.
UWSGI_CLOSES = {"header-block-over-256KiB"}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer("--quiet")
    yield live
    live.stop()


@pytest.fixture(scope="module", params=["uwsgi", "waitress"] if SERVED_BY == "uwsgi" else ["waitress"])
def each_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """`serve` on each server it can run: these refusals are the HTTP server's own."""
    live = LiveServer("--quiet", "--server", request.param)
    live.server_name = request.param
    yield live
    live.stop()


@pytest.fixture(scope="module")
def token_server() -> Iterator[LiveServer]:
    live = LiveServer("--quiet", "--admin-token", TOKEN)
    yield live
    live.stop()


def check(contract: Contract, method: str, reply: Any, status: int, code: str | None,
          path: str = DOC) -> None:
    """The row's status and code, in the envelope, and documented for the operation."""
    assert reply.status == status, reply.body[:300]
    check_response(contract, method, path.split("?")[0], reply.status, reply.headers, reply.body)
    if code is not None:
        assert json.loads(reply.body)["error"]["code"] == code


def rows() -> list[Any]:
    return [pytest.param(operation_id, name, extra, body, status, code, id=f"{operation_id}-{name}")
            for operation_id in Contract().operations for name, extra, body, status, code in OWN]


@pytest.mark.parametrize("operation_id, name, extra, body, status, code", rows())
def test_the_sandboxs_own_answers_are_documented(each_server, contract, operation_id, name, extra, body,
                                                 status, code) -> None:
    method, path, own_body = sample_request(contract, operation_id)
    headers, body = {**AUTH_JSON, **extra}, own_body if body is None else body
    if each_server.server_name == "uwsgi" and name in UWSGI_CLOSES:
        assert closed_without_answer(each_server, method, path, headers, body)
        return
    check(contract, method, send(each_server, method, path, headers, body), status, code, path)


# What uWSGI's router, `serve`'s default, does itself before any Python runs: exactly what a
# client gets (waitress answers the first three in the envelope: test_hostile.py's rows).
ROUTER_CLOSES = [
    ("malformed-request-line", b"GARBAGE\r\n\r\n"),
    ("header-line-without-a-colon", b"GET /v1/appointments HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"),
    ("header-block-over-64KiB", b"GET /v1/appointments HTTP/1.1\r\nHost: x\r\nX-Filler: "
     + b"f" * 66_000 + b"\r\n\r\n"),
]


@pytest.mark.skipif(SERVED_BY != "uwsgi", reason="uWSGI is not installed: serve runs waitress")
@pytest.mark.parametrize("raw", [pytest.param(raw, id=name) for name, raw in ROUTER_CLOSES])
def test_what_uwsgis_router_closes_without_an_answer(server, raw: bytes) -> None:
    assert exchange_raw(server.port, raw) == b""
    assert send(server, "GET", DOC, KEY).status == 200  # and the server serves on


@pytest.mark.skipif(SERVED_BY != "uwsgi", reason="uWSGI is not installed: serve runs waitress")
def test_under_uwsgi_a_pipelined_request_is_dropped(server) -> None:
    """Two requests in one write: the first is answered, the second never is (the router
    serves one request at a time per connection and closes after it)."""
    one = f"GET {DOC} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {WRITE_KEY}\r\n\r\n".encode()
    received = exchange_raw(server.port, one + one)
    assert received.startswith(b"HTTP/1.1 200 OK") and received.count(b"HTTP/1.1 ") == 1, received[:300]


@pytest.mark.parametrize("method", OPERATIONS)
def test_the_force_header_from_a_client_without_the_admin_token(token_server, contract, method) -> None:
    headers, body = OPERATIONS[method]
    reply = send(token_server, method, DOC, {**headers, "X-Sandbox-Force": "status=500"}, body)
    check(contract, method, reply, 400, "VALIDATION_ERROR")
    assert json.loads(reply.body)["error"]["details"] == [
        {"location": "header.X-Sandbox-Force", "message": "is a control feature"}]


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "POST", "DELETE"])
def test_methods_the_spec_does_not_list_are_405(server, contract, method) -> None:
    reply = send(server, method, DOC, KEY)
    assert reply.status == 405
    assert {m.strip() for m in reply.headers["Allow"].split(",")} == {"GET", "PATCH"}
    check_response(contract, method, DOC, reply.status, reply.headers, reply.body)


def test_a_body_over_the_limit_gets_one_message_whoever_refuses_it(contract) -> None:
    """Just over 64 KiB the app refuses it; over 64 MiB waitress does, before the app: the same
    words, the same limit (the route's), and an access-log line both times."""
    live = LiveServer()  # logging: the access log is read below
    try:
        too_big = str(64 * 1024 + 1)
        by_app = send(live, "PATCH", DOC, {**AUTH_JSON, "Content-Length": too_big}, b"x" * int(too_big))
        by_server = send(live, "PATCH", DOC, {**AUTH_JSON, "Content-Length": str(64 * 1024 * 1024 + 1)}, b"")
        world = send(live, "PUT", "/_sandbox/world", {"Content-Type": "application/yaml",
                                                      "Content-Length": str(64 * 1024 * 1024 + 1)}, b"")
    finally:
        _, log = live.stop()
    for reply in (by_app, by_server):
        check(contract, "PATCH", reply, 413, "PAYLOAD_TOO_LARGE")
        assert json.loads(reply.body)["error"]["message"] == "The request body is larger than 65536 bytes."
    assert json.loads(world.body)["error"]["message"] == "The request body is larger than 67108864 bytes."
    assert log.count(f'"PATCH {DOC}" 413 PAYLOAD_TOO_LARGE') == 2, log
    assert '"PUT /_sandbox/world" 413 PAYLOAD_TOO_LARGE' in log


# Every documented status forced on the served sandbox, by the X-Sandbox-Force header and by a
# rule, and valid for its operation: tests/test_forced.py, test_every_documented_response_can_be_forced.


class _BrokenStore:
    """A store whose every look-up fails: an internal error inside the app."""

    def authenticate(self, key: str) -> Any:
        raise RuntimeError("the store broke")


@pytest.mark.parametrize("method", OPERATIONS)
def test_an_internal_error_in_the_app_is_the_documented_500(contract, method, caplog) -> None:
    app = create_app()
    app.extensions[EXTENSION].state.store = _BrokenStore()
    with ServerThread(app) as thread:
        headers, body = OPERATIONS[method]
        reply = send(thread, method, DOC, headers, body)
    check(contract, method, reply, 500, "INTERNAL_ERROR")
    assert "the store broke" not in reply.body.decode()  # logged, never sent


@pytest.mark.parametrize("method", OPERATIONS)
def test_a_failure_the_server_catches_is_the_documented_500(contract, method) -> None:
    """An app that fails before answering: waitress answers, in the envelope, with the spec's
    code (INTERNAL_ERROR, not the HTTP reason phrase)."""
    def failing(environ: Any, start_response: Any) -> Any:
        raise RuntimeError("before any answer")

    with ServerThread(failing) as thread:
        headers, body = OPERATIONS[method]
        reply = send(thread, method, DOC, headers, body)
    check(contract, method, reply, 500, "INTERNAL_ERROR")


def test_an_unsendable_header_value_is_escaped_not_a_500(caplog) -> None:
    """The last guard: were a header value ever unsendable, the answer is still sent (escaped)
    and the bug logged, instead of a 500 for a change already made."""
    from huskyvoice_sandbox.web.wsgi import SendGuard

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/json"), ("X-Odd", "a\u2026\nb")])
        return [b"{}"]

    with ServerThread(SendGuard(app)) as thread:
        reply = send(thread, "GET", "/", {})
    assert reply.status == 200 and reply.headers["X-Odd"] == "a\\u2026\\nb"
    assert "BUG: unsendable header value(s) X-Odd" in caplog.text
