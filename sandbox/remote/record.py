"""`huskyvoice-sandbox record`: mitmproxy's `mitmdump`, a real reverse proxy, forwards every
request a client sends it to the deployment, unchanged but for the `Host` header (the
deployment's own, as any reverse proxy sends), and the addon recorder_addon.py writes each
exchange to the recording. Before it starts, the deployment is mirrored (GETs only, as
`mirror` does) into the recording's first line; nothing else is sent of the sandbox's own.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from .recording import header

ADDON = Path(__file__).with_name("recorder_addon.py")
MITMDUMP_ENV = "HUSKYVOICE_MITMDUMP"  # where mitmdump is, if not on PATH
START_SECONDS = 20.0
STOP_SECONDS = 5.0


class RecordError(Exception):
    """The proxy cannot run: no mitmdump, or it did not start."""


def mitmdump() -> str:
    found = os.environ.get(MITMDUMP_ENV) or shutil.which("mitmdump")
    if not found:
        raise RecordError("record runs mitmproxy's mitmdump, which is not installed: `pipx install mitmproxy` "
                          f"or `apt install mitmproxy` (or set ${MITMDUMP_ENV} to its path)")
    return found


def start(upstream: str, output: Path, mirror: dict[str, object], now: object, host: str,
          port: int) -> subprocess.Popen[bytes]:
    """The recording's header written, then mitmdump listening on host:port."""
    command = [mitmdump(), "--mode", f"reverse:{upstream}", "--listen-host", host, "--listen-port", str(port),
               "--set", f"hv_recording={output}", "-s", str(ADDON), "-q"]
    output.write_text(header(upstream, mirror, now), encoding="utf-8")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,  # noqa: S603
                               start_new_session=True)
    deadline = time.monotonic() + START_SECONDS
    while not _listening(host, port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            said = process.stderr.read().decode("utf-8", "replace").strip() if process.stderr else ""
            raise RecordError(f"mitmdump did not start on {host}:{port}" + (f": {said[-400:]}" if said else ""))
        time.sleep(0.05)
    return process


def wait(process: subprocess.Popen[bytes], on_stop: Callable[[str], None]) -> str:
    """Until SIGTERM, Ctrl+C or mitmdump's own end; then mitmdump stopped. Says which."""
    stopped: list[str] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        stopped.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopped and process.poll() is None:
            time.sleep(0.1)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        stop(process)
    why = stopped[0] if stopped else f"mitmdump exited with {process.returncode}"
    on_stop(why)
    return why


def stop(process: subprocess.Popen[bytes]) -> None:
    """mitmdump asked to end (its addons close the recording), then made to."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def exchanges_in(output: Path) -> int:
    with output.open(encoding="utf-8") as lines:
        return max(0, sum(1 for line in lines if line.strip()) - 1)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
