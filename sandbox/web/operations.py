"""The `/v1` API, registered from the spec: one route per operation of `openapi.yaml`, named by
its operationId, each running the same checks before its view, in the documented order:

    a forced response, if one is due -> the key (401) -> the scope, from the operation's
    `security` (403) -> the rate limit (429) -> query parameters and body, validated with the
    spec's schemas (400) -> the view, which calls one use case of the domain.

A view is a function of a `Call` registered with `@view("operationId")` (sandbox/web/views.py).
Registration fails, naming them, if an operation of the spec has no view or a view no operation,
so adding an endpoint is: the spec, one view, one use case. Forcing, the journal, the access
log, the contract kit and /docs read the operations from the spec; nothing here lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from ..domain.errors import (
    Detail,
    InsufficientScope,
    InvalidField,
    MethodNotAllowed,
    RateLimitExceeded,
    Unauthorized,
    ValidationError,
)
from ..domain.model import Organization
from ..domain.store import Credential, Store
from ..session import forcing
from ..session.state import SandboxState
from ..spec.contract import Contract, Operation
from .http import (
    control_refusal,
    header_list,
    json_response,
    read_json_object,
    runtime,
    session_state,
)

BLUEPRINT = "api"
IGNORED_HEADER = "X-Sandbox-Ignored-Fields"


@dataclass
class Call:
    """One API request that passed every check, as a view sees it."""

    operation: Operation
    state: SandboxState
    store: Store  # read once: a world swap mid-request must not mix worlds
    credential: Credential
    now: datetime
    path: dict[str, str]
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def org(self) -> Organization:
        return self.credential.organization


View = Callable[[Call], Response]
_VIEWS: dict[str, View] = {}


class SpecMismatch(RuntimeError):
    """The views and the spec's operations do not match one to one."""


def view(operation_id: str) -> Callable[[View], View]:
    """Register the view of one operation of the spec."""
    def register(function: View) -> View:
        if operation_id in _VIEWS:
            raise SpecMismatch(f"two views for {operation_id}")
        _VIEWS[operation_id] = function
        return function

    return register


def blueprint(contract: Contract) -> Blueprint:
    """The `/v1` blueprint: a route for every operation of `contract`, each with its view."""
    from . import views  # noqa: F401 - registers the views

    missing = sorted(set(contract.operations) - set(_VIEWS))
    extra = sorted(set(_VIEWS) - set(contract.operations))
    if missing or extra:
        raise SpecMismatch("the views and openapi.yaml disagree: "
                           + "; ".join([f"no view for the spec's {', '.join(missing)}"] * bool(missing)
                                       + [f"no operation in the spec for the view {', '.join(extra)}"] * bool(extra)))
    bp = Blueprint(BLUEPRINT, __name__)
    bp.before_request(refuse_head)
    bp.before_request(forced_response)
    bp.after_request(name_ignored_fields)
    for op in contract.operations.values():
        bp.add_url_rule(flask_rule(op.path), endpoint=op.operation_id, methods=[op.method],
                        view_func=_runner(op, _VIEWS[op.operation_id]))
    return bp


def flask_rule(path: str) -> str:
    """`/v1/appointments/{appointment_id}` as Flask writes it: `/v1/appointments/<appointment_id>`."""
    return path.replace("{", "<").replace("}", ">")


def current_operation() -> str | None:
    """The operationId of the request's route; None off the API."""
    endpoint = request.endpoint or ""
    prefix, _, name = endpoint.partition(".")
    return name if prefix == BLUEPRINT else None


# -- before the view --------------------------------------------------------------------------------

def refuse_head() -> None:
    """HEAD is not an operation of the spec: 405, like any method the spec does not list for
    the path (Werkzeug would otherwise serve it as a GET without a body)."""
    if request.method == "HEAD":
        adapter = current_app.create_url_adapter(request)
        allowed = sorted(set(adapter.allowed_methods() if adapter else ()) - {"HEAD", "OPTIONS"})
        raise MethodNotAllowed(f"HEAD is not allowed here; use {', '.join(allowed)}.",
                               headers={"Allow": ", ".join(allowed)})


def forced_response() -> Response | None:
    """Answer as forced (the request's X-Sandbox-Force header, else the session's first
    matching rule), or wait as forced and go on; None to handle the request as usual."""
    operation = current_operation()
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
        taken = state.forced.take(operation, appointment_id)
        if taken is None:
            return None
        rule, via = taken, "control"
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


def _runner(op: Operation, function: View) -> Callable[..., Response]:
    def run(**path: str) -> Response:
        state = session_state()
        store = state.store
        credential = authorize(op, store, state)
        call = Call(op, state, store, credential, state.clock.now(), path,
                    read_query(op), read_body(op) if op.body_pointer else {})
        try:
            return function(call)
        except InvalidField as exc:  # the rules name a field; the spec says where it was sent
            raise exc.located("query" if any(p.name == exc.field for p in op.query) else "body") from None

    run.__name__ = op.operation_id
    return run


def authorize(op: Operation, store: Store, state: SandboxState) -> Credential:
    """401, then 403, then 429, in that order."""
    key = _bearer_key(request.headers.get("Authorization"))
    credential = store.authenticate(key)
    if credential is None:
        raise Unauthorized("Invalid API key.")
    g.credential = credential
    if not op.allows(credential.api_key.scopes):
        raise InsufficientScope(f"This API key lacks the {op.scopes_wanted()} scope.")
    org = credential.organization
    wait = state.limiter.hit(credential.digest, org.rate_limit_per_minute, state.clock.elapsed_now())
    if wait is not None:
        raise RateLimitExceeded(
            f"Rate limit of {org.rate_limit_per_minute} requests per minute exceeded. "
            f"Retry after {wait} seconds.", retry_after=wait)
    return credential


def read_query(op: Operation) -> dict[str, Any]:
    """The operation's query parameters, typed and defaulted; 400 with every problem located."""
    if not op.query:
        return {}
    values, problems = runtime().contract.query_problems(op.operation_id, request.args.to_dict(flat=False))
    if problems:
        raise ValidationError("The query parameters are invalid.", problems)
    return values


def read_body(op: Operation) -> dict[str, Any]:
    """The body, valid against the operation's schema; unknown fields are left out and named
    for the response header."""
    contract = runtime().contract
    body = read_json_object()
    known = contract.body_fields(op.operation_id)
    problems = contract.body_problems(op.operation_id, body)
    if problems and not any(name in known for name in body):
        # Name what was sent instead, so a typo ("doctor") is easy to spot.
        what = "an updatable field" if op.method == "PATCH" else "a field of this request"
        problems += [Detail(f"body.{name}"[:100], f"is not {what}") for name in list(body)[:10]]
    if problems:
        raise ValidationError("The request body is invalid.", problems)
    g.ignored_fields = [name for name in body if name not in known]
    return {name: body[name] for name in known if name in body}


def name_ignored_fields(response: Response) -> Response:
    """Unknown and read-only fields are named on every answer that got past validation."""
    ignored = g.get("ignored_fields")
    if ignored:
        response.headers[IGNORED_HEADER] = header_list(ignored)
    return response


def _bearer_key(header: str | None) -> str:
    if not header:
        raise Unauthorized('Missing API key. Send "Authorization: Bearer <key>".')
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or len(key.split()) != 1:  # empty, or whitespace inside
        raise Unauthorized('Malformed Authorization header. Send "Authorization: Bearer <key>".')
    return key
