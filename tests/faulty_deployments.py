"""Deployments that break one documented rule each, for proving the drift check finds them.

Each is the real sandbox, served by waitress in its own process, with one rule broken: a rule
of the domain patched out, or an answer rewritten on its way out, as a buggy deployment would.
Its answers stay schema-valid, so only knowing what the answer should have been reveals it. The
tests put nginx in front (tests/proxy.py), so the drift check sees no `/_sandbox/`. Serve one:

    python tests/faulty_deployments.py KIND WORLD.json PORT

`world(today)` is the world they serve: real time, dates from `today`, laid out so that every
write of a drift run has a target (a full window, a closed date, the patient's other booking).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

WRITE_KEY, READ_KEY, OTHER_KEY = "sk_faulty_write", "sk_faulty_read", "sk_faulty_other"
LENT = "appt_lent000001"
CHECKUP, VACCINE = "6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e", "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
RATE_LIMIT = 120  # a minute per key: above what a drift run sends before its rate-limit check
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def world(today: date) -> dict[str, Any]:
    """Morning (09:00-12:00, 3 places) and Evening (16:00-19:00, 2 places) every day in
    Asia/Kolkata. The lent appointment is Asha's checkup in two days' Morning; she has another
    checkup two days later; the Evening in three days is full; the Morning in five days is closed."""
    lent_on = today + timedelta(days=2)
    booked = today - timedelta(days=1)  # created and last changed yesterday: before any run's writes

    def appointment(appointment_id: str, on: date, session: str, patient: str, phone: str) -> dict[str, Any]:
        return {"appointment_id": appointment_id, "appointment_type": CHECKUP, "branch_id": "branch_main",
                "date": on.isoformat(), "session": session, "batch": session[0] + "A",
                "patient_name": patient, "parent_phone": phone, "status": "confirmed",
                "created_at": f"{booked}T08:00:00.000Z", "updated_at": f"{booked}T08:00:00.000Z"}

    windows = []
    for day in DAY_NAMES:
        windows += [
            {"id": f"win-{day}-morning", "branch_id": "branch_main", "day": day, "session": "Morning",
             "batch": "MA", "start_time": "09:00", "end_time": "12:00", "max_slots": 5, "ai_slots": 3,
             "closed_dates": [(today + timedelta(days=5)).isoformat()]},
            {"id": f"win-{day}-evening", "branch_id": "branch_main", "day": day, "session": "Evening",
             "batch": "EA", "start_time": "16:00", "end_time": "19:00", "max_slots": 4, "ai_slots": 2}]
    full_on = today + timedelta(days=3)
    return {"version": 1, "description": "A clinic for the drift check's faulty deployments", "organizations": [
        {"id": "org_clinic", "name": "Clinic", "timezone": "Asia/Kolkata", "rate_limit_per_minute": RATE_LIMIT,
         "allow_cancellation": True, "cancellation_notice_hours": 24,
         "api_keys": [{"key": WRITE_KEY, "scopes": ["appointments:read", "appointments:write", "slots:read"]},
                      {"key": READ_KEY, "scopes": ["appointments:read", "slots:read"]}],
         "services": [{"id": CHECKUP, "name": "General Checkup"}, {"id": VACCINE, "name": "Vaccination"}],
         "branches": [{"id": "branch_main", "name": "Main"}],
         "calendar_windows": windows,
         "appointments": [
             appointment(LENT, lent_on, "Morning", "Asha", "+919800000001"),
             appointment("appt_asha000002", today + timedelta(days=4), "Morning", "Asha", "+919800000001"),
             appointment("appt_full000001", full_on, "Evening", "Ravi", "+919800000002"),
             appointment("appt_full000002", full_on, "Evening", "Meena", "+919800000003"),
             {**appointment("appt_gone000001", lent_on, "Evening", "Kiran", "+919800000004"), "status": "cancelled"}]},
        {"id": "org_neighbour", "name": "Neighbour", "timezone": "Asia/Kolkata", "rate_limit_per_minute": RATE_LIMIT,
         "api_keys": [{"key": OTHER_KEY, "scopes": ["appointments:read", "slots:read"]}],
         "services": [{"id": VACCINE, "name": "Vaccination"}], "branches": [{"id": "branch_next", "name": "Next door"}],
         "calendar_windows": [{"id": "win-next", "branch_id": "branch_next", "day": DAY_NAMES[today.weekday()],
                               "session": "Morning", "batch": "MA", "start_time": "09:00", "end_time": "12:00",
                               "max_slots": 5, "ai_slots": 5}],
         "appointments": []}]}


# -- one served, behind nginx ------------------------------------------------------------------

@dataclass
class Served:
    url: str  # through nginx: what the drift check sees
    upstream: str  # the sandbox itself, control API included: what the test reads
    proxy: Any

    def control(self, path: str) -> Any:
        with urllib.request.urlopen(self.upstream + "/_sandbox" + path, timeout=10) as response:
            return json.load(response)["data"]

    def writes(self) -> list[tuple[str, str]]:
        """Every request that reached the deployment and was not a GET."""
        return [(method, uri) for method, uri, _ in self.proxy.journal() if method != "GET"]


@contextmanager
def deployment(kind: str, world_file: Path, root: Path) -> Iterator[Served]:
    from helpers import free_port, wait_for_port
    from proxy import NginxProxy

    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, kind, str(world_file), str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, process, "the deployment")
        upstream = f"http://127.0.0.1:{port}"
        with NginxProxy(upstream, root / "nginx") as proxy:
            yield Served(proxy.url, upstream, proxy)
    finally:
        process.terminate()
        process.communicate(timeout=10)


# -- rules broken in the domain -------------------------------------------------------------------

def _patch(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
    setattr(owner, name, make(getattr(owner, name)))


def full_window_books() -> None:
    """Capacity is never checked: the duplicate check stays."""
    from huskyvoice_sandbox.domain import booking
    from huskyvoice_sandbox.domain.errors import SlotFull

    def make(original: Any) -> Any:
        def check_room(*args: Any, **kwargs: Any) -> None:
            with contextlib.suppress(SlotFull):
                original(*args, **kwargs)
        return check_room
    _patch(booking, "check_room", make)


def duplicate_accepted() -> None:
    """The duplicate rule is never checked: capacity stays."""
    from huskyvoice_sandbox.domain import booking

    def make(original: Any) -> Any:
        def check_room(org: Any, ledger: Any, appointment: Any, current: Any = None) -> None:
            class NoDuplicates:
                def active_in_window(self, *args: Any) -> int:
                    return ledger.active_in_window(*args)

                def active_bookings(self, *args: Any) -> frozenset[str]:
                    return frozenset()
            original(org, NoDuplicates(), appointment, current)
        return check_room
    _patch(booking, "check_room", make)


def closed_window_books() -> None:
    """A date closed in the window's calendar still books (an inactive window still refuses)."""
    from huskyvoice_sandbox.domain import booking
    from huskyvoice_sandbox.domain.errors import SlotInactive

    def make(original: Any) -> Any:
        def check_open(window: Any, on: date) -> None:
            if not window.active:
                raise SlotInactive(f"Window {window.label()} is inactive.")
        return check_open
    _patch(booking, "check_open", make)


def leaks_across_organizations() -> None:
    """A read by id finds any organization's appointment."""
    from huskyvoice_sandbox.domain.store import Store

    def make(original: Any) -> Any:
        def get(self: Any, org_id: str, appointment_id: str) -> Any:
            return self._appointments.get(appointment_id)
        return get
    _patch(Store, "get", make)


def _after_patch(change: Callable[[Any, Any, Any], Any]) -> None:
    from huskyvoice_sandbox.domain import booking

    def make(original: Any) -> Any:
        def apply_patch(org: Any, ledger: Any, current: Any, patch: Any, now: Any) -> Any:
            return change(original(org, ledger, current, patch, now), current, patch)
        return apply_patch
    _patch(booking, "apply_patch", make)


def session_stays() -> None:
    """A reschedule into another window keeps the old session and batch."""
    _after_patch(lambda new, old, patch: replace(new, session=old.session, batch=old.batch)
                 if patch.places else new)


def date_stays() -> None:
    """A reschedule onto another date keeps the old date."""
    _after_patch(lambda new, old, patch: replace(new, date=old.date) if patch.places else new)


def status_ignores_request() -> None:
    """A status sent with a new time is replaced by `rescheduled`."""
    from huskyvoice_sandbox.domain.booking import UNSET
    _after_patch(lambda new, old, patch: replace(new, status="rescheduled")
                 if patch.appointment_date is not UNSET and new.active else new)


def updated_at_stays() -> None:
    """A change is saved, but updated_at keeps its old value."""
    _after_patch(lambda new, old, patch: replace(new, updated_at=old.updated_at))


def created_at_follows() -> None:
    """Every change rewrites created_at too (an upsert that sets both)."""
    _after_patch(lambda new, old, patch: replace(new, created_at=new.updated_at))


def cancel_again_touches() -> None:
    """A repeated cancel changes nothing but updated_at, which it moves to now."""
    from huskyvoice_sandbox.domain import appointments

    def make(original: Any) -> Any:
        def update(store: Any, org: Any, appointment_id: str, patch: Any, now: Any) -> Any:
            with store.lock:
                current = appointments.get(store, org, appointment_id)
                if current.status == "cancelled" and patch.only_cancels:
                    touched = replace(current, updated_at=now)
                    store.put(touched)
                    return touched
            return original(store, org, appointment_id, patch, now)
        return update
    _patch(appointments, "update", make)


def _ascii(text: Any) -> Any:
    return text.encode("ascii", "replace").decode("ascii") if isinstance(text, str) else text


def text_as_ascii() -> None:
    """Notes and the doctor's name are stored in an ASCII column: every other character
    becomes `?`, and the answer shows what was stored."""
    _after_patch(lambda new, old, patch: replace(new, assigned_doctor=_ascii(new.assigned_doctor),
                                                 notes=_ascii(new.notes)))


def short_notes_column() -> None:
    """Notes longer than 255 characters are refused: 400 VALIDATION_ERROR, body.notes."""
    from huskyvoice_sandbox.domain import booking
    from huskyvoice_sandbox.domain.errors import InvalidField

    def make(original: Any) -> Any:
        def apply_patch(org: Any, ledger: Any, current: Any, patch: Any, now: Any) -> Any:
            if isinstance(patch.notes, str) and len(patch.notes) > 255:
                raise InvalidField("notes", "must be at most 255 characters")
            return original(org, ledger, current, patch, now)
        return apply_patch
    _patch(booking, "apply_patch", make)


DOMAIN: dict[str, Callable[[], None]] = {
    "full-window-books": full_window_books,
    "duplicate-accepted": duplicate_accepted,
    "closed-window-books": closed_window_books,
    "leaks-across-organizations": leaks_across_organizations,
    "session-does-not-follow-window": session_stays,
    "date-does-not-follow-window": date_stays,
    "status-ignores-request": status_ignores_request,
    "updated-at-never-moves": updated_at_stays,
    "created-at-changes": created_at_follows,
    "cancel-again-moves-updated-at": cancel_again_touches,
    "text-stored-as-ascii": text_as_ascii,
    "long-notes-refused": short_notes_column,
}


# -- answers rewritten on their way out ----------------------------------------------------------

def _renamed(status: int, old: str, new: str) -> Callable[..., Any]:
    def rewrite(environ: dict[str, Any], code: int, headers: dict[str, str], body: bytes) -> Any:
        answer = json.loads(body) if code == status else None
        if answer and answer["error"]["code"] == old:
            answer["error"]["code"] = new
            return code, headers, json.dumps(answer).encode()
        return code, headers, body
    return rewrite


def no_retry_after(environ: dict[str, Any], code: int, headers: dict[str, str], body: bytes) -> Any:
    return code, {k: v for k, v in headers.items() if k.lower() != "retry-after"}, body


REWRITES: dict[str, Callable[..., Any]] = {
    "wrong-code-for-a-full-window": _renamed(409, "SLOT_FULL", "DUPLICATE_BOOKING"),
    "wrong-code-for-a-missing-id": _renamed(404, "NOT_FOUND", "APPOINTMENT_NOT_FOUND"),
    "no-retry-after-on-429": no_retry_after,
}


def stale_reads(app: Any) -> Any:
    """A cache in front of reads by id: the first answer for each URL and key, for ever."""
    cache: dict[tuple[str, str], tuple[str, list[tuple[str, str]], bytes]] = {}

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if environ["REQUEST_METHOD"] != "GET" or not path.startswith("/v1/appointments/"):
            return app(environ, start_response)
        key = (path, environ.get("HTTP_AUTHORIZATION", ""))
        if key not in cache:
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured["status"], captured["headers"] = status, headers
                return lambda data: None
            body = b"".join(app(environ, capture))
            if not captured["status"].startswith("200"):
                start_response(captured["status"], captured["headers"])
                return [body]
            cache[key] = (captured["status"], captured["headers"], body)
        status, headers, body = cache[key]
        start_response(status, headers)
        return [body]
    return wrapped


def body_read_as_latin_1(app: Any) -> Any:
    """A request body decoded as Latin-1, not UTF-8 (a server that ignores JSON's encoding):
    `\\u` escapes arrive intact, but every character sent as itself becomes several (mojibake):
    stored so, or refused when it no longer fits (400 VALIDATION_ERROR)."""
    import io

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            body = environ["wsgi.input"].read(length).decode("latin-1").encode("utf-8")
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return app(environ, start_response)
    return wrapped


WRAPPERS: dict[str, Callable[[Any], Any]] = {"stale-reads": stale_reads, "body-read-as-latin-1": body_read_as_latin_1}
KINDS = sorted([*DOMAIN, *REWRITES, *WRAPPERS])


def faulty_app(kind: str, world_path: str) -> Any:
    from huskyvoice_sandbox import create_app
    from huskyvoice_sandbox.worlds.world import load_world_file

    if kind in DOMAIN:
        DOMAIN[kind]()
    app = create_app(load_world_file(world_path))
    if kind in REWRITES:
        from broken_targets import rewriting  # the contract kit's broken targets rewrite the same way

        return rewriting(app, REWRITES[kind])
    if kind in WRAPPERS:
        return WRAPPERS[kind](app)
    if kind not in DOMAIN and kind != "faithful":
        raise SystemExit(f"unknown kind {kind!r}; one of: faithful, {', '.join(KINDS)}")
    return app


if __name__ == "__main__":
    from waitress import serve

    serve(faulty_app(sys.argv[1], sys.argv[2]), host="127.0.0.1", port=int(sys.argv[3]), threads=4)
