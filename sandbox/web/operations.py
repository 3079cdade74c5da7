"""The `/v1` API, registered from the spec: one route per operation of `openapi.yaml`, named by
its operationId, each running the same checks before its view, in the documented order:

    a forced response, if one is due -> the key (401) -> the scope, from the operation's
    `security` (403) -> the rate limit (429) -> query parameters and body, validated with the
    spec's schemas (400) -> the view, which calls one use case of the domain.

A view is a function of a `Call` registered with `@view("operationId")` (sandbox/web/views.py)
that returns an `Answer`. Registration fails, naming them, if an operation of the spec has no
view or a view no operation, so adding an endpoint is: the spec, one view, one use case.
Forcing, the journal, the access log, the contract kit and /docs read the operations from the
spec; nothing here lists them. sandbox/web/api.py serves these routes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask
from werkzeug.exceptions import ClientDisconnected
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Request

from ..domain.errors import (
    Detail,
    InsufficientScope,
    InvalidField,
    RateLimitExceeded,
    Unauthorized,
    ValidationError,
)
from ..domain.model import Organization
from ..domain.store import Credential, Store
from ..session import forcing
from ..session.sessions import SESSION_HEADER, Sessions, check_name
from ..session.state import SandboxState
from ..spec.contract import Contract, Operation
from .access import ControlAccess
from .http import read_json_object

BLUEPRINT = "api"  # the routes' endpoints are "api.<operationId>"
IGNORED_HEADER = "X-Sandbox-Ignored-Fields"
SESSION_ENVIRON = "HTTP_X_SANDBOX_SESSION"  # the header, as WSGI names it


class ApiRequest(Request):
    """One `/v1` request: Werkzeug's parsing, plus what the checks learn on the way (for the
    view, the journal and the access log)."""

    operation: Operation | None = None
    path_args: dict[str, str] = {}  # noqa: RUF012 - replaced, never mutated
    state: SandboxState | None = None
    credential: Credential | None = None
    forced: dict[str, Any] | None = None  # how the answer was forced, if it was
    ignored_fields: list[str] | None = None  # body fields left out: named in IGNORED_HEADER

    def prefetch_body(self) -> None:
        """Read a body of declared, allowed length in one read, for get_data() to return: what
        Werkzeug's stream gives, without its wrapping (a twentieth of a reschedule's cost).
        Other bodies (no length, chunked, over the limit) are left to the stream."""
        if getattr(self, "_cached_data", None) is None:
            whole = self._whole_body()
            if whole is not None:
                self._cached_data = whole

    def _whole_body(self) -> bytes | None:
        length = self.content_length  # None when absent, invalid or chunked
        limit = self.max_content_length
        if length is None or self.environ.get("wsgi.input_terminated") or (limit is not None and length > limit):
            return None
        data: bytes = self.environ["wsgi.input"].read(length)
        if len(data) != length:  # the client went away mid-body: as Werkzeug's stream tells it
            raise ClientDisconnected()
        return data


@dataclass(slots=True)
class Answer:
    """What a view (or a forced response) answers: a status, a JSON payload (None: no body)
    and headers."""

    status: int
    payload: Any
    headers: dict[str, str] | None = None


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


View = Callable[[Call], Answer]
Runner = Callable[[ApiRequest, Contract], Answer]
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


def register(app: Flask, contract: Contract) -> dict[str, tuple[Operation, View]]:
    """A route in `app.url_map` for every operation of `contract` (endpoint "api.<operationId>"),
    and each endpoint's operation and view (views.py registers them: the caller imports it)."""
    missing = sorted(set(contract.operations) - set(_VIEWS))
    extra = sorted(set(_VIEWS) - set(contract.operations))
    if missing or extra:
        raise SpecMismatch("the views and openapi.yaml disagree: "
                           + "; ".join([f"no view for the spec's {', '.join(missing)}"] * bool(missing)
                                       + [f"no operation in the spec for the view {', '.join(extra)}"] * bool(extra)))
    routes = {}
    app.url_map.converters["besides"] = Besides
    paths = [op.path for op in contract.operations.values()]
    for op in contract.operations.values():
        endpoint = f"{BLUEPRINT}.{op.operation_id}"
        app.add_url_rule(flask_rule(op.path, paths), endpoint=endpoint, methods=[op.method],
                         provide_automatic_options=False)
        routes[endpoint] = (op, _VIEWS[op.operation_id])
    return routes


def flask_rule(path: str, paths: list[str] = []) -> str:  # noqa: B006 - read only
    """`/v1/appointments/{appointment_id}` as Flask writes it: `/v1/appointments/<appointment_id>`.

    A path parameter never takes the value of a literal segment another path of the spec has at
    that place (`/v1/appointment-slots/{slot_id}` is not `/v1/appointment-slots/availability`):
    the literal path is the one meant, so a method it does not have is a 405 naming its own."""
    parts = path.split("/")
    for index, part in enumerate(parts):
        if part.startswith("{"):
            taken = sorted({other.split("/")[index] for other in paths if len(other.split("/")) == len(parts)
                            and other.split("/")[:index] == parts[:index]
                            and not other.split("/")[index].startswith("{")})
            name = part[1:-1]
            parts[index] = f"<besides({', '.join(repr(t) for t in taken)}):{name}>" if taken else f"<{name}>"
    return "/".join(parts)


class Besides(BaseConverter):
    """A path segment other than the given literals."""

    def __init__(self, url_map: Any, *literals: str) -> None:
        super().__init__(url_map)
        self.regex = "".join(f"(?!{re.escape(literal)}$)" for literal in literals) + "[^/]+"


# -- the checks, in order -----------------------------------------------------------------------

def handle(req: ApiRequest, view_function: View, contract: Contract, sessions: Sessions,
           control: ControlAccess) -> Answer:
    """Every check of the operation, then its view."""
    op = req.operation
    assert op is not None
    state = req.state = _session(req, sessions)  # first: a bad session name is the first problem
    forced = forced_answer(req, state, contract, control)
    if forced is not None:
        return forced
    store = state.store
    credential = req.credential = authorize(req, op, store, state)
    call = Call(op, state, store, credential, state.clock.now(), req.path_args,
                read_query(req, op, contract), read_body(req, op, contract) if op.body_pointer else {})
    try:
        return view_function(call)
    except InvalidField as exc:  # the rules name a field; the spec says where it was sent
        raise exc.located(_where(op, exc.field)) from None


def _where(op: Operation, name: str) -> str:
    """Where a request field was sent: the path, the query, or the body."""
    if f"{{{name}}}" in op.path:
        return "path"
    return "query" if any(p.name == name for p in op.query) else "body"


def _session(req: ApiRequest, sessions: Sessions) -> SandboxState:
    """The session the request names in X-Sandbox-Session; the default one without it."""
    name = req.environ.get(SESSION_ENVIRON)
    if name is None:
        return sessions.default
    req.state = sessions.default  # where a refused name's request is journaled
    return sessions.get(check_name(name, f"header.{SESSION_HEADER}"))


def forced_answer(req: ApiRequest, state: SandboxState, contract: Contract,
                  control: ControlAccess) -> Answer | None:
    """Answer as forced (the request's X-Sandbox-Force header, else the session's first
    matching rule), or wait as forced and go on; None to handle the request as usual."""
    op = req.operation
    assert op is not None
    operation = op.operation_id
    header = req.environ.get(forcing.FORCE_ENVIRON)  # a plain dict read: every request asks
    if header is not None:  # a control feature: no remote client may stall the server with it
        refusal = control.refusal(f"The {forcing.FORCE_HEADER} header", req.environ)
        if refusal is not None:  # a 400 like any bad sandbox header: the API documents no other
            raise ValidationError(refusal, [Detail(f"header.{forcing.FORCE_HEADER}", "is a control feature")])
        rule, via = forcing.from_header(header, operation, contract), "header"
        cut_short = state.forced.wakeup()
    else:
        taken = state.forced.take(operation, req.path_args.get("appointment_id"))
        if taken is None:
            return None
        (rule, cut_short), via = taken, "control"
    req.forced = rule.mark(via, operation)
    if rule.delay_ms:
        cut_short.wait(rule.delay_ms / 1000)  # a reset or a clear since the rule was taken ends it
    if rule.drop:
        req.environ[forcing.DROP_KEY] = True  # the WSGI layer closes the connection
        return Answer(204, None)
    answer = rule.answers.get(operation)
    if answer is None:  # a delay alone
        return None
    return Answer(answer.status, answer.body, answer.headers)


def authorize(req: ApiRequest, op: Operation, store: Store, state: SandboxState) -> Credential:
    """401, then 403, then 429, in that order."""
    credential = store.authenticate(_bearer_key(req.environ.get("HTTP_AUTHORIZATION")))
    if credential is None:
        raise Unauthorized("Invalid API key.")
    req.credential = credential
    if not op.allows(credential.api_key.scopes):
        raise InsufficientScope(f"This API key lacks the {op.scopes_wanted()} scope.")
    org = credential.organization
    wait = state.limiter.hit(credential.digest, org.rate_limit_per_minute, state.clock.elapsed_now())
    if wait is not None:
        raise RateLimitExceeded(
            f"Rate limit of {org.rate_limit_per_minute} requests per minute exceeded. "
            f"Retry after {wait} seconds.", retry_after=wait)
    return credential


def read_query(req: ApiRequest, op: Operation, contract: Contract) -> dict[str, Any]:
    """The operation's query parameters, typed and defaulted; 400 with every problem located."""
    if not op.query:
        return {}
    values, problems = contract.query_problems(op.operation_id, req.args.to_dict(flat=False))
    if problems:
        raise ValidationError("The query parameters are invalid.", problems)
    return values


def read_body(req: ApiRequest, op: Operation, contract: Contract) -> dict[str, Any]:
    """The body, valid against the operation's schema; unknown fields are left out and named
    for the response header."""
    req.prefetch_body()
    body = read_json_object(req)
    known = contract.body_fields(op.operation_id)
    problems = contract.body_problems(op.operation_id, body)
    if problems and not any(name in known for name in body):
        # Name what was sent instead, so a typo ("doctor") is easy to spot.
        what = "an updatable field" if op.method == "PATCH" else "a field of this request"
        problems += [Detail(f"body.{name}"[:100], f"is not {what}") for name in list(body)[:10]]
    if problems:
        raise ValidationError("The request body is invalid.", problems)
    req.ignored_fields = [name for name in body if name not in known]
    return {name: body[name] for name in known if name in body}


def _bearer_key(header: str | None) -> str:
    if not header:
        raise Unauthorized('Missing API key. Send "Authorization: Bearer <key>".')
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or len(key.split()) != 1:  # empty, or whitespace inside
        raise Unauthorized('Malformed Authorization header. Send "Authorization: Bearer <key>".')
    return key
