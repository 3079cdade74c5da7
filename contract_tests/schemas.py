"""Schemathesis schemas of openapi.yaml, configured for a target: seed, case count, the
appointment id to use, and which undeclared methods may be probed."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import Config

from contract_tests.target import Target
from sandbox.resources import spec_path

# Valid requests the API may refuse for documented business reasons (a window that does not
# exist at that time is 422, a full or closed one 409), besides the generic ones.
PATCH_ACCEPTS_VALID_DATA_WITH = ["2xx", 401, 403, 404, 409, 422, 429]


def build_schema(target: Target, seed: int, examples: int, operation_id: str | None,
            appointment_id: str) -> Any:
    config = Config.from_dict({
        "seed": seed,
        "generation": {"max-examples": examples, "database": "none", "deterministic": True},
        "parameters": {"path.appointment_id": appointment_id},
        "phases": {"coverage": {"unexpected-methods": probe_methods(target)}},
        "operations": [{
            "include-operation-id": "updateAppointment",
            "checks": {"positive_data_acceptance": {
                "expected-statuses": PATCH_ACCEPTS_VALID_DATA_WITH}},
        }],
    })
    schema = schemathesis.openapi.from_path(str(spec_path()), config=config)
    if target.app is not None:
        schema.app = target.app
        schema.config.update(base_url="http://localhost")
    else:
        schema.config.update(base_url=target.base_url)
    return schema.include(operation_id=operation_id) if operation_id else schema


def probe_methods(target: Target) -> list[str]:
    """Undeclared methods sent to the path. Against a deployment they go to an id that cannot
    exist (Target.confine), and never DELETE/PUT/POST a lent appointment."""
    if target.is_sandbox or not target.writes_ok:
        return ["DELETE", "PUT", "POST", "OPTIONS", "TRACE"]
    return ["OPTIONS", "TRACE"]
