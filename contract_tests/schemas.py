"""Schemathesis schemas of openapi.yaml, configured for a target: seed, case count, the
operations it may be sent, the appointment ids to use, and which undeclared methods may be
probed. Every operation comes from the spec; nothing here lists them."""

from __future__ import annotations

from typing import Any

import schemathesis
from huskyvoice_contract_kit.target import SESSION_HEADER, Target
from huskyvoice_sandbox.resources import spec_path
from huskyvoice_sandbox.spec.contract import Contract
from schemathesis import Config

# Valid requests the API refuses for documented business reasons, beyond Schemathesis' defaults
# (2xx, 401, 403, 404, 409, 429): a time outside every window (422), and, for a create, a
# service, branch or time the organization does not have (400: the spec cannot list a world's
# services).
ACCEPTS_VALID_DATA_WITH = {
    "PATCH": ["2xx", 401, 403, 404, 409, 422, 429],
    "POST": ["2xx", 400, 401, 403, 409, 422, 429],
}
DEFAULT_ACCEPTS = ["2xx", 401, 403, 404, 409, 429]
# The spec marks the operations whose rules refuse some schema-valid requests with a status
# beyond these (a capacity above a window's max_slots: 400), in `x-refuses-valid-data-with`.
RULE_STATUSES = "x-refuses-valid-data-with"


def operations_for(target: Target, contract: Contract) -> list[str]:
    """The operations the target may be sent: all of them, but against a deployment without
    --allow-writes only those whose method cannot write."""
    return [op.operation_id for op in contract.operations.values() if target.may_send(op.method)]


def build_schema(target: Target, seed: int, examples: int, contract: Contract,
                 operations: list[str] | None = None) -> Any:
    """The spec for Schemathesis, restricted to `operations` (default: operations_for)."""
    allowed = operations if operations is not None else operations_for(target, contract)
    per_operation: list[dict[str, Any]] = []
    for op in contract.operations.values():
        if op.operation_id not in allowed:
            # Schemathesis' include() filter does not reach the state machine (as_state_machine
            # builds its rules from every operation of the spec): an operation the target may
            # not be sent is taken out of the stateful phase here, by configuration.
            per_operation.append({"include-operation-id": op.operation_id,
                                  "phases": {"stateful": {"enabled": False}}})
            continue
        entry: dict[str, Any] = {"include-operation-id": op.operation_id}
        if "appointment_id" in op.path_params:
            # A read may go to any lent appointment; a write only to one the user lent.
            entry["parameters"] = {"path.appointment_id":
                                   target.readable_id if op.method == "GET" else target.writable_id}
        rule_statuses = contract.spec["paths"][op.path][op.method.lower()].get(RULE_STATUSES, [])
        if op.method in ACCEPTS_VALID_DATA_WITH or rule_statuses:
            accepted = ACCEPTS_VALID_DATA_WITH.get(op.method, DEFAULT_ACCEPTS)
            entry["checks"] = {"positive_data_acceptance": {
                "expected-statuses": accepted + [s for s in rule_statuses if s not in accepted]}}
        if len(entry) > 1:
            per_operation.append(entry)
    config = Config.from_dict({
        "seed": seed,
        # Failures print curl commands as they are (the kit's conftest puts $HUSKYVOICE_API_KEY
        # in place of the key): sanitizing would also hide fields such as `session`.
        "output": {"sanitization": {"enabled": False}},
        # The key as the spec's own security scheme: Schemathesis then knows the credentials are
        # given, not generated (explicit headers on a call are re-added to the negative cases
        # that leave Authorization out on purpose).
        "auth": {"openapi": {"bearerAuth": {"bearer": target.api_key}}},
        # A served sandbox is checked in a session of its own (Target.open_session).
        **({"headers": {SESSION_HEADER: target.session}} if target.session else {}),
        "generation": {"max-examples": examples, "database": "none", "deterministic": True},
        # The same cases for the same seed and target: Schemathesis would otherwise draw values
        # from the string literals of an in-process app's Python source, so that any edit to the
        # sandbox's code (a log message) changed the cases the kit sends it.
        "analysis": {"constants": {"enabled": False}},
        "phases": {"coverage": {"unexpected-methods": probe_methods(target)}},
        "operations": per_operation,
    })
    schema = schemathesis.openapi.from_path(str(spec_path()), config=config)
    if target.app is not None:
        schema.app = target.app
        schema.config.update(base_url="http://localhost")
    else:
        schema.config.update(base_url=target.base_url)
    return schema.include(func=lambda ctx: ctx.operation.definition.raw.get("operationId") in allowed) \
        if set(allowed) != set(contract.operations) else schema


def probe_methods(target: Target) -> list[str]:
    """Undeclared methods sent to each path. Against a deployment: without --allow-writes only
    OPTIONS (a method that cannot write); with it, the writing ones go to an id that cannot
    exist (Target.confine). TRACE only to a sandbox: the proxies in front of deployments
    (nginx among them) refuse it themselves, which says nothing about the API."""
    if target.is_sandbox:
        return ["DELETE", "PUT", "POST", "OPTIONS", "TRACE"]
    if target.writes_ok:  # to an id that cannot exist; to a path without an id, none is sent
        return ["DELETE", "PUT", "OPTIONS"]
    return ["OPTIONS"]
