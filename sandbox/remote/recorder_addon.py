"""The mitmproxy addon `huskyvoice-sandbox record` runs in mitmdump: it writes each exchange the
proxy forwarded to a recording, one JSON line each, and changes nothing on the way.

mitmdump loads this file by path, in its own Python (mitmproxy may be installed apart from the
sandbox, e.g. from Debian or with pipx), so it uses the standard library only. API keys never
reach the file: each `Authorization` value has its token replaced by a label (`key_1`, ...),
the same key the same label within one recording.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

# Headers that matter to what the API answers (request) or that a replay compares (answer);
# others (cookies, tracing, proxies' own) are left out of the file.
REQUEST_HEADERS = ("content-type", "accept", "x-sandbox-session")
ANSWER_HEADERS = ("content-type", "date", "retry-after", "allow", "www-authenticate", "x-sandbox-ignored-fields")


class Recorder:
    def __init__(self) -> None:
        self.labels: dict[str, str] = {}  # sha256 of a key -> its label
        self.sequence = 0
        self.out: Any = None

    def load(self, loader: Any) -> None:
        loader.add_option("hv_recording", str, "", "the recording file, appended to")

    def configure(self, updated: Any) -> None:
        from mitmproxy import ctx  # type: ignore[import-not-found]  # only inside mitmdump

        if "hv_recording" in updated and ctx.options.hv_recording:
            self.out = open(ctx.options.hv_recording, "a", encoding="utf-8")  # noqa: SIM115 - kept open

    def response(self, flow: Any) -> None:
        if self.out is None:
            return
        self.sequence += 1
        request, answer = flow.request, flow.response
        line = {
            "seq": self.sequence,
            "time": _stamp(request.timestamp_start),
            "request": {"method": request.method, "path": request.path,
                        "authorization": self._labelled(request.headers.get("authorization")),
                        "headers": _kept(request.headers, REQUEST_HEADERS), **_body(request.raw_content)},
            "answer": {"status": answer.status_code, "headers": _kept(answer.headers, ANSWER_HEADERS),
                       **_body(answer.raw_content)},
            "duration_ms": round(((answer.timestamp_end or time.time()) - request.timestamp_start) * 1000, 1),
        }
        self.out.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.out.flush()  # a recording cut short keeps every exchange written so far

    def done(self) -> None:
        if self.out is not None:
            self.out.close()

    def _labelled(self, value: str | None) -> str | None:
        """The header with its token replaced by the key's label: `Bearer key_1`."""
        if value is None:
            return None
        scheme, _, token = value.strip().partition(" ")
        secret = token.strip() if token else scheme
        digest = hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()
        label = self.labels.setdefault(digest, f"key_{len(self.labels) + 1}")
        return f"{scheme} {label}" if token else label


def _kept(headers: Any, names: tuple[str, ...]) -> dict[str, str]:
    return {name: headers[name] for name in names if name in headers}


def _body(raw: bytes | None) -> dict[str, Any]:
    """The body as text, or as base64 when it is not UTF-8; nothing for an empty one."""
    if not raw:
        return {}
    try:
        return {"body": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(raw).decode("ascii")}


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


addons = [Recorder()]
