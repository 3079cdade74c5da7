"""What every request to an operation is, on its way through the pipeline (sandbox/web/pipeline.py):
a `Call`, which the steps fill in and the view reads, and the `Answer` a view returns. Views are
registered here by operationId (`@view`). A leaf of the web layer: it imports no step and no view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request

from ..domain.model import Organization
from ..domain.store import Credential, Store
from ..session.state import SandboxState
from ..spec.contract import Operation
from .http import Runtime, read_json_object


class ApiRequest(Request):
    """One `/v1` request: Werkzeug's parsing, with the body read in one piece when it can be."""

    def prefetch_body(self) -> None:
        """Read a body of declared, allowed length in one read, for get_data() to return: what
        Werkzeug's stream gives, without its wrapping (a twentieth of a reschedule's cost).
        Other bodies (no length, chunked, over the limit) are left to the stream."""
        if getattr(self, "_cached_data", None) is None:
            whole = self._whole_body()
            if whole is not None:
                self._cached_data = whole

    def _whole_body(self) -> bytes | None:
        length = self.content_length  # None when absent, invalid or chunked
        limit = self.max_content_length
        if length is None or self.environ.get("wsgi.input_terminated") or (limit is not None and length > limit):
            return None
        data: bytes = self.environ["wsgi.input"].read(length)
        if len(data) != length:  # the client went away mid-body: as Werkzeug's stream tells it
            raise ClientDisconnected()
        return data


@dataclass(slots=True)
class Answer:
    """What a view (or a forced response) answers: a status, a JSON payload (None: no body)
    and headers."""

    status: int
    payload: Any
    headers: dict[str, str] | None = None


def ok(data: Any, status: int = 200) -> Answer:
    """The documented success envelope around `data`."""
    return Answer(status, {"success": True, "data": data})


_UNREAD: Any = object()


@dataclass(slots=True)
class Call:
    """One request to an operation: what the steps learn on the way, for the view, the journal
    and the access log. A view sees it once every step before it has passed."""

    req: Request
    runtime: Runtime
    operation: Operation | None = None
    path: dict[str, str] = field(default_factory=dict)  # the path parameters
    query: dict[str, Any] = field(default_factory=dict)  # typed and defaulted (step `query`)
    body: dict[str, Any] = field(default_factory=dict)  # the operation's fields only (step `body`)
    ignored_fields: list[str] | None = None  # body fields left out, named in a response header
    forced: dict[str, Any] | None = None  # how the answer was forced, if it was
    credential: Credential | None = None  # step `key`
    session: SandboxState | None = None  # step `session`; None until then (or if it refused)
    organization: Organization | None = None  # the key's (step `key`), or the one an action names
    _store: Store | None = None
    _now: datetime | None = None
    _document: Any = _UNREAD

    @property
    def state(self) -> SandboxState:
        assert self.session is not None, "the session step runs first"
        return self.session

    @property
    def org(self) -> Organization:
        assert self.organization is not None, "a key or an action names the organization"
        return self.organization

    @property
    def store(self) -> Store:
        """The session's store, read once: a world swap mid-request must not mix worlds."""
        if self._store is None:
            self._store = self.state.store
        return self._store

    @property
    def now(self) -> datetime:
        """The session's clock when the view first asks (after any forced delay)."""
        if self._now is None:
            self._now = self.state.clock.now()
        return self._now

    def document(self) -> dict[str, Any]:
        """The body as a JSON object, read and parsed once (400 if it is not one)."""
        if self._document is _UNREAD:
            if isinstance(self.req, ApiRequest):
                self.req.prefetch_body()
            self._document = read_json_object(self.req)
        document: dict[str, Any] = self._document
        return document


View = Callable[[Call], Answer]
_VIEWS: dict[str, View] = {}


class SpecMismatch(RuntimeError):
    """The views and the spec's operations do not match one to one."""


def view(operation_id: str) -> Callable[[View], View]:
    """Register the view of one operation of the spec (one per operationId)."""
    def register(function: View) -> View:
        if operation_id in _VIEWS:
            raise SpecMismatch(f"two views for {operation_id}")
        _VIEWS[operation_id] = function
        return function

    return register


def views() -> dict[str, View]:
    """The registered views by operationId (the slices register them when imported)."""
    return dict(_VIEWS)
