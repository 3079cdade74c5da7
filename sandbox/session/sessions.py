"""Sessions: isolated copies of the loaded world in one server.

Requests without `X-Sandbox-Session` use the shared default session. A request naming a session
gets that session's own state (appointments, clock, journal, rate-limit counters, snapshots),
created on first use from the server's world. Named sessions are bounded in number: creating
one more than the limit evicts the least recently used.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Any

from ..domain.errors import Detail, InvalidField, NotFound, ValidationError
from ..worlds.world import World
from .journal import DEFAULT_SIZE
from .state import SandboxState

SESSION_HEADER = "X-Sandbox-Session"
SESSION_ENVIRON = "HTTP_X_SANDBOX_SESSION"  # the header, as WSGI names it
DEFAULT_SESSION = "default"
DEFAULT_MAX_SESSIONS = 64
_NAME = re.compile(r"[!-.0-~]{1,64}")  # printable ASCII but space and "/" (names go in paths)


def valid_name(name: str) -> bool:
    """A session or snapshot name: 1-64 printable ASCII characters, no space and no "/"."""
    return _NAME.fullmatch(name) is not None


def check_name(name: str, where: str) -> str:
    """`name` if it is a valid name, else a 400 located at `where`."""
    if not valid_name(name):
        shown = name[:64].encode("ascii", "backslashreplace").decode("ascii")
        raise ValidationError(f"Invalid name {shown!r}.", [Detail(
            where, "must be 1-64 printable ASCII characters, without spaces or '/'")])
    return name


class Sessions:
    def __init__(self, world: World, journal_size: int = DEFAULT_SIZE,
                 max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:
        self._lock = threading.Lock()
        self._journal_size = journal_size
        self.max_sessions = max_sessions
        self.default = SandboxState(world, journal_size)
        self._named: OrderedDict[str, SandboxState] = OrderedDict()
        self._last_used: dict[str, float] = {}

    def fresh(self, world: World) -> Sessions:
        """New sessions serving `world`, with these limits: nothing of this one's state (named
        sessions, journals, snapshots, forced responses, the world last loaded) carries over."""
        return Sessions(world, self._journal_size, self.max_sessions)

    @property
    def world(self) -> World:
        """The world new sessions start from: the default session's."""
        return self.default.world

    def get(self, name: str | None) -> SandboxState:
        """The session's state, created on first use; None or "default" is the shared one."""
        if name is None or name == DEFAULT_SESSION:
            return self.default
        with self._lock:
            state = self._named.get(name)
            if state is None:
                state = SandboxState(self.world, self._journal_size)
                self._named[name] = state
                while len(self._named) > self.max_sessions:
                    evicted, gone = self._named.popitem(last=False)
                    self._last_used.pop(evicted, None)
                    gone.end()
            self._named.move_to_end(name)
            self._last_used[name] = time.time()
            return state

    def named_by(self, header: str | None) -> SandboxState:
        """The session a request names in X-Sandbox-Session (its value, None without it): the
        default one without it; a 400 located at the header for a bad name."""
        if header is None:
            return self.default
        return self.get(check_name(header, f"header.{SESSION_HEADER}"))

    def journal_of(self, header: str | None) -> SandboxState:
        """Where a request naming `header` is journaled, even one refused before its session was
        looked up: the session it names, or the default one for none or a bad name."""
        if header is None or not valid_name(header):
            return self.default
        return self.get(header)

    def delete(self, name: str) -> None:
        if name == DEFAULT_SESSION:
            raise InvalidField("name", "is the default session",
                               "The default session cannot be deleted; reset it instead.")
        with self._lock:
            gone = self._named.pop(name, None)
            if gone is None:
                raise NotFound(f"No session named {name}.")
            self._last_used.pop(name, None)
        gone.end()

    def clear_forced(self) -> None:
        """Every session's pending forced responses dropped, their delays under way ended, and
        their webhook deliveries still pending stopped (the pytest plugin, when a test is over)."""
        with self._lock:
            states = [self.default, *self._named.values()]
        for state in states:
            state.end()

    def listing(self) -> list[dict[str, Any]]:
        """The default session, then named ones from least to most recently used."""
        with self._lock:
            named = list(self._named.items())
            used = dict(self._last_used)
        rows = [{"name": DEFAULT_SESSION, **self.default.summary()}]
        for name, state in named:
            rows.append({"name": name, "last_used": _stamp(used.get(name)), **state.summary()})
        return rows


def _stamp(moment: float | None) -> str | None:
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
