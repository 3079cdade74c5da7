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
import time as time_module
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from huskyvoice_sandbox.remote.reply import Reply
from huskyvoice_sandbox.resources import default_world_path

# Keys of the packaged default world, used when the target is a sandbox seeded with it.
SANDBOX_WRITE_KEY = "sk_test_demo_write"
SANDBOX_READ_KEY = "sk_test_demo_read"
SANDBOX_OTHER_KEY = "sk_test_other_write"  # Lakeview Clinic's: another organization
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
# What the kit may send to a deployment, per writing operation, is the spec's to say:
# `create` (with --allow-writes, within the create budget), `lent-appointment` (with
# --allow-writes, to a lent appointment only) or `never`. tests/test_smoke.py checks that every
# writing operation says one.
ON_A_DEPLOYMENT = "x-on-a-deployment"
ON_A_DEPLOYMENT_RULES = ("create", "lent-appointment", "never")


@dataclass(frozen=True)
class Offer:
    """One window with room on one date, as the target's availability listed it: a booking
    takes its service, branch, session, batch and start time together, never one without the
    others (a time of one branch's window with another branch is a 422 OUTSIDE_AVAILABILITY)."""

    appointment_type: str  # the window's service; for a window open to any, the first listed
    branch_id: str
    session: str
    batch: str
    appointment_date: str  # the window's start that date, in UTC
    starts: datetime
    restricted: bool  # the window takes only its own service

    @classmethod
    def of(cls, slot: Any, on: date, zone: ZoneInfo, services: list[Any]) -> Offer | None:
        """The offer of an availability slot, if it has room and the kit can read it."""
        if not isinstance(slot, dict) or slot.get("end_time") == "24:00":
            return None
        try:
            starts = datetime.combine(on, time.fromisoformat(slot["start_time"]), zone)
            room = int(slot.get("available_slots") or 0) > 0
        except (KeyError, TypeError, ValueError):
            return None
        service = slot.get("appointment_type") or next((s for s in services if isinstance(s, str)), None)
        fields = (slot.get("branch_id"), slot.get("session"), slot.get("batch"))
        if not room or not isinstance(service, str) or not all(isinstance(f, str) and f for f in fields):
            return None
        return cls(service, slot["branch_id"], slot["session"], slot["batch"],
                   starts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"), starts,
                   bool(slot.get("appointment_type")))

    def create(self) -> dict[str, str]:
        """A create body's placement: all five fields, from this window."""
        return {"appointment_type": self.appointment_type, "branch_id": self.branch_id,
                "session": self.session, "batch": self.batch, "appointment_date": self.appointment_date}

    def reschedule(self) -> dict[str, str]:
        """An update's placement (the branch and the service of an appointment do not change)."""
        return {"appointment_date": self.appointment_date, "session": self.session, "batch": self.batch}

    def takes(self, branch_id: Any, service: Any) -> bool:
        """Could an appointment of this branch and service move here?"""
        return branch_id == self.branch_id and (not self.restricted or service == self.appointment_type)


@dataclass
class Target:
    base_url: str | None  # None: the sandbox in-process
    api_key: str = field(repr=False)  # keys never in a printed target: CI logs keep them
    read_only_key: str | None = field(repr=False)
    allow_writes: bool
    appointment_ids: list[str]
    admin_token: str | None = field(default=None, repr=False)
    other_key: str | None = field(default=None, repr=False)  # another organization's (isolation)
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
              admin_token: str | None = None, max_creates: int = DEFAULT_MAX_CREATES,
              other_key: str | None = None, contract: Any = None) -> Target:
        if base_url is None:
            from huskyvoice_sandbox import create_app

            # The kit's contract, if given: openapi.yaml is read once per run.
            return cls(None, api_key or SANDBOX_WRITE_KEY, read_only_key or SANDBOX_READ_KEY,
                       True, appointment_ids or [SANDBOX_APPOINTMENT], app=create_app(contract=contract),
                       is_sandbox=True, other_key=other_key or SANDBOX_OTHER_KEY)
        target = cls(base_url.rstrip("/"), api_key or "", read_only_key, allow_writes,
                     appointment_ids, admin_token, max_creates=max_creates, other_key=other_key)
        target.is_sandbox = target._detect_sandbox()
        if target.is_sandbox:
            target.open_session()
            target.api_key = api_key or SANDBOX_WRITE_KEY
            target.read_only_key = read_only_key or SANDBOX_READ_KEY
            target.other_key = other_key or SANDBOX_OTHER_KEY
            target.allow_writes = True
            target.appointment_ids = appointment_ids or [SANDBOX_APPOINTMENT]
        return target

    def _detect_sandbox(self) -> bool:
        try:
            reply = self.control("GET", "/_sandbox/health")
        except requests.RequestException:
            return False
        body = reply.json
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
        # No appointment id in the path: only an operation the spec marks as a create
        # (`x-on-a-deployment: create`), within the budget; a probe of a writing method there
        # could change what nobody lent, and what the spec marks `never` (the clinic's calendar
        # windows and their tracking) is never the kit's to change.
        rule = case.operation.definition.raw.get(ON_A_DEPLOYMENT)
        if probe or rule != "create" or not self.creates_ok:
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
            return Reply.of(response.status_code, response.headers.items(), response.get_data())
        response = self._session.request(method, f"{self.base_url}{path}", data=data, headers=sent,
                                         timeout=30)
        return Reply.of(response.status_code, response.headers.items(), response.content)

    def patiently(self, method: str, path: str, key: str | None = None, body: Any = None,
                  waits: int = 2) -> Reply:
        """A request of the kit's own (not a generated case), with a 429 waited out as its
        Retry-After says (at most a minute, `waits` times): a deployment's requests a minute
        are not a finding."""
        reply = self.request(method, path, key=key, body=body)
        for _ in range(waits):
            after = reply.headers.get("retry-after", "")
            if reply.status != 429 or not after.isdigit() or int(after) > 60:
                break
            time_module.sleep(max(1, int(after)))
            reply = self.request(method, path, key=key, body=body)
        return reply

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
            shown = {self.api_key: "$HUSKYVOICE_API_KEY", self.other_key: "$HUSKYVOICE_OTHER_KEY"}.get(key, key)
            parts += ["-H", f"Authorization: Bearer {shown}"]
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
    def offers(self, days: int = 14) -> list[Offer]:
        """What the target's availability offers from now on, read with GET requests only: each
        open window with room on each of the next `days` dates of the organization's calendar,
        in the order availability lists them, date by date. Windows that have already started,
        and those that run to midnight, are left out. Today is the target's (Target.now)."""
        def get(path: str) -> tuple[dict[str, Any], Reply]:
            reply = self.patiently("GET", path, key=self.api_key)
            body = reply.json
            return (body if reply.status == 200 and isinstance(body, dict) else {}), reply

        services = [s.get("service_id") for s in get("/v1/services")[0].get("data") or [] if isinstance(s, dict)]
        config, reply = get("/v1/appointment-config")
        try:
            zone = ZoneInfo((config.get("data") or {}).get("timezone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            zone = ZoneInfo("UTC")
        now = self.now(reply)
        today = now.astimezone(zone).date()
        found = []
        for offset in range(days):
            on = today + timedelta(days=offset)
            for slot in get(f"/v1/appointment-slots/availability?date={on.isoformat()}")[0].get("slots") or []:
                offer = Offer.of(slot, on, zone, services)
                if offer is not None and offer.starts > now:
                    found.append(offer)
        return found

    def now(self, reply: Reply | None = None) -> datetime:
        """The target's time: a sandbox's clock, else the `Date` header of its answers (a
        deployment's clock, which a sandbox behind a proxy gives as its own), else this machine's."""
        if self.is_sandbox:
            clock = self.control("GET", "/_sandbox/clock")
            now = (clock.data or {}).get("now") if clock.status == 200 else None
            if now:
                return datetime.fromisoformat(now.replace("Z", "+00:00"))
        reply = reply or self.request("GET", "/v1/appointment-config", key=self.api_key)
        return reply.said_time or datetime.now(UTC)

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
