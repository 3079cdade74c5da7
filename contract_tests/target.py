"""What the kit talks to: the sandbox in-process, a sandbox served over HTTP (recognised by
its control API and seeded through it), or any other deployment, safely by default."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from sandbox.resources import default_world_path

# Keys of the packaged default world, used when the target is a sandbox seeded with it.
SANDBOX_WRITE_KEY = "sk_test_demo_write"
SANDBOX_READ_KEY = "sk_test_demo_read"
SANDBOX_APPOINTMENT = "appt_a1b2c3d4e5"
# An id that exists nowhere: writes sent to it can only ever get 404.
NO_SUCH_APPOINTMENT = "appt_contractkit_does_not_exist"
ADMIN_HEADER = "X-Sandbox-Admin-Token"


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
    api_key: str
    read_only_key: str | None
    allow_writes: bool
    appointment_ids: list[str]
    admin_token: str | None = None
    app: Any = None
    is_sandbox: bool = False
    _saved_world: str | None = field(default=None, repr=False)
    _session: requests.Session = field(default_factory=requests.Session, repr=False)

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def build(cls, base_url: str | None, api_key: str | None, read_only_key: str | None,
              allow_writes: bool, appointment_ids: list[str],
              admin_token: str | None = None) -> "Target":
        if base_url is None:
            from sandbox import create_app

            return cls(None, api_key or SANDBOX_WRITE_KEY, read_only_key or SANDBOX_READ_KEY,
                       True, appointment_ids or [SANDBOX_APPOINTMENT], app=create_app(),
                       is_sandbox=True)
        target = cls(base_url.rstrip("/"), api_key or "", read_only_key, allow_writes,
                     appointment_ids, admin_token)
        target.is_sandbox = target._detect_sandbox()
        if target.is_sandbox:
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
            return f"sandbox at {self.base_url} (seeded through /_sandbox/, reset between cases)"
        if self.allow_writes:
            ids = ", ".join(self.appointment_ids) or "none"
            return f"deployment at {self.base_url}, WRITES ALLOWED to: {ids}"
        return f"deployment at {self.base_url}, read-only (no request can change an appointment)"

    @property
    def writes_ok(self) -> bool:
        return self.is_sandbox or (self.allow_writes and bool(self.appointment_ids))

    @property
    def writable_id(self) -> str:
        """Where a generated PATCH may go: a disposable appointment, or one that cannot exist."""
        return self.appointment_ids[0] if self.writes_ok else NO_SUCH_APPOINTMENT

    @property
    def readable_id(self) -> str:
        return self.appointment_ids[0] if self.appointment_ids else NO_SUCH_APPOINTMENT

    def confine(self, case: Any) -> None:
        """Send a generated request that could change something only to a lent appointment.

        Schemathesis' example and coverage phases use the spec's example id whatever the
        configured parameter says, so the id is checked here, where every case leaves.
        """
        if case.method.upper() in ("GET", "HEAD"):
            return
        lent = self.appointment_ids if self.writes_ok else []
        if case.path_parameters.get("appointment_id") not in lent:
            case.path_parameters["appointment_id"] = NO_SUCH_APPOINTMENT

    # -- requests ---------------------------------------------------------------------------
    def request(self, method: str, path: str, key: str | None = None, body: Any = None,
                headers: dict[str, str] | None = None, raw_body: str | None = None) -> Reply:
        sent = dict(headers or {})
        if key:
            sent.setdefault("Authorization", f"Bearer {key}")
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
        response = self._session.request(method, self.base_url + path, data=data, headers=sent,
                                         timeout=30)
        return Reply(response.status_code, dict(response.headers), response.text)

    def control(self, method: str, path: str, **kwargs: Any) -> Reply:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.admin_token:
            headers[ADMIN_HEADER] = self.admin_token
        return self.request(method, path, headers=headers, **kwargs)

    def curl(self, method: str, path: str, key: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None, raw_body: str | None = None) -> str:
        """The same request as a curl command, to reproduce a failure by hand (key masked)."""
        parts = ["curl", "-X", method, (self.base_url or "http://127.0.0.1:8080") + path]
        if key:
            parts += ["-H", f"Authorization: Bearer {key[:4]}…"]
        for name, value in (headers or {}).items():
            parts += ["-H", f"{name}: {value}"]
        if raw_body is not None or body is not None:
            if body is not None and not (headers or {}).get("Content-Type"):
                parts += ["-H", "Content-Type: application/json"]
            parts += ["-d", raw_body if raw_body is not None else json.dumps(body)]
        return " ".join(shlex.quote(p) for p in parts)

    # -- seeding (sandbox targets only) -----------------------------------------------------
    def seed(self, world_file: Path) -> None:
        if self.app is not None:
            from sandbox.web.http import EXTENSION
            from sandbox.worlds.world import load_world_file

            self.app.extensions[EXTENSION].state.replace(load_world_file(world_file))
            return
        reply = self.control("PUT", "/_sandbox/world", raw_body=world_file.read_text("utf-8"),
                             headers={"Content-Type": "application/yaml"})
        if reply.status != 200:
            raise RuntimeError(f"seeding {world_file.name} failed: {reply.status} {reply.text[:500]}")

    def reset(self) -> None:
        if self.app is not None:
            from sandbox.web.http import EXTENSION

            self.app.extensions[EXTENSION].state.reset()
        else:
            self.control("POST", "/_sandbox/reset")

    def save_world(self) -> None:
        """Keep a served sandbox's own world, to put it back after the run."""
        if self.is_sandbox and self.app is None:
            reply = self.control("GET", "/_sandbox/world?format=yaml")
            self._saved_world = reply.text if reply.status == 200 else None

    def restore_world(self) -> None:
        if self._saved_world is not None:
            self.control("PUT", "/_sandbox/world", raw_body=self._saved_world,
                         headers={"Content-Type": "application/yaml"})

    def seed_default(self) -> None:
        if self.is_sandbox:
            self.seed(default_world_path())
