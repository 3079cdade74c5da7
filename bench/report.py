"""The report's building blocks (tables and sections, as text or Markdown) and the whole
Markdown document, with the maintainers' notes (bench/notes.md) at the end."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from common import NOTES_FILE, REPRODUCE
from load import Matrix


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]

    def text(self) -> str:
        widths = [max(len(str(r[i])) for r in (self.headers, *self.rows))
                  for i in range(len(self.headers))]
        lines = [self.headers, ["-" * w for w in widths], *self.rows]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))
                         .rstrip() for r in lines)

    def markdown(self) -> str:
        def row(cells: Sequence[str]) -> str:
            return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
        return "\n".join([row(self.headers), row(["---"] * len(self.headers)),
                          *map(row, self.rows)])


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: Sequence[str] = ()
    tables: Sequence[Table] = ()

    def text(self) -> str:
        parts = [f"{self.title}\n{'=' * len(self.title)}", *self.paragraphs]
        return "\n\n".join(parts + [table.text() for table in self.tables])

    def markdown(self) -> str:
        parts = [f"## {self.title}", *self.paragraphs]
        return "\n\n".join(parts + [table.markdown() for table in self.tables])


def cells_table(matrix: Matrix) -> Table:
    """Every cell: what the server answered, req/s (median and range), latency, errors."""
    rows = []
    for scenario in matrix.scenarios:
        for server in matrix.servers:
            c = matrix.cell(scenario, server)
            low, high = min(r.rps for r in c.runs), max(r.rps for r in c.runs)
            rows.append([scenario.title, server, ", ".join(c.answers), f"{c.rps:,.0f}",
                         f"{low:,.0f}–{high:,.0f}", f"{c.p50_ms:.2f}", f"{c.p99_ms:.2f}",
                         f"{c.non_2xx:,} of {c.requests:,}", f"{c.socket_errors:,}"])
    return Table(["Scenario", "Server", "Answer", "req/s (median)", "req/s (range)",
                  "p50 ms", "p99 ms", "non-2xx/3xx", "socket errors"], rows)


def ratio_table(matrix: Matrix, pairs: Sequence[tuple[str, str]],
                p99_pairs: Sequence[tuple[str, str]] = ()) -> Table:
    """req/s of `top` over `bottom` per scenario; p99 of each pair side by side."""
    rows = [[s.title,
             *(f"{matrix.ratio(s, top, bottom):.2f}" for top, bottom in pairs),
             *(f"{matrix.cell(s, a).p99_ms:.2f} / {matrix.cell(s, b).p99_ms:.2f}"
               for a, b in p99_pairs)]
            for s in matrix.scenarios]
    return Table(["Scenario", *(f"{top} / {bottom} req/s" for top, bottom in pairs),
                  *(f"p99 ms, {a} / {b}" for a, b in p99_pairs)], rows)


def markdown(sections: Sequence[Section]) -> str:
    head = [
        "# Performance of huskyvoice-sandbox",
        ("Measured by `bench/run.py`; the method is described in its module docstring. To "
         "reproduce, from a checkout with the test extra installed (`pip install -e \".[test]\"`) "
         "and wrk present (`apt-get install -y wrk`; optional: Prism, "
         "`npm install -g @stoplight/prism-cli`, and HAProxy, `apt-get install -y haproxy`):"
         "\n\n```sh no-run (the benchmark runs for minutes and needs wrk)\n"
         f"{REPRODUCE}\n```"),
    ]
    notes = NOTES_FILE.read_text(encoding="utf-8").strip() if NOTES_FILE.exists() else ""
    return "\n\n".join([*head, *(s.markdown() for s in sections), notes]).rstrip() + "\n"


def text(sections: Sequence[Section]) -> str:
    return "\n\n".join(s.text() for s in sections)
