"""Which documented responses (operation, status, error code) a run actually saw."""

from __future__ import annotations

from collections import Counter
from typing import Any

from huskyvoice_sandbox.spec.contract import Contract


class Coverage:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.seen: Counter[tuple[str, int, str | None]] = Counter()
        self.cases: dict[str, set[str]] = {}
        self.skipped_steps = 0
        self.by_test: dict[str, Counter[str]] = {}  # subtest name -> cases sent per operation
        self.not_sent = 0  # generated writes the target could not be sent

    def documented(self) -> list[tuple[str, int, str | None]]:
        """Every (operation, status, code) the spec documents."""
        return self.contract.documented_answers()

    def record(self, method: str, path: str, status: int, body: Any, case_id: str = "") -> None:
        op = self.contract.operation_for(method, path.split("?")[0])
        if op is None:
            return
        if case_id:  # a generated case (scenario steps have none)
            self.cases.setdefault(op.operation_id, set()).add(case_id)
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        self.seen[(op.operation_id, status, code)] += 1

    def record_case(self, test: str, method: str, path: str) -> None:
        """A generated case the schema suite's `test` (an operation's subtest) is about to send."""
        op = self.contract.operation_for(method, path)
        counts = self.by_test.setdefault(test, Counter())
        counts[op.operation_id if op else f"{method} (an undocumented method)"] += 1

    def cases_per_operation(self) -> dict[str, int]:
        """Distinct generated cases checked, per operation (all phases)."""
        return {op_id: len(ids) for op_id, ids in self.cases.items()}

    def report(self) -> list[str]:
        lines = ["Documented responses seen in this run (operation, status, error code):"]
        documented = self.documented()
        for op_id, status, code in documented:
            count = self.seen.get((op_id, status, code), 0)
            mark = f"seen {count}" if count else "NOT SEEN"
            lines.append(f"  {op_id:<18} {status} {code or '':<32} {mark}")
        missed = sum(1 for d in documented if not self.seen.get(d))
        lines.append(f"  {len(documented) - missed} of {len(documented)} documented responses seen")
        for op_id, count in sorted(self.cases_per_operation().items()):
            lines.append(f"  generated cases checked: {op_id} {count}")
        for test, counts in sorted(self.by_test.items()):
            sent = ", ".join(f"{op_id} {count}" for op_id, count in sorted(counts.items()))
            lines.append(f"  cases sent by {test}: {sent}")
        undocumented = [k for k in self.seen if k not in documented]
        for op_id, status, code in undocumented:
            lines.append(f"  UNDOCUMENTED: {op_id} {status} {code or ''} ({self.seen[(op_id, status, code)]}x)")
        if self.not_sent:
            lines.append(f"  {self.not_sent} generated writes not sent: the target may not be sent "
                         "them (no lent appointment, or the create budget is spent)")
        if self.skipped_steps:
            lines.append(f"  {self.skipped_steps} scenario steps skipped: the target has no /_sandbox/ to seed")
        return lines
