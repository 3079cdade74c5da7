"""What the kit talks to: the sandbox in-process, a sandbox served over HTTP (recognised by
its control API and seeded through it), or any other deployment, safely by default.

Safety follows the HTTP method. Against a deployment, a method that can create or change data
(anything but GET and HEAD) is never sent without --allow-writes; with it, PATCHes go only to the
appointments the user lent (--appointment-id), and creates stop at --max-creates. Appointments
are never deleted, so every appointment the kit creates there stays: the kit reports their ids.
"""

from __future__ import annotations

import json
import secrets
import shlex
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from huskyvoice_sandbox.resources import default_world_path

# Keys of the packaged default world, used when the target is a sandbox seeded with it.
SANDBOX_WRITE_KEY = "sk_test_demo_write"
SANDBOX_READ_KEY = "sk_test_demo_read"
SANDBOX_APPOINTMENT = "appt_a1b2c3d4e5"
SESSION_HEADER = "X-Sandbox-Session"


def _quote(part: str) -> str:
    """Shell quoting that still lets $HUSKYVOICE_... variables expand."""
    return f'"{part}"' if "$HUSKYVOICE_" in part else shlex.quote(part)


# An id that exists nowhere: writes sent to it can only ever get 404.
NO_SUCH_APPOINTMENT = "appt_contractkit_does_not_exist"
ADMIN_HEADER = "X-Sandbox-Admin-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # they change nothing
DEFAULT_MAX_CREATES = 3
APPOINTMENTS = "/v1/appointments"  # the one path a deployment may see a create on


@dataclass
class Reply:
    """A response, whatever sent it."""

    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None


@dataclass
class Target:
    base_url: str | None  # None: the sandbox in-process
    api_key: str = field(repr=False)  # keys never in a printed target: CI logs keep them
    read_only_key: str | None = field(repr=False)
    allow_writes: bool
    appointment_ids: list[str]
    admin_token: str | None = field(default=None, repr=False)
    app: Any = None
    is_sandbox: bool = False
    max_creates: int = DEFAULT_MAX_CREATES
    created: list[str] = field(default_factory=list)  # on a deployment: permanent
    creates_sent: int = 0  # creates sent to a deployment, whatever came back
    session: str | None = None  # the X-Sandbox-Session a served sandbox is checked in
    _session: requests.Session = field(default_factory=requests.Session, repr=False)

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def build(cls, base_url: str | None, api_key: str | None, read_only_key: str | None,
              allow_writes: bool, appointment_ids: list[str],
              admin_token: str | None = None, max_creates: int = DEFAULT_MAX_CREATES) -> Target:
        if base_url is None:
            from huskyvoice_sandbox import create_app

            return cls(None, api_key or SANDBOX_WRITE_KEY, read_only_key or SANDBOX_READ_KEY,
                       True, appointment_ids or [SANDBOX_APPOINTMENT], app=create_app(),
                       is_sandbox=True)
        target = cls(base_url.rstrip("/"), api_key or "", read_only_key, allow_writes,
                     appointment_ids, admin_token, max_creates=max_creates)
        target.is_sandbox = target._detect_sandbox()
        if target.is_sandbox:
            target.open_session()
            target.api_key = api_key or SANDBOX_WRITE_KEY
            target.read_only_key = read_only_key or SANDBOX_READ_KEY
            target.allow_writes = True
            target.appointment_ids = appointment_ids or [SANDBOX_APPOINTMENT]
        return target

    def _detect_sandbox(self) -> bool:
        try:
            reply = self.control("GET", "/_sandbox/health")
        except requests.RequestException:
            return False
        body = reply.json()
        return reply.status == 200 and isinstance(body, dict) and body.get("success") is True

    # -- what may be done -------------------------------------------------------------------
    @property
    def mode(self) -> str:
        if self.base_url is None:
            return "sandbox in-process (seeded with the default world, reset between cases)"
        if self.is_sandbox:
            return (f"sandbox at {self.base_url}, in a session of its own ({SESSION_HEADER}: "
                    f"{self.session}, removed after the run; the sandbox's other sessions are untouched)")
        if self.allow_writes:
            ids = ", ".join(self.appointment_ids) or "none"
            return (f"deployment at {self.base_url}, WRITES ALLOWED: PATCHes to {ids}; at most "
                    f"{self.max_creates} new appointments, which stay (appointments are never deleted)")
        return f"deployment at {self.base_url}, read-only (only GET requests are sent)"

    @property
    def writes_ok(self) -> bool:
        """May requests that change an existing appointment be sent?"""
        return self.is_sandbox or (self.allow_writes and bool(self.appointment_ids))

    def may_send(self, method: str) -> bool:
        """Safety by HTTP method: what is not GET or HEAD can write, and needs --allow-writes."""
        return self.is_sandbox or method.upper() in SAFE_METHODS or self.allow_writes

    @property
    def writable_id(self) -> str:
        """Where a generated PATCH may go: a disposable appointment, or one that cannot exist."""
        return self.appointment_ids[0] if self.writes_ok else NO_SUCH_APPOINTMENT

    @property
    def readable_id(self) -> str:
        return self.appointment_ids[0] if self.appointment_ids else NO_SUCH_APPOINTMENT

    def confine(self, case: Any) -> bool:
        """Whether a generated request may be sent, steering it first: a request that could
        change an appointment goes only to a lent one, a create only while the budget lasts
        (each create sent takes one unit, whatever comes back).

        Schemathesis' example and coverage phases use the spec's example id whatever the
        configured parameter says, so the id is checked here, where every case leaves.
        """
        method = case.method.upper()
        if not self.may_send(method):
            return False
        if method in SAFE_METHODS or self.is_sandbox:
            return True
        probe = method != case.operation.method.upper()  # a method the spec does not list there
        if "appointment_id" in (case.path_parameters or {}):
            lent = self.appointment_ids if self.writes_ok and not probe else []
            if case.path_parameters.get("appointment_id") not in lent:
                case.path_parameters["appointment_id"] = NO_SUCH_APPOINTMENT
            return True
        # No appointment id in the path: only the spec's own POST of an appointment (a create),
        # within the budget; a probe of a writing method there could change what nobody lent,
        # and a calendar window (or its tracking) is the clinic's, never the kit's to change.
        if probe or (method, case.operation.path) != ("POST", APPOINTMENTS) or not self.creates_ok:
            return False
        self.creates_sent += 1
        return True

    @property
    def creates_ok(self) -> bool:
        """May another request that creates an appointment be sent?"""
        return self.is_sandbox or (self.allow_writes and self.creates_sent < self.max_creates)

    def note_created(self, method: str, status: int, body: Any) -> None:
        """Keep the id of an appointment created on a deployment, to report it: from any 2xx,
        at the top level or under `data`."""
        if self.is_sandbox or method.upper() != "POST" or not 200 <= status < 300:
            return
        data = body.get("data") if isinstance(body, dict) else None
        created = (body.get("appointment_id") if isinstance(body, dict) else None) or \
            (data.get("appointment_id") if isinstance(data, dict) else None)
        if isinstance(created, str):
            self.created.append(created)

    # -- requests ---------------------------------------------------------------------------
    def request(self, method: str, path: str, key: str | None = None, body: Any = None,
                headers: dict[str, str] | None = None, raw_body: str | None = None) -> Reply:
        sent = dict(headers or {})
        if key:
            sent.setdefault("Authorization", f"Bearer {key}")
        if self.session is not None:
            sent.setdefault(SESSION_HEADER, self.session)
        data: Any = None
        if raw_body is not None:
            data = raw_body.encode("utf-8")
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
            sent.setdefault("Content-Type", "application/json")
        if self.app is not None:
            response = self.app.test_client().open(path, method=method, data=data, headers=sent)
            return Reply(response.status_code, dict(response.headers),
                         response.get_data(as_text=True))
        response = self._session.request(method, f"{self.base_url}{path}", data=data, headers=sent,
                                         timeout=30)
        return Reply(response.status_code, dict(response.headers), response.text)

    def control(self, method: str, path: str, **kwargs: Any) -> Reply:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.admin_token:
            headers[ADMIN_HEADER] = self.admin_token
        return self.request(method, path, headers=headers, **kwargs)

    @property
    def repro_base(self) -> str:
        """Where a printed command reproduces a failure: the target, or (for the sandbox in
        process) `huskyvoice-sandbox serve` on its default port."""
        return self.base_url or "http://127.0.0.1:8080"

    def curl(self, method: str, path: str, key: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None, raw_body: str | None = None,
             session: str | None = None) -> str:
        """The same request as a curl command that runs as pasted. The kit's own key is read
        from $HUSKYVOICE_API_KEY (never printed); a scenario's keys are the scenario's own."""
        parts = ["curl", "-s", "-X", method, self.repro_base + path]
        if session:
            parts += ["-H", f"{SESSION_HEADER}: {session}"]
        if self.admin_token and path.startswith("/_sandbox/"):
            parts += ["-H", f"{ADMIN_HEADER}: $HUSKYVOICE_SANDBOX_ADMIN_TOKEN"]
        if key:
            parts += ["-H", f"Authorization: Bearer {'$HUSKYVOICE_API_KEY' if key == self.api_key else key}"]
        for name, value in (headers or {}).items():
            parts += ["-H", f"{name}: {value}"]
        if raw_body is not None or body is not None:
            if body is not None and not (headers or {}).get("Content-Type"):
                parts += ["-H", "Content-Type: application/json"]
            parts += ["-d", raw_body if raw_body is not None else json.dumps(body)]
        return " ".join(_quote(p) for p in parts)

    def seed_command(self, world_file: Path, session: str) -> str:
        """The command that loads a world, as the first step of a reproduction."""
        return self.curl("PUT", "/_sandbox/world", headers={"Content-Type": "application/yaml"},
                         session=session).replace(" -X PUT", " -X PUT --data-binary " + _quote(f"@{world_file}"))

    # -- what can be booked ---------------------------------------------------------------------
    def booking_hint(self, days: int = 14) -> dict[str, str]:
        """A service, branch and time the target would book now: the first open window with room
        in the next `days` days, read with GET requests only; empty when none is found."""
        def get(path: str) -> Any:
            reply = self.request("GET", path, key=self.api_key)
            return reply.json() if reply.status == 200 else None

        services = (get("/v1/services") or {}).get("data") or []
        config = (get("/v1/appointment-config") or {}).get("data") or {}
        try:
            zone = ZoneInfo(config.get("timezone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        today = self._today(zone)
        for offset in range(days):
            on = today + timedelta(days=offset)
            for slot in (get(f"/v1/appointment-slots/availability?date={on.isoformat()}") or {}).get("slots", []):
                service = slot.get("appointment_type") or (services[0]["service_id"] if services else None)
                if slot.get("available_slots", 0) > 0 and service and slot.get("end_time") != "24:00":
                    start = datetime.combine(on, time.fromisoformat(slot["start_time"]), zone)
                    return {"appointment_type": service, "branch_id": slot["branch_id"],
                            "session": slot["session"], "batch": slot["batch"],
                            "appointment_date": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        return {}

    def _today(self, zone: ZoneInfo) -> date:
        """The target's today: a sandbox's clock, else the real one."""
        if self.is_sandbox:
            reply = self.control("GET", "/_sandbox/clock")
            now = (reply.json() or {}).get("data", {}).get("now") if reply.status == 200 else None
            if now:
                return datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(zone).date()
        return datetime.now(zone).date()

    # -- seeding (sandbox targets only) -----------------------------------------------------
    def seed(self, world_file: Path) -> None:
        if self.app is not None:
            from huskyvoice_sandbox.web.http import EXTENSION
            from huskyvoice_sandbox.worlds.world import load_world_file

            self.app.extensions[EXTENSION].state.replace(load_world_file(world_file))
            return
        reply = self.control("PUT", "/_sandbox/world", raw_body=world_file.read_text("utf-8"),
                             headers={"Content-Type": "application/yaml"})
        if reply.status != 200:
            raise RuntimeError(f"seeding {world_file.name} failed: {reply.status} {reply.text[:500]}")

    def reset(self) -> None:
        if self.app is not None:
            from huskyvoice_sandbox.web.http import EXTENSION

            self.app.extensions[EXTENSION].state.reset()
        else:
            self.control("POST", "/_sandbox/reset")

    def open_session(self) -> None:
        """A served sandbox is checked in a session of its own (X-Sandbox-Session): its default
        session, and every other, is left exactly as it was."""
        if self.is_sandbox and self.app is None and self.session is None:
            self.session = f"contract-kit-{secrets.token_hex(4)}"

    def close_session(self) -> None:
        if self.session is not None:
            self.control("DELETE", f"/_sandbox/sessions/{self.session}")
            self.session = None

    def seed_default(self) -> None:
        if self.is_sandbox:
            self.seed(default_world_path())
