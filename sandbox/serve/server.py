"""The production server: waitress, with the settings `serve` uses. The benchmark serves its
bare baseline app through the same function, so both run under identical settings.

Waitress answers requests it cannot parse (a bad request line, a NUL in a header, a header
block over its limit) itself, before the app runs, in plain text. Here those answers are in the
API's JSON error envelope too, so a client never has to handle a second error format.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask, WSGITask

from ..session.forcing import ConnectionDropped
from .defaults import DEFAULT_THREADS, STOP_GRACE_SECONDS
from .refusals import MAX_BODY_BYTES, body_limits, refusal


class JsonErrorTask(ErrorTask):
    """Waitress's own error answers, in the envelope, with the spec's statuses and codes."""

    def execute(self) -> None:
        parser: Any = self.request  # the stubs call it the Error; it is the request parser
        error = parser.error
        reason = str(error.body).strip().rstrip(".")[:300]
        self.status, payload = refusal(
            error.code, reason, getattr(parser, "path", None),  # no path: the request line was refused
            getattr(self.channel.server, "sandbox_body_limits", None),
            self.channel.addr[0] if self.channel.addr else None, getattr(parser, "command", "-"))
        self.response_headers = [*self.response_headers, ("Content-Type", "application/json")]
        self.set_close_on_finish()
        self.content_length = len(payload)
        self.write(payload)


class SandboxTask(WSGITask):
    def execute(self) -> None:
        try:
            super().execute()
        except ConnectionDropped:  # a forced drop: send nothing, close the connection
            self.wrote_header = True  # so that finish() writes no response either
            self.close_on_finish = True


class JsonErrorChannel(HTTPChannel):
    task_class = SandboxTask
    error_task_class = JsonErrorTask


def make_server(app: Any, host: str, port: int, threads: int = DEFAULT_THREADS) -> Any:
    """A waitress server for `app`, bound but not yet running (call `.run()`).

    Raises OSError when the address cannot be bound.
    """
    # "Task queue depth is N" on every request that waits for a thread: under load, thousands
    # of lines that say only "busy", and the logging itself slows the server down.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    listeners: dict[int, Any] = {}
    server: Any = create_server(app, map=listeners, host=host, port=port, threads=threads,
                           ident="huskyvoice-sandbox", max_request_body_size=MAX_BODY_BYTES)
    limits = body_limits(app)
    for listener in list(listeners.values()):  # one per address the host resolves to
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = JsonErrorChannel
            listener.sandbox_body_limits = limits  # type: ignore[attr-defined]
    server.sandbox_map = listeners  # listeners, and the client channels waitress adds as they come
    return server


class ServerThread:
    """A server running in a background thread, for tests and the pytest plugin: start(), the
    `url`, then stop(), which ends the workers before closing the sockets (closing first races
    a worker still answering, and the loop's select() with the closed sockets)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0,
                 threads: int = DEFAULT_THREADS) -> None:
        self.server = make_server(app, host, port, threads)
        self.port: int = self.server.effective_port
        self.url = f"http://{host}:{self.port}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="huskyvoice-sandbox", daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let the requests under way finish (up to `grace` seconds), close."""
        self._stopping.set()
        self.server.task_dispatcher.shutdown(timeout=grace)
        self.server.close()
        for channel in list(self.server.sandbox_map.values()):  # kept-alive clients hold the loop
            channel.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):  # the sockets stop() closed under select()
            if not self._stopping.is_set():
                raise


def run_until_signalled(server: ServerThread, grace: float = STOP_GRACE_SECONDS,
                        before_stop: Callable[[], None] | None = None) -> str:
    """Serve until SIGTERM or SIGINT (or the server fails), then stop it; the signal's name.

    A container's engine stops its PID 1 with SIGTERM, which a process without a handler for it
    ignores there: `docker stop` would wait 10 s and kill it. The loop runs in its thread and
    the handler only sets an event, so no exception is ever raised into waitress's loop, which
    swallows most of them.
    """
    received: list[str] = []
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        while not stopping.wait(0.25) and server.running:
            pass
    finally:
        for sig, handler in previous.items():  # a second Ctrl+C from here on interrupts at once
            signal.signal(sig, handler)
        if before_stop is not None:
            before_stop()
        server.stop(grace)
    return received[0] if received else "the server's loop ended"
