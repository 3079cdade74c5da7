"""400 VALIDATION_ERROR: the body rules of issue 2, section 3, item 4.

Each case asserts the status, `error.code`, and the located `details`. A request that fails
validation never changes the sandbox's state.
"""

from __future__ import annotations

import json

import pytest

from helpers import appointment_in

DOC_ID = "appt_a1b2c3d4e5"
WRITE_KEY = "sk_test_demo_write"
URL = f"/v1/appointments/{DOC_ID}"
HEADERS = {"Authorization": f"Bearer {WRITE_KEY}"}


def raw_patch(client, data, content_type: str | None = "application/json",
              appointment_id: str = DOC_ID):
    headers = dict(HEADERS)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.patch(f"/v1/appointments/{appointment_id}", data=data, headers=headers)


def validation_details(response) -> list[dict]:
    """The details of a 400 VALIDATION_ERROR, after checking the envelope."""
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["message"]
    details = body["error"]["details"]
    assert details, "a validation error must say where and what"
    for detail in details:
        assert detail["location"] and detail["message"]
    return details


def locations(response) -> set[str]:
    return {d["location"] for d in validation_details(response)}




# -- the body is not a JSON object -----------------------------------------------------------

NOT_AN_OBJECT = {
    "malformed JSON": (b'{"status": "confirmed"', "application/json", "body"),
    "single quotes": (b"{'status': 'confirmed'}", "application/json", "body"),
    "trailing comma": (b'{"status": "confirmed",}', "application/json", "body"),
    "array": (b'[{"status": "confirmed"}]', "application/json", "body"),
    "empty array": (b"[]", "application/json", "body"),
    "null": (b"null", "application/json", "body"),
    "string": (b'"status=confirmed"', "application/json", "body"),
    "number": (b"42", "application/json", "body"),
    "boolean": (b"true", "application/json", "body"),
    "empty body": (b"", "application/json", "body"),
    "whitespace body": (b"  \n ", "application/json", "body"),
    "NaN": (b'{"notes": NaN}', "application/json", "body"),
    "duplicate keys": (b'{"status": "cancelled", "status": "confirmed"}', "application/json",
                       "body"),
    "not UTF-8": (b'{"notes": "caf\xe9"}', "application/json", "body"),
    "text/plain Content-Type": (b'{"status": "confirmed"}', "text/plain", "header.Content-Type"),
    "form Content-Type": (b"status=confirmed", "application/x-www-form-urlencoded",
                          "header.Content-Type"),
    "missing Content-Type": (b'{"status": "confirmed"}', None, "header.Content-Type"),
    "non-UTF-8 charset": (b'{"status": "confirmed"}', "application/json; charset=latin-1",
                          "header.Content-Type"),
}


@pytest.mark.parametrize("data, content_type, location", NOT_AN_OBJECT.values(),
                         ids=NOT_AN_OBJECT.keys())
def test_body_that_is_not_a_json_object_is_400(client, data, content_type, location) -> None:
    response = raw_patch(client, data, content_type)
    assert locations(response) == {location}


def test_json_content_type_with_utf8_charset_is_accepted(client) -> None:
    response = raw_patch(client, b'{"assigned_doctor": "Dr. Rao"}',
                         "application/json; charset=utf-8")
    assert response.status_code == 200
    assert response.get_json()["data"]["assigned_doctor"] == "Dr. Rao"


# -- no updatable field ----------------------------------------------------------------------

NO_UPDATABLE_FIELD = {
    "empty object": {},
    "unknown field": {"doctor": "Dr. Rao"},
    "misspelt field": {"Status": "cancelled"},
    "read-only id": {"appointment_id": "appt_new"},
    "read-only fields": {"patient_name": "Someone", "date": "2026-06-22", "token": "T1",
                         "created_at": "2026-01-01T00:00:00.000Z"},
    "only documented object fields": {"branch_id": "x", "external_reference_id": "crm-1"},
}


@pytest.mark.parametrize("body", NO_UPDATABLE_FIELD.values(), ids=NO_UPDATABLE_FIELD.keys())
def test_body_without_an_updatable_field_is_400(client, body) -> None:
    response = client.patch(URL, json=body, headers=HEADERS)
    details = validation_details(response)
    assert [d["location"] for d in details] == ["body"] + [f"body.{name}" for name in body]
    assert "at least one" in details[0]["message"]
    assert all(d["message"] == "is not an updatable field" for d in details[1:])


# -- appointment_date ------------------------------------------------------------------------

BAD_APPOINTMENT_DATES = {
    "date only": "2026-06-15",
    "date with a T but no time": "2026-06-15T",
    "no time, UTC designator": "2026-06-15Z",
    "no UTC designator": "2026-06-15T09:30:00",
    "no UTC designator, milliseconds": "2026-06-15T09:30:00.000",
    "India offset": "2026-06-15T15:00:00+05:30",
    "negative offset": "2026-06-15T04:30:00-05:00",
    "offset without colon": "2026-06-15T09:30:00+0530",
    "impossible day": "2026-02-30T09:30:00Z",
    "day 31 of June": "2026-06-31T09:30:00Z",
    "month 13": "2026-13-01T09:30:00Z",
    "hour 25": "2026-06-15T25:00:00Z",
    "minute 60": "2026-06-15T09:60:00Z",
    "time only": "09:30:00Z",
    "words": "next Monday at 9",
    "empty string": "",
    "unix time as text": "1781515800",
    "over 64 characters": "2026-06-15T09:30:00." + "0" * 60 + "Z",
}


@pytest.mark.parametrize("value", BAD_APPOINTMENT_DATES.values(), ids=BAD_APPOINTMENT_DATES.keys())
def test_invalid_appointment_date_is_400_at_body_appointment_date(client, value) -> None:
    response = client.patch(URL, json={"appointment_date": value}, headers=HEADERS)
    assert locations(response) == {"body.appointment_date"}


@pytest.mark.parametrize("value", [
    "2026-06-15T09:30:00Z",
    "2026-06-15T09:30:00.000Z",
    "2026-06-15T09:30:00+00:00",
    "2026-06-15T09:30:00.000+00:00",
    "2026-06-15T09:30:00.123456Z",
])
def test_utc_datetimes_with_z_or_plus_zero_are_accepted(client, value) -> None:
    response = client.patch(URL, json={"appointment_date": value}, headers=HEADERS)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert (data["date"], data["session"], data["batch"]) == ("2026-06-15", "Morning", "MA")


def test_plus_zero_and_z_mean_the_same_instant(make_client) -> None:
    results = []
    for value in ("2026-06-15T14:30:00Z", "2026-06-15T14:30:00+00:00"):
        client = make_client()
        response = client.patch(URL, json={"appointment_date": value}, headers=HEADERS)
        assert response.status_code == 200
        results.append(response.get_json()["data"])
    assert results[0] == results[1]
    assert results[0]["session"] == "Afternoon"


def test_invalid_date_details_quote_an_example(client) -> None:
    response = client.patch(URL, json={"appointment_date": "2026-06-15"}, headers=HEADERS)
    [detail] = validation_details(response)
    assert detail["location"] == "body.appointment_date"
    assert "UTC" in detail["message"]


@pytest.mark.parametrize("value, message", [
    ("2026-02-30T09:30:00Z", "2026-02-30 does not exist: February 2026 has 28 days"),
    ("2028-02-30T09:30:00.000Z", "2028-02-30 does not exist: February 2028 has 29 days"),
    ("2026-06-31T09:30:00Z", "2026-06-31 does not exist: June 2026 has 30 days"),
    ("2026-13-01T09:30:00Z", "2026-13-01 does not exist: there is no month 13"),
])
def test_a_day_that_does_not_exist_is_said_to_not_exist(client, value, message) -> None:
    """It has the form and a time; what is wrong is the day, and the answer says that."""
    response = client.patch(URL, json={"appointment_date": value}, headers=HEADERS)
    assert validation_details(response) == [{"location": "body.appointment_date", "message": message}]


@pytest.mark.parametrize("path", ["/v1/appointments?date={}", "/v1/appointment-slots/availability?date={}",
                                  "/v1/appointment-slots/schedule-tracking?date_from={}"])
@pytest.mark.parametrize("value, message", [
    ("tomorrow", 'must be a date, YYYY-MM-DD, e.g. "2026-06-15"'),
    ("15-06-2026", 'must be a date, YYYY-MM-DD, e.g. "2026-06-15"'),
    ("2026-02-29", "2026-02-29 does not exist: February 2026 has 28 days"),
    ("0000-01-01", "year 0000 does not exist; years run from 0001 to 9999"),
])
def test_a_bad_date_in_the_query_gets_one_plain_detail(client, path, value, message) -> None:
    """One detail per parameter, in words: not the format and the raw pattern both."""
    response = client.get(path.format(value), headers=HEADERS)
    [detail] = validation_details(response)
    assert detail["message"] == message
    assert "\\d" not in json.dumps(response.get_json())  # no regular expression in the answer


# -- enums -----------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("status", "rescheduled"),
    ("status", "pending"),
    ("status", "Confirmed"),
    ("status", "CANCELLED"),
    ("status", ""),
    ("session", "Night"),
    ("session", "morning"),
    ("session", "MORNING"),
    ("session", ""),
    ("session", " Morning"),
])
def test_value_outside_the_enum_is_400(client, field, value) -> None:
    response = client.patch(URL, json={field: value}, headers=HEADERS)
    assert locations(response) == {f"body.{field}"}


def test_rescheduled_cannot_be_set_directly_even_with_a_reschedule(client) -> None:
    response = client.patch(URL, json={"appointment_date": "2026-06-15T14:30:00.000Z",
                                       "status": "rescheduled"}, headers=HEADERS)
    assert locations(response) == {"body.status"}


# -- types and nulls -------------------------------------------------------------------------

WRONG_TYPES = [
    ("appointment_date", 1781515800),
    ("appointment_date", ["2026-06-15T09:30:00Z"]),
    ("appointment_date", {"date": "2026-06-15"}),
    ("status", 1),
    ("status", True),
    ("status", ["cancelled"]),
    ("assigned_doctor", 7),
    ("assigned_doctor", False),
    ("assigned_doctor", ["Dr. Rao"]),
    ("notes", {"text": "hello"}),
    ("notes", 3.5),
    ("session", 1),
    ("session", ["Morning"]),
    ("batch", 5),
    ("batch", True),
    ("batch", {"label": "MA"}),
]


@pytest.mark.parametrize("field, value", WRONG_TYPES, ids=[f"{f}={v!r}" for f, v in WRONG_TYPES])
def test_wrong_type_is_400(client, field, value) -> None:
    response = client.patch(URL, json={field: value}, headers=HEADERS)
    assert locations(response) == {f"body.{field}"}


@pytest.mark.parametrize("field", ["status", "session", "batch", "appointment_date"])
def test_null_is_refused_for_fields_that_cannot_be_cleared(client, field) -> None:
    response = client.patch(URL, json={field: None}, headers=HEADERS)
    assert locations(response) == {f"body.{field}"}


def test_null_assigned_doctor_clears_it(client, dump) -> None:
    appointment_id = "appt_e5f6a7b8c9"  # Kabir, assigned to Dr. Rao
    assert appointment_in(dump(client), appointment_id)["assigned_doctor"] == "Dr. Rao"
    response = client.patch(f"/v1/appointments/{appointment_id}", json={"assigned_doctor": None},
                            headers=HEADERS)
    assert response.status_code == 200
    assert response.get_json()["data"]["assigned_doctor"] is None
    assert appointment_in(dump(client), appointment_id)["assigned_doctor"] is None


def test_null_notes_clears_them(client, dump) -> None:
    assert client.patch(URL, json={"notes": "call before"}, headers=HEADERS).status_code == 200
    assert appointment_in(dump(client), DOC_ID)["notes"] == "call before"
    response = client.patch(URL, json={"notes": None}, headers=HEADERS)
    assert response.status_code == 200
    assert appointment_in(dump(client), DOC_ID)["notes"] is None


def test_every_bad_field_is_reported(client) -> None:
    response = client.patch(URL, json={"status": "rescheduled", "session": "Night",
                                       "appointment_date": "2026-06-15", "batch": ""},
                            headers=HEADERS)
    assert locations(response) == {"body.status", "body.session", "body.appointment_date",
                                   "body.batch"}


def test_one_bad_field_fails_the_whole_request(client, dump) -> None:
    before = dump(client)
    response = client.patch(URL, json={"assigned_doctor": "Dr. Rao", "status": "rescheduled"},
                            headers=HEADERS)
    assert locations(response) == {"body.status"}
    assert dump(client) == before


# -- length limits (documented in openapi.yaml) ----------------------------------------------

@pytest.mark.parametrize("field, limit", [("assigned_doctor", 200), ("notes", 2000), ("batch", 32)])
def test_string_over_the_limit_is_400(client, field, limit) -> None:
    response = client.patch(URL, json={field: "x" * (limit + 1)}, headers=HEADERS)
    [detail] = validation_details(response)
    assert detail["location"] == f"body.{field}"
    assert str(limit) in detail["message"]
    assert "x" * 50 not in detail["message"], "the value must not be echoed back"


def test_limits_are_stated_in_the_spec(contract) -> None:
    fields = contract.spec["components"]["schemas"]["AppointmentUpdate"]["properties"]
    assert fields["assigned_doctor"]["maxLength"] == 200
    assert fields["notes"]["maxLength"] == 2000
    assert fields["batch"]["maxLength"] == 32
    assert contract.spec["components"]["schemas"]["AppointmentDate"]["maxLength"] == 64
    assert fields["appointment_date"] == {"$ref": "#/components/schemas/AppointmentDate"}


@pytest.mark.parametrize("field, limit", [("assigned_doctor", 200), ("notes", 2000)])
def test_string_at_the_limit_is_accepted(client, dump, field, limit) -> None:
    value = "é" * limit  # characters, not bytes
    response = client.patch(URL, json={field: value}, headers=HEADERS)
    assert response.status_code == 200
    assert appointment_in(dump(client), DOC_ID)[field] == value


def test_batch_at_the_limit_passes_validation(client) -> None:
    """32 characters is valid input; no window has that batch, so the rules answer 422."""
    response = client.patch(URL, json={"batch": "B" * 32}, headers=HEADERS)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "OUTSIDE_AVAILABILITY"


def test_empty_batch_is_400(client) -> None:
    response = client.patch(URL, json={"batch": ""}, headers=HEADERS)
    assert locations(response) == {"body.batch"}


# -- unknown and read-only fields next to a valid one ----------------------------------------

def test_ignored_fields_are_named_in_a_header_and_do_not_change_anything(client, dump) -> None:
    before = appointment_in(dump(client), DOC_ID)
    response = client.patch(URL, headers=HEADERS, json={
        "assigned_doctor": "Dr. Priya Sharma",
        "doctor_id": "d-17",
        "appointment_id": "appt_hijacked",
        "patient_name": "Someone Else",
        "date": "2026-06-22",
        "created_at": "2020-01-01T00:00:00.000Z",
    })
    assert response.status_code == 200
    ignored = [name.strip() for name in response.headers["X-Sandbox-Ignored-Fields"].split(",")]
    assert sorted(ignored) == ["appointment_id", "created_at", "date", "doctor_id", "patient_name"]
    data = response.get_json()["data"]
    assert data["assigned_doctor"] == "Dr. Priya Sharma"
    after = appointment_in(dump(client), DOC_ID)
    assert after == {**before, "assigned_doctor": "Dr. Priya Sharma",
                     "updated_at": after["updated_at"]}
    for name in ("appointment_id", "patient_name", "date", "created_at"):
        assert data[name] == before[name]


def test_no_ignored_fields_header_when_nothing_was_ignored(client) -> None:
    response = client.patch(URL, json={"assigned_doctor": "Dr. Rao"}, headers=HEADERS)
    assert response.status_code == 200
    assert "X-Sandbox-Ignored-Fields" not in response.headers


def test_ignored_field_header_is_safe_ascii(client) -> None:
    response = client.patch(URL, json={"notes": "ok", "naïve\nfield": 1}, headers=HEADERS)
    assert response.status_code == 200
    value = response.headers["X-Sandbox-Ignored-Fields"]
    assert value.isascii() and "\n" not in value and value


# -- a failed request never changes state ----------------------------------------------------

FAILING_BODIES = {
    "malformed JSON": (b'{"notes": "x"', "application/json"),
    "array": (b'[{"notes": "x"}]', "application/json"),
    "wrong Content-Type": (b'{"notes": "x"}', "text/plain"),
    "no updatable field": (b'{"unknown": 1}', "application/json"),
    "valid notes, bad date": (b'{"notes": "x", "appointment_date": "2026-06-15"}',
                              "application/json"),
    "valid doctor, bad status": (b'{"assigned_doctor": "x", "status": "rescheduled"}',
                                 "application/json"),
    "valid date, bad session": (b'{"appointment_date": "2026-06-15T14:30:00Z", "session": "Noon"}',
                                "application/json"),
    "valid status, null batch": (b'{"status": "cancelled", "batch": null}', "application/json"),
    "notes too long": (json.dumps({"notes": "x" * 2001}).encode(), "application/json"),
}


@pytest.mark.parametrize("data, content_type", FAILING_BODIES.values(), ids=FAILING_BODIES.keys())
def test_failed_validation_changes_nothing(client, dump, data, content_type) -> None:
    before = dump(client)
    validation_details(raw_patch(client, data, content_type))
    assert dump(client) == before
    get = client.get(URL, headers=HEADERS).get_json()["data"]
    assert get["updated_at"] == "2026-05-26T10:00:00.000Z"


def test_a_body_of_only_unknown_fields_names_each_of_them(patch) -> None:
    response = patch({"doctor": "Dr. Rao", "patient_name": "X"})
    assert response.status_code == 400
    details = response.get_json()["error"]["details"]
    assert {"location": "body.doctor", "message": "is not an updatable field"} in details
    assert {"location": "body.patient_name", "message": "is not an updatable field"} in details
    assert any("at least one updatable field" in d["message"] for d in details)


@pytest.mark.parametrize("body, status", [
    ({"appointment_date": "2026-06-15T08:00:00.000Z", "doctor": "x"}, 422),
    ({"appointment_date": "2026-06-16T10:00:00.000Z", "doctor": "x"}, 409),
], ids=["422", "409"])
def test_ignored_fields_are_named_on_rule_errors_too(patch, body, status) -> None:
    response = patch(body)
    assert response.status_code == status
    assert response.headers["X-Sandbox-Ignored-Fields"] == "doctor"
