"""Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: the
protocol's JSON messages, each ended by a NUL byte, on file descriptors 3 and 4), with the
standard library alone: open a page, run a script in it, wait for what it shows, take a
screenshot. For pages that change after they load (tests/test_inspector.py), where a single
`--dump-dom` run sees one moment only."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Names other than the loopback address do not resolve: nothing can leave the machine.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--hide-scrollbars"]


_TRAMPOLINE = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
               "os.execvp(sys.argv[3], sys.argv[3:])")


class BrowserError(AssertionError):
    pass


def _above_nine(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless Chromium with one page (a tab), closed on exit."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 1600) -> None:
        to_chromium, self._commands = os.pipe()
        self._answers, from_chromium = os.pipe()
        # A small Python puts the pipe's ends where Chromium looks for them, 3 and 4, then becomes
        # Chromium; from above 9, so that neither move overwrites the other end.
        to_chromium, from_chromium = _above_nine(to_chromium), _above_nine(from_chromium)
        command = [sys.executable, "-c", _TRAMPOLINE, str(to_chromium), str(from_chromium), "chromium", *FLAGS,
                   f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        self.log = profile.with_name(profile.name + ".log")  # Chromium's own messages
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, pass_fds=(to_chromium, from_chromium), env=env,
                                            stdout=log, stderr=log, start_new_session=True)
        os.close(to_chromium)
        os.close(from_chromium)
        self._buffer = b""
        self._ids = 0
        self.events: list[dict[str, Any]] = []  # what the page said: console messages, exceptions
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  width=width, height=height, deviceScaleFactor=1, mobile=False)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # Chromium and every helper it started
        self.process.wait(timeout=10)
        os.close(self._commands)
        os.close(self._answers)

    # -- the protocol -----------------------------------------------------------------------

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """A command to the page; its result."""
        return self._send(method, params, self._session)

    def _send(self, method: str, params: dict[str, Any], session: str | None = None,
              timeout: float = 30) -> dict[str, Any]:
        self._ids += 1
        message: dict[str, Any] = {"id": self._ids, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._next(deadline)
            if answer.get("id") == self._ids:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer["result"]
            if answer.get("method") in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded"):
                self.events.append(answer)

    def _next(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited: {self.log.read_text(errors='replace')[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    # -- what a test does with a page ---------------------------------------------------------

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a script run in the page (a promise's, once it settles)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        """The first truthy value of `expression`, tried every 50 ms."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except BrowserError:  # the page is between documents
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"never true: {expression}\n{self.evaluate('document.body.innerText')}")
            time.sleep(0.05)

    def dom(self) -> str:
        return self.evaluate("document.documentElement.outerHTML")

    def screenshot(self, path: Path) -> Path:
        """The whole page, beyond the window's height too, as a PNG."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def problems(self) -> list[str]:
        """Errors the page met: uncaught exceptions, console errors, refusals of its CSP."""
        found = []
        for event in self.events:
            params = event["params"]
            if event["method"] == "Runtime.exceptionThrown":
                found.append(str(params["exceptionDetails"]))
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(str(params.get("args")))
            elif event["method"] == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(params["entry"].get("text", ""))
        return found
