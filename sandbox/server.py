"""The production server: waitress, with the settings `serve` uses. The benchmark serves its
bare baseline app through the same function, so both run under identical settings.

Waitress answers requests it cannot parse (a bad request line, a NUL in a header, a header
block over its limit) itself, before the app runs, in plain text. Here those answers are in the
API's JSON error envelope too, so a client never has to handle a second error format.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask, WSGITask

from .forcing import ConnectionDropped

DEFAULT_THREADS = 8


class JsonErrorTask(ErrorTask):
    """Waitress's own error answers, in the envelope (400s as VALIDATION_ERROR, like the app's)."""

    def execute(self) -> None:
        error = self.request.error
        reason = str(error.body).strip().rstrip(".")
        if error.code == 400:
            envelope = {"code": "VALIDATION_ERROR", "message": "The request is malformed.",
                        "details": [{"location": "request", "message": reason}]}
        else:
            envelope = {"code": error.reason.upper().replace(" ", "_"),
                        "message": f"{error.reason}: {reason}."}
        payload = json.dumps({"success": False, "error": envelope}).encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
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
    server = create_server(app, map=listeners, host=host, port=port, threads=threads,
                           ident="huskyvoice-sandbox")
    for listener in list(listeners.values()):  # one per address the host resolves to
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = JsonErrorChannel
    return server


class ServerThread:
    """A server running in a background thread, for tests and the pytest plugin: start(), the
    `url`, then stop(), which ends the workers before closing the sockets (closing first races
    a worker still answering, and the loop's select() with the closed sockets)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0,
                 threads: int = DEFAULT_THREADS) -> None:
        self.server = make_server(app, host, port, threads)
        self.url = f"http://{host}:{self.server.effective_port}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="huskyvoice-sandbox", daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.server.task_dispatcher.shutdown()
        self.server.close()
        self._thread.join(timeout=5)  # a kept-alive client connection can hold the loop; daemon

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):  # the sockets stop() closed under select()
            if not self._stopping.is_set():
                raise
