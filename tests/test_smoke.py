"""The documented example, end to end, and the spec's own validity."""

from __future__ import annotations

import json

import yaml
from huskyvoice_sandbox.resources import spec_path
from openapi_spec_validator import validate

from helpers import DOCUMENTED_BODY, DOCUMENTED_RESPONSE


def test_spec_passes_openapi_spec_validator() -> None:
    validate(yaml.safe_load(spec_path().read_text(encoding="utf-8")))


def test_documented_patch_returns_documented_body(client) -> None:
    response = client.patch(
        "/v1/appointments/appt_a1b2c3d4e5",
        headers={"Authorization": "Bearer YOUR_API_KEY", "Content-Type": "application/json"},
        data=DOCUMENTED_BODY,
    )
    assert response.status_code == 200
    documented = json.loads(DOCUMENTED_RESPONSE)
    assert response.get_json() == documented
    assert list(response.get_json()["data"]) == list(documented["data"])


REFUSES = "x-refuses-valid-data-with"


def test_an_operation_whose_rules_refuse_schema_valid_data_is_marked(client, contract) -> None:
    """A create naming a service and a branch the organization does not have is schema-valid
    (the spec cannot list a world's services) and refused with 400: the spec must say so, as it
    does for the slot operations, or tools such as Schemathesis report a valid request rejected."""
    body = {"appointment_type": "No Such Service", "appointment_date": "2026-06-15T09:30:00.000Z",
            "patient_name": "Tara", "parent_phone": "+919800011111", "branch_id": "no_such_branch"}
    assert contract.body_problems("createAppointment", body) == []  # schema-valid
    refused = client.post("/v1/appointments", json=body, headers={"Authorization": "Bearer sk_test_demo_write"})
    assert refused.status_code == 400
    assert 400 in contract.spec["paths"]["/v1/appointments"]["post"][REFUSES]


def test_no_link_feeds_a_local_date_into_searchs_utc_date(contract) -> None:
    """An appointment's `date` is its organization's day; search's `date` is a UTC day: a link
    from one to the other finds nothing near midnight for a clinic away from UTC."""
    links = list(_links(contract.spec))
    assert links  # the stateful runs still follow links (reads of what was written)
    for name, link in links:
        feeds_search_date = link.get("operationId") == "searchAppointments" and "date" in link.get("parameters", {})
        assert not feeds_search_date, f"link {name} feeds searchAppointments' UTC date"


def _links(node: object) -> list[tuple[str, dict]]:
    """Every link object anywhere in the spec (responses are often in components)."""
    found: list[tuple[str, dict]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "links" and isinstance(value, dict):
                found += [(name, link) for name, link in value.items() if isinstance(link, dict)]
            else:
                found += _links(value)
    elif isinstance(node, list):
        for item in node:
            found += _links(item)
    return found


def test_every_writing_operation_says_what_the_kit_may_send_to_a_deployment(contract) -> None:
    """The contract kit's safety rule for each write is the spec's, not a list of paths in the
    kit: `x-on-a-deployment` is create (budgeted), lent-appointment or never."""
    from huskyvoice_contract_kit.target import ON_A_DEPLOYMENT, ON_A_DEPLOYMENT_RULES

    rules = {op.operation_id: contract.spec["paths"][op.path][op.method.lower()].get(ON_A_DEPLOYMENT)
             for op in contract.operations.values() if op.method not in ("GET", "HEAD")}
    assert rules and all(rule in ON_A_DEPLOYMENT_RULES for rule in rules.values()), rules
    assert [op for op, rule in rules.items() if rule == "create"] == ["createAppointment"]
