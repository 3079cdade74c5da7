"""The control API, `/_sandbox/`: reset, replace and read the world, its keys, the request
journal, the clock, sessions, snapshots, forced responses, and health. Sandbox-only; served to
loopback clients, or to anyone sending the admin token when the server was started with one
(then every control request must send it)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from .. import __version__
from ..domain.clock import format_timestamp, parse_utc
from ..domain.errors import Detail, InvalidField, ValidationError
from ..resources import control_spec_path
from ..session import forcing
from ..session.sessions import DEFAULT_SESSION, SESSION_HEADER, check_name
from ..worlds.world import add_appointments as add_to_store
from ..worlds.world import dump_appointment, dump_yaml, load_world, parse_document
from .http import (
    json_response,
    read_json,
    require_control_access,
    runtime,
    session_state,
)

bp = Blueprint("control", __name__, url_prefix="/_sandbox")

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
WORLD_MAX_BYTES = 64 * 1024 * 1024
WORLD_PATH = "/_sandbox/world"


def body_limit(path: str, api_limit: int) -> int:
    """The largest body a request to `path` may send: a world, or anything else."""
    return WORLD_MAX_BYTES if path == WORLD_PATH else api_limit


@bp.before_request
def guard() -> None:
    require_control_access("The control API")


def ok(data: Any, status: int = 200) -> Response:
    return json_response({"success": True, "data": data}, status)


@bp.get("/openapi.yaml")
def control_spec() -> Response:
    """This API's own OpenAPI description."""
    return Response(control_spec_path().read_text(encoding="utf-8"), mimetype="application/yaml")


@bp.get("/health")
def health() -> Response:
    session = request.headers.get(SESSION_HEADER) or DEFAULT_SESSION
    return ok({"status": "ok", "version": __version__, "session": session, **session_state().summary()})


@bp.post("/reset")
def reset() -> Response:
    state = session_state()
    state.reset()
    return ok(state.summary())


@bp.get("/world")
def get_world() -> Response:
    document = session_state().dump()
    if request.args.get("format") == "yaml" or _prefers_yaml():
        return Response(dump_yaml(document), mimetype="application/yaml")
    return ok(document)


@bp.get("/keys")
def list_keys() -> Response:
    """The session's API keys in world order, as `serve` prints them: cheaper than the world."""
    organizations = session_state().store.organizations.values()
    return ok([{"key": k.key, "name": k.name, "organization": org.id, "scopes": sorted(k.scopes)}
               for org in organizations for k in org.api_keys])


@bp.put("/world")
def put_world() -> Response:
    if request.mimetype not in ("application/json",) + YAML_TYPES:
        raise ValidationError("The world must be sent as YAML or JSON.", [Detail(
            "header.Content-Type", "must be application/json or application/yaml")])
    request.max_content_length = WORLD_MAX_BYTES  # a world is far larger than an API request
    raw = request.get_data(cache=True)
    document = parse_document(raw, "request body")
    world = load_world(document, "request body")  # raises InvalidWorld, old world stays
    state = session_state()
    state.replace(world)
    return ok(state.summary())


@bp.post("/appointments")
def add_appointments() -> Response:
    """Add appointments to the session, as a world file writes them, without replacing its
    world: `{"organization": "org_demo", "appointments": [{...}, ...]}`. All or nothing."""
    state = session_state()
    body = read_json(request)
    store = state.store
    with store.lock:
        added = add_to_store(body, store, state.clock.now())
    return ok({"added": len(added), "appointments": [dump_appointment(a) for a in added]}, 201)


# -- sessions -----------------------------------------------------------------------------------

@bp.get("/sessions")
def list_sessions() -> Response:
    sessions = runtime().sessions
    return ok({"max_sessions": sessions.max_sessions, "sessions": sessions.listing()})


@bp.delete("/sessions/<name>")
def delete_session(name: str) -> Response:
    try:
        runtime().sessions.delete(check_name(name, "path.name"))
    except InvalidField as exc:
        raise exc.located("path") from None
    return ok({"deleted": name})


# -- snapshots (of the session the request names) -----------------------------------------------

@bp.get("/snapshots")
def list_snapshots() -> Response:
    state = session_state()
    return ok([snapshot.summary(name) for name, snapshot in sorted(state.snapshots.items())])


@bp.post("/snapshots")
def save_snapshot() -> Response:
    """`{"name": "seeded"}` keeps the session's appointments and clock under that name."""
    body = read_json(request)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str):
        raise ValidationError("Send the snapshot's name.", [Detail("body.name", 'expected {"name": "seeded"}')])
    try:
        snapshot = session_state().save(check_name(name, "body.name"))
    except InvalidField as exc:
        raise exc.located("body") from None
    return ok(snapshot.summary(name), 201)


@bp.post("/snapshots/<name>/restore")
def restore_snapshot(name: str) -> Response:
    state = session_state()
    state.restore(name)
    return ok(state.summary())


@bp.delete("/snapshots/<name>")
def delete_snapshot(name: str) -> Response:
    session_state().delete_snapshot(name)
    return ok({"deleted": name})


# -- forced responses (of the session the request names) ----------------------------------------

@bp.get("/forced-responses")
def list_forced() -> Response:
    return ok(session_state().forced.listing())


@bp.post("/forced-responses")
def add_forced() -> Response:
    """E.g. `{"operation": "updateAppointment", "status": 409, "example": "SLOT_FULL"}`."""
    rule = forcing.build(read_json(request), runtime().contract)
    return ok(session_state().forced.add(rule).view(), 201)


@bp.delete("/forced-responses")
def clear_forced() -> Response:
    return ok({"cleared": session_state().forced.clear()})


@bp.delete("/forced-responses/<rule_id>")
def delete_forced(rule_id: str) -> Response:
    session_state().forced.delete(rule_id)
    return ok({"deleted": rule_id})


# -- journal --------------------------------------------------------------------------------------

@bp.get("/requests")
def get_requests() -> Response:
    return ok(session_state().journal.entries(query_limit()))


def query_limit() -> int | None:
    """`?limit=N` of a journal read: the last N entries; None without it."""
    raw = request.args.get("limit")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError("limit must be a whole number of at least 1.",
                              [Detail("query.limit", f"expected a positive integer, got {raw!r}")])
    return int(raw)


@bp.delete("/requests")
def clear_requests() -> Response:
    return ok({"cleared": session_state().journal.clear()})


@bp.get("/clock")
def get_clock() -> Response:
    return ok(_clock_view())


@bp.put("/clock")
def put_clock() -> Response:
    """`{"now": "<UTC datetime>"}` freezes, `{"now": null}` returns to real time,
    `{"advance_seconds": N}` moves a frozen clock."""
    body = read_json(request)
    clock = session_state().clock
    if not isinstance(body, dict) or len(body.keys() & {"now", "advance_seconds"}) != 1:
        raise ValidationError("Send either now or advance_seconds.", [Detail(
            "body", 'expected {"now": "2026-06-15T09:00:00.000Z"}, {"now": null} or {"advance_seconds": 60}')])
    if "now" in body:
        clock.freeze(_moment(body["now"]))
    else:
        seconds = body["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ValidationError("advance_seconds must be a number.",
                                  [Detail("body.advance_seconds", "must be a number")])
        if not clock.frozen:
            raise ValidationError("The clock runs in real time; freeze it first.",
                                  [Detail("body.advance_seconds", "the clock is not frozen")])
        try:
            clock.advance(seconds)
        except (OverflowError, ValueError):
            raise ValidationError("advance_seconds moves the clock out of range.", [Detail(
                "body.advance_seconds", "the clock must stay between years 1 and 9999")]) from None
    return ok(_clock_view())


def _moment(value: Any) -> Any:
    if value is None:
        return None
    try:
        return parse_utc(value)
    except (ValueError, TypeError) as exc:
        raise ValidationError("now must be an ISO 8601 UTC datetime or null.",
                              [Detail("body.now", str(exc))]) from None


def _clock_view() -> dict[str, Any]:
    clock = session_state().clock
    return {"now": format_timestamp(clock.now()), "frozen": clock.frozen}


def _prefers_yaml() -> bool:
    best = request.accept_mimetypes.best_match(("application/json",) + YAML_TYPES)
    return best in YAML_TYPES

