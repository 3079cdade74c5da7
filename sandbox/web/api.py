"""The `/v1` blueprint: the documented endpoints.

Each request goes: a forced response, if one is due -> authenticate (401) -> scope (403) ->
rate limit (429) -> validate the body against openapi.yaml (400) -> find the appointment (404)
-> booking rules (422/409) -> render.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, request

from ..domain import booking
from ..domain.booking import Patch
from ..domain.clock import format_timestamp, parse_utc
from ..domain.errors import (
    Detail,
    InsufficientScope,
    MethodNotAllowed,
    NotFound,
    RateLimitExceeded,
    Unauthorized,
    ValidationError,
)
from ..domain.model import PUBLIC_FIELDS, Appointment
from ..domain.store import Credential, Store
from ..session import forcing
from .http import (
    control_refusal,
    header_list,
    json_response,
    read_json_object,
    runtime,
    session_state,
)

bp = Blueprint("api", __name__, url_prefix="/v1")

GET_OPERATION = "getAppointment"
PATCH_OPERATION = "updateAppointment"
OPERATIONS = {"api.get_appointment": GET_OPERATION, "api.update_appointment": PATCH_OPERATION}
IGNORED_HEADER = "X-Sandbox-Ignored-Fields"


@bp.before_request
def refuse_head() -> None:
    """HEAD is not an operation of the spec: 405, like any method the spec does not list for
    the path (Werkzeug would otherwise serve it as a GET without a body)."""
    if request.method == "HEAD":
        adapter = current_app.create_url_adapter(request)
        allowed = sorted(set(adapter.allowed_methods() if adapter else ()) - {"HEAD", "OPTIONS"})
        raise MethodNotAllowed(f"HEAD is not allowed here; use {', '.join(allowed)}.",
                               headers={"Allow": ", ".join(allowed)})


@bp.before_request
def forced_response() -> Response | None:
    """Answer as forced (the request's X-Sandbox-Force header, else the session's first
    matching rule), or wait as forced and go on; None to handle the request as usual."""
    operation = OPERATIONS.get(request.endpoint or "")
    if operation is None:
        return None
    appointment_id = (request.view_args or {}).get("appointment_id")
    state = session_state()  # first: a bad session name is the first problem to report
    header = request.environ.get(forcing.FORCE_ENVIRON)  # a plain dict read: every request asks
    if header is not None:  # a control feature: no remote client may stall the server with it
        refusal = control_refusal(f"The {forcing.FORCE_HEADER} header")
        if refusal is not None:  # a 400 like any bad sandbox header: the API documents no other
            raise ValidationError(refusal, [Detail(f"header.{forcing.FORCE_HEADER}", "is a control feature")])
        rule, via = forcing.from_header(header, operation, runtime().contract), "header"
    else:
        rule, via = state.forced.take(operation, appointment_id), "control"
        if rule is None:
            return None
    g.forced = rule.mark(via, operation)
    if rule.delay_ms:
        state.forced.wait(rule.delay_ms / 1000)  # cut short by a reset or a clear
    if rule.drop:
        request.environ[forcing.DROP_KEY] = True  # the WSGI layer closes the connection
        return Response(status=204)
    answer = rule.answers.get(operation)
    if answer is None:  # a delay alone
        return None
    if answer.body is None:  # a response the spec documents without a body
        return Response(status=answer.status, headers=answer.headers)
    return json_response(answer.body, answer.status, answer.headers)


@bp.get("/appointments/<appointment_id>")
def get_appointment(appointment_id: str) -> Response:
    store = session_state().store  # read once: a world swap mid-request must not mix worlds
    credential = authorize(GET_OPERATION, store)
    found = store.get(credential.organization.id, appointment_id)
    if found is None:
        raise _not_found(appointment_id)
    return render(found)


@bp.patch("/appointments/<appointment_id>")
def update_appointment(appointment_id: str) -> Response:
    state = session_state()
    store = state.store  # read once: the checks and the write must see one world
    credential = authorize(PATCH_OPERATION, store)
    patch = read_patch()
    org = credential.organization
    with store.lock:
        current = store.get(org.id, appointment_id)
        if current is None:
            raise _not_found(appointment_id)
        updated = booking.apply_patch(org, store, current, patch, state.clock.now())
        store.put(updated)
    return render(updated)


@bp.after_request
def name_ignored_fields(response: Response) -> Response:
    """Unknown and read-only fields are named on every answer that got past validation."""
    ignored = g.get("ignored_fields")
    if ignored:
        response.headers[IGNORED_HEADER] = header_list(ignored)
    return response


def authorize(operation_id: str, store: Store) -> Credential:
    """401, then 403, then 429, in that order."""
    rt = runtime()
    key = _bearer_key(request.headers.get("Authorization"))
    credential = store.authenticate(key)
    if credential is None:
        raise Unauthorized("Invalid API key.")
    g.credential = credential
    required = rt.contract.operations[operation_id].required_scopes
    missing = [scope for scope in required if scope not in credential.api_key.scopes]
    if missing:
        raise InsufficientScope(f"This API key lacks the {', '.join(missing)} scope.")
    org = credential.organization
    state = session_state()
    wait = state.limiter.hit(credential.digest, org.rate_limit_per_minute, state.clock.now())
    if wait is not None:
        raise RateLimitExceeded(
            f"Rate limit of {org.rate_limit_per_minute} requests per minute exceeded. "
            f"Retry after {wait} seconds.", retry_after=wait)
    return credential


def read_patch() -> Patch:
    """The validated patch; the names of ignored fields are kept for the response header."""
    contract = runtime().contract
    body = read_json_object()
    updatable = contract.body_fields(PATCH_OPERATION)
    problems = contract.body_problems(PATCH_OPERATION, body)
    if problems and not any(name in updatable for name in body):
        # Name what was sent instead, so a typo ("doctor") is easy to spot.
        problems += [Detail(f"body.{name}"[:100], "is not an updatable field")
                     for name in list(body)[:10]]
    if problems:
        raise ValidationError("The request body is invalid.", problems)
    fields: dict[str, Any] = {name: body[name] for name in updatable if name in body}
    if "appointment_date" in fields:
        try:
            fields["appointment_date"] = parse_utc(fields["appointment_date"])
        except ValueError as exc:
            raise ValidationError("The request body is invalid.",
                                  [Detail("body.appointment_date", str(exc))]) from None
    g.ignored_fields = [name for name in body if name not in updatable]
    return Patch(**fields)


def render(appointment: Appointment) -> Response:
    return json_response({"success": True, "data": public_view(appointment)})


def public_view(appointment: Appointment) -> dict[str, Any]:
    """The documented appointment object: exactly its 14 fields, in order."""
    view: dict[str, Any] = {}
    for name in PUBLIC_FIELDS:
        value = getattr(appointment, name)
        if name == "date":
            value = value.isoformat()
        elif name in ("created_at", "updated_at"):
            value = format_timestamp(value)
        view[name] = value
    return view


def _bearer_key(header: str | None) -> str:
    if not header:
        raise Unauthorized('Missing API key. Send "Authorization: Bearer <key>".')
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or len(key.split()) != 1:  # empty, or whitespace inside
        raise Unauthorized('Malformed Authorization header. Send "Authorization: Bearer <key>".')
    return key


def _not_found(appointment_id: str) -> NotFound:
    shown = appointment_id if len(appointment_id) <= 64 else appointment_id[:64] + "…"
    return NotFound(f"Appointment {shown} not found.")
