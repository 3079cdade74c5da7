"""A recording of an integrator's traffic to a deployment (`huskyvoice-sandbox record`): JSON
Lines, one object per line. The first line says where it was recorded and holds the mirror of
the deployment made when it began (a world document); each further line is one exchange as the
mitmproxy addon (recorder_addon.py) wrote it: the request (its key replaced by a label), the
deployment's answer, and the timing.

Reading refuses a broken file whole, with the line and what is wrong with it: a recording cut
short mid-line, a line that is not JSON, an exchange without its request or answer.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..domain.clock import format_timestamp, parse_utc
from .reply import Reply

FORMAT = 1


class RecordingError(Exception):
    """The file is not a readable recording; the message says where and why."""


@dataclass(frozen=True)
class Exchange:
    """One request the client sent and the answer the deployment gave it."""

    seq: int
    time: str  # when the request reached the proxy (UTC)
    method: str
    path: str  # with its query
    authorization: str | None  # as sent, its key replaced by a label ("Bearer key_1")
    headers: dict[str, str]
    body: bytes | None
    answer: Reply

    @property
    def label(self) -> str | None:
        """The label of the key the request sent, if it sent one."""
        if self.authorization is None:
            return None
        return self.authorization.split(" ", 1)[-1]

    def __str__(self) -> str:
        body = "" if not self.body else " " + self.body.decode("utf-8", "replace")[:80]
        key = f" [{self.label}]" if self.label else ""
        return f"{self.method} {self.path}{body}{key}"


@dataclass(frozen=True)
class Recording:
    path: Path
    upstream: str
    started: str
    mirror: dict[str, Any]  # the world document the mirror made
    exchanges: tuple[Exchange, ...]


def header(upstream: str, mirror: dict[str, Any], now: Any) -> str:
    """The first line of a recording."""
    return json.dumps({"recording": FORMAT, "tool": f"huskyvoice-sandbox {__version__}", "upstream": upstream,
                       "started": format_timestamp(now), "mirror": mirror}, ensure_ascii=False) + "\n"


def read(path: Path) -> Recording:
    """The recording in `path`; RecordingError naming the line for anything that is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot be read: {exc}") from None
    if not text.strip():
        raise RecordingError(f"{path}: empty; a recording starts with its header line")
    lines = text.split("\n")
    if lines[-1]:  # every line the recorder writes ends with a newline
        raise RecordingError(f"{path}:{len(lines)}: cut short (the line has no end); the recording "
                             "stopped mid-write: remove that line to replay the rest")
    objects = [_parsed(path, number, line) for number, line in enumerate(lines[:-1], 1) if line.strip()]
    first = objects[0][1]
    if not isinstance(first, dict) or first.get("recording") != FORMAT or not isinstance(first.get("mirror"), dict):
        raise RecordingError(f"{path}:1: not a recording's header (want {{\"recording\": {FORMAT}, "
                             "\"mirror\": {...}, ...}); is this a file `huskyvoice-sandbox record` wrote?")
    exchanges = tuple(_exchange(path, number, value) for number, value in objects[1:])
    return Recording(path, str(first.get("upstream", "")), str(first.get("started", "")), first["mirror"], exchanges)


def _parsed(path: Path, number: int, line: str) -> tuple[int, Any]:
    try:
        return number, json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{path}:{number}: not JSON ({exc.msg} at column {exc.colno})") from None


def _exchange(path: Path, number: int, value: Any) -> Exchange:
    where = f"{path}:{number}"
    try:
        request, answer = value["request"], value["answer"]
        parse_utc(value["time"])
        return Exchange(
            seq=int(value["seq"]), time=value["time"], method=str(request["method"]), path=str(request["path"]),
            authorization=request.get("authorization"), headers=dict(request.get("headers") or {}),
            body=_body(request), answer=Reply.of(int(answer["status"]), (answer.get("headers") or {}).items(),
                                                 _body(answer) or b""))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordingError(f"{where}: not an exchange ({_problem(exc)}); want seq, time, "
                             "request {method, path, ...} and answer {status, ...}") from None


def _body(part: dict[str, Any]) -> bytes | None:
    if "body_base64" in part:
        return base64.b64decode(part["body_base64"], validate=True)
    body = part.get("body")
    return None if body is None else str(body).encode("utf-8")


def _problem(exc: Exception) -> str:
    return f"no {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)[:120]
