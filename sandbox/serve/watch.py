"""Watch mode (`serve --watch`): reload the world when its file changes.

A daemon thread looks at the file every `interval` seconds: one `stat` while nothing changes.
Polling needs no dependency and behaves the same on every OS and file system (network mounts,
containers' bind mounts, editors that replace the file by renaming a temporary one).

A change is acted on once the file has held still for one interval, so a file caught half
written, briefly empty or briefly missing while an editor saves it is normally never reported.
Content is compared by hash, so a touch (or a file put back as it was) reloads nothing. A version
with problems, or a file that cannot be read, is reported once, located, and the previous world
stays served; the next good version is loaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..domain.errors import Detail, InvalidWorld
from ..worlds.world import World, load_world, parse_document

DEFAULT_INTERVAL = 0.5  # seconds between two looks at the file
# File systems store times in steps (up to a few seconds on some), so an edit made in the step
# of the previous look can leave the stamp unchanged. While a file's times are this recent, its
# content is hashed on every look instead of trusting the stamp.
RECENT_NS = 3_000_000_000

log = logging.getLogger("huskyvoice_sandbox.watch")


@dataclass(frozen=True)
class _Look:
    """One look at the file: its stamp and content hash, or why it could not be read."""

    stamp: tuple[int, int, int, int] | None = None  # mtime_ns, ctime_ns, size, inode
    digest: bytes | None = None
    problem: str | None = None


class WorldWatcher:
    """Polls one world file; `start(on_world)` calls `on_world` with each new valid world.

    The file is looked at when the watcher is made: make it before loading the world it serves,
    so that an edit made in between is reloaded rather than missed.
    """

    def __init__(self, path: str | Path, *, interval: float = DEFAULT_INTERVAL,
                 logger: logging.Logger = log) -> None:
        self.path = Path(path)
        self.interval = interval
        self.log = logger
        first, _ = self._look(None)
        self._previous = first  # the last look
        self._handled = first  # the last version acted on: loaded, reported, or the same content
        self._served = first.digest  # the content of the world being served
        self._reported = False  # the last version acted on was reported as a problem
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, on_world: Callable[[World], None]) -> None:
        self._thread = threading.Thread(target=self._run, args=(on_world,), daemon=True,
                                        name=f"watch {self.path.name}")
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def check(self) -> World | None:
        """Look at the file once. Returns the world it now holds if that is a new version and
        valid; a version with problems is reported (once) and None returned. The thread calls
        this; call it yourself only on a watcher that was not started."""
        settled = self._previous if self._previous == self._handled else None
        look, data = self._look(settled)
        if look != self._previous:  # changed since the last look: wait until it holds still
            self._previous = look
            return None
        if look == self._handled:
            return None
        self._handled = look
        if look.problem is None and look.digest == self._served:
            if self._reported:
                self.log.info("%s holds the world being served again", self.path)
            self._reported = False
            return None
        source = str(self.path)
        try:
            if data is None:
                raise InvalidWorld(source, [Detail("file", look.problem or "cannot be read")])
            if not data.strip():
                raise InvalidWorld(source, [Detail("file", "is empty")])
            world = load_world(parse_document(data, source), source)
        except InvalidWorld as exc:
            self._reported = True
            self.log.warning("%s\nkept the previous world", exc.report())
            return None
        self._served = look.digest
        self._reported = False
        return world

    def _look(self, settled: _Look | None) -> tuple[_Look, bytes | None]:
        """Stat the file; read and hash it unless its stamp is the settled look's and old
        enough to trust. What is hashed is what gets loaded."""
        try:
            info = os.stat(self.path)
            stamp = (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)
            recent = time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < RECENT_NS
            if settled is not None and stamp == settled.stamp and not recent:
                return settled, None
            data = self.path.read_bytes()
        except OSError as exc:
            return _Look(problem=exc.strerror or str(exc)), None
        return _Look(stamp, hashlib.sha256(data).digest()), data

    def _run(self, on_world: Callable[[World], None]) -> None:
        while not self._stopping.wait(self.interval):
            try:
                world = self.check()
                if world is not None:
                    on_world(world)
                    self.log.info("reloaded %s: %d organizations, %d appointments", self.path,
                                  len(world.organizations), len(world.appointments))
            except Exception:  # a bug must not end watch mode silently; the old world stays
                self.log.exception("watching %s failed; kept the previous world", self.path)
