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
