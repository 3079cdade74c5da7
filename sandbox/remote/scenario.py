"""A recording as a scenario world (`huskyvoice-sandbox replay --scenario FILE`): the mirror
saved with it, a key for each of its labels, and one step per exchange whose expectation is the
deployment's answer. The contract kit (`contract --scenarios FILE`) and the pytest plugin
(`huskyvoice.run_scenario(FILE)`) run it, so a real flow becomes a regression test.

Steps send what the replay sent: the ids the sandbox created where the recording has the
deployment's, so the steps hold on the sandbox, which creates the same ids from the same world.
An answer is expected as the deployment gave it: its status, its error code, and each field of
its `data` object but the timestamps (the scenario's clock is frozen at the recording's first
exchange, so they would not be the deployment's).
"""

from __future__ import annotations

import json
from typing import Any

from ..domain.clock import format_timestamp, parse_utc
from .compare import TIMESTAMPS
from .replay import Outcome, Row, world

AS_JSON = "application/json"


def scenario(outcome: Outcome) -> dict[str, Any]:
    recording = outcome.recording
    document = world(recording.mirror, outcome)
    first = recording.exchanges[0] if recording.exchanges else None
    if first is not None:
        document["clock"] = format_timestamp(first.answer.said_time or parse_utc(first.time))
    document["description"] = (f"Recorded against {recording.upstream} from {recording.started}: "
                               f"{len(recording.exchanges)} requests ({recording.path.name}).")
    document["scenario"] = {"summary": "Each step expects the answer the deployment gave.",
                            "steps": [_step(row, outcome.created) for row in outcome.rows]}
    return document


def _step(row: Row, created: dict[str, str]) -> dict[str, Any]:
    exchange, sent = row.exchange, row.sent
    request: dict[str, Any] = {"method": exchange.method, "path": sent.path}
    headers = dict(sent.headers)
    authorization = headers.pop("Authorization", None)
    scheme, _, key = (authorization or "").partition(" ")
    if scheme == "Bearer" and key and " " not in key:
        request["key"] = key
    elif authorization is not None:
        headers["Authorization"] = authorization
    if sent.body is not None:
        parsed = _json(sent.body)
        if parsed is not None and headers.get("content-type") == AS_JSON:
            request["body"] = parsed
            headers.pop("content-type")
        else:
            request["raw_body"] = sent.body.decode("utf-8", "replace")
    headers.pop("accept", None)
    if headers:
        request["headers"] = headers
    return {"name": f"recorded #{exchange.seq}" + (f" ({row.operation})" if row.operation else ""),
            "request": request, "expect": _expect(row, created)}


def _expect(row: Row, created: dict[str, str]) -> dict[str, Any]:
    answer = row.exchange.answer
    expect: dict[str, Any] = {"status": answer.status}
    if answer.code:
        expect["code"] = answer.code
    data = answer.data
    if 200 <= answer.status < 300 and isinstance(data, dict):
        expect["data"] = {name: created.get(value, value) if isinstance(value, str) else value
                          for name, value in data.items()
                          if name not in TIMESTAMPS and not isinstance(value, (dict, list))}
    return expect


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
