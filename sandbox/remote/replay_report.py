"""The replay report: what was replayed against what, then each exchange the sandbox answered
otherwise than the deployment did, with both answers and the differences."""

from __future__ import annotations

from .replay import Outcome

WIDTH = 60  # characters of a request a line shows
LIMITED = "60 a minute (the deployment answered 429)"
UNLIMITED = "none (no 429 was recorded)"


def _key(scopes: list[str] | None, other: bool) -> str:
    if scopes is None:
        return "unknown to the deployment"
    return (" ".join(scopes) or "no scope") + ("; another organization" if other else "")


def console(outcome: Outcome) -> str:
    recording = outcome.recording
    org = recording.mirror["organizations"][0]
    keys = ", ".join(f"{label} ({_key(scopes, label in outcome.others)})"
                     for label, scopes in outcome.keys.items()) or "none sent"
    lines = [f"replay of {recording.path}: {len(recording.exchanges)} exchanges recorded against "
             f"{recording.upstream or 'a deployment'} from {recording.started or 'an unknown time'}",
             f"  world: the mirror saved with it ({len(org.get('appointments', []))} appointments, "
             f"{len(org.get('calendar_windows', []))} windows)",
             f"  keys: {keys}",
             f"  rate limit: {LIMITED if outcome.rate_limit else UNLIMITED}"]
    if outcome.created:
        lines.append("  created during the recording: " + ", ".join(
            f"{theirs} (sandbox: {mine})" for theirs, mine in outcome.created.items()))
    lines.append("")
    different = outcome.different
    if not different:
        lines.append(f"no differences: the sandbox answered all {len(outcome.rows)} requests as the deployment did")
        return "\n".join(lines) + "\n"
    lines.append(f"{len(different)} of {len(outcome.rows)} answers differ; either the sandbox or the deployment "
                 "is wrong (docs/record-replay.md says how to tell):")
    for row in different:
        exchange = row.exchange
        request = str(exchange)
        request = request if len(request) <= WIDTH else request[:WIDTH - 3] + "..."
        lines.append(f"{exchange.seq}. {request}" + (f"  ({row.operation})" if row.operation else ""))
        lines.append(f"   deployment said: {row.recorded}")
        lines.append(f"   sandbox said:    {row.sandbox}")
        lines += [f"   - {difference}" for difference in row.differences]
    return "\n".join(lines) + "\n"
