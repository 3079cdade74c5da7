"""The hostile input catalogue: one live `huskyvoice-sandbox serve` (on the server it runs by
default: uWSGI where pyuwsgi installs, else waitress), one table row per hostile request, sent
byte for byte over a raw socket.

What a passing run proves, for every row:

- the answer is the row's status and `error.code` (401 before 403 before 400 before 404, as the
  README orders the checks), never a 5xx;
- it is JSON in the error envelope `{"success": false, "error": {"code", "message",
  "details"?}}` (a HEAD answer has no body, and its headers still say JSON), with no traceback
  text, and it validates against openapi.yaml where the path is a documented one;
- the request journal (`GET /_sandbox/requests`) still answers strict JSON afterwards.

After the table, the world dump is exactly what it was before the first row, and the server is
alive and serves a normal GET. Before the first row a canary PATCH makes the state differ from
the loaded world, so a row that reached `POST /_sandbox/reset` would show too.

Rows meant to be refused target the real appointment `appt_a1b2c3d4e5` with a valid key: a
refusal that did not happen would change it. Rows meant to be accepted (a charset alias, a
bearer key with extra spaces, a body of exactly 64 KiB) target an id that does not exist:
400 comes before 404, so 404 NOT_FOUND proves the input was accepted, and nothing changes.

Requests the HTTP server refuses itself (a NUL in a header, a header block over its limit)
never reach the app; their rows check that the server's own answer is in the envelope too
(serve/refusals.py). Where the two servers differ, a row says what a client gets under uWSGI:
its router closes a header block over 64 KiB without a word, and the sandbox refuses a request
with both Transfer-Encoding and Content-Length (waitress reads the chunked body).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

import pytest
from huskyvoice_sandbox.spec import strictjson
from huskyvoice_sandbox.spec.contract import Contract

from helpers import DOC_ID, SERVED_BY, WRITE_KEY, LiveServer, check_response
from wire import CLOSED, HeaderValue, Reply, closed_without_answer, send

pytestmark = pytest.mark.live

DOC = f"/v1/appointments/{DOC_ID}"
NOWHERE = "/v1/appointments/appt_zzzzzzzzzz"  # no such appointment in the default world
KEY = {"Authorization": f"Bearer {WRITE_KEY}"}
JSON = {"Content-Type": "application/json"}
AUTH_JSON = {**KEY, **JSON}
VALID = b'{"notes": "x"}'
MAX_BODY = 64 * 1024
MAX_NOTES = 2000
WAITRESS_MAX_HEADER = 262144  # waitress's max_request_header_size default
TRACEBACK_MARKERS = ("Traceback", 'File "', ".py", "<html", "<!doctype")

class JournalNotJson(AssertionError):
    """GET /_sandbox/requests did not answer strict JSON after a row."""


@dataclass(frozen=True)
class Row:
    id: str
    method: str
    path: str | bytes
    # Names are sent as written: {"Authorization": ..., "authorization": ...} sends the
    # field twice. Content-Length is added unless given or the body is chunked.
    headers: Mapping[str, HeaderValue]
    body: bytes
    status: int
    code: str | None  # None only for HEAD: no body to carry it
    uwsgi: tuple[int, str] | str | None = None  # the answer under uWSGI where it differs, or CLOSED


def row(id: str, status: int, code: str | None, *, method: str = "PATCH",
        path: str | bytes = DOC, headers: Mapping[str, HeaderValue] = AUTH_JSON,
        body: bytes = VALID, uwsgi: tuple[int, str] | str | None = None) -> Row:
    return Row(id, method, path, headers, body, status, code, uwsgi)


def notes(length: int, char: bytes = b"n") -> bytes:
    return b'{"notes": "' + char * length + b'"}'


def padded(size: int) -> bytes:
    """A valid PATCH body of exactly `size` bytes (notes plus an ignored padding field)."""
    head, tail = b'{"notes": "x", "padding": "', b'"}'
    return head + b"p" * (size - len(head) - len(tail)) + tail


def nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


CHUNKED = {**AUTH_JSON, "Transfer-Encoding": "chunked"}
# The codes the sandbox uses (sandbox/errors.py), as named in openapi.yaml's examples.
VALIDATION_ERROR = "VALIDATION_ERROR"
UNAUTHORIZED = "UNAUTHORIZED"
INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"

ROWS: list[Row] = [
    # -- the body is not a JSON object ----------------------------------------------------------
    row("body-malformed-json", 400, VALIDATION_ERROR, body=b'{"notes": }'),
    row("body-truncated-json", 400, VALIDATION_ERROR, body=b'{"notes": "x"'),
    row("body-json-array", 400, VALIDATION_ERROR, body=b'[{"notes": "x"}]'),
    row("body-json-string", 400, VALIDATION_ERROR, body=b'"notes"'),
    row("body-json-number", 400, VALIDATION_ERROR, body=b"42"),
    row("body-json-null", 400, VALIDATION_ERROR, body=b"null"),
    row("body-json-true", 400, VALIDATION_ERROR, body=b"true"),
    row("body-empty-object", 400, VALIDATION_ERROR, body=b"{}"),
    row("body-empty", 400, VALIDATION_ERROR, body=b""),
    row("body-whitespace-only", 400, VALIDATION_ERROR, body=b" \r\n\t "),
    row("body-utf8-bom", 400, VALIDATION_ERROR, body=b"\xef\xbb\xbf" + VALID),
    row("body-gzip-content-encoding", 400, VALIDATION_ERROR, body=gzip.compress(VALID, mtime=0),
        headers={**AUTH_JSON, "Content-Encoding": "gzip"}),
    # -- Content-Type and charset -----------------------------------------------------------------
    row("ctype-text-plain", 400, VALIDATION_ERROR, headers={**KEY, "Content-Type": "text/plain"}),
    row("ctype-missing", 400, VALIDATION_ERROR, headers=KEY),
    row("ctype-form-urlencoded", 400, VALIDATION_ERROR, body=b"notes=x",
        headers={**KEY, "Content-Type": "application/x-www-form-urlencoded"}),
    row("ctype-uppercase-accepted", 404, NOT_FOUND, path=NOWHERE,
        headers={**KEY, "Content-Type": "APPLICATION/JSON"}),
    *[row(f"charset-{name}-accepted", 404, NOT_FOUND, path=NOWHERE,
          headers={**KEY, "Content-Type": f"application/json; charset={name}"})
      for name in ("utf-8", "UTF-8", "utf8", '"utf-8"')],
    row("charset-latin-1", 400, VALIDATION_ERROR,
        headers={**KEY, "Content-Type": "application/json; charset=latin-1"}),
    row("charset-utf-16", 400, VALIDATION_ERROR, body=VALID.decode().encode("utf-16"),
        headers={**KEY, "Content-Type": "application/json; charset=utf-16"}),
    row("charset-given-twice", 400, VALIDATION_ERROR,
        headers={**KEY, "Content-Type": "application/json; charset=utf-8; charset=latin-1"}),
    # -- size: 64 KiB body limit, notes maxLength 2000 ----------------------------------------
    row("size-64KiB-exact-accepted", 404, NOT_FOUND, path=NOWHERE, body=padded(MAX_BODY)),
    row("size-64KiB-exact-chunked-accepted", 404, NOT_FOUND, path=NOWHERE, headers=CHUNKED,
        body=padded(MAX_BODY)),
    row("size-64KiB-plus-1-content-length", 413, PAYLOAD_TOO_LARGE, body=padded(MAX_BODY + 1)),
    row("size-64KiB-plus-1-chunked", 413, PAYLOAD_TOO_LARGE, headers=CHUNKED, body=padded(MAX_BODY + 1)),
    row("size-1MB-string-content-length", 413, PAYLOAD_TOO_LARGE, body=notes(1024 * 1024)),
    row("size-1MB-string-chunked", 413, PAYLOAD_TOO_LARGE, headers=CHUNKED, body=notes(1024 * 1024)),
    row("chunked-overrides-content-length", 404, NOT_FOUND, path=NOWHERE,
        headers={**CHUNKED, "Content-Length": "3"}, uwsgi=(400, VALIDATION_ERROR)),
    row("notes-2000-chars-accepted", 404, NOT_FOUND, path=NOWHERE, body=notes(MAX_NOTES)),
    row("notes-2000-non-ascii-chars-accepted", 404, NOT_FOUND, path=NOWHERE,
        body=notes(MAX_NOTES, "é".encode())),
    row("notes-2001-chars", 400, VALIDATION_ERROR, body=notes(MAX_NOTES + 1)),
    row("notes-60000-chars-under-body-limit", 400, VALIDATION_ERROR, body=notes(60_000)),
    # -- nesting and numbers ----------------------------------------------------------------------
    row("nested-10000-arrays", 400, VALIDATION_ERROR, body=nested_arrays(10_000)),
    row("nested-10000-objects", 400, VALIDATION_ERROR, body=b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
    row("nested-900-arrays-in-notes", 400, VALIDATION_ERROR,
        body=b'{"notes": ' + nested_arrays(900) + b"}"),
    row("integer-5000-digits", 400, VALIDATION_ERROR, body=b'{"notes": ' + b"9" * 5000 + b"}"),
    row("number-1e999", 400, VALIDATION_ERROR, body=b'{"notes": 1e999}'),
    row("number-NaN", 400, VALIDATION_ERROR, body=b'{"notes": NaN}'),
    row("number-Infinity", 400, VALIDATION_ERROR, body=b'{"notes": Infinity}'),
    row("number-minus-Infinity", 400, VALIDATION_ERROR, body=b'{"notes": -Infinity}'),
    # -- strings: keys, encodings, surrogates, NUL -------------------------------------------
    row("duplicate-keys", 400, VALIDATION_ERROR, body=b'{"notes": "a", "notes": "b"}'),
    row("invalid-utf8-bytes", 400, VALIDATION_ERROR, body=b'{"notes": "\xff\xfe"}'),
    row("overlong-utf8", 400, VALIDATION_ERROR, body=b'{"notes": "\xc0\xaf"}'),
    row("utf8-encoded-surrogate", 400, VALIDATION_ERROR, body=b'{"notes": "\xed\xa0\x80"}'),
    row("lone-high-surrogate-escape", 400, VALIDATION_ERROR, body=b'{"notes": "\\ud800"}'),
    row("lone-low-surrogate-escape", 400, VALIDATION_ERROR, body=b'{"notes": "\\udc00"}'),
    row("lone-surrogate-escape-in-key", 400, VALIDATION_ERROR, body=b'{"notes": "x", "\\ud800": 1}'),
    row("surrogate-pair-escape-accepted", 404, NOT_FOUND, path=NOWHERE,
        body=b'{"notes": "\\ud83d\\ude00"}'),
    # \u0000 is valid JSON and valid Unicode, and the contract sets no pattern on notes.
    row("nul-escape-in-value-accepted", 404, NOT_FOUND, path=NOWHERE, body=b'{"notes": "a\\u0000b"}'),
    row("nul-escape-in-key", 400, VALIDATION_ERROR, body=b'{"no\\u0000tes": "a"}'),
    row("raw-nul-byte-in-value", 400, VALIDATION_ERROR, body=b'{"notes": "a\x00b"}'),
    # -- the appointment id in the path ---------------------------------------------------------
    row("id-10000-chars", 404, NOT_FOUND, path="/v1/appointments/" + "a" * 10_000),
    row("id-10000-chars-get", 404, NOT_FOUND, method="GET", path="/v1/appointments/" + "a" * 10_000,
        headers=KEY, body=b""),
    row("id-percent-utf8", 404, NOT_FOUND, path="/v1/appointments/appt_%C3%A9"),
    row("id-percent-invalid-utf8", 404, NOT_FOUND, path="/v1/appointments/appt_%FF"),
    row("id-percent-nul", 404, NOT_FOUND, path="/v1/appointments/appt_%00"),
    row("id-percent-slash", 404, NOT_FOUND, path=f"{DOC}%2Fx"),
    row("id-raw-utf8-bytes", 400, VALIDATION_ERROR, path=b"/v1/appointments/appt_\xc3\xa9"),
    row("id-raw-invalid-utf8-bytes", 400, VALIDATION_ERROR, path=b"/v1/appointments/appt_\xff\xfe"),
    row("traversal-percent-encoded", 404, NOT_FOUND, path="/v1/appointments/..%2F..%2F_sandbox%2Freset"),
    row("traversal-raw", 404, NOT_FOUND, path="/v1/appointments/../_sandbox/reset"),
    row("traversal-raw-post-to-reset", 404, NOT_FOUND, method="POST",
        path="/v1/appointments/../../_sandbox/reset"),
    row("traversal-percent-dots-post-to-reset", 404, NOT_FOUND, method="POST",
        path="/v1/appointments/%2e%2e/%2e%2e/_sandbox/reset"),
    row("dot-segment", 404, NOT_FOUND, path="/v1/appointments/./appt_a1b2c3d4e5"),
    row("query-string-ignored", 404, NOT_FOUND, path=f"{NOWHERE}?appointment_id={DOC_ID}"),
    row("query-string-ignored-get", 404, NOT_FOUND, method="GET",
        path=f"{NOWHERE}?appointment_id={DOC_ID}", headers=KEY, body=b""),
    row("trailing-slash", 404, NOT_FOUND, path=f"{DOC}/"),
    row("double-slash-inside-path", 404, NOT_FOUND, path=f"/v1//appointments/{DOC_ID}"),
    # -- methods on the appointment path ------------------------------------------------------
    # HEAD is not an operation of the spec: refused like any other method it does not list
    row("head-is-not-an-operation", 405, None, method="HEAD", headers=KEY, body=b""),
    row("head-without-key", 405, None, method="HEAD", headers={}, body=b""),
    *[row(f"method-{method}", 405, METHOD_NOT_ALLOWED, method=method)
      for method in ("OPTIONS", "PUT", "DELETE", "POST")],
    row("method-TRACE", 405, METHOD_NOT_ALLOWED, method="TRACE", body=b""),
    row("method-unknown", 405, METHOD_NOT_ALLOWED, method="FROB"),
    # -- the Authorization header -------------------------------------------------------------
    *[row(f"auth-{name}-accepted", 404, NOT_FOUND, path=NOWHERE,
          headers={**JSON, "Authorization": value})
      for name, value in [("double-space", f"Bearer  {WRITE_KEY}"),
                          ("leading-whitespace", f"  Bearer {WRITE_KEY}"),
                          ("trailing-whitespace", f"Bearer {WRITE_KEY}  "),
                          ("lowercase-scheme", f"bearer {WRITE_KEY}"),
                          ("uppercase-scheme", f"BEARER {WRITE_KEY}")]],
    *[row(f"auth-{name}", 401, UNAUTHORIZED, headers={**JSON, "Authorization": value})
      for name, value in [("inner-whitespace", "Bearer sk_test_demo _write"),
                          ("tab-separator", f"Bearer\t{WRITE_KEY}"),
                          ("bearer-then-basic", "Bearer a, Basic b"),
                          ("valid-bearer-then-basic", f"Bearer {WRITE_KEY}, Basic Yg=="),
                          ("basic", "Basic c2tfdGVzdF9kZW1vX3dyaXRlOg=="),
                          ("scheme-only", "Bearer"),
                          ("key-without-scheme", WRITE_KEY),
                          ("key-9000-chars", "Bearer " + "k" * 9000),
                          ("key-non-ascii-bytes", b"Bearer sk_\xff\xfe")]],
    row("auth-x-api-key-instead", 401, UNAUTHORIZED, headers={**JSON, "X-Api-Key": WRITE_KEY}),
    row("auth-two-authorization-fields", 401, UNAUTHORIZED,
        headers={**AUTH_JSON, "authorization": "Bearer sk_test_nope"}),
    row("auth-read-only-key", 403, INSUFFICIENT_SCOPE,
        headers={**JSON, "Authorization": "Bearer sk_test_demo_read"}),
    # -- header sizes and bytes ---------------------------------------------------------------
    row("header-unrelated-9KB-accepted", 404, NOT_FOUND, path=NOWHERE,
        headers={**AUTH_JSON, "X-Filler": "f" * 9 * 1024}),
    row("header-block-over-waitress-limit", 431, "REQUEST_HEADER_FIELDS_TOO_LARGE", method="GET",
        headers={**KEY, "X-Filler": "f" * (WAITRESS_MAX_HEADER + 1024)}, body=b"", uwsgi=CLOSED),
    row("header-nul-byte", 400, VALIDATION_ERROR, headers={**AUTH_JSON, "X-Note": b"a\x00b"}),
    row("content-length-not-a-number", 400, VALIDATION_ERROR,
        headers={**AUTH_JSON, "Content-Length": "abc"}),
]


def get_json(server: LiveServer, path: str) -> Any:
    reply = send(server, "GET", path)
    assert reply.status == 200, reply.body[:500]
    return strictjson.loads(reply.body.decode("utf-8"))


# -- checks ---------------------------------------------------------------------------------------

def routed_path(path: str | bytes) -> str:
    """The path as the app routes it: no query, percent-decoded (for picking the operation)."""
    text = path.decode("latin-1") if isinstance(path, bytes) else path
    return unquote(text.split("?")[0])


def check_reply(contract: Contract, r: Row, reply: Reply) -> None:
    text = reply.body.decode("utf-8", "replace")
    assert reply.status == r.status, f"expected {r.status} {r.code}, got {reply.status}: {text[:300]}"
    assert reply.status < 500
    content_type = reply.headers.get("Content-Type", "")
    assert content_type.split(";")[0].strip() == "application/json", \
        f"Content-Type {content_type!r}: {text[:300]}"
    for marker in TRACEBACK_MARKERS:
        assert marker.lower() not in text.lower(), f"{marker!r} in the body: {text[:300]}"
    if r.status == 401:
        assert reply.headers.get("WWW-Authenticate") == 'Bearer realm="huskyvoice"'
    if r.status == 405:
        allowed = {m.strip() for m in reply.headers.get("Allow", "").split(",")}
        assert {"GET", "PATCH"} <= allowed and r.method not in allowed, allowed
    if r.method == "HEAD":
        assert reply.body == b"", "a HEAD answer must have no body"
    else:
        body = strictjson.loads(text)
        assert body.keys() >= {"success", "error"} and body["success"] is False, body
        error = body["error"]
        assert error["code"] == r.code, error
        assert isinstance(error["message"], str) and error["message"], error
        for detail in error.get("details", []):
            assert isinstance(detail["location"], str) and isinstance(detail["message"], str)
    # Every answer on a documented path, the HTTP server's own included, is documented there.
    check_response(contract, r.method, routed_path(r.path), reply.status, reply.headers, reply.body)


def check_journal(server: LiveServer, limit: int = 1) -> None:
    """The journal's newest entries still come back as strict JSON."""
    reply = send(server, "GET", f"/_sandbox/requests?limit={limit}")
    text = reply.body.decode("utf-8", "replace")
    if reply.status != 200:
        raise JournalNotJson(f"GET /_sandbox/requests answered {reply.status}: {text[:300]}")
    try:
        strictjson.loads(text)
    except ValueError as exc:
        raise JournalNotJson(f"GET /_sandbox/requests is not JSON ({exc}): {text[:300]}") from None


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    # --quiet: nothing reads the server's log pipe before stop(); ~100 access lines could fill it.
    live = LiveServer("--quiet")
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def world_before(server: LiveServer) -> dict[str, Any]:
    """The world before the first row, after a canary PATCH: a reset would show in the dump."""
    canary = send(server, "PATCH", DOC, AUTH_JSON, b'{"notes": "canary: a reset would clear this"}')
    assert canary.status == 200, canary.body
    return get_json(server, "/_sandbox/world")


def params(rows: list[Row]) -> list[Any]:
    ids = [r.id for r in rows]
    assert len(ids) == len(set(ids)), "row ids must be unique"
    return [pytest.param(r, id=r.id) for r in rows]


# -- the catalogue ----------------------------------------------------------------------------

@pytest.mark.parametrize("r", params(ROWS))
def test_hostile_input(r: Row, server: LiveServer, contract: Contract,
                       world_before: dict[str, Any]) -> None:
    if SERVED_BY == "uwsgi" and r.uwsgi == CLOSED:
        assert closed_without_answer(server, r.method, r.path, r.headers, r.body)
    else:
        if SERVED_BY == "uwsgi" and isinstance(r.uwsgi, tuple):
            r = replace(r, status=r.uwsgi[0], code=r.uwsgi[1])
        check_reply(contract, r, send(server, r.method, r.path, r.headers, r.body))
    check_journal(server)


def test_journal_survives_bodies_nested_just_under_the_parser_limit(
        server: LiveServer, world_before: dict[str, Any]) -> None:
    depths = range(900, 1001)  # the poisoned depths move with the stack; sweep across them
    try:
        for depth in depths:
            reply = send(server, "PATCH", DOC, AUTH_JSON, nested_arrays(depth))
            assert reply.status == 400, (depth, reply.body[:300])
        check_journal(server, limit=len(depths))
    finally:
        send(server, "DELETE", "/_sandbox/requests")


def test_world_unchanged_and_server_alive_after_the_catalogue(
        server: LiveServer, contract: Contract, world_before: dict[str, Any]) -> None:
    assert server.process.poll() is None, "the server exited"
    assert get_json(server, "/_sandbox/world") == world_before
    reply = send(server, "GET", DOC, KEY)
    assert reply.status == 200, reply.body[:500]
    check_response(contract, "GET", DOC, reply.status, reply.headers, reply.body)
    assert json.loads(reply.body)["data"]["appointment_id"] == DOC_ID
