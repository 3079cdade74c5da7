"""`serve` on uWSGI (PyPI's `pyuwsgi` wheel): the default server where it installs.

The process tree, and why:
- `serve` itself (this module's `Routed`) builds the app, prints the banner, then forks and
  stays as the supervisor: it owns Ctrl+C and SIGTERM, stops uWSGI gracefully, bounds the
  stop, and says "stopped (SIGTERM)". uWSGI's master cannot tell one signal from another to
  Python, and its own shutdown does not bound a request in flight (a forced delay of a minute).
- the uWSGI master (the forked child, in its own process group so that a terminal's Ctrl+C
  reaches only the supervisor), with
- uWSGI's asynchronous HTTP router, which holds every client connection (keep-alive, a
  64-connection CI fleet) and parses HTTP in C, and
- one worker process with `threads` threads, which inherits the app built before the fork (the
  state is in one process: one worker, never more). The router reaches it over a unix socket in
  a private directory: on a TCP port any local process could forge the client's address and
  pass the control API's loopback rule.

uWSGI's own log (its start-up lines, its errors) goes to a file in that directory; the
supervisor shows its end if uWSGI fails. The access log and warnings go to the stream `serve`
was given, through a copy of its descriptor made before uWSGI remaps stdout and stderr.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .defaults import STOP_GRACE_SECONDS

# The router waits this long for the worker's answer: past the longest forced delay (60 s).
ANSWER_TIMEOUT_SECONDS = 75
# Request line and headers as the worker takes them: uWSGI's default is a page (4 KiB), which a
# long bearer token and a few tracing headers exceed; 64 KiB is the uwsgi protocol's limit. The
# router's own buffer grows to that by itself (setting --http-buffer-size breaks bodies near it).
HEADER_BUFFER_BYTES = 65535
KEEPALIVE_SECONDS = 15


def available() -> bool:
    """Whether uWSGI can serve here: pyuwsgi has no Windows build."""
    import importlib.util

    return sys.platform != "win32" and importlib.util.find_spec("pyuwsgi") is not None


# The runner whose app uWSGI serves: what the worker module (uwsgi_worker) takes over after the
# fork (its app, after_fork, on_stop and the read end of the stopping pipe).
SERVED: Routed | None = None


def reserve_port(host: str, port: int) -> int:
    """The port to serve on: `port`, checked free now, or a free one for 0. Raises OSError.

    uWSGI binds the port itself (it does not take a bound socket for its router), so this binds
    and closes it: a clear error here rather than uWSGI's, and the port known for the banner.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        probe.listen(1)
        return int(probe.getsockname()[1])


def uwsgi_argv(host: str, port: int, threads: int, run_dir: Path) -> list[str]:
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [
        "--master", "--processes", "1", "--threads", str(threads), "--no-orphans",
        "--http", address, f"--http-keepalive={KEEPALIVE_SECONDS}", "--http-manage-expect",
        "--http-chunked-input", f"--http-timeout={ANSWER_TIMEOUT_SECONDS}",
        f"--buffer-size={HEADER_BUFFER_BYTES}",
        "--socket", str(run_dir / "worker.sock"), "--chmod-socket=600",
        "--module", f"{__package__}.uwsgi_worker:application", "--need-app",
        "--single-interpreter", "--disable-logging", "--logto", str(run_dir / "uwsgi.log"),
        # SIGTERM: stop accepting, finish what is under way, exit; --log-master makes the
        # master notice at once instead of at its next one-second check.
        "--log-master", "--hook-master-start", "unix_signal:15 gracefully_kill_them_all",
    ]


class Routed:
    """uWSGI serving `app`: start() forks it, wait_for_signal() supervises until told to stop."""

    def __init__(self, app: Callable[..., Any], host: str, port: int, threads: int) -> None:
        self.app = app
        self.host = host
        self.port = reserve_port(host, port)
        self.threads = threads
        self.run_dir = Path(tempfile.mkdtemp(prefix="huskyvoice-sandbox-"))  # 0700
        self.after_fork: list[Callable[[], None]] = []  # run in the worker once it is forked
        # Run in the worker when the supervisor is stopping, before uWSGI's graceful stop: a byte
        # on this pipe (a forced delay under way ends early, and its answer is sent first).
        self.on_stop: list[Callable[[], None]] = []
        self.stopping_read_fd = -1
        self.pid = 0
        self._stopping_fd = -1

    def start(self, log_stream: Any) -> None:
        global SERVED
        self.stopping_read_fd, self._stopping_fd = os.pipe()
        SERVED = self
        argv = uwsgi_argv(self.host, self.port, self.threads, self.run_dir)
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # the child: become uWSGI's master; never returns
            os.close(self._stopping_fd)
            _run_uwsgi(argv, log_stream)
        os.close(self.stopping_read_fd)

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Until the router accepts connections (True), or uWSGI exits or `timeout` passes."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive():
            try:
                socket.create_connection((host, self.port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.01)
        return False

    def wait_for_signal(self) -> str:
        """Until SIGTERM or SIGINT (then stop uWSGI), or uWSGI exits; what ended it."""
        received: list[str] = []

        def on_signal(signum: int, frame: Any) -> None:
            received.append(signal.Signals(signum).name)

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not received and self._alive():
                time.sleep(0.05)
            if received:
                self.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return received[0] if received else "uWSGI exited"

    def close(self) -> None:
        """Remove the private directory (the socket, uWSGI's log)."""
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Graceful first: uWSGI's master stops accepting and lets the requests under way
        finish. After `grace` (a forced delay is still running), the master, its router and
        worker are killed: uWSGI has no shutdown that bounds a request in flight."""
        with contextlib.suppress(OSError):
            os.write(self._stopping_fd, b"x")  # the worker runs on_stop first
            os.close(self._stopping_fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        if not self._exited_within(grace):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self._exited_within(5.0)

    def failure(self) -> str:
        """The end of uWSGI's own log, for a start that failed."""
        try:
            lines = (self.run_dir / "uwsgi.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-15:])

    def _alive(self) -> bool:
        return os.waitpid(self.pid, os.WNOHANG) == (0, 0)

    def _exited_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if not self._alive():
                    return True
            except ChildProcessError:
                return True
            time.sleep(0.01)
        return False


def _run_uwsgi(argv: list[str], log_stream: Any) -> None:
    code = 1
    try:
        os.setpgid(0, 0)  # a terminal's Ctrl+C goes to the supervisor only
        _die_with_parent()
        # uWSGI points descriptors 1 and 2 at its log; Python's writes go where serve's did.
        sys.stdout = sys.stderr = log_stream
        import pyuwsgi  # type: ignore[import-not-found]

        pyuwsgi.run(argv)
        code = 0
    finally:
        os._exit(code)


def _die_with_parent() -> None:
    """If the supervisor is killed outright, uWSGI's master gets SIGTERM (Linux only)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
