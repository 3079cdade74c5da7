"""Clients generated from openapi.yaml are typed, as integrators generate them (issue 21).

openapi-python-client (the test extra) and openapi-typescript (npm) generate from the spec as it
is. Every request body and every response body of every operation must come out as a named model,
with no `Any` (Python) or `unknown` (TypeScript) where the API has a shape, and each refined error
envelope must keep its codes. The generated Python client then calls every operation of the spec
against a served sandbox (the default world) and its parsed models are checked.

Without node and npm the TypeScript tests are skipped, unless HUSKYVOICE_REQUIRE_TOOLS=1 (CI sets
it): then they fail. openapi-typescript and typescript are installed with `npm install --no-save`
into a cache folder outside the checkout ($XDG_CACHE_HOME or ~/.cache, huskyvoice-sandbox/).
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import typing
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest
import requests
from huskyvoice_sandbox.resources import spec_path
from huskyvoice_sandbox.spec.contract import Contract

from helpers import DOC_ID, READ_KEY, WRITE_KEY, LiveServer, check_response, free_port, sample_query, sample_request

pytestmark = pytest.mark.live

PACKAGE = "huskyvoice_api_client"  # the generated Python package
# The npm packages, each a range that keeps its major version (and typescript's minor: its
# releases add errors).
NPM_PACKAGES = ("openapi-typescript@^7.13.0", "typescript@~5.9.2")
TOOL_TIMEOUT = 300  # seconds, for npm install on a cold cache; generating takes a few

# The window the default world's first created window gets (docs/api.md).
NEW_WINDOW = "6b225b76-fecc-48a3-a13f-b2fec32d3555"
DOC_WINDOW = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"  # Monday Morning MA, main branch
BRANCH = "branch_uuid_here"
GENERAL_CHECKUP = "f47ac10b-58cc-4372-a567-0e02b2c3d479"


def missing_tool(message: str) -> NoReturn:
    """Skip, or fail where CI requires every tool."""
    if os.environ.get("HUSKYVOICE_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{message} (HUSKYVOICE_REQUIRE_TOOLS=1 requires it)", pytrace=False)
    pytest.skip(message)


# -- what the spec says each operation takes and answers ------------------------------------------

@dataclass(frozen=True)
class SpecOperation:
    operation_id: str
    body: str | None  # the request body's schema name
    responses: dict[int, str]  # status -> the JSON body's schema name (statuses with a body)


def schema_name(node: dict[str, Any]) -> str:
    ref = node.get("$ref", "")
    assert ref.startswith("#/components/schemas/"), f"an inline schema, not a named one: {node}"
    return ref.rsplit("/", 1)[1]


def spec_operations(contract: Contract) -> list[SpecOperation]:
    found = []
    for op in contract.operations.values():
        raw = contract.spec["paths"][op.path][op.method.lower()]
        body = raw.get("requestBody", {}).get("content", {}).get("application/json")
        responses = {}
        for status, response in raw["responses"].items():
            content = contract.deref(response).get("content", {}).get("application/json")
            if content:
                responses[int(status)] = schema_name(content["schema"])
        found.append(SpecOperation(op.operation_id, schema_name(body["schema"]) if body else None, responses))
    return found


def spec_webhooks(contract: Contract) -> dict[str, str]:
    """Webhook name -> its payload's schema name."""
    return {name: schema_name(item["post"]["requestBody"]["content"]["application/json"]["schema"])
            for name, item in contract.spec.get("webhooks", {}).items()}


def error_codes(contract: Contract) -> dict[str, list[str]]:
    """Each error schema (an envelope's `error`) whose `code` is an enum -> its codes."""
    found = {}
    for name, schema in contract.spec["components"]["schemas"].items():
        error = schema.get("properties", {}).get("error")
        if name.endswith("Envelope") and error:
            target = contract.deref(error)
            codes = target.get("properties", {}).get("code", {}).get("enum")
            if codes:
                found[schema_name(error)] = codes
    return found


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@pytest.fixture(scope="module")
def spec() -> Contract:
    return Contract()


# -- the Python client ---------------------------------------------------------------------------

@dataclass
class GeneratedPython:
    root: Path  # the folder holding the package
    package: Path
    # class name -> {field: annotation}; enum class name -> its values
    models: dict[str, dict[str, ast.expr]] = field(default_factory=dict)
    enums: dict[str, list[str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def python_client(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPython:
    if importlib.util.find_spec("openapi_python_client") is None:
        pytest.fail("openapi-python-client is not installed (it comes with the test extra)")
    root = tmp_path_factory.mktemp("python-client")
    config = root / "config.yaml"
    # No post hooks: the generator formats with ruff from PATH when it finds it; the code is the same.
    config.write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec_path()),
         "--meta", "none", "--output-path", str(root / PACKAGE), "--config", str(config), "--fail-on-warning"],
        capture_output=True, text=True, timeout=TOOL_TIMEOUT, cwd=root)
    assert run.returncode == 0, f"openapi-python-client failed:\n{run.stdout}\n{run.stderr}"
    generated = GeneratedPython(root, root / PACKAGE)
    for path in sorted((generated.package / "models").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.ClassDef):
                continue
            if any(isinstance(base, ast.Name) and base.id.endswith("Enum") for base in node.bases):
                generated.enums[node.name] = [stmt.value.value for stmt in node.body
                                              if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)]
            else:
                generated.models[node.name] = {stmt.target.id: stmt.annotation for stmt in node.body
                                               if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)}
    return generated


def names_in(annotation: ast.expr) -> set[str]:
    """Every name an annotation mentions (`list[ErrorDetail] | Unset` -> list, ErrorDetail, Unset)."""
    found = set()
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node is annotation:
            found |= names_in(ast.parse(node.value, mode="eval").body)  # a quoted forward reference
    return found


def api_modules(package: Path) -> dict[str, Path]:
    """Module name (the operationId in snake case) -> file, over every tag's folder."""
    return {path.stem: path for path in (package / "api").glob("*/*.py") if path.stem != "__init__"}


def function(tree: ast.Module, name: str) -> ast.FunctionDef:
    [found] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]
    return found


def parsed_models(parse: ast.FunctionDef) -> dict[int, str]:
    """What `_parse_response` builds for each status: `if response.status_code == 200:` with
    `Model.from_dict(...)` inside -> {200: "Model"}; a status parsed any other way -> "?"."""
    found: dict[int, str] = {}
    for node in ast.walk(parse):
        if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Attribute) and node.test.left.attr == "status_code"):
            continue
        [status] = node.test.comparators
        assert isinstance(status, ast.Constant)
        calls = [call.func.value.id for stmt in node.body for call in ast.walk(stmt)
                 if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                 and call.func.attr == "from_dict" and isinstance(call.func.value, ast.Name)]
        found[int(status.value)] = calls[0] if len(calls) == 1 else "?"
    return found


def test_python_client_has_a_named_model_for_every_body_and_response(
        python_client: GeneratedPython, spec: Contract) -> None:
    modules = api_modules(python_client.package)
    problems = []
    for op in spec_operations(spec):
        path = modules.get(snake(op.operation_id))
        if path is None:
            problems.append(f"{op.operation_id}: no module {snake(op.operation_id)}.py under api/")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        kwargs = function(tree, "_get_kwargs")
        body = next((arg for arg in kwargs.args.kwonlyargs + kwargs.args.args if arg.arg == "body"), None)
        if op.body is None:
            if body is not None:
                problems.append(f"{op.operation_id}: takes a body the spec does not document")
        elif body is None or body.annotation is None:
            problems.append(f"{op.operation_id}: takes no body (the spec's is {op.body})")
        elif ast.unparse(body.annotation) != op.body:
            problems.append(f"{op.operation_id}: body is {ast.unparse(body.annotation)}, not the model {op.body}")
        parse = function(tree, "_parse_response")
        built = parsed_models(parse)
        if built != op.responses:
            problems.append(f"{op.operation_id}: parses {built}, the spec documents {op.responses}")
        if parse.returns is None or "Any" in names_in(parse.returns):
            problems.append(f"{op.operation_id}: _parse_response returns {ast.unparse(parse.returns or ast.Name('?'))}")
        missing = {name for name in [op.body, *op.responses.values()] if name} - set(python_client.models)
        if missing:
            problems.append(f"{op.operation_id}: no model class for {sorted(missing)}")
    assert not problems, "\n".join(problems)


def test_python_models_have_no_any_where_the_api_has_a_shape(python_client: GeneratedPython, spec: Contract) -> None:
    """Every field of every model (request bodies, responses, webhook payloads, what they hold)
    has a type; `additional_properties` is the generator's bag for fields the spec leaves open."""
    untyped = [f"{model}.{name}: {ast.unparse(annotation)}"
               for model, fields in sorted(python_client.models.items())
               for name, annotation in fields.items()
               if name != "additional_properties" and names_in(annotation) & {"Any", "object"}]
    assert not untyped, "fields typed Any:\n" + "\n".join(untyped)
    shapes = {name for name, schema in spec.spec["components"]["schemas"].items() if "properties" in schema}
    assert shapes <= set(python_client.models), f"schemas without a model: {sorted(shapes - set(python_client.models))}"
    for name in spec_webhooks(spec).values():
        assert name in python_client.models


def test_python_error_models_keep_their_codes(python_client: GeneratedPython, spec: Contract) -> None:
    """Each refined envelope's `error` is its own model whose `code` is an enum of exactly the
    spec's codes (the generic ErrorEnvelope keeps a string)."""
    codes = error_codes(spec)
    assert len(codes) >= 11, codes
    for error, values in codes.items():
        code = python_client.models[error]["code"]
        enum = ast.unparse(code)
        assert enum in python_client.enums, f"{error}.code is {enum}, not an enum"
        assert sorted(python_client.enums[enum]) == sorted(values), f"{error}.code: {python_client.enums[enum]}"
    for name, schema in spec.spec["components"]["schemas"].items():
        if name.endswith("Envelope") and name != "ErrorEnvelope" and "error" in schema.get("properties", {}):
            assert ast.unparse(python_client.models[name]["error"]) == schema_name(schema["properties"]["error"])


# -- every operation through the generated Python client --------------------------------------------

@pytest.fixture(scope="module")
def client_package(python_client: GeneratedPython) -> Iterator[ModuleType]:
    sys.path.insert(0, str(python_client.root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(python_client.root))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


class Calls:
    """The generated client's operations, against one served sandbox; every answer is checked
    against openapi.yaml and the operation it answered recorded."""

    def __init__(self, package: ModuleType, server: LiveServer, contract: Contract) -> None:
        self.package = package
        self.server = server
        self.contract = contract
        self.sent: set[str] = set()
        self.documented = {op.operation_id: op.responses for op in spec_operations(contract)}
        self.modules = {path.stem: path.parent.name for path in api_modules(Path(package.__file__).parent).values()}

    def client(self, key: str) -> Any:
        hooks = {"response": [self._check]}
        return self.package.AuthenticatedClient(base_url=self.server.url, token=key, timeout=10.0,
                                                httpx_args={"event_hooks": hooks})

    def _check(self, response: Any) -> None:
        response.read()
        method, path = response.request.method, response.request.url.path
        check_response(self.contract, method, path, response.status_code, response.headers, response.content)
        op = self.contract.operation_for(method, path)
        assert op is not None, f"{method} {path} is no operation of the spec"
        self.sent.add(op.operation_id)

    def __call__(self, operation_id: str, status: int, model: str, key: str = WRITE_KEY, **kwargs: Any) -> Any:
        """Call the operation; check the status and that the answer parsed into `model`, the
        model of the schema the spec documents for that status."""
        assert self.documented[operation_id].get(status) == model, (operation_id, status, model)
        module = importlib.import_module(f"{PACKAGE}.api.{self.modules[snake(operation_id)]}.{snake(operation_id)}")
        response = module.sync_detailed(client=self.client(key), **kwargs)
        assert response.status_code == HTTPStatus(status), (operation_id, response.status_code, response.content)
        parsed = response.parsed
        assert type(parsed).__name__ == model, (operation_id, type(parsed), response.content)
        return parsed

    def model(self, name: str) -> Any:
        return getattr(importlib.import_module(f"{PACKAGE}.models"), name)

    def from_examples(self, operation_id: str) -> Any:
        """An operation no line of the test names (one added to the spec since): its documented
        success, with the spec's examples for its path parameters, required query and body,
        typed as the generated client takes them, and a key its scopes allow."""
        op = self.contract.operations[operation_id]
        status = min(s for s in self.documented[operation_id] if 200 <= s < 300)
        module = importlib.import_module(f"{PACKAGE}.api.{self.modules[snake(operation_id)]}.{snake(operation_id)}")
        hints = typing.get_type_hints(module.sync_detailed)
        arguments: dict[str, Any] = {name: example_of(self.contract, op, name) for name in op.path_params}
        query = sample_query(self.contract, operation_id)
        arguments |= {name: typed(hints[name], value) for name, value in query.items()}
        _, _, body = sample_request(self.contract, operation_id)
        if body:
            arguments["body"] = typed(hints["body"], json.loads(body))
        with urllib.request.urlopen(f"{self.server.url}/_sandbox/keys", timeout=10) as answer:
            keys = json.load(answer)["data"]
        key = next(k["key"] for k in keys if op.allows(frozenset(k["scopes"])))
        return self(operation_id, status, self.documented[operation_id][status], key=key, **arguments)


def example_of(contract: Contract, op: Any, name: str) -> Any:
    """A path parameter's example in the spec."""
    item = contract.spec["paths"][op.path]
    declared = [contract.deref(p) for p in item.get("parameters", []) + item[op.method.lower()].get("parameters", [])]
    return next(p["example"] for p in declared if p["in"] == "path" and p["name"] == name)


def typed(hint: Any, value: Any) -> Any:
    """A JSON value as the generated client's parameter type takes it (a model, a date, an enum)."""
    kinds = [k for k in typing.get_args(hint) or (hint,) if isinstance(k, type) and k.__name__ != "Unset"]
    kind = kinds[0] if kinds else type(value)
    if hasattr(kind, "from_dict"):
        return kind.from_dict(value)
    if kind is datetime.date:
        return datetime.date.fromisoformat(value)
    return kind(value)


@pytest.fixture(scope="module")
def calls(client_package: ModuleType, spec: Contract) -> Iterator[Calls]:
    server = LiveServer("--quiet")
    try:
        yield Calls(client_package, server, spec)
    finally:
        server.stop()


def test_every_operation_through_the_generated_python_client(calls: Calls, spec: Contract) -> None:
    m = calls.model
    utc = datetime.UTC
    monday = datetime.date(2026, 6, 15)  # the documented date

    # Configuration and availability (read-only key).
    config = calls("getAppointmentConfig", 200, "AppointmentConfigEnvelope", key=READ_KEY)
    assert (config.success, config.data.allow_cancellation, config.data.cancellation_notice_hours,
            config.data.timezone) == (True, True, 24, "UTC")
    services = calls("listServices", 200, "ServiceListEnvelope", key=READ_KEY)
    assert (services.data[0].service_id, services.data[0].name) == (uuid.UUID(GENERAL_CHECKUP), "General Checkup")
    available = calls("getAvailability", 200, "AvailabilityEnvelope", key=READ_KEY,
                      date=monday, session=m("Session").MORNING, branch_id=BRANCH)
    first = available.slots[0]
    assert available.date == datetime.date(2026, 6, 15)
    assert (first.slot_id, first.day, first.session, first.status) == (
        f"{DOC_WINDOW}||2026-06-15", m("Day").MONDAY, m("Session").MORNING, "OPEN")
    assert isinstance(first.available_slots, int) and first.created_at.tzinfo is not None

    # The documented appointment: read, the documented PATCH, read again.
    got = calls("getAppointment", 200, "AppointmentEnvelope", appointment_id=DOC_ID)
    assert (got.data.appointment_id, got.data.date, got.data.status, got.data.token) == (
        DOC_ID, datetime.date(2026, 6, 15), m("Status").CONFIRMED, None)
    documented = m("AppointmentUpdate")(assigned_doctor="Dr. Priya Sharma", notes="Patient requested morning slot")
    updated = calls("updateAppointment", 200, "AppointmentEnvelope", appointment_id=DOC_ID, body=documented)
    assert (updated.data.assigned_doctor, updated.data.updated_at) == (
        "Dr. Priya Sharma", datetime.datetime(2026, 5, 26, 11, 0, tzinfo=utc))

    # Errors, each parsed into its own model with its code.
    invalid = calls("updateAppointment", 400, "ValidationErrorEnvelope", appointment_id=DOC_ID,
                    body=m("AppointmentUpdate")())
    assert invalid.success is False and invalid.error.code is m("ValidationErrorCode").VALIDATION_ERROR
    [detail] = invalid.error.details
    assert isinstance(detail, m("ErrorDetail")) and detail.location == "body"
    assert detail.message.startswith("at least one updatable field is required")
    unauthorized = calls("getAppointment", 401, "UnauthorizedEnvelope", key="sk_test_no_such_key",
                         appointment_id=DOC_ID)
    assert unauthorized.error.code is m("UnauthorizedErrorCode").UNAUTHORIZED
    scope = calls("updateAppointment", 403, "InsufficientScopeEnvelope", key=READ_KEY, appointment_id=DOC_ID,
                  body=m("AppointmentUpdate")(status=m("AppointmentUpdateStatus").CANCELLED))
    assert scope.error.code is m("InsufficientScopeErrorCode").INSUFFICIENT_SCOPE
    missing = calls("getAppointment", 404, "NotFoundEnvelope", appointment_id="appt_zzzzzzzzzz")
    assert missing.error.code is m("NotFoundErrorCode").NOT_FOUND
    full = calls("updateAppointment", 409, "UpdateConflictEnvelope", appointment_id=DOC_ID,
                 body=m("AppointmentUpdate")(appointment_date=datetime.datetime(2026, 6, 16, 10, 0, tzinfo=utc)))
    assert full.error.code is m("UpdateConflictErrorCode").SLOT_FULL
    outside = calls("updateAppointment", 422, "OutsideAvailabilityEnvelope", appointment_id=DOC_ID,
                    body=m("AppointmentUpdate")(appointment_date=datetime.datetime(2026, 6, 15, 8, 0, tzinfo=utc)))
    assert outside.error.code is m("OutsideAvailabilityErrorCode").OUTSIDE_AVAILABILITY

    # A booking, then the same again: a duplicate.
    booking = m("AppointmentCreate")(
        appointment_type="General Checkup", appointment_date=datetime.datetime(2026, 6, 15, 9, 30, tzinfo=utc),
        patient_name="Tara", parent_phone="+919800011111", session=m("Session").MORNING, branch_id=BRANCH)
    created = calls("createAppointment", 201, "AppointmentCreatedEnvelope", body=booking)
    assert created.appointment_id == created.data.appointment_id and created.token is None
    assert (created.data.appointment_type, created.data.batch, created.data.status) == (
        uuid.UUID(GENERAL_CHECKUP), "MA", m("Status").CONFIRMED)  # a UUID: the spec's format
    duplicate = calls("createAppointment", 409, "BookingConflictEnvelope", body=booking)
    assert duplicate.error.code is m("BookingConflictErrorCode").DUPLICATE_BOOKING
    page = calls("searchAppointments", 200, "AppointmentPageEnvelope", key=READ_KEY,
                 date=monday, session=m("Session").MORNING, limit=2)
    assert len(page.data) == 2 and isinstance(page.data[0], m("Appointment"))
    assert (page.pagination.page, page.pagination.limit, page.pagination.has_more) == (1, 2, True)

    # Calendar windows: create, update, disable.
    window = calls("createCalendarWindow", 201, "CalendarWindowEnvelope", body=m("CalendarWindowCreate")(
        branch_id=BRANCH, day=m("Day").SATURDAY, session=m("Session").MORNING, start_time="09:00",
        end_time="11:00", max_slots=20, ai_slots=10, batch_name="SA"))
    assert (window.data.slot_id, window.data.day, window.data.active, window.data.appointment_type) == (
        NEW_WINDOW, m("Day").SATURDAY, True, None)
    changed = calls("updateCalendarWindow", 200, "CalendarWindowEnvelope", slot_id=f"{NEW_WINDOW}||2026-06-20",
                    body=m("CalendarWindowUpdate")(ai_slots=2))
    assert (changed.data.ai_slots, changed.data.max_slots) == (2, 20)
    disabled = calls("disableCalendarWindow", 200, "CalendarWindowEnvelope", slot_id=NEW_WINDOW)
    assert disabled.data.active is False

    # Schedule tracking: read, close a date, regenerate.
    tracking = calls("getScheduleTracking", 200, "TrackingEnvelope", key=READ_KEY, date_from=monday,
                     date_to=monday, session=m("Session").MORNING, branch_id=BRANCH)
    record = tracking.data[0]
    assert (tracking.date_from, record.slot_id, record.date, record.status) == (
        datetime.date(2026, 6, 15), f"{DOC_WINDOW}||2026-06-15||", datetime.date(2026, 6, 15),
        m("TrackingRecordStatus").OPEN)
    closed = calls("updateScheduleTracking", 200, "TrackingRecordEnvelope", slot_id=f"{DOC_WINDOW}||2026-06-22||",
                   body=m("TrackingUpdate")(status=m("TrackingUpdateStatus").CLOSED))
    assert (closed.data.date, closed.data.status, closed.data.available_slots) == (
        datetime.date(2026, 6, 22), m("TrackingRecordStatus").CLOSED, 0)
    regenerated = calls("regenerateScheduleTracking", 200, "RegeneratedEnvelope")
    assert isinstance(regenerated.data.windows, int) and regenerated.data.regenerated_at.tzinfo is not None

    for operation_id in sorted(set(spec.operations) - calls.sent):  # added to the spec since this was written
        calls.from_examples(operation_id)
    assert calls.sent == set(spec.operations), f"never called: {sorted(set(spec.operations) - calls.sent)}"


def test_webhook_payloads_parse_into_the_generated_models(calls: Calls, spec: Contract) -> None:
    """The events the sandbox sends (read from its delivery journal; nothing listens at the
    endpoint) parse into the models of the spec's `webhooks`."""
    base = calls.server.url
    endpoint = {"url": f"http://127.0.0.1:{free_port()}/hooks", "secret": "whsec_generated_clients"}
    assert requests.post(f"{base}/_sandbox/webhooks", json=endpoint, timeout=10).status_code == 201
    booking = {"appointment_type": "Vaccination", "appointment_date": "2026-06-15T14:30:00.000Z",
               "patient_name": "Ravi", "parent_phone": "+919800022222", "branch_id": BRANCH}
    assert requests.post(f"{base}/_sandbox/agent/appointments", json=booking, timeout=10).status_code == 201
    window = {"branch_id": BRANCH, "day": "sunday", "session": "Morning", "start_time": "09:00",
              "end_time": "11:00", "max_slots": 4, "ai_slots": 2, "batch_name": "SUN"}
    assert requests.post(f"{base}/_sandbox/dashboard/windows", json=window, timeout=10).status_code == 201
    journal = requests.get(f"{base}/_sandbox/webhooks/deliveries", timeout=10).json()["data"]
    payloads = {delivery["event"]: delivery["payload"] for delivery in journal}
    assert set(payloads) == {"appointment.created", "slot.created"}, journal
    schemas = spec_webhooks(spec)
    event = calls.model(schemas["appointment.created"]).from_dict(payloads["appointment.created"])
    assert event.event is calls.model("AppointmentEventEvent").APPOINTMENT_CREATED
    assert (event.appointment.patient_name, event.appointment.booked_via, event.appointment.start_time) == (
        "Ravi", calls.model("WebhookAppointmentBookedVia").PHONE_CALL,
        datetime.datetime(2026, 6, 15, 14, 30, tzinfo=datetime.UTC))
    slot = calls.model(schemas["slot.created"]).from_dict(payloads["slot.created"])
    assert (slot.slot.batch, slot.slot.day, slot.slot.active) == ("SUN", calls.model("Day").SUNDAY, True)


# -- the TypeScript types -----------------------------------------------------------------------------

@dataclass
class GeneratedTypeScript:
    folder: Path
    types: Path  # api.d.ts
    node: str
    tools: Path  # the folder whose node_modules has openapi-typescript and typescript


def npm_tools() -> tuple[str, Path]:
    """node, and a cache folder with NPM_PACKAGES installed (once; outside the checkout)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing_tool("node and npm are not installed: install nodejs and npm (apt-get install nodejs npm)")
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = hashlib.sha256(" ".join(NPM_PACKAGES).encode()).hexdigest()[:12]
    folder = cache_home / "huskyvoice-sandbox" / f"npm-{tag}"
    if not ((folder / "node_modules" / ".bin" / "openapi-typescript").exists()
            and (folder / "node_modules" / "typescript" / "lib" / "typescript.js").exists()):
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="npm-", dir=folder.parent))
        (staging / "package.json").write_text('{"private": true}\n', encoding="utf-8")
        run = subprocess.run([npm, "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
                              "--prefer-offline", "--loglevel=error", *NPM_PACKAGES],
                             cwd=staging, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
        if run.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            missing_tool(f"npm install {' '.join(NPM_PACKAGES)} failed: {(run.stdout + run.stderr)[-2000:]}")
        try:
            staging.rename(folder)  # at once: a run beside this one sees all of it or nothing
        except OSError:  # another run installed it first
            shutil.rmtree(staging, ignore_errors=True)
    return node, folder


@pytest.fixture(scope="module")
def typescript(tmp_path_factory: pytest.TempPathFactory) -> GeneratedTypeScript:
    node, tools = npm_tools()
    folder = tmp_path_factory.mktemp("typescript")
    run = subprocess.run([node, str(tools / "node_modules" / "openapi-typescript" / "bin" / "cli.js"),
                          str(spec_path()), "--output", str(folder / "api.d.ts")],
                         capture_output=True, text=True, timeout=TOOL_TIMEOUT, cwd=folder)
    assert run.returncode == 0, f"openapi-typescript failed:\n{run.stdout}\n{run.stderr}"
    return GeneratedTypeScript(folder, folder / "api.d.ts", node, tools)


# Every `unknown` and `any` type in a .d.ts, with the names of the declarations around it.
SCAN_UNKNOWN = r"""
const [typescriptModule, file] = process.argv.slice(2);
const ts = require(typescriptModule);
const text = require("fs").readFileSync(file, "utf8");
const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
const found = [];
const visit = (node, path) => {
  if (node.kind === ts.SyntaxKind.UnknownKeyword || node.kind === ts.SyntaxKind.AnyKeyword) {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    found.push({path: path.join("."), line, keyword: ts.tokenToString(node.kind)});
  }
  let next = path;
  const named = ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node) || ts.isPropertySignature(node);
  if (named && node.name) {
    next = [...path, node.name.getText(source).replace(/^"|"$/g, "")];
  } else if (ts.isIndexSignatureDeclaration(node)) {
    next = [...path, "[index]"];
  }
  ts.forEachChild(node, (child) => visit(child, next));
};
visit(source, []);
process.stdout.write(JSON.stringify(found));
"""


def test_typescript_types_have_no_unknown_where_the_api_has_a_shape(typescript: GeneratedTypeScript) -> None:
    """openapi-typescript writes `[name: string]: unknown` for the headers a response may carry
    beyond those the spec names; every other `unknown` (or `any`) would be a shape lost."""
    script = typescript.folder / "scan.js"
    script.write_text(SCAN_UNKNOWN, encoding="utf-8")
    run = subprocess.run([typescript.node, str(script), str(typescript.tools / "node_modules" / "typescript"),
                          str(typescript.types)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found, "the scan found no header index signature at all: it is not reading the file"
    lost = [f"line {item['line']}: {item['keyword']} at {item['path']}" for item in found
            if not item["path"].endswith(".headers.[index]")]
    assert not lost, "untyped in api.d.ts:\n" + "\n".join(lost)


def typescript_checks(contract: Contract) -> str:
    """A TypeScript file that compiles only if each operation's body and responses, and each
    webhook's payload, are the spec's named schemas, none of them unknown, and each refined error
    keeps its codes as literal types."""
    lines = [
        'import type { components, operations, webhooks } from "./api";',
        "type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;",
        "type Known<T> = unknown extends T ? false : true;  // false for unknown and any",
        "type Expect<T extends true> = T;",
        'type Json<R> = R extends { content: { "application/json": infer B } } ? B : never;',
        "type Schema<N extends keyof components[\"schemas\"]> = components[\"schemas\"][N];",
    ]
    for index, op in enumerate(spec_operations(contract)):
        o = f'operations["{op.operation_id}"]'
        if op.body:
            lines.append(f'export type B{index} = Expect<Same<{o}["requestBody"]["content"]["application/json"], '
                         f'Schema<"{op.body}">>>;')
        for status, name in op.responses.items():
            lines.append(f'export type R{index}_{status} = '
                         f'Expect<Same<Json<{o}["responses"][{status}]>, Schema<"{name}">>>;')
    for index, (event, name) in enumerate(spec_webhooks(contract).items()):
        lines.append(f'export type W{index} = Expect<Same<webhooks["{event}"]["post"]["requestBody"]["content"]'
                     f'["application/json"], Schema<"{name}">>>;')
    for index, name in enumerate(n for n, s in contract.spec["components"]["schemas"].items() if "properties" in s):
        lines.append(f'export type K{index} = Expect<Known<Schema<"{name}">>>;')
    for index, (error, codes) in enumerate(error_codes(contract).items()):
        literal = " | ".join(json.dumps(code) for code in codes)
        lines.append(f'export type C{index} = Expect<Same<Schema<"{error}">["code"], {literal}>>;')
    lines += [
        # A body is an object type: a field it does not have is refused at compile time.
        'export const update: Schema<"AppointmentUpdate"> = { assigned_doctor: "Dr. Priya Sharma", notes: null };',
        "// @ts-expect-error: not a field of AppointmentUpdate",
        'export const typo: Schema<"AppointmentUpdate"> = { doctor: "Dr. Priya Sharma" };',
        "// @ts-expect-error: what names a window is not a field of its update",
        'export const fixed: Schema<"CalendarWindowUpdate"> = { ai_slots: 2, day: "sunday" };',
        'export const close: Schema<"TrackingUpdate"> = { status: "CLOSED" };',
        "// @ts-expect-error: an error's code is one of the codes its response documents",
        'export const code: Schema<"UpdateConflictError">["code"] = "NOT_FOUND";',
    ]
    return "\n".join(lines) + "\n"


def test_typescript_types_name_every_body_response_and_error_code(typescript: GeneratedTypeScript,
                                                                   spec: Contract) -> None:
    checks = typescript.folder / "checks.ts"
    checks.write_text(typescript_checks(spec), encoding="utf-8")
    tsc = typescript.tools / "node_modules" / "typescript" / "bin" / "tsc"
    run = subprocess.run([typescript.node, str(tsc), "--noEmit", "--strict", "--target", "es2022",
                          "--module", "esnext", "--moduleResolution", "bundler", "--skipLibCheck",
                          str(checks)], capture_output=True, text=True, timeout=120, cwd=typescript.folder)
    assert run.returncode == 0, f"tsc refused the checks:\n{run.stdout}\n{run.stderr}\n{checks.read_text()}"

