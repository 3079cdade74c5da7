"""What the test modules share: the default world's keys, contract checks of raw responses, a
live server, and assertions (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

from huskyvoice_sandbox.serve import routed
from huskyvoice_sandbox.spec.contract import Contract

# The HTTP server `huskyvoice-sandbox serve` runs by default here: what the served tests check.
SERVED_BY = "uwsgi" if routed.available() else "waitress"

WRITE_KEY = "sk_test_demo_write"
READ_KEY = "sk_test_demo_read"
NO_SCOPE_KEY = "sk_test_demo_calls"
DOC_KEY = "YOUR_API_KEY"
OTHER_ORG_KEY = "sk_test_other_write"
DOC_ID = "appt_a1b2c3d4e5"
REMOTE = {"REMOTE_ADDR": "10.1.2.3"}  # environ_base of a test-client request from another host

# The request body and the response on the "Updating Appointments" page, verbatim.
DOCUMENTED_BODY = ('{\n"assigned_doctor": "Dr. Priya Sharma",\n'
                   '"notes": "Patient requested morning slot"\n}')
# The response on the same page, verbatim.
DOCUMENTED_RESPONSE = """{
"success": true,
"data": {
"appointment_id": "appt_a1b2c3d4e5",
"appointment_type": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
"branch_id": "branch_uuid_here",
"date": "2026-06-15",
"session": "Morning",
"batch": "MA",
"token": null,
"patient_name": "Aadhi",
"parent_phone": "+919840XXXXXX",
"assigned_doctor": "Dr. Priya Sharma",
"status": "confirmed",
"external_reference_id": null,
"created_at": "2026-05-26T10:00:00.000Z",
"updated_at": "2026-05-26T11:00:00.000Z"
}
}"""


# A world of one clinic, one window and one appointment (appt_small_1, key sk_test_small).
SMALL_WORLD = {
    "version": 1,
    "clock": "2026-07-01T08:00:00.000Z",
    "organizations": [{
        "id": "org_small", "name": "Small Clinic", "timezone": "Europe/London",
        "api_keys": [{"key": "sk_test_small", "scopes": ["appointments:read", "appointments:write"]}],
        "services": [{"id": "11111111-2222-4333-8444-555555555555", "name": "Checkup"}],
        "branches": [{"id": "small_branch", "name": "Only Branch"}],
        "calendar_windows": [{
            "id": "small_window", "branch_id": "small_branch", "day": "wednesday",
            "session": "Morning", "batch": "M1", "start_time": "09:00", "end_time": "12:00",
            "max_slots": 2, "ai_slots": 1}],
        "appointments": [{
            "appointment_id": "appt_small_1",
            "appointment_type": "11111111-2222-4333-8444-555555555555",
            "branch_id": "small_branch", "date": "2026-07-01", "session": "Morning",
            "batch": "M1", "patient_name": "Sam", "parent_phone": "+441234"}],
    }],
}


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error object of an enveloped error response, after checking status, code and
    that the answer is JSON (never an HTML page)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    assert "<html" not in text.lower() and "<!doctype" not in text.lower()
    body = response.get_json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def appointment_in(world: dict[str, Any], appointment_id: str) -> dict[str, Any]:
    """One appointment of a world document (a GET /_sandbox/world dump)."""
    for org in world["organizations"]:
        for appointment in org["appointments"]:
            if appointment["appointment_id"] == appointment_id:
                return appointment
    raise KeyError(appointment_id)


def sample_request(contract: Contract, operation_id: str) -> tuple[str, str, bytes]:
    """A valid request for the operation, from the spec alone: (method, path with query, body).
    Path ids are the documented appointment's; required query parameters take their examples;
    the body is the operation's first request example."""
    op = contract.operations[operation_id]
    path = op.path.replace("{appointment_id}", DOC_ID)
    query = "&".join(f"{name}={value}" for name, value in sample_query(contract, operation_id).items())
    body = b""
    if op.body_pointer:
        node = contract.spec["paths"][op.path][op.method.lower()]["requestBody"]["content"]["application/json"]
        body = json.dumps(next(iter(node["examples"].values()))["value"]).encode()
    return op.method, path + (f"?{query}" if query else ""), body


def sample_query(contract: Contract, operation_id: str) -> dict[str, Any]:
    """The operation's required query parameters, each with its example in the spec."""
    op = contract.operations[operation_id]
    return {p.name: contract.resolve(_parameter_pointer(contract, op, p.name))["example"]
            for p in op.query if p.required}


def _parameter_pointer(contract: Contract, op: Any, name: str) -> str:
    params = contract.spec["paths"][op.path][op.method.lower()].get("parameters", [])
    index = next(i for i, p in enumerate(params) if p.get("name") == name)
    return f"/paths/{op.path.replace('/', '~1')}/{op.method.lower()}/parameters/{index}"


@functools.lru_cache(maxsize=1)
def control_contract() -> Contract:
    from huskyvoice_sandbox.resources import control_spec_path

    return Contract(control_spec_path())


def control_media_types(method: str, path: str, status: int) -> set[str]:
    """The media types the control API's spec documents for this answer."""
    spec = control_contract()
    op = spec.operation_for(method, path)
    if op is None:
        return set()
    base = f"/paths/{op.path.replace('~', '~0').replace('/', '~1')}/{op.method.lower()}/responses"
    documented = str(status) if str(status) in spec.resolve(base) else "default"
    return set(spec.resolve(spec.deref_pointer(f"{base}/{documented}")).get("content", {}))


class ContractViolation(AssertionError):
    pass


def check_response(contract: Contract, method: str, path: str, status: int,
                   headers: Any, body_bytes: bytes) -> None:
    """Fail the test if a response breaks the contract (or the envelope, off-contract)."""
    if path.startswith("/openapi.") or (path.startswith("/docs") and status < 400):
        return  # the spec itself; the HTML docs page and its assets (their errors are JSON)
    if path == "/" and status == 200:  # the index: where to go from here
        assert json.loads(body_bytes)["success"] is True
        return
    if method == "HEAD":
        assert body_bytes == b"", "HEAD must not have a body"
        return
    content_type = headers.get("Content-Type", "")
    if path.startswith("/_sandbox/") and status < 400 and not content_type.startswith("application/json"):
        documented = control_media_types(method, path, status)  # YAML, the inspector's page and assets
        assert content_type.split(";")[0].strip() in documented, \
            f"{method} {path} -> {status} answered {content_type!r}; the control spec has {sorted(documented)}"
        return
    assert content_type.startswith("application/json"), \
        f"{method} {path} -> {status} answered {content_type!r}, not JSON"
    body = json.loads(body_bytes)
    if path.startswith("/_sandbox/"):  # the control API's own spec (/_sandbox/openapi.yaml)
        problems = control_contract().response_problems(method, path, status, headers, body)
        if problems:
            raise ContractViolation(f"{method} {path} -> {status} breaks the control API's spec: {problems}\n{body}")
        return
    problems = contract.response_problems(method, path, status, headers, body)
    if problems:
        raise ContractViolation(f"{method} {path} -> {status} breaks openapi.yaml: {problems}\n{body}")


# -- a real server, started the way users start it ------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[str], what: str, timeout: float = 20) -> None:
    """Until something listens on the port; `process` exiting first fails with its output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {process.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


class LiveServer:
    """`huskyvoice-sandbox serve` in a subprocess on a free port."""

    server_name = SERVED_BY  # which HTTP server it runs, where a test says (--server)

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cli = [sys.executable, "-c", "from huskyvoice_sandbox.serve.cli import main; main()"]
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
