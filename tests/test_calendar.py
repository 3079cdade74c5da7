"""Calendar windows and schedule tracking beyond the scenarios: what the API changes is in the
world dump, and a world loaded from that dump serves the same windows and the same answers;
a reset and a snapshot take windows back like appointments; sessions do not share windows."""

from __future__ import annotations

from typing import Any

from huskyvoice_sandbox.worlds.world import load_world

from helpers import WRITE_KEY, check_response

AUTH = {"Authorization": f"Bearer {WRITE_KEY}"}
DOC_WINDOW = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
SATURDAY = {"branch_id": "branch_uuid_here", "day": "saturday", "session": "Morning", "start_time": "09:00",
            "end_time": "11:00", "max_slots": 4, "ai_slots": 2, "batch_name": "SA"}


def send(client: Any, contract: Any, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> Any:
    response = client.open(path, method=method, json=body, headers={**AUTH, **(headers or {})})
    check_response(contract, method, path.split("?")[0], response.status_code, response.headers, response.data)
    return response


def answers(client: Any, contract: Any) -> list[Any]:
    """What availability and tracking say for the dates the changes touched."""
    return [send(client, contract, "GET", f"/v1/appointment-slots/availability?date={day}").get_json()
            for day in ("2026-06-15", "2026-06-20", "2026-06-22")] + [
        send(client, contract, "GET", "/v1/appointment-slots/schedule-tracking?date_from=2026-06-15&date_to=2026-06-22")
        .get_json()]


def change(client: Any, contract: Any) -> str:
    created = send(client, contract, "POST", "/v1/appointment-slots", SATURDAY).get_json()["data"]["calendar_id"]
    assert send(client, contract, "PATCH", f"/v1/appointment-slots/{created}", {"end_time": "12:00"}).status_code == 200
    assert send(client, contract, "DELETE", f"/v1/appointment-slots/{created}").status_code == 200
    assert send(client, contract, "PATCH", f"/v1/appointment-slots/tracking/{DOC_WINDOW}||2026-06-15",
                {"ai_slots": 1}).status_code == 200
    assert send(client, contract, "PATCH", f"/v1/appointment-slots/tracking/{DOC_WINDOW}||2026-06-22",
                {"status": "CLOSED"}).status_code == 200
    return created


def test_the_dump_round_trips_what_the_api_changed(make_client, contract) -> None:
    client = make_client()
    created = change(client, contract)
    dump = client.get("/_sandbox/world").get_json()["data"]
    windows = {w["id"]: w for w in dump["organizations"][0]["calendar_windows"]}
    assert windows[created]["active"] is False and windows[created]["end_time"] == "12:00"
    assert windows[DOC_WINDOW]["ai_slots_by_date"] == {"2026-06-15": 1}
    assert "2026-06-22" in windows[DOC_WINDOW]["closed_dates"]
    said = answers(client, contract)
    again = make_client(load_world(dump))
    assert answers(again, contract) == said
    assert again.get("/_sandbox/world").get_json()["data"] == dump


def test_a_reset_and_a_snapshot_take_windows_back(make_client, contract) -> None:
    client = make_client()
    before = answers(client, contract)
    assert client.post("/_sandbox/snapshots", json={"name": "before"}).status_code == 201
    change(client, contract)
    changed = answers(client, contract)
    assert changed != before
    assert client.post("/_sandbox/snapshots/before/restore").status_code == 200
    assert answers(client, contract) == before
    change(client, contract)
    assert client.post("/_sandbox/reset").status_code == 200
    assert answers(client, contract) == before


def test_sessions_do_not_share_windows(make_client, contract) -> None:
    client = make_client()
    other = {"X-Sandbox-Session": "other"}
    created = send(client, contract, "POST", "/v1/appointment-slots", SATURDAY, other).get_json()["data"]["calendar_id"]
    seen_there = send(client, contract, "GET", "/v1/appointment-slots/availability?date=2026-06-20", headers=other)
    seen_here = send(client, contract, "GET", "/v1/appointment-slots/availability?date=2026-06-20")
    assert [s["calendar_id"] for s in seen_there.get_json()["slots"]] == [created]
    assert seen_here.get_json()["slots"] == []
    assert send(client, contract, "DELETE", f"/v1/appointment-slots/{created}").status_code == 404


def test_a_disabled_window_keeps_its_label_but_not_its_hours(make_client, contract) -> None:
    """Disable a window and create another in its hours (what the 400 for a fixed field says
    to do); the old one cannot be enabled again over the new one, nor its label reused."""
    client = make_client()
    assert send(client, contract, "DELETE", f"/v1/appointment-slots/{DOC_WINDOW}").status_code == 200
    same_hours = {**SATURDAY, "day": "monday", "start_time": "09:00", "end_time": "11:00", "batch_name": "MX"}
    assert send(client, contract, "POST", "/v1/appointment-slots", same_hours).status_code == 201
    again = send(client, contract, "PATCH", f"/v1/appointment-slots/{DOC_WINDOW}", {"active": True})
    assert again.status_code == 400
    assert [d["location"] for d in again.get_json()["error"]["details"]] == ["body.start_time"]
    reused = send(client, contract, "POST", "/v1/appointment-slots",
                  {**same_hours, "start_time": "06:00", "end_time": "07:00", "batch_name": "MA"})
    assert [d["location"] for d in reused.get_json()["error"]["details"]] == ["body.batch_name"]
