"""Assertions the test modules share (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

from typing import Any


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
