"""Every response is JSON in the envelope: unknown paths, wrong methods, oversized bodies and
unexpected exceptions included; never an HTML page. The spec is served at /openapi.{yaml,json}.

Issue 2, section 3, the bullets after the numbered list, and section 5 (the spec URLs).
"""

from __future__ import annotations

import io
import logging

import huskyvoice_sandbox.domain.booking
import huskyvoice_sandbox.web.slices.appointments
import pytest
import yaml
from huskyvoice_sandbox.resources import spec_path

from helpers import error_of

DOC_ID = "appt_a1b2c3d4e5"
URL = f"/v1/appointments/{DOC_ID}"
HEADERS = {"Authorization": "Bearer sk_test_demo_write"}
MAX_BODY = 64 * 1024




def allowed(response) -> set[str]:
    return {method.strip() for method in response.headers["Allow"].split(",")}


# -- unknown paths: 404 NOT_FOUND ------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/nope",
    "/v1",
    "/v1/appointments/",
    f"/v1/appointments/{DOC_ID}/",          # trailing slash: not the same resource
    f"/v1/appointments/{DOC_ID}/notes",
    "/v2/appointments/" + DOC_ID,
    "/V1/appointments/" + DOC_ID,
    "/v1/calls",
    "/_sandbox/nope",
])
def test_unknown_path_is_404_not_found_in_json(client, path) -> None:
    error = error_of(client.get(path, headers=HEADERS), 404, "NOT_FOUND")
    assert "details" not in error or isinstance(error["details"], list)


def test_trailing_slash_is_not_redirected(client) -> None:
    response = client.patch(f"{URL}/", json={"notes": "x"}, headers=HEADERS)
    error_of(response, 404, "NOT_FOUND")
    assert "Location" not in response.headers


def test_unknown_path_is_404_without_credentials_too(client) -> None:
    error_of(client.get("/v1/nothing-here"), 404, "NOT_FOUND")


def test_unknown_path_message_does_not_echo_a_huge_path(client) -> None:
    path = "/" + "a" * 5000
    error = error_of(client.get(path), 404, "NOT_FOUND")
    assert len(error["message"]) < 1000


# -- wrong methods: 405 with Allow ------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_wrong_method_on_the_appointment_is_405_with_allow(client, method) -> None:
    response = client.open(URL, method=method, headers=HEADERS, json={"status": "cancelled"})
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert {"GET", "PATCH"} <= allowed(response)
    assert method not in allowed(response)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_wrong_method_is_405_even_without_credentials(client, method) -> None:
    response = client.open(URL, method=method)
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in allowed(response)


def test_wrong_method_changes_nothing(client, dump) -> None:
    before = dump(client)
    error_of(client.delete(URL, headers=HEADERS), 405, "METHOD_NOT_ALLOWED")
    error_of(client.put(URL, headers=HEADERS, json={"status": "cancelled"}), 405,
             "METHOD_NOT_ALLOWED")
    assert dump(client) == before


@pytest.mark.parametrize("path", ["/openapi.yaml", "/openapi.json"])
def test_wrong_method_on_the_spec_is_405(client, path) -> None:
    response = client.post(path)
    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in allowed(response)


# -- oversized bodies: 413 PAYLOAD_TOO_LARGE (64 KiB) ----------------------------------------

def body_of_size(size: int) -> bytes:
    """A valid PATCH body of exactly `size` bytes (notes plus an ignored padding field)."""
    head, tail = b'{"notes": "big", "padding": "', b'"}'
    body = head + b"p" * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    return body


def test_body_over_64_kib_is_413(client, dump) -> None:
    before = dump(client)
    response = client.patch(URL, data=body_of_size(MAX_BODY + 1),
                             content_type="application/json", headers=HEADERS)
    error = error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert str(MAX_BODY) in error["message"]
    assert dump(client) == before


def test_body_far_over_the_limit_is_413(client) -> None:
    response = client.patch(URL, data=b"x" * (1024 * 1024), content_type="application/json",
                            headers=HEADERS)
    error_of(response, 413, "PAYLOAD_TOO_LARGE")


def send_chunked(client, body: bytes):
    """A body without Content-Length, as a WSGI server passes a chunked upload through."""
    return client.patch(URL, headers={**HEADERS, "Content-Type": "application/json",
                                      "Transfer-Encoding": "chunked"},
                        input_stream=io.BytesIO(body),
                        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})


def test_small_chunked_body_is_accepted(client) -> None:
    response = send_chunked(client, b'{"notes": "small"}')
    assert response.status_code == 200


@pytest.mark.parametrize("body", [
    b'{"notes": "a"}' + b" " * (MAX_BODY + 100),    # cut at the limit, still valid JSON
    b'{"notes": "' + b"x" * (MAX_BODY + 100) + b'"}',
], ids=["valid-json-padded", "long-string"])
def test_chunked_body_over_the_limit_is_413(client, body) -> None:
    error_of(send_chunked(client, body), 413, "PAYLOAD_TOO_LARGE")


def test_body_of_exactly_64_kib_is_accepted(client) -> None:
    response = client.patch(URL, data=body_of_size(MAX_BODY), content_type="application/json",
                            headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["X-Sandbox-Ignored-Fields"] == "padding"


def test_the_limit_is_documented_in_the_spec(contract) -> None:
    description = contract.spec["components"]["responses"]["PayloadTooLarge"]["description"]
    assert "64 KiB" in description


# -- unexpected exceptions: 500 INTERNAL_ERROR, logged with a traceback ----------------------

class Boom(RuntimeError):
    pass


def explode(*args, **kwargs):
    raise Boom("secret internals: /srv/db password=hunter2")


def test_unexpected_exception_in_patch_is_500_in_the_envelope(client, monkeypatch, caplog) -> None:
    monkeypatch.setattr(huskyvoice_sandbox.domain.booking, "apply_patch", explode)
    with caplog.at_level(logging.ERROR):
        response = client.patch(URL, json={"notes": "x"}, headers=HEADERS)
    error_of(response, 500, "INTERNAL_ERROR")
    assert "hunter2" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    records = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert records, "the exception must be logged with its traceback"
    assert records[0].exc_info[0] is Boom
    assert "Traceback" in caplog.text and "Boom" in caplog.text
    assert URL in caplog.text


def test_unexpected_exception_changes_nothing(client, dump, monkeypatch) -> None:
    before = dump(client)
    monkeypatch.setattr(huskyvoice_sandbox.domain.booking, "apply_patch", explode)
    error_of(client.patch(URL, json={"notes": "x"}, headers=HEADERS), 500, "INTERNAL_ERROR")
    monkeypatch.undo()
    assert dump(client) == before
    assert client.patch(URL, json={"notes": "x"}, headers=HEADERS).status_code == 200


def test_unexpected_exception_in_get_is_500_in_the_envelope(client, monkeypatch, caplog) -> None:
    monkeypatch.setattr(huskyvoice_sandbox.web.slices.appointments, "appointment", explode)
    with caplog.at_level(logging.ERROR):
        response = client.get(URL, headers=HEADERS)
    error_of(response, 500, "INTERNAL_ERROR")
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)


# -- never HTML -------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, kwargs", [
    ("GET", "/missing", {}),
    ("DELETE", URL, {}),
    ("PATCH", URL, {"data": b"<html>", "content_type": "text/html"}),
    ("PATCH", URL, {"data": b"{", "content_type": "application/json"}),
    ("PATCH", URL, {"data": b"x" * (MAX_BODY + 10), "content_type": "application/json"}),
    ("GET", "/v1/appointments/appt_zzzzzzzzzz", {}),
])
def test_errors_are_json_even_when_the_client_asks_for_html(client, method, path, kwargs) -> None:
    headers = {**HEADERS, "Accept": "text/html"}
    response = client.open(path, method=method, headers=headers, **kwargs)
    assert response.status_code >= 400
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["success"] is False and body["error"]["code"]


# -- the spec is served --------------------------------------------------------------------

def test_openapi_yaml_is_the_spec(client) -> None:
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert "yaml" in response.mimetype
    served, original = response.get_data(as_text=True), spec_path().read_text(encoding="utf-8")
    # The file as written, but for the sandbox's own server entry: the origin it is served from.
    assert served.replace('  - url: "http://localhost"\n    description: this huskyvoice-sandbox\n', "") == \
        original.replace("  - url: http://127.0.0.1:8080\n    description: huskyvoice-sandbox (default port)\n", "")


def test_openapi_json_is_the_same_spec(client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    served = {k: v for k, v in response.get_json().items() if k != "servers"}  # servers: see below
    assert served == {k: v for k, v in yaml.safe_load(spec_path().read_text(encoding="utf-8")).items()
                      if k != "servers"}
    assert "/v1/appointments/{appointment_id}" in response.get_json()["paths"]


@pytest.mark.parametrize("path", ["/openapi.yaml", "/openapi.json"])
def test_spec_needs_no_credentials(client, path) -> None:
    assert client.get(path).status_code == 200


# -- the root, and the spec as served ------------------------------------------------------------

def test_the_root_points_to_the_docs_the_specs_and_health(client, contract) -> None:
    body = client.get("/", base_url="http://127.0.0.1:8123").get_json()
    assert body["success"] is True
    assert {k: v for k, v in body["data"].items() if k not in ("name", "version", "operations")} == {
        "docs": "http://127.0.0.1:8123/docs", "openapi": "http://127.0.0.1:8123/openapi.yaml",
        "control_api": "http://127.0.0.1:8123/_sandbox/openapi.yaml",
        "health": "http://127.0.0.1:8123/_sandbox/health",
        "inspector": "http://127.0.0.1:8123/_sandbox/inspector"}
    assert body["data"]["operations"] == [
        {"operation": op.operation_id, "method": op.method, "path": op.path} for op in contract.operations.values()]


def test_every_address_the_root_gives_answers(client) -> None:
    """A first-time user follows each link of GET /: none is a 404 (it once listed /v1/)."""
    data = client.get("/", base_url="http://127.0.0.1:8123").get_json()["data"]
    for name, url in data.items():
        if isinstance(url, str) and url.startswith("http"):
            assert client.get(url.removeprefix("http://127.0.0.1:8123")).status_code == 200, name


@pytest.mark.parametrize("path", ["/openapi.yaml", "/openapi.json"])
def test_the_served_spec_lists_the_origin_it_is_served_from(client, path) -> None:
    served = yaml.safe_load(client.get(path, base_url="http://localhost:9876").get_data(as_text=True))
    assert served["servers"] == [{"url": "http://localhost:9876", "description": "this huskyvoice-sandbox"},
                                 {"url": "https://api.huskyvoice.ai", "description": "Production"}]
    assert {k: v for k, v in served.items() if k != "servers"} == \
        {k: v for k, v in yaml.safe_load(spec_path().read_text(encoding="utf-8")).items() if k != "servers"}
