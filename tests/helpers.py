"""Assertions the test modules share (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

from typing import Any

# The request body and the response on the "Updating Appointments" page, verbatim.
DOCUMENTED_BODY = ('{\n"assigned_doctor": "Dr. Priya Sharma",\n'
                   '"notes": "Patient requested morning slot"\n}')
# The response on the same page, verbatim.
DOCUMENTED_RESPONSE = """{
"success": true,
"data": {
"appointment_id": "appt_a1b2c3d4e5",
"appointment_type": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
"branch_id": "branch_uuid_here",
"date": "2026-06-15",
"session": "Morning",
"batch": "MA",
"token": null,
"patient_name": "Aadhi",
"parent_phone": "+919840XXXXXX",
"assigned_doctor": "Dr. Priya Sharma",
"status": "confirmed",
"external_reference_id": null,
"created_at": "2026-05-26T10:00:00.000Z",
"updated_at": "2026-05-26T11:00:00.000Z"
}
}"""


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error object of an enveloped error response, after checking status, code and
    that the answer is JSON (never an HTML page)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    assert "<html" not in text.lower() and "<!doctype" not in text.lower()
    body = response.get_json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def appointment_in(world: dict[str, Any], appointment_id: str) -> dict[str, Any]:
    """One appointment of a world document (a GET /_sandbox/world dump)."""
    for org in world["organizations"]:
        for appointment in org["appointments"]:
            if appointment["appointment_id"] == appointment_id:
                return appointment
    raise KeyError(appointment_id)
