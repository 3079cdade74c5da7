"""The drift report: a console table (one row per difference, then what the run exercised) and
the same in JUnit XML for CI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from .drift import Outcome, Row
from .rules import RULES

WIDTH = {"rule": 16, "request": 50, "side": 30}


def console(outcome: Outcome) -> str:
    options, drifted = outcome.options, outcome.drifted
    document = outcome.mirror.document
    org = document["organizations"][0]
    lines = [f"drift check of {options.base_url} against the sandbox's mirror of it",
             f"  mirror: {len(org['appointments'])} appointments, {len(org['calendar_windows'])} windows; "
             f"{document['description']}",
             f"  mode: {_mode(outcome)}",
             *([f"  time: {outcome.clock}"] if outcome.clock else []),
             *([f"  lent appointment: {outcome.put_back}"] if outcome.put_back else []),
             f"  {len(outcome.rows)} checks, {outcome.requests} requests to the deployment", ""]
    if drifted:
        primary = [row for row in drifted if row.follows is None]
        later = Counter(row.follows for row in drifted if row.follows)
        carried = f" ({sum(later.values())} later answers carry them on)" if later else ""
        lines.append(f"{len(primary)} difference{'s' if len(primary) > 1 else ''}{carried}:")
        lines.append(_cells("#", "rule", "request", "deployment said", "sandbox said"))
        for number, row in enumerate(primary, 1):
            lines.append(_cells(str(number), row.rule, row.request, row.deployment, row.sandbox))
        lines.append("")
        for number, row in enumerate(primary, 1):
            rule = RULES[row.rule]
            lines.append(f"{number}. {row.label}: {row.request}")
            lines.append(f"   rule: {rule.text} ({rule.source})")
            lines += [f"   - {difference}" for difference in row.differences]
            if later[row.label]:
                lines.append(f"   - {later[row.label]} later answers differ only because of it "
                             "(the appointment was left elsewhere on the deployment)")
        lines.append("")
    else:
        lines += ["no drift: the deployment answered every check as the sandbox did", ""]
    lines += _exercised(outcome)
    return "\n".join(lines) + "\n"


def _mode(outcome: Outcome) -> str:
    options = outcome.options
    if options.allow_writes and options.appointment_ids and not outcome.writes:
        return "writes allowed, but none sent (see \"not exercised\"); refused writes to an id that does not exist"
    if options.allow_writes and options.appointment_ids:
        return (f"writes allowed, to {options.appointment_ids[0]} only (put back afterwards); "
                "refused writes to an id that does not exist")
    return "read-only (GETs, and refused PATCHes to an id that does not exist)"


def _cells(number: str, rule: str, request: str, deployment: str, sandbox: str) -> str:
    return (f"{number:>3}  {_fit(rule, WIDTH['rule'])}  {_fit(request, WIDTH['request'])}  "
            f"{_fit(deployment, WIDTH['side'])}  {_fit(sandbox, WIDTH['side'])}").rstrip()


def _fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[:width - 3] + "..."


def _exercised(outcome: Outcome) -> list[str]:
    counts = Counter(row.rule for row in outcome.rows)
    drifted = {row.rule for row in outcome.drifted}
    lines = ["documented behaviours exercised:"]
    for rule_id, rule in RULES.items():
        if rule_id in counts:
            verdict = "DRIFT" if rule_id in drifted else "agrees"
            checks = "check " if counts[rule_id] == 1 else "checks"
            lines.append(f"  {rule_id:<16} {verdict:<7} {counts[rule_id]:>3} {checks}  {rule.text}")
    missing = [(r, outcome.not_exercised.get(r, "no request of this run shows it"))
               for r in RULES if r not in counts]
    if missing:
        lines.append("not exercised:")
        lines += [f"  {rule_id:<16} {why}" for rule_id, why in missing]
    return lines


def junit(outcome: Outcome, path: Path) -> None:
    """One test case per check (classname drift.<rule>), a failure per difference; the rules
    not exercised as skipped cases."""
    suite = ET.Element("testsuite", name="huskyvoice-sandbox drift", tests=str(len(outcome.rows)),
                       failures=str(len(outcome.drifted)), errors="0",
                       skipped=str(len([r for r in RULES if r not in {row.rule for row in outcome.rows}])))
    for row in outcome.rows:
        case = ET.SubElement(suite, "testcase", classname=f"drift.{row.rule}", name=f"{row.label}: {row.request}")
        if row.drift:
            failure = ET.SubElement(case, "failure", message="; ".join(row.differences))
            failure.text = _failure_text(row)
    exercised = {row.rule for row in outcome.rows}
    for rule_id in RULES:
        if rule_id not in exercised:
            case = ET.SubElement(suite, "testcase", classname=f"drift.{rule_id}", name=RULES[rule_id].text)
            ET.SubElement(case, "skipped", message=outcome.not_exercised.get(rule_id, "not exercised"))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    path.write_text(ET.tostring(root, encoding="unicode") + "\n", encoding="utf-8")


def _failure_text(row: Row) -> str:
    rule = RULES[row.rule]
    return "\n".join([f"request: {row.request}", f"deployment said: {row.deployment}",
                      f"sandbox said: {row.sandbox}", f"rule: {rule.text} ({rule.source})",
                      *row.differences, *([f"carried on from: {row.follows}"] if row.follows else [])])
