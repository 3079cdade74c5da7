"""Shared fixtures. Every response the sandbox sends through `client` (and through the live
server helpers) is validated against openapi.yaml, so the sandbox cannot drift from the
contract without a test failing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from huskyvoice_sandbox import create_app
from huskyvoice_sandbox.resources import default_world_path, scenarios_dir
from huskyvoice_sandbox.spec.contract import Contract
from huskyvoice_sandbox.worlds.world import load_world_file

from helpers import DOC_ID, WRITE_KEY, LiveServer, check_response

pytest_plugins = ("pytester",)  # tests/test_plugin.py runs example projects with the plugin


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
    import huskyvoice_sandbox

    return f"sandbox package: {Path(huskyvoice_sandbox.__file__).parent}"
