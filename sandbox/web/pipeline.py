"""The pipelines: the ordered steps (sandbox/web/steps.py) every request to an operation goes
through before and around its view, declared once here.

    API:     session -> forced -> key -> scope -> rate -> query -> body -> view (located)
    ACTION:  session -> organization -> body -> view (located)

`API` serves each operation of `openapi.yaml` under `/v1` (sandbox/web/api.py routes to it):
the checks in the documented order, a forced response first (401, 403, 429, then 400 with every
problem located). `ACTION` serves the control API's voice-agent and dashboard actions, which run
an API operation's use case in the name of an organization: the same body checks and the same
locating of the rules' errors, without a key.

Routes come from the spec: `register` adds one per operation to the app's URL map, named by its
operationId, and fails, naming them, if an operation has no view or a view no operation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask, Response, request
from werkzeug.routing import BaseConverter

from ..spec.contract import Contract, Operation
from . import steps
from .call import Answer, Call, SpecMismatch, View, views
from .http import header_list, json_response, runtime
from .steps import Step

API: tuple[Step, ...] = (steps.session, steps.forced, steps.key, steps.scope, steps.rate, steps.query,
                         steps.body)
ACTION: tuple[Step, ...] = (steps.session, steps.organization, steps.body)

BLUEPRINT = "api"  # the routes' endpoints are "api.<operationId>"
IGNORED_HEADER = "X-Sandbox-Ignored-Fields"

Handler = Callable[[Call], Answer]


def chain(pipeline: Sequence[Step], view: View) -> Handler:
    """The steps in order, until one answers; then the view, its rules' errors located."""
    def handle(call: Call) -> Answer:
        for step in pipeline:
            answer = step(call)
            if answer is not None:
                return answer
        return steps.locate(call, view)

    return handle


def register(app: Flask, contract: Contract) -> dict[str, tuple[Operation, Handler]]:
    """A route in `app.url_map` for every operation of `contract` (endpoint "api.<operationId>"),
    and each endpoint's operation and handler: its view behind the API pipeline. The slices
    register the views when imported: the caller imports them."""
    known = views()
    missing = sorted(set(contract.operations) - set(known))
    extra = sorted(set(known) - set(contract.operations))
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
        routes[endpoint] = (op, chain(API, known[op.operation_id]))
    return routes


def action(operation_id: str) -> Callable[[View], Callable[..., Response]]:
    """A control API route (a Flask view) that runs `operation_id`'s body checks and then the
    decorated view, through the ACTION pipeline."""
    def wrap(function: View) -> Callable[..., Response]:
        handler = chain(ACTION, function)

        @functools.wraps(function)
        def route(**path: str) -> Response:
            rt = runtime()
            call = Call(request, rt, rt.contract.operations[operation_id], path)
            return response(call, handler(call))

        return route

    return wrap


def response(call: Call, answer: Answer) -> Response:
    """An answer as a Flask response (the control API's actions)."""
    headers = dict(answer.headers or {})
    if call.ignored_fields:
        headers[IGNORED_HEADER] = header_list(call.ignored_fields)
    return json_response(answer.payload, answer.status, headers)


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
