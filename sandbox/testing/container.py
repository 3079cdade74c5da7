"""The sandbox's container image in a Python test suite, with testcontainers-python
(`pip install "huskyvoice-sandbox[testcontainers]"`), the way WireMock's module works:

    from huskyvoice_sandbox.testing.container import SandboxContainer

    with SandboxContainer().with_world("worlds/clinic.yaml") as container:
        sandbox = container.new_session()     # a sandbox of its own, on the shared container
        client = MyClient(container.get_base_url(), headers=sandbox.headers)
        sandbox.force(429, operation="getAppointment")
        ...

`start()` runs the image with a fresh admin token, so this suite (and only a holder of the token)
has the control API from outside the container; it returns once `GET /_sandbox/health` answers.
Handles are the pytest plugin's `ServedSandbox`: reset, worlds, the clock, forced responses, the
journal and its assertions, over HTTP. docs/docker.md shows the pytest fixtures.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

from ..web.access import ADMIN_HEADER
from .handle import ServedSandbox

DEFAULT_IMAGE = "huskyvoice-sandbox"  # what `docker build -t huskyvoice-sandbox .` tags
PORT = 8080
STARTUP_TIMEOUT = 60  # seconds: a cold start is about 1 s; a busy CI machine may take longer

__all__ = ["DEFAULT_IMAGE", "SandboxContainer"]


class SandboxContainer(DockerContainer):
    """The huskyvoice-sandbox image, started for tests.

    `image` defaults to $HUSKYVOICE_SANDBOX_IMAGE, else `huskyvoice-sandbox`. The control API is
    opened with `admin_token` (default: a new random one), never to everyone.
    """

    def __init__(self, image: str | None = None, *, admin_token: str | None = None, **kwargs: Any) -> None:
        super().__init__(image or os.environ.get("HUSKYVOICE_SANDBOX_IMAGE", DEFAULT_IMAGE), **kwargs)
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self._world: Path | Mapping[str, Any] | None = None
        self._sessions = 0
        self.with_exposed_ports(PORT)
        self.with_env("HUSKYVOICE_SANDBOX_ADMIN_TOKEN", self.admin_token)
        self.waiting_for(HttpWaitStrategy(PORT, "/_sandbox/health").with_header(ADMIN_HEADER, self.admin_token)
                         .for_status_code(200).with_startup_timeout(STARTUP_TIMEOUT))

    def with_world(self, source: str | PathLike[str] | Mapping[str, Any]) -> SandboxContainer:
        """Serve this world (a YAML or JSON file, or a world document) instead of the default one.
        It is sent over the control API once the container is up, so it works with a remote
        Docker engine too; a world with problems fails start() with every problem listed."""
        self._world = source if isinstance(source, Mapping) else Path(source).resolve()
        return self

    def start(self) -> SandboxContainer:
        super().start()
        if self._world is not None:  # SandboxControlError lists a refused world's problems
            self.sandbox().load_world(self._world)
        return self

    def get_base_url(self) -> str:
        """`http://HOST:PORT` of the sandbox, as this process reaches it."""
        return f"http://{self.get_container_host_ip()}:{self.get_exposed_port(PORT)}"

    def get_url(self, path: str) -> str:
        return self.get_base_url() + "/" + path.lstrip("/")

    def sandbox(self, session: str | None = None) -> ServedSandbox:
        """A handle on one session of the container's sandbox (default: the default session)."""
        return ServedSandbox(self.get_base_url(), _contract(), Path.cwd(),
                             admin_token=self.admin_token, session=session)

    def new_session(self) -> ServedSandbox:
        """A handle on a new session: its own appointments, clock, journal and forced responses,
        starting from the container's world. `handle.session` names it for your client's
        X-Sandbox-Session header (`handle.headers` has it)."""
        self._sessions += 1
        name = f"test-{self._sessions}-{secrets.token_hex(4)}"
        handle = self.sandbox(name)
        handle.reset()  # creates it
        return handle

    def health(self) -> dict[str, Any]:
        """`GET /_sandbox/health`'s data."""
        request = Request(self.get_url("/_sandbox/health"), headers={ADMIN_HEADER: self.admin_token})
        with urlopen(request, timeout=10) as response:  # noqa: S310 - the container's own address
            return json.loads(response.read())["data"]


@functools.cache
def _contract() -> Any:
    """openapi.yaml, parsed once per process for every handle (they check operation names)."""
    from ..spec.contract import Contract

    return Contract()
