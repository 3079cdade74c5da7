"""The documented example, end to end, and the spec's own validity."""

from __future__ import annotations

import yaml
from openapi_spec_validator import validate

from sandbox.resources import spec_path

DOCUMENTED_200 = {
    "success": True,
    "data": {
        "appointment_id": "appt_a1b2c3d4e5",
        "appointment_type": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "branch_id": "branch_uuid_here",
        "date": "2026-06-15",
        "session": "Morning",
        "batch": "MA",
        "token": None,
        "patient_name": "Aadhi",
        "parent_phone": "+919840XXXXXX",
        "assigned_doctor": "Dr. Priya Sharma",
        "status": "confirmed",
        "external_reference_id": None,
        "created_at": "2026-05-26T10:00:00.000Z",
        "updated_at": "2026-05-26T11:00:00.000Z",
    },
}


def test_spec_passes_openapi_spec_validator() -> None:
    validate(yaml.safe_load(spec_path().read_text(encoding="utf-8")))


def test_documented_patch_returns_documented_body(client) -> None:
    response = client.patch(
        "/v1/appointments/appt_a1b2c3d4e5",
        headers={"Authorization": "Bearer YOUR_API_KEY", "Content-Type": "application/json"},
        data='{\n"assigned_doctor": "Dr. Priya Sharma",\n"notes": "Patient requested morning slot"\n}',
    )
    assert response.status_code == 200
    assert response.get_json() == DOCUMENTED_200
    assert list(response.get_json()["data"]) == list(DOCUMENTED_200["data"])
