"""Authentication, scopes, rate limiting, and the order the sandbox checks them in.

Issue 2, section 3, items 1-5: 401 UNAUTHORIZED, then 403 INSUFFICIENT_SCOPE, then
429 RATE_LIMIT_EXCEEDED, then 400 VALIDATION_ERROR, then 404 NOT_FOUND. Every response here goes
through the `client` fixture, which also validates it against openapi.yaml.
"""

from __future__ import annotations

import json

import pytest
import yaml
from huskyvoice_sandbox.resources import default_world_path

from helpers import DOC_ID, DOC_KEY, READ_KEY, WRITE_KEY, error_of
from helpers import NO_SCOPE_KEY as CALLS_KEY
from helpers import OTHER_ORG_KEY as LAKEVIEW_KEY  # org_lakeview: 5 requests per minute

LAKEVIEW_ID = "appt_9z8y7x6w5v"
MISSING_ID = "appt_zzzzzzzzzz"  # same length as LAKEVIEW_ID, so the bodies can be compared
LAKEVIEW_LIMIT = 5

VALID_BODY = {"assigned_doctor": "Dr. Priya Sharma"}


def url(appointment_id: str = DOC_ID) -> str:
    return f"/v1/appointments/{appointment_id}"




def send(client, method: str, appointment_id: str = DOC_ID, headers: dict | None = None,
         body: object = VALID_BODY):
    if method == "PATCH":
        return client.patch(url(appointment_id), json=body, headers=headers or {})
    return client.get(url(appointment_id), headers=headers or {})


# -- 401 UNAUTHORIZED -----------------------------------------------------------------------

BAD_AUTHORIZATION = {
    "missing header": None,
    "empty header": "",
    "key without a scheme": WRITE_KEY,
    "basic scheme": f"Basic {WRITE_KEY}",
    "token scheme": f"Token {WRITE_KEY}",
    "bearer without a key": "Bearer",
    "bearer with only a space": "Bearer ",
    "key with inner whitespace": "Bearer sk_test_demo write",
    "two keys": f"Bearer {WRITE_KEY} {READ_KEY}",
    "unknown key": "Bearer sk_test_not_a_real_key",
    "key of another case": f"Bearer {WRITE_KEY.upper()}",
    "prefix of a real key": "Bearer sk_test_demo_writ",
    "real key with a suffix": f"Bearer {WRITE_KEY}x",
}


@pytest.mark.parametrize("method", ["GET", "PATCH"])
@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION.values(), ids=BAD_AUTHORIZATION.keys())
def test_bad_or_missing_credentials_are_401(client, method, authorization) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = send(client, method, headers=headers)
    error_of(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize("key", ["sk_live_secret_123456", "sk_test_demo_writ", "Bearer-ish"])
def test_401_never_echoes_the_key(client, key) -> None:
    response = client.patch(url(), json=VALID_BODY, headers={"Authorization": f"Bearer {key}"})
    error_of(response, 401, "UNAUTHORIZED")
    assert key not in response.get_data(as_text=True)
    assert all(key not in value for value in response.headers.values())


def test_malformed_header_never_echoes_its_content(client) -> None:
    response = client.get(url(), headers={"Authorization": "Bearer sk_live_top secret"})
    error_of(response, 401, "UNAUTHORIZED")
    text = response.get_data(as_text=True)
    assert "sk_live_top" not in text and "secret" not in text


@pytest.mark.parametrize("key", [WRITE_KEY, DOC_KEY])
def test_write_keys_are_accepted(client, key) -> None:
    response = client.patch(url(), json=VALID_BODY, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert "WWW-Authenticate" not in response.headers


def test_401_does_not_change_state(client, dump) -> None:
    before = dump(client)
    response = client.patch(url(), json={"status": "cancelled"},
                            headers={"Authorization": "Bearer sk_test_nope"})
    error_of(response, 401, "UNAUTHORIZED")
    assert dump(client) == before


# -- 403 INSUFFICIENT_SCOPE -----------------------------------------------------------------

@pytest.mark.parametrize("method, key, scope", [
    ("PATCH", READ_KEY, "appointments:write"),
    ("PATCH", CALLS_KEY, "appointments:write"),
    ("GET", CALLS_KEY, "appointments:read"),
])
def test_known_key_without_the_operations_scope_is_403(client, auth, method, key, scope) -> None:
    error = error_of(send(client, method, headers=auth(key)), 403, "INSUFFICIENT_SCOPE")
    assert scope in error["message"]
    assert key not in json.dumps(error)


def test_read_key_can_get(client, auth) -> None:
    response = client.get(url(), headers=auth(READ_KEY))
    assert response.status_code == 200
    assert response.get_json()["data"]["appointment_id"] == DOC_ID


def test_403_does_not_change_state(client, auth, dump) -> None:
    before = dump(client)
    response = client.patch(url(), json={"status": "cancelled"}, headers=auth(READ_KEY))
    error_of(response, 403, "INSUFFICIENT_SCOPE")
    assert dump(client) == before


# -- the order of the checks: 401, 403, 429, 400, 404 ---------------------------------------

def test_unknown_key_with_bad_body_is_401(client) -> None:
    response = client.patch(url(MISSING_ID), data="{not json", content_type="application/json",
                            headers={"Authorization": "Bearer sk_test_nope"})
    error_of(response, 401, "UNAUTHORIZED")


def test_missing_key_with_bad_body_is_401(client) -> None:
    response = client.patch(url(MISSING_ID), data="[]", content_type="text/plain")
    error_of(response, 401, "UNAUTHORIZED")


def test_read_key_with_bad_body_is_403(client, auth) -> None:
    response = client.patch(url(MISSING_ID), data="{not json", content_type="application/json",
                            headers=auth(READ_KEY))
    error_of(response, 403, "INSUFFICIENT_SCOPE")


def test_calls_key_on_unknown_appointment_is_403(client, auth) -> None:
    error_of(client.get(url(MISSING_ID), headers=auth(CALLS_KEY)), 403, "INSUFFICIENT_SCOPE")


def test_valid_key_with_bad_body_on_unknown_id_is_400(client, auth) -> None:
    response = client.patch(url(MISSING_ID), data="{not json", content_type="application/json",
                            headers=auth(WRITE_KEY))
    error_of(response, 400, "VALIDATION_ERROR")


def test_valid_key_with_no_updatable_field_on_unknown_id_is_400(client, auth) -> None:
    response = client.patch(url(MISSING_ID), json={"unknown": 1}, headers=auth(WRITE_KEY))
    error_of(response, 400, "VALIDATION_ERROR")


def test_valid_key_and_body_on_unknown_id_is_404(client, auth) -> None:
    error_of(client.patch(url(MISSING_ID), json=VALID_BODY, headers=auth(WRITE_KEY)),
             404, "NOT_FOUND")


def test_404_comes_before_booking_rules(client, auth) -> None:
    # A body that would be OUTSIDE_AVAILABILITY on a real appointment.
    response = client.patch(url(MISSING_ID), json={"appointment_date": "2026-06-15T08:00:00.000Z"},
                            headers=auth(WRITE_KEY))
    error_of(response, 404, "NOT_FOUND")


# -- 429 RATE_LIMIT_EXCEEDED ----------------------------------------------------------------

def use_up_lakeview_limit(client, auth) -> None:
    """The Lakeview key's 5 requests of this (frozen) minute, all accepted."""
    for _ in range(LAKEVIEW_LIMIT):
        response = client.get(url(LAKEVIEW_ID), headers=auth(LAKEVIEW_KEY))
        assert response.status_code == 200


def retry_after(response) -> int:
    value = response.headers["Retry-After"]
    assert value.isdigit(), value
    return int(value)


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_request_over_the_limit_is_429_with_integer_retry_after(client, auth, method) -> None:
    use_up_lakeview_limit(client, auth)
    response = send(client, method, LAKEVIEW_ID, headers=auth(LAKEVIEW_KEY))
    error = error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert 1 <= retry_after(response) <= 60
    assert LAKEVIEW_KEY not in json.dumps(error)


def test_429_does_not_change_state(client, auth, dump) -> None:
    use_up_lakeview_limit(client, auth)
    before = dump(client)
    response = client.patch(url(LAKEVIEW_ID), json={"status": "cancelled"},
                            headers=auth(LAKEVIEW_KEY))
    error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert dump(client) == before


def test_all_requests_in_the_frozen_minute_count_so_retry_after_is_60(client, auth) -> None:
    use_up_lakeview_limit(client, auth)
    response = client.get(url(LAKEVIEW_ID), headers=auth(LAKEVIEW_KEY))
    error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert retry_after(response) == 60


def test_accepted_again_after_the_clock_moves_60_seconds(client, auth) -> None:
    use_up_lakeview_limit(client, auth)
    error_of(client.get(url(LAKEVIEW_ID), headers=auth(LAKEVIEW_KEY)), 429, "RATE_LIMIT_EXCEEDED")
    assert client.put("/_sandbox/clock", json={"advance_seconds": 60}).status_code == 200
    response = client.get(url(LAKEVIEW_ID), headers=auth(LAKEVIEW_KEY))
    assert response.status_code == 200
    assert response.get_json()["data"]["appointment_id"] == LAKEVIEW_ID


def test_still_limited_one_second_early_and_retry_after_says_so(client, auth) -> None:
    use_up_lakeview_limit(client, auth)
    client.put("/_sandbox/clock", json={"advance_seconds": 59})
    response = client.get(url(LAKEVIEW_ID), headers=auth(LAKEVIEW_KEY))
    error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert retry_after(response) == 1
    client.put("/_sandbox/clock", json={"advance_seconds": retry_after(response)})
    assert client.get(url(LAKEVIEW_ID), headers=auth(LAKEVIEW_KEY)).status_code == 200


def test_limit_is_a_sliding_window_of_60_seconds(client, auth) -> None:
    """Requests at 0, 10, 20, 30 and 40 s: at 50 s the next place frees at 60 s (the first ages
    out), and after that only one more is accepted until 70 s."""
    headers = auth(LAKEVIEW_KEY)
    for _ in range(LAKEVIEW_LIMIT):
        assert client.get(url(LAKEVIEW_ID), headers=headers).status_code == 200
        client.put("/_sandbox/clock", json={"advance_seconds": 10})
    response = client.get(url(LAKEVIEW_ID), headers=headers)  # at 50 s
    error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert retry_after(response) == 10
    client.put("/_sandbox/clock", json={"advance_seconds": 10})  # at 60 s
    assert client.get(url(LAKEVIEW_ID), headers=headers).status_code == 200
    response = client.get(url(LAKEVIEW_ID), headers=headers)
    error_of(response, 429, "RATE_LIMIT_EXCEEDED")
    assert retry_after(response) == 10


def test_every_accepted_status_counts_toward_the_limit(client, auth) -> None:
    """200s, 400s and 404s all use up the key's minute (the limit is checked before them)."""
    headers = auth(LAKEVIEW_KEY)
    assert client.get(url(LAKEVIEW_ID), headers=headers).status_code == 200
    assert client.get(url(MISSING_ID), headers=headers).status_code == 404
    assert client.get(url(DOC_ID), headers=headers).status_code == 404  # another org's
    assert client.patch(url(LAKEVIEW_ID), json={}, headers=headers).status_code == 400
    assert client.patch(url(LAKEVIEW_ID), json=VALID_BODY, headers=headers).status_code == 200
    error_of(client.get(url(LAKEVIEW_ID), headers=headers), 429, "RATE_LIMIT_EXCEEDED")


def test_rate_limit_comes_before_validation_and_not_found(client, auth) -> None:
    use_up_lakeview_limit(client, auth)
    bad_body = client.patch(url(MISSING_ID), data="{not json", content_type="application/json",
                            headers=auth(LAKEVIEW_KEY))
    error_of(bad_body, 429, "RATE_LIMIT_EXCEEDED")
    unknown = client.get(url(MISSING_ID), headers=auth(LAKEVIEW_KEY))
    error_of(unknown, 429, "RATE_LIMIT_EXCEEDED")


def test_rate_limit_comes_after_authentication(client, auth) -> None:
    use_up_lakeview_limit(client, auth)
    response = client.get(url(LAKEVIEW_ID), headers={"Authorization": "Bearer sk_test_nope"})
    error_of(response, 401, "UNAUTHORIZED")


def test_org_without_a_limit_is_never_limited(client, auth) -> None:
    for _ in range(3 * LAKEVIEW_LIMIT):
        assert client.get(url(), headers=auth(WRITE_KEY)).status_code == 200


def test_scope_is_checked_before_the_rate_limit(make_client, default_world_doc, auth) -> None:
    """A Lakeview read-only key that has used up its minute still gets 403 for a PATCH."""
    world = default_world_doc
    lakeview = next(o for o in world["organizations"] if o["id"] == "org_lakeview")
    lakeview["api_keys"].append({"key": "sk_test_other_read", "scopes": ["appointments:read"]})
    client = make_client(world)
    for _ in range(LAKEVIEW_LIMIT):
        assert client.get(url(LAKEVIEW_ID), headers=auth("sk_test_other_read")).status_code == 200
    error_of(client.get(url(LAKEVIEW_ID), headers=auth("sk_test_other_read")),
             429, "RATE_LIMIT_EXCEEDED")
    response = client.patch(url(LAKEVIEW_ID), json=VALID_BODY, headers=auth("sk_test_other_read"))
    error_of(response, 403, "INSUFFICIENT_SCOPE")


@pytest.fixture
def default_world_doc() -> dict:
    """fixtures/default.yaml as a document, to derive variants from."""
    return yaml.safe_load(default_world_path().read_text(encoding="utf-8"))


# -- 404 NOT_FOUND: another organization's appointment looks missing ------------------------

@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_other_organizations_appointment_is_indistinguishable_from_missing(
        client, auth, method) -> None:
    other = send(client, method, LAKEVIEW_ID, headers=auth(WRITE_KEY))
    missing = send(client, method, MISSING_ID, headers=auth(WRITE_KEY))
    error_of(other, 404, "NOT_FOUND")
    error_of(missing, 404, "NOT_FOUND")
    assert other.get_data(as_text=True).replace(LAKEVIEW_ID, "<id>") == \
        missing.get_data(as_text=True).replace(MISSING_ID, "<id>")
    assert sorted(other.headers.items()) == sorted(missing.headers.items())


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_demo_appointment_is_not_found_with_the_lakeview_key(client, auth, method) -> None:
    error_of(send(client, method, DOC_ID, headers=auth(LAKEVIEW_KEY)), 404, "NOT_FOUND")


def test_patch_on_other_organizations_appointment_changes_nothing(client, auth, dump) -> None:
    before = dump(client)
    response = client.patch(url(LAKEVIEW_ID), json={"status": "cancelled"}, headers=auth(WRITE_KEY))
    error_of(response, 404, "NOT_FOUND")
    assert dump(client) == before
    own = client.get(url(LAKEVIEW_ID), headers=auth(LAKEVIEW_KEY))
    assert own.get_json()["data"]["status"] == "confirmed"


def test_not_found_message_names_the_id(client, auth) -> None:
    error = error_of(client.get(url(MISSING_ID), headers=auth(WRITE_KEY)), 404, "NOT_FOUND")
    assert MISSING_ID in error["message"]
