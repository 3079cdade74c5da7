"""Shared fixtures. Every response the sandbox sends through `client` (and through the live
server helpers) is validated against openapi.yaml, so the sandbox cannot drift from the
contract without a test failing."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask.testing import FlaskClient

from sandbox import create_app
from sandbox.contract import Contract
from sandbox.resources import default_world_path, scenarios_dir
from sandbox.world import load_world_file

WRITE_KEY = "sk_test_demo_write"
READ_KEY = "sk_test_demo_read"
NO_SCOPE_KEY = "sk_test_demo_calls"
DOC_KEY = "YOUR_API_KEY"
OTHER_ORG_KEY = "sk_test_other_write"
DOC_ID = "appt_a1b2c3d4e5"


class ContractViolation(AssertionError):
    pass


def check_response(contract: Contract, method: str, path: str, status: int,
                   headers: Any, body_bytes: bytes) -> None:
    """Fail the test if a response breaks the contract (or the envelope, off-contract)."""
    if path.startswith("/openapi."):
        return
    if method == "HEAD":
        assert body_bytes == b"", "HEAD must not have a body"
        return
    content_type = headers.get("Content-Type", "")
    if path.startswith("/_sandbox/") and status < 400 and "yaml" in content_type:
        return
    assert content_type.startswith("application/json"), \
        f"{method} {path} -> {status} answered {content_type!r}, not JSON"
    body = json.loads(body_bytes)
    if path.startswith("/_sandbox/"):
        assert isinstance(body, dict) and isinstance(body.get("success"), bool), body
        if status >= 400:
            problems = contract.response_problems("TRACE", path, status, headers, body)
            if problems:
                raise ContractViolation(f"{method} {path} -> {status}: {problems}")
        return
    problems = contract.response_problems(method, path, status, headers, body)
    if problems:
        raise ContractViolation(f"{method} {path} -> {status} breaks openapi.yaml: {problems}\n{body}")


class ContractClient(FlaskClient):
    """A Flask test client that checks every response against openapi.yaml."""

    contract: Contract

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        response = super().open(*args, **kwargs)
        request = response.request
        check_response(self.contract, request.method, request.path, response.status_code,
                       response.headers, response.get_data())
        return response


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()


@pytest.fixture
def make_app(contract: Contract) -> Callable[..., Any]:
    """Build a sandbox app; world = None (default), a path, a document or a World."""

    def build(world: Any = None, **options: Any):
        app = create_app(world, contract=contract, **options)
        app.config["TESTING"] = True
        ContractClient.contract = contract
        app.test_client_class = ContractClient
        return app

    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_client(make_app) -> Callable[..., FlaskClient]:
    def build(world: Any = None, **options: Any) -> FlaskClient:
        return make_app(world, **options).test_client()

    return build


@pytest.fixture
def scenario_client(make_client) -> Callable[[str], FlaskClient]:
    """A client serving fixtures/scenarios/<name>.yaml."""

    def build(name: str) -> FlaskClient:
        return make_client(scenarios_dir() / f"{name}.yaml")

    return build


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def auth() -> Callable[[str], dict[str, str]]:
    """auth(key) -> the Authorization header for that key."""
    return bearer


@pytest.fixture
def patch(client) -> Callable[..., Any]:
    """patch(body, id=DOC_ID, key=WRITE_KEY) on the default world's client."""

    def send(body: Any, appointment_id: str = DOC_ID, key: str | None = WRITE_KEY, **kw: Any):
        headers = bearer(key) if key else {}
        return client.patch(f"/v1/appointments/{appointment_id}", json=body, headers=headers, **kw)

    return send


@pytest.fixture
def get(client) -> Callable[..., Any]:
    def send(appointment_id: str = DOC_ID, key: str | None = WRITE_KEY):
        headers = bearer(key) if key else {}
        return client.get(f"/v1/appointments/{appointment_id}", headers=headers)

    return send


# -- a real server, started the way users start it ------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """`huskyvoice-sandbox serve` in a subprocess on a free port."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cli = [sys.executable, "-c", "from sandbox.cli import main; main()"]
        self.process = subprocess.Popen(
            cli + ["serve", "--port", str(self.port), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.banner = self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out, err = self.process.communicate()
                raise RuntimeError(f"server exited {self.process.returncode}:\n{out}\n{err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return ""
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def stop(self) -> tuple[str, str]:
        self.process.terminate()
        try:
            return self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.communicate()


@pytest.fixture
def live_server() -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(*args: str) -> LiveServer:
        server = LiveServer(*args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def checked_http(contract: Contract) -> Callable[..., Any]:
    """http(method, url, **kw) with requests, every response checked against the contract."""
    import requests

    def send(method: str, url: str, **kwargs: Any):
        response = requests.request(method, url, timeout=10, **kwargs)
        path = re.sub(r"^https?://[^/]+", "", response.request.path_url.split("?")[0])
        check_response(contract, method.upper(), path, response.status_code, response.headers,
                       response.content)
        return response

    return send


def world_dump(client: FlaskClient) -> dict[str, Any]:
    return client.get("/_sandbox/world").get_json()["data"]


@pytest.fixture
def default_world():
    return load_world_file(default_world_path())


@pytest.fixture
def dump() -> Callable[[FlaskClient], dict[str, Any]]:
    """dump(client) -> the current state as a world document (GET /_sandbox/world)."""
    return world_dump


def pytest_report_header(config: Any) -> str:
    import sandbox

    return f"sandbox package: {Path(sandbox.__file__).parent}"
