"""The steps a request to an operation goes through, each written once. A step checks or learns
one thing about the `Call` and returns None to go on, or an answer (a forced response) to stop
there, or raises (an ApiError). sandbox/web/pipeline.py puts them in order; the documented order
of the checks is that order. `locate` runs the view itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain.errors import (
    Detail,
    InsufficientScope,
    InvalidField,
    RateLimitExceeded,
    Unauthorized,
    ValidationError,
)
from ..domain.model import Organization
from ..domain.store import Store
from ..session import forcing
from ..session.sessions import SESSION_ENVIRON
from ..spec.contract import Operation
from .call import Answer, Call, View

Step = Callable[[Call], Answer | None]


def _op(call: Call) -> Operation:
    assert call.operation is not None, "routing names the operation first"
    return call.operation


def session(call: Call) -> Answer | None:
    """The session the request names in X-Sandbox-Session (the default one without it); a bad
    name is a 400, and the first problem a request can have."""
    call.session = call.runtime.sessions.named_by(call.req.environ.get(SESSION_ENVIRON))
    return None


def forced(call: Call) -> Answer | None:
    """Answer as forced (the request's X-Sandbox-Force header, else the session's first
    matching rule), or wait as forced and go on."""
    op, state, environ = _op(call), call.state, call.req.environ
    header = environ.get(forcing.FORCE_ENVIRON)  # a plain dict read: every request asks
    if header is not None:  # a control feature: no remote client may stall the server with it
        refusal = call.runtime.control.refusal(f"The {forcing.FORCE_HEADER} header", environ)
        if refusal is not None:  # a 400 like any bad sandbox header: the API documents no other
            raise ValidationError(refusal, [Detail(f"header.{forcing.FORCE_HEADER}", "is a control feature")])
        rule, via = forcing.from_header(header, op.operation_id, call.runtime.contract), "header"
        cut_short = state.forced.wakeup()
    else:
        taken = state.forced.take(op.operation_id, call.path.get("appointment_id"))
        if taken is None:
            return None
        (rule, cut_short), via = taken, "control"
    call.forced = rule.mark(via, op.operation_id)
    if rule.delay_ms:
        cut_short.wait(rule.delay_ms / 1000)  # a reset or a clear since the rule was taken ends it
    if rule.drop:
        environ[forcing.DROP_KEY] = True  # the WSGI layer closes the connection
        return Answer(204, None)
    answer = rule.answers.get(op.operation_id)
    if answer is None:  # a delay alone
        return None
    return Answer(answer.status, answer.body, answer.headers)


def key(call: Call) -> Answer | None:
    """The API key (401): whose it is, and so the organization."""
    credential = call.store.authenticate(_bearer_key(call.req.environ.get("HTTP_AUTHORIZATION")))
    if credential is None:
        raise Unauthorized("Invalid API key.")
    call.credential, call.organization = credential, credential.organization
    return None


def scope(call: Call) -> Answer | None:
    """The scopes the operation's `security` asks for (403)."""
    op = _op(call)
    assert call.credential is not None
    if not op.allows(call.credential.api_key.scopes):
        raise InsufficientScope(f"This API key lacks the {op.scopes_wanted()} scope.")
    return None


def rate(call: Call) -> Answer | None:
    """The organization's rate limit, per key (429)."""
    assert call.credential is not None
    org, state = call.org, call.state
    wait = state.limiter.hit(call.credential.digest, org.rate_limit_per_minute, state.clock.elapsed_now())
    if wait is not None:
        raise RateLimitExceeded(
            f"Rate limit of {org.rate_limit_per_minute} requests per minute exceeded. "
            f"Retry after {wait} seconds.", retry_after=wait)
    return None


def query(call: Call) -> Answer | None:
    """The operation's query parameters, typed and defaulted; 400 with every problem located."""
    op = _op(call)
    if op.query:
        values, problems = call.runtime.contract.query_problems(op.operation_id, call.req.args.to_dict(flat=False))
        if problems:
            raise ValidationError("The query parameters are invalid.", problems)
        call.query = values
    return None


def body(call: Call) -> Answer | None:
    """The body, valid against the operation's schema; fields it does not declare are left out
    and named (the X-Sandbox-Ignored-Fields header)."""
    op = _op(call)
    if op.body_pointer:
        document = call.document()
        contract = call.runtime.contract
        known = contract.body_fields(op.operation_id)
        problems = contract.body_problems(op.operation_id, document)
        if problems and not any(name in known for name in document):
            # Name what was sent instead, so a typo ("doctor") is easy to spot.
            what = "an updatable field" if op.method == "PATCH" else "a field of this request"
            problems += [Detail(f"body.{name}"[:100], f"is not {what}") for name in list(document)[:10]]
        if problems:
            raise ValidationError("The request body is invalid.", problems)
        call.ignored_fields = [name for name in document if name not in known]
        call.body = {name: document[name] for name in known if name in document}
    return None


def organization(call: Call) -> Answer | None:
    """The organization a control action names in its body's `organization` (default: the
    world's first), taken out of the body before the operation's checks see it."""
    call.organization = named_organization(call.store, call.document().pop("organization", None))
    return None


def named_organization(store: Store, named: Any) -> Organization:
    """The organization a control request names in `organization` (the world's first if none)."""
    if named is None:
        return next(iter(store.organizations.values()))
    found = store.organizations.get(named) if isinstance(named, str) else None
    if found is None:
        raise ValidationError("No such organization.",
                              [Detail("body.organization", f"no organization {str(named)[:64]!r} in the world")])
    return found


def locate(call: Call, view: View) -> Answer:
    """The view, whose rules name a field they refuse; the spec says where it was sent."""
    try:
        return view(call)
    except InvalidField as exc:
        raise exc.located(where(_op(call), exc.field)) from None


def where(op: Operation, name: str) -> str:
    """Where a request field was sent: the path, the query, or the body."""
    if f"{{{name}}}" in op.path:
        return "path"
    return "query" if any(p.name == name for p in op.query) else "body"


def _bearer_key(header: str | None) -> str:
    if not header:
        raise Unauthorized('Missing API key. Send "Authorization: Bearer <key>".')
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or len(token.split()) != 1:  # empty, or whitespace inside
        raise Unauthorized('Malformed Authorization header. Send "Authorization: Bearer <key>".')
    return token

