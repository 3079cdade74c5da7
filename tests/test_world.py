"""World documents: loading, validation with every problem located, YAML traps, JSON, dumps.

A bad world is refused whole, with every problem listed as `location: message`, e.g.
``organizations[0].appointments[3].branch_id: unknown branch 'x'``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
import yaml
from huskyvoice_sandbox.domain.errors import InvalidWorld
from huskyvoice_sandbox.resources import default_world_path
from huskyvoice_sandbox.worlds.world import load_world, load_world_file, parse_document

WRITE = {"Authorization": "Bearer sk_test_demo_write"}
DOC_ID = "appt_a1b2c3d4e5"
CHECKUP = "f47ac10b-58cc-4372-a567-0e02b2c3d479"


def default_document() -> dict[str, Any]:
    """A fresh copy of fixtures/default.yaml as a parsed document."""
    return parse_document(default_world_path().read_bytes(), "default.yaml")


def org(document: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return document["organizations"][index]


def refused(document: Any) -> list[str]:
    """The located problems of a world that must be refused, as 'location: message' lines."""
    with pytest.raises(InvalidWorld) as info:
        load_world(document, "test world")
    error = info.value
    assert error.code == "INVALID_WORLD"
    assert "nothing was loaded" in error.message
    assert error.details, "a refused world must say why"
    return [f"{d.location}: {d.message}" for d in error.details]


def assert_listed(problems: list[str], location: str, fragment: str) -> None:
    """A problem at exactly `location` whose message contains `fragment`."""
    matching = [p for p in problems
                if p.startswith(location + ": ") and fragment in p[len(location) + 2:]]
    assert matching, f"no problem at {location!r} mentioning {fragment!r} in {problems}"


def mutated(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    document = default_document()
    change(document)
    return document


def new_appointment(appointment_id: str, **fields: Any) -> dict[str, Any]:
    """An appointment on the default world's Monday Morning MA window (2026-06-15)."""
    return {"appointment_id": appointment_id, "appointment_type": CHECKUP,
            "branch_id": "branch_uuid_here", "date": "2026-06-15", "session": "Morning",
            "batch": "MA", "patient_name": f"Patient {appointment_id}",
            "parent_phone": f"+1555-{appointment_id}", **fields}


# -- the default world ---------------------------------------------------------------------

def test_default_world_loads_with_its_organizations_keys_and_appointments() -> None:
    world = load_world_file(default_world_path())
    assert [o.id for o in world.organizations] == ["org_demo", "org_lakeview"]
    assert world.clock == datetime(2026, 5, 26, 11, 0, tzinfo=UTC)
    keys = {k.key for o in world.organizations for k in o.api_keys}
    assert {"YOUR_API_KEY", "sk_test_demo_write", "sk_test_demo_read", "sk_test_other_write"} <= keys
    documented = next(a for a in world.appointments if a.appointment_id == DOC_ID)
    assert (documented.branch_id, documented.date, documented.session, documented.batch) == \
        ("branch_uuid_here", date(2026, 6, 15), "Morning", "MA")
    assert documented.status == "confirmed" and documented.notes is None
    assert len(world.appointments) == len(
        [a for o in default_document()["organizations"] for a in o.get("appointments", [])])


def test_default_world_is_served_by_default(client, dump) -> None:
    assert dump(client) == fresh_dump(default_document())
    response = client.get(f"/v1/appointments/{DOC_ID}", headers=WRITE)
    assert response.status_code == 200
    assert response.get_json()["data"]["patient_name"] == "Aadhi"


def fresh_dump(document: dict[str, Any]) -> dict[str, Any]:
    """What the control API dumps for a freshly loaded `document` (for comparisons)."""
    from huskyvoice_sandbox.session.state import SandboxState

    return SandboxState(load_world(document)).dump()


# -- a bad world is refused whole -----------------------------------------------------------

def test_bad_world_is_refused_whole_and_nothing_is_served(make_app) -> None:
    document = mutated(lambda d: org(d)["appointments"][3].update(branch_id="x"))
    with pytest.raises(InvalidWorld) as info:
        make_app(document)
    assert [f"{d.location}: {d.message}" for d in info.value.details] == [
        "organizations[0].appointments[3].branch_id: unknown branch 'x'"]


def test_bad_world_file_is_refused_with_its_path_in_the_message(tmp_path) -> None:
    path = tmp_path / "world.yaml"
    document = mutated(lambda d: org(d)["calendar_windows"][0].update(ai_slots=21))
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(InvalidWorld) as info:
        load_world_file(path)
    assert str(path) in info.value.message
    assert info.value.report().splitlines()[1:] == [
        "  organizations[0].calendar_windows[0].ai_slots: ai_slots (21) exceeds max_slots (20)"]


def test_missing_world_file_is_a_located_problem(tmp_path) -> None:
    with pytest.raises(InvalidWorld) as info:
        load_world_file(tmp_path / "absent.yaml")
    assert [d.location for d in info.value.details] == ["file"]


def test_every_problem_of_every_kind_is_listed_in_one_run() -> None:
    def break_many(d: dict[str, Any]) -> None:
        org(d)["appointments"][3]["branch_id"] = "x"                      # reference
        org(d)["calendar_windows"][0]["ai_slots"] = 99                    # rule
        org(d)["calendar_windows"][1]["start_time"] = "12:30"             # rule: start >= end
        org(d, 1)["appointments"][0]["colour"] = "red"                    # schema, other org
        d["clock"] = "yesterday"                                          # schema, top level

    problems = refused(mutated(break_many))
    assert_listed(problems, "organizations[0].appointments[3].branch_id", "unknown branch 'x'")
    assert_listed(problems, "organizations[0].calendar_windows[0].ai_slots", "exceeds max_slots")
    assert_listed(problems, "organizations[0].calendar_windows[1].end_time", "is not after start_time")
    assert_listed(problems, "organizations[1].appointments[0]", "unknown field 'colour'")
    assert_listed(problems, "clock", "ISO 8601")
    locations = {p.split(": ", 1)[0] for p in problems}
    assert locations == {"organizations[0].appointments[3].branch_id",
                         "organizations[0].calendar_windows[0].ai_slots",
                         "organizations[0].calendar_windows[1].end_time",
                         "organizations[1].appointments[0]", "clock"}


def test_schema_and_reference_problems_in_one_organization_are_both_listed() -> None:
    def break_both(d: dict[str, Any]) -> None:
        org(d)["appointments"][0]["colour"] = "red"
        org(d)["appointments"][3]["branch_id"] = "x"

    problems = refused(mutated(break_both))
    assert_listed(problems, "organizations[0].appointments[0]", "unknown field 'colour'")
    assert_listed(problems, "organizations[0].appointments[3].branch_id", "unknown branch 'x'")


def test_unknown_branch_and_unknown_service_of_one_appointment_are_both_listed() -> None:
    problems = refused(mutated(lambda d: org(d)["appointments"][3].update(
        branch_id="x", appointment_type="00000000-0000-4000-8000-000000000000")))
    assert_listed(problems, "organizations[0].appointments[3].branch_id", "unknown branch 'x'")
    assert_listed(problems, "organizations[0].appointments[3].appointment_type", "unknown service")


def test_one_problem_is_listed_once() -> None:
    problems = refused(mutated(lambda d: org(d)["appointments"][1].update(created_at="yesterday")))
    assert len(problems) == len(set(problems)), problems


# -- schema problems --------------------------------------------------------------------------

SCHEMA_CASES = [
    ("unknown-field-appointment", lambda d: org(d)["appointments"][3].update(colour="red"),
     "organizations[0].appointments[3]", "unknown field 'colour'"),
    ("unknown-field-window", lambda d: org(d)["calendar_windows"][2].update(capacity=3),
     "organizations[0].calendar_windows[2]", "unknown field 'capacity'"),
    ("unknown-field-top", lambda d: d.update(organisations=[]),
     "world", "unknown field 'organisations'"),
    ("missing-patient-name", lambda d: org(d)["appointments"][3].pop("patient_name"),
     "organizations[0].appointments[3].patient_name", "is required"),
    ("missing-window-ai-slots", lambda d: org(d)["calendar_windows"][4].pop("ai_slots"),
     "organizations[0].calendar_windows[4].ai_slots", "is required"),
    ("missing-org-timezone", lambda d: org(d, 1).pop("timezone"),
     "organizations[1].timezone", "is required"),
    ("missing-organizations", lambda d: d.pop("organizations"),
     "organizations", "is required"),
    ("wrong-type-ai-slots", lambda d: org(d)["calendar_windows"][0].update(ai_slots="ten"),
     "organizations[0].calendar_windows[0].ai_slots", "not of type 'integer'"),
    ("wrong-type-rate-limit", lambda d: org(d, 1).update(rate_limit_per_minute="sixty"),
     "organizations[1].rate_limit_per_minute", "not of type"),
    ("wrong-type-phone", lambda d: org(d)["appointments"][2].update(parent_phone=919811100001),
     "organizations[0].appointments[2].parent_phone", "not of type 'string'"),
    ("wrong-type-active", lambda d: org(d)["calendar_windows"][3].update(active="no"),
     "organizations[0].calendar_windows[3].active", "not of type 'boolean'"),
    ("bad-enum-status", lambda d: org(d)["appointments"][1].update(status="pending"),
     "organizations[0].appointments[1].status", "'pending' is not one of"),
    ("bad-enum-session", lambda d: org(d)["appointments"][1].update(session="Night"),
     "organizations[0].appointments[1].session", "'Night' is not one of"),
    ("bad-enum-day", lambda d: org(d)["calendar_windows"][5].update(day="funday"),
     "organizations[0].calendar_windows[5].day", "'funday' is not one of"),
    ("bad-version", lambda d: d.update(version=2),
     "version", "1 was expected"),
    ("bad-date-no-such-day", lambda d: org(d)["appointments"][1].update(date="2026-02-30"),
     "organizations[0].appointments[1].date", "2026-02-30"),
    ("bad-date-format", lambda d: org(d)["appointments"][1].update(date="22/06/2026"),
     "organizations[0].appointments[1].date", "22/06/2026"),
    ("bad-closed-date", lambda d: org(d)["calendar_windows"][5].update(closed_dates=["2026-13-01"]),
     "organizations[0].calendar_windows[5].closed_dates[0]", "2026-13-01"),
    ("bad-time-words", lambda d: org(d)["calendar_windows"][0].update(start_time="9am"),
     "organizations[0].calendar_windows[0].start_time", "is not a time HH:MM"),
    ("bad-time-one-digit-hour", lambda d: org(d)["calendar_windows"][0].update(start_time="9:00"),
     "organizations[0].calendar_windows[0].start_time", "is not a time HH:MM"),
    ("bad-time-25h", lambda d: org(d)["calendar_windows"][7].update(end_time="25:00"),
     "organizations[0].calendar_windows[7].end_time", "is not a time HH:MM"),
    ("bad-clock-no-T", lambda d: d.update(clock="2026-05-26 11:00"),
     "clock", "ISO 8601"),
    ("bad-clock-date-only", lambda d: d.update(clock="2026-05-26"),
     "clock", "ISO 8601"),
    ("bad-clock-not-utc", lambda d: d.update(clock="2026-05-26T11:00:00+05:30"),
     "clock", "UTC"),
    ("bad-created-at", lambda d: org(d)["appointments"][1].update(created_at="yesterday"),
     "organizations[0].appointments[1].created_at", "ISO 8601 UTC datetime"),
    ("bad-service-id", lambda d: org(d)["services"][0].update(id="not-a-uuid"),
     "organizations[0].services[0].id", "not-a-uuid"),
]


@pytest.mark.parametrize("change, location, fragment",
                         [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_schema_problem_is_refused_and_located(change, location, fragment) -> None:
    assert_listed(refused(mutated(change)), location, fragment)


@pytest.mark.parametrize("document, kind", [(None, "is empty"), ([], "is a list, not a mapping"),
                                            ("hello", "is a single string, not a mapping"),
                                            (5, "is a number, not a mapping")], ids=repr)
def test_a_document_that_is_not_a_mapping_is_refused(document, kind: str) -> None:
    assert refused(document) == [f"document: the document {kind}; a world is a mapping with version: 1 "
                                 "and organizations (huskyvoice-sandbox init writes a commented one)"]


# -- references -------------------------------------------------------------------------------

REFERENCE_CASES = [
    ("window-unknown-branch", lambda d: org(d)["calendar_windows"][5].update(branch_id="x"),
     "organizations[0].calendar_windows[5].branch_id", "unknown branch 'x'"),
    ("window-unknown-service", lambda d: org(d)["calendar_windows"][7].update(appointment_type="nope"),
     "organizations[0].calendar_windows[7].appointment_type", "unknown service 'nope'"),
    ("appointment-unknown-branch", lambda d: org(d)["appointments"][3].update(branch_id="x"),
     "organizations[0].appointments[3].branch_id", "unknown branch 'x'"),
    ("appointment-unknown-service",
     lambda d: org(d)["appointments"][3].update(appointment_type="00000000-0000-4000-8000-000000000000"),
     "organizations[0].appointments[3].appointment_type",
     "unknown service '00000000-0000-4000-8000-000000000000'"),
    ("appointment-other-orgs-branch", lambda d: org(d, 1)["appointments"][0].update(branch_id="branch_uuid_here"),
     "organizations[1].appointments[0].branch_id", "unknown branch 'branch_uuid_here'"),
    ("appointment-no-window-batch", lambda d: org(d)["appointments"][1].update(batch="ZZ"),
     "organizations[0].appointments[1]", "matches no calendar window"),
    ("appointment-no-window-weekday", lambda d: org(d)["appointments"][1].update(date="2026-06-20"),
     "organizations[0].appointments[1]", "matches no calendar window"),
    ("appointment-no-window-session", lambda d: org(d)["appointments"][7].update(session="Evening"),
     "organizations[0].appointments[7]", "matches no calendar window"),
    ("appointment-window-of-another-service",
     lambda d: org(d)["appointments"][5].update(appointment_type=CHECKUP),
     "organizations[0].appointments[5]", "matches no calendar window"),
]


@pytest.mark.parametrize("change, location, fragment",
                         [c[1:] for c in REFERENCE_CASES], ids=[c[0] for c in REFERENCE_CASES])
def test_reference_problem_is_refused_and_located(change, location, fragment) -> None:
    assert_listed(refused(mutated(change)), location, fragment)


def duplicate_window(d: dict[str, Any]) -> None:
    copy_of_first = dict(org(d)["calendar_windows"][0], day="sunday")
    org(d)["calendar_windows"].append(copy_of_first)


DUPLICATE_CASES = [
    ("organization-id", lambda d: org(d, 1).update(id="org_demo"),
     "organizations[1].id", "duplicate organization id 'org_demo'"),
    ("service-id", lambda d: org(d)["services"].append({"id": CHECKUP, "name": "Again"}),
     "organizations[0].services[3].id", f"duplicate service id '{CHECKUP}'"),
    ("branch-id", lambda d: org(d)["branches"].append({"id": "branch_uuid_here", "name": "Again"}),
     "organizations[0].branches[2].id", "'branch_uuid_here'"),
    ("window-id", duplicate_window,
     "organizations[0].calendar_windows[9].id",
     "duplicate window id 'a1b2c3d4-e5f6-7890-abcd-ef1234567890'"),
    ("appointment-id", lambda d: org(d)["appointments"].append(dict(org(d)["appointments"][5])),
     "organizations[0].appointments[9].appointment_id",
     "duplicate appointment id 'appt_f6a7b8c9d0' (also at organizations[0].appointments[5])"),
    ("appointment-id-across-orgs",
     lambda d: org(d, 1)["appointments"].append(dict(org(d, 1)["appointments"][0], appointment_id=DOC_ID)),
     "organizations[1].appointments[1].appointment_id",
     f"duplicate appointment id '{DOC_ID}' (also at organizations[0].appointments[0])"),
    ("api-key-across-orgs",
     lambda d: org(d, 1)["api_keys"].append({"key": "sk_test_demo_write", "scopes": []}),
     "organizations[1].api_keys[1].key", "duplicate API key (also at organizations[0].api_keys[1])"),
    ("api-key-in-one-org",
     lambda d: org(d)["api_keys"].append({"key": "sk_test_demo_read", "scopes": []}),
     "organizations[0].api_keys[4].key", "duplicate API key (also at organizations[0].api_keys[2])"),
    # A booking may name its service: one name (compared case-insensitively), one service.
    ("service-name-in-another-case",
     lambda d: org(d)["services"].append({"id": "0e3f5a7c-9b1d-4f3a-8c5e-7a9c1e3a5c7e", "name": " general CHECKUP"}),
     "organizations[0].services[3].name", "the same name as services[0]"),
]


def test_a_window_id_cannot_hold_the_slot_id_separator() -> None:
    """Availability's slot_id is `calendar_id||date`: a '|' in the id would make it ambiguous."""
    document = mutated(lambda d: org(d)["calendar_windows"][0].update(id="win|a"))
    assert_listed(refused(document), "organizations[0].calendar_windows[0].id", "does not match")


def test_a_window_that_starts_past_the_calendar_is_a_located_problem() -> None:
    """New York's 20:00 on 9999-12-31 is in year 10000 in UTC: no start instant exists."""
    document = mutated(lambda d: None)
    ny = org(document, 1)
    ny.update(timezone="America/New_York", rate_limit_per_minute=None)
    ny["calendar_windows"] = [{"id": "win-late", "branch_id": "branch_lakeview", "day": "friday",
                               "session": "Evening", "batch": "EL", "start_time": "20:00",
                               "end_time": "24:00", "max_slots": 4, "ai_slots": 2}]
    ny["appointments"] = [dict(ny["appointments"][0], date="9999-12-31", session="Evening", batch="EL")]
    assert_listed(refused(document), "organizations[1].appointments[0]", "outside the calendar")


@pytest.mark.parametrize("change, location, fragment",
                         [c[1:] for c in DUPLICATE_CASES], ids=[c[0] for c in DUPLICATE_CASES])
def test_duplicate_is_refused_and_located(change, location, fragment) -> None:
    assert_listed(refused(mutated(change)), location, fragment)


def test_duplicate_branch_message_is_spelled_right() -> None:
    problems = refused(mutated(
        lambda d: org(d)["branches"].append({"id": "branch_uuid_here", "name": "Again"})))
    assert_listed(problems, "organizations[0].branches[2].id", "duplicate branch id 'branch_uuid_here'")


def test_the_same_ids_in_two_organizations_are_allowed() -> None:
    """Services, branches and windows are per organization; only appointment ids and API keys
    are global (an appointment id is a URL, a key picks the organization)."""
    def share_ids(d: dict[str, Any]) -> None:
        org(d, 1)["branches"][0]["id"] = "branch_uuid_here"
        for item in org(d, 1)["calendar_windows"] + org(d, 1)["appointments"]:
            item["branch_id"] = "branch_uuid_here"
        org(d, 1)["calendar_windows"][0]["id"] = org(d)["calendar_windows"][0]["id"]

    world = load_world(mutated(share_ids))
    assert len(world.organizations) == 2


# -- rules ------------------------------------------------------------------------------------

def over_capacity(d: dict[str, Any]) -> None:
    # Tuesday Morning (window 4) takes one API booking and Meera (appointments[2]) has it.
    org(d)["appointments"].append(new_appointment("appt_extra", date="2026-06-16"))


def seeded_duplicate(d: dict[str, Any]) -> None:
    # Aadhi already has a General Checkup on 2026-06-15 (Morning); the same patient (name
    # compared case-insensitively and trimmed) again that day, in the afternoon.
    org(d)["appointments"].append(new_appointment(
        "appt_twice", session="Afternoon", batch="AA", patient_name="  aADHI ",
        parent_phone="+919840XXXXXX"))


RULE_CASES = [
    ("seeds-over-ai-slots", over_capacity,
     "organizations[0].appointments[9]", "SLOT_FULL"),
    ("seeded-duplicate-booking", seeded_duplicate,
     "organizations[0].appointments[9]", "DUPLICATE_BOOKING"),
    ("start-after-end", lambda d: org(d)["calendar_windows"][1].update(start_time="12:00", end_time="11:30"),
     "organizations[0].calendar_windows[1].end_time", "is not after start_time '12:00'"),
    ("start-equals-end", lambda d: org(d)["calendar_windows"][7].update(start_time="14:00", end_time="14:00"),
     "organizations[0].calendar_windows[7].end_time", "is not after start_time '14:00'"),
    ("ai-slots-over-max-slots", lambda d: org(d)["calendar_windows"][0].update(ai_slots=21),
     "organizations[0].calendar_windows[0].ai_slots", "ai_slots (21) exceeds max_slots (20)"),
    ("overlapping-windows", lambda d: org(d)["calendar_windows"][1].update(start_time="10:30"),
     "organizations[0].calendar_windows[1].start_time", "overlaps calendar_windows[0]"),
    ("unknown-timezone", lambda d: org(d, 1).update(timezone="Mars/Olympus_Mons"),
     "organizations[1].timezone", "unknown timezone 'Mars/Olympus_Mons'"),
    ("timezone-path", lambda d: org(d, 1).update(timezone="../../etc/passwd"),
     "organizations[1].timezone", "unknown timezone"),
]


@pytest.mark.parametrize("change, location, fragment",
                         [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES])
def test_rule_problem_is_refused_and_located(change, location, fragment) -> None:
    assert_listed(refused(mutated(change)), location, fragment)


def test_seeds_up_to_capacity_and_inactive_seeds_beyond_it_load() -> None:
    """The capacity rule counts active seeds only: a full window plus cancelled ones is fine."""
    def fill(d: dict[str, Any]) -> None:
        org(d)["appointments"].append(new_appointment("appt_gone", date="2026-06-16", status="cancelled"))
        org(d)["appointments"].append(new_appointment("appt_done", date="2026-06-16", status="completed"))

    world = load_world(mutated(fill))
    assert {"appt_gone", "appt_done"} <= {a.appointment_id for a in world.appointments}


def test_windows_of_different_services_may_overlap() -> None:
    def add(d: dict[str, Any]) -> None:
        org(d)["calendar_windows"].append(dict(
            org(d)["calendar_windows"][0], id="w-vaccination-monday", batch="VM",
            appointment_type="0b8e7d6c-5a4f-4e3d-9c2b-1a0f9e8d7c6b"))

    assert len(load_world(mutated(add)).organizations[0].windows) == 10


# -- YAML -------------------------------------------------------------------------------------

def test_yaml_syntax_error_is_located_by_line() -> None:
    text = "version: 1\norganizations:\n  - id: org_a\n    name: Clinic: Main\n    timezone: UTC\n"
    with pytest.raises(InvalidWorld) as info:
        load_world(parse_document(text, "broken.yaml"), "broken.yaml")
    [detail] = info.value.details
    assert detail.location.startswith("line 4")
    assert "not valid YAML" in detail.message


def test_yaml_syntax_error_in_a_file_is_located_by_line(tmp_path) -> None:
    lines = default_world_path().read_text(encoding="utf-8").splitlines()
    where = next(i for i, line in enumerate(lines) if line.strip() == "patient_name: Aadhi")
    lines[where] = lines[where].replace("patient_name: Aadhi", "patient_name: Aadhi: again")
    path = tmp_path / "broken.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InvalidWorld) as info:
        load_world_file(path)
    assert [d.location.split(",")[0] for d in info.value.details] == [f"line {where + 1}"]


TRAPS = """\
version: 1
clock: 2026-05-26T11:00:00.000Z
organizations:
  - id: org_traps
    name: Traps
    timezone: UTC
    api_keys:
      - key: sk_test_traps
        scopes: [appointments:read, appointments:write]
    services:
      - id: f47ac10b-58cc-4372-a567-0e02b2c3d479
        name: Checkup
    branches:
      - id: b1
        name: Main
    calendar_windows:
      - id: w1
        branch_id: b1
        day: monday
        session: Morning
        batch: MA
        start_time: 09:00
        end_time: 11:00
        max_slots: 20
        ai_slots: 10
        closed_dates: [2026-06-22]
    appointments:
      - appointment_id: appt_traps
        appointment_type: f47ac10b-58cc-4372-a567-0e02b2c3d479
        branch_id: b1
        date: 2026-06-15
        session: Morning
        batch: MA
        token: 0755
        patient_name: No
        parent_phone: "+919840000000"
        created_at: 2026-05-26T10:00:00.000Z
"""


def test_plain_yaml_parser_would_misread_the_traps() -> None:
    """Guards the next test: stock YAML 1.1 turns these into numbers, dates and booleans."""
    document = yaml.safe_load(TRAPS)
    window = document["organizations"][0]["calendar_windows"][0]
    appointment = document["organizations"][0]["appointments"][0]
    assert window["end_time"] == 660  # sexagesimal 11:00
    assert window["closed_dates"] == [date(2026, 6, 22)]
    assert appointment["date"] == date(2026, 6, 15)
    assert (appointment["token"], appointment["patient_name"]) == (493, False)


def test_yaml_11_traps_load_as_strings(make_client, dump) -> None:
    document = parse_document(TRAPS, "traps.yaml")
    window = document["organizations"][0]["calendar_windows"][0]
    appointment = document["organizations"][0]["appointments"][0]
    assert (window["start_time"], window["end_time"]) == ("09:00", "11:00")
    assert window["closed_dates"] == ["2026-06-22"]
    assert appointment["date"] == "2026-06-15"
    assert document["clock"] == "2026-05-26T11:00:00.000Z"
    assert appointment["token"] == "0755"
    assert appointment["patient_name"] == "No"

    world = load_world(document)
    assert (world.organizations[0].windows[0].start_time,
            world.organizations[0].windows[0].end_time) == (time(9, 0), time(11, 0))
    client = make_client(world)
    served = client.get("/v1/appointments/appt_traps",
                        headers={"Authorization": "Bearer sk_test_traps"}).get_json()["data"]
    assert (served["date"], served["token"], served["patient_name"]) == ("2026-06-15", "0755", "No")
    dumped = dump(client)["organizations"][0]["calendar_windows"][0]
    assert (dumped["start_time"], dumped["end_time"]) == ("09:00", "11:00")


def test_unquoted_phone_number_is_a_located_type_error_not_a_silent_number() -> None:
    text = TRAPS.replace('parent_phone: "+919840000000"', "parent_phone: +919840000000")
    assert_listed(refused(parse_document(text, "traps.yaml")),
                  "organizations[0].appointments[0].parent_phone", "not of type 'string'")


# -- JSON -------------------------------------------------------------------------------------

@pytest.mark.parametrize("indent", [None, 2], ids=["compact", "indented"])
def test_json_world_file_loads_to_the_same_state_as_yaml(tmp_path, make_client, dump, indent) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(default_document(), indent=indent), encoding="utf-8")
    assert dump(make_client(path)) == dump(make_client(default_world_path()))


def test_json_world_indented_with_tabs_loads(tmp_path) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(default_document(), indent="\t"), encoding="utf-8")
    assert len(load_world_file(path).organizations) == 2


def test_json_surrogate_pair_escapes_load_as_the_character(tmp_path) -> None:
    document = default_document()
    org(document)["appointments"][0]["patient_name"] = "Aadhi \U0001F600"
    path = tmp_path / "world.json"
    path.write_text(json.dumps(document, ensure_ascii=True), encoding="utf-8")
    world = load_world_file(path)
    assert world.appointments[0].patient_name == "Aadhi \U0001F600"


# -- dumps load back to the same state ---------------------------------------------------------

def patch_default_world(client) -> None:
    """A few changes of every kind, on the default world."""
    steps = [
        (DOC_ID, {"assigned_doctor": "Dr. Priya Sharma", "notes": "Patient requested morning slot"}),
        ("appt_b2c3d4e5f6", {"appointment_date": "2026-06-22T14:30:00.000Z",
                             "notes": "line one\nline two: with a colon\n- and a dash"}),
        ("appt_e5f6a7b8c9", {"status": "cancelled", "assigned_doctor": None}),
        ("appt_d4e5f6a7b8", {"status": "confirmed"}),  # Kabir again, now the other is cancelled
        ("appt_c3d4e5f6a7", {"notes": "09:00"}),
    ]
    for appointment_id, body in steps:
        response = client.patch(f"/v1/appointments/{appointment_id}", json=body, headers=WRITE)
        assert response.status_code == 200, (appointment_id, response.get_json())
    assert client.put("/_sandbox/clock", json={"advance_seconds": 90}).status_code == 200
    response = client.patch("/v1/appointments/appt_1b2c3d4e5f", json={"notes": "later"}, headers=WRITE)
    assert response.status_code == 200


def test_dump_after_patches_loads_again_to_the_same_state(client, make_client, dump) -> None:
    patch_default_world(client)
    before = dump(client)
    notes = {a["appointment_id"]: a["notes"] for a in before["organizations"][0]["appointments"]}
    assert notes[DOC_ID] == "Patient requested morning slot"
    assert notes["appt_b2c3d4e5f6"] == "line one\nline two: with a colon\n- and a dash"
    assert before["clock"] == "2026-05-26T11:01:30.000Z"

    reloaded = make_client(load_world(before, "dump"))
    assert dump(reloaded) == before
    served = reloaded.get("/v1/appointments/appt_b2c3d4e5f6", headers=WRITE).get_json()["data"]
    assert (served["session"], served["batch"], served["status"]) == ("Afternoon", "AA", "rescheduled")


def test_reloaded_dump_keeps_the_rules_it_carries(client, make_client, dump) -> None:
    """The reloaded state is not only equal on paper: its capacity and duplicates still hold."""
    patch_default_world(client)
    reloaded = make_client(load_world(dump(client), "dump"))
    full = reloaded.patch(f"/v1/appointments/{DOC_ID}",
                          json={"appointment_date": "2026-06-16T10:00:00.000Z"}, headers=WRITE)
    assert (full.status_code, full.get_json()["error"]["code"]) == (409, "SLOT_FULL")
    twice = reloaded.patch("/v1/appointments/appt_e5f6a7b8c9", json={"status": "confirmed"},
                           headers=WRITE)
    assert (twice.status_code, twice.get_json()["error"]["code"]) == (409, "DUPLICATE_BOOKING")


def test_yaml_dump_loads_back_to_the_same_state(client, make_client, dump) -> None:
    patch_default_world(client)
    before = dump(client)
    response = client.get("/_sandbox/world?format=yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    document = parse_document(response.get_data(), "dump.yaml")
    assert document == before
    assert dump(make_client(load_world(document, "dump.yaml"))) == before


def test_dump_of_a_real_time_world_loads_back(client, make_client, dump) -> None:
    patch_default_world(client)
    assert client.put("/_sandbox/clock", json={"now": None}).status_code == 200
    response = client.patch(f"/v1/appointments/{DOC_ID}", json={"notes": "now"}, headers=WRITE)
    assert response.status_code == 200
    before = dump(client)
    assert "clock" not in before
    reloaded = make_client(load_world(before, "dump"))
    assert dump(reloaded) == before
    assert reloaded.get("/_sandbox/clock").get_json()["data"]["frozen"] is False


def test_a_key_given_twice_in_yaml_is_refused_with_its_line() -> None:
    text = "version: 1\norganizations:\n  - id: a\n    name: A\n    name: B\n    timezone: UTC\n"
    with pytest.raises(InvalidWorld) as refused_world:
        parse_document(text, "twice.yaml")
    (problem,) = refused_world.value.details
    assert problem.location == "line 5, column 5"
    assert "duplicate key 'name'" in problem.message


def test_a_key_given_twice_in_json_is_refused() -> None:
    with pytest.raises(InvalidWorld) as refused_world:
        parse_document('{"version": 1, "version": 1, "organizations": []}', "twice.json")
    assert "duplicate key 'version'" in refused_world.value.details[0].message


def test_two_windows_with_one_batch_label_on_a_day_and_session_are_refused() -> None:
    """An appointment records only session and batch; two such windows would make the world
    dump ambiguous (it would not load back to the same state)."""
    document = default_document()
    first = org(document)["calendar_windows"][0]
    org(document)["calendar_windows"].append(
        {**first, "id": "second-ma", "start_time": "12:00", "end_time": "13:00"})
    problems = refused(document)
    index = len(org(document)["calendar_windows"]) - 1
    assert_listed(problems, f"organizations[0].calendar_windows[{index}].batch", "already names calendar_windows[")


@pytest.mark.parametrize("change, location, name, suggestion", [
    (lambda d: d.update(organisations=d.pop("organizations")), "world", "organisations", "organizations"),
    (lambda d: org(d).update(time_zone=org(d).pop("timezone")), "organizations[0]", "time_zone", "timezone"),
    (lambda d: org(d)["calendar_windows"][0].update(ai_slot=1), "organizations[0].calendar_windows[0]",
     "ai_slot", "ai_slots"),
], ids=["organisations", "time_zone", "ai_slot"])
def test_an_unknown_field_suggests_the_nearest_known_name(change, location, name, suggestion) -> None:
    assert_listed(refused(mutated(change)), location, f"unknown field {name!r} (did you mean {suggestion!r}?)")


def test_an_unknown_field_with_no_near_name_suggests_nothing() -> None:
    problems = refused(mutated(lambda d: org(d).update(colour="blue")))
    assert_listed(problems, "organizations[0]", "unknown field 'colour'")
    assert not any("did you mean" in p for p in problems)


def test_the_starter_world_loads() -> None:
    from huskyvoice_sandbox.resources import starter_world_path

    world = load_world_file(starter_world_path())
    assert [o.id for o in world.organizations] == ["org_my_clinic"] and len(world.appointments) == 1
