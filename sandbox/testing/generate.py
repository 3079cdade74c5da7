"""Writes `operations.py`: the pytest handle's typed helper for every operation of openapi.yaml.

    python -m huskyvoice_sandbox.testing.generate

Each helper is named after its operationId in snake case (`createCalendarWindow` ->
`create_calendar_window`), is documented by the operation's summary, and takes the operation's
path parameters (positional `str`), its JSON body (`body`, when it has one), its query parameters
(keyword-only, typed from their schemas; `None`, left out, unless required) and `key=`,
`headers=`; it sends the request through the handle's `call()`. Run this after changing the
spec's operations: tests/test_plugin.py fails while the checked-in file is not what it writes.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

from ..spec.contract import Contract, Operation

COMMAND = "python -m huskyvoice_sandbox.testing.generate"
OUTPUT = Path(__file__).with_name("operations.py")
LINE = 120  # ruff's line-length
TYPES = {"string": "str", "integer": "int", "boolean": "bool", "number": "float"}  # else Any
OWN = ("self", "body", "key", "headers")  # names every helper's signature already uses
Part = str | tuple[str, list[str], str]  # text, or a bracketed list: opening, items, closing

HEADER = f'''# Generated from openapi.yaml by `{COMMAND}`: do not edit.
"""The pytest handle's typed helpers, one per operation of openapi.yaml, each sending its
operation through `call()` (the spec's method and path; the world's first key whose scopes the
operation accepts, unless `key=` is given; `key=""` sends none). `SandboxHandle` inherits them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .replies import Reply


class OperationHelpers:
    """A helper per operation of the spec; the class that mixes them in provides `call()`."""

    def call(self, operation_id: str, *, path: Mapping[str, Any] | None = None,
             query: Mapping[str, Any] | None = None, json: Any = None, key: str | None = None,
             headers: Mapping[str, str] | None = None) -> Reply:
        raise NotImplementedError
'''


def helper_name(operation_id: str) -> str:
    """`createCalendarWindow` -> `create_calendar_window` (`getHTTPStatus` -> `get_http_status`)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", operation_id).lower()


def argument_name(spec_name: str) -> str:
    """A parameter's name as a Python argument: snake case, other characters as `_`, and a
    keyword given a trailing `_` (`date-from` -> `date_from`, `from` -> `from_`)."""
    name = re.sub(r"\W", "_", helper_name(spec_name))
    name = f"_{name}" if name[:1].isdigit() else name
    return f"{name}_" if keyword.iskeyword(name) else name


def render(contract: Contract) -> str:
    """The text of operations.py for the spec `contract` read."""
    names = [helper_name(operation_id) for operation_id in contract.operations]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise ValueError(f"operationIds that give the same helper name: {', '.join(clashes)}")
    return HEADER + "".join("\n" + _method(contract, op) for op in contract.operations.values())


def _method(contract: Contract, op: Operation) -> str:
    path_args = [(name, argument_name(name)) for name in op.path_params]
    query_args = [(param.name, argument_name(param.name)) for param in op.query]
    taken = [argument for _, argument in path_args + query_args]
    clashes = sorted({a for a in taken if taken.count(a) > 1 or a in OWN})
    if clashes:
        raise ValueError(f"{op.operation_id}: parameters whose argument names clash: {', '.join(clashes)}")
    signature: list[Part] = ["self", *(f"{argument}: str" for _, argument in path_args)]
    signature += ["body: Mapping[str, Any]"] if op.body_pointer else []
    signature.append("*")
    for param, (_, argument) in zip(op.query, query_args, strict=True):
        kind = TYPES.get(param.kind, "Any")
        signature.append(f"{argument}: {kind}" if param.required else f"{argument}: {kind} | None = None")
    signature += ["key: str | None = None", "headers: Mapping[str, str] | None = None"]
    sent: list[Part] = [json.dumps(op.operation_id)]
    sent += [_mapping("path", path_args)] if path_args else []
    sent += [_mapping("query", query_args)] if query_args else []
    sent += ["json=dict(body)"] if op.body_pointer else []
    sent += ["key=key", "headers=headers"]
    summary = contract.spec["paths"][op.path][op.method.lower()].get("summary") or op.operation_id
    return "\n".join([
        *_packed(f"    def {helper_name(op.operation_id)}(", signature, ") -> Reply:"),
        *_docstring(f"{summary.strip().rstrip('.')}: `{op.method} {op.path}`.", "        "),
        *_packed("        return self.call(", sent, ")"),
    ]) + "\n"


def _mapping(name: str, arguments: list[tuple[str, str]]) -> Part:
    """`query={"date": date, ...}`: each spec name with the argument that gives it."""
    return f"{name}={{", [f"{json.dumps(spec)}: {argument}" for spec, argument in arguments], "}"


def _flat(part: Part) -> str:
    return part if isinstance(part, str) else part[0] + ", ".join(part[1]) + part[2]


def _packed(first: str, parts: Sequence[Part], closing: str) -> list[str]:
    """`first` (ending in an opening bracket), the parts and `closing`, as many parts a line as
    fit, each further line aligned under the first part; a bracketed part too long for a line
    of its own is packed the same way inside its brackets."""
    column = " " * len(first)
    lines, line_is_new = [first], True
    for index, part in enumerate(parts):
        end = closing if index == len(parts) - 1 else ","
        piece = _flat(part) + end
        if len(lines[-1]) + (0 if line_is_new else 1) + len(piece) <= LINE:
            lines[-1] += piece if line_is_new else " " + piece
        elif isinstance(part, str) or len(column + piece) <= LINE:
            lines.append(column + piece)
        else:
            lines += _packed(column + part[0], part[1], part[2] + end)
        line_is_new = False
    return lines


def _docstring(text: str, indent: str) -> list[str]:
    """A docstring of `text`, wrapped at the line length; words in backticks kept together."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    text = re.sub(r"`[^`]*`", lambda quoted: quoted.group().replace(" ", "\0"), text)
    lines = textwrap.wrap(f'"""{text}"""', width=LINE - len(indent), break_long_words=False, break_on_hyphens=False)
    return [indent + line.replace("\0", " ") for line in lines]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND.removeprefix("python "),
                                     description="Write operations.py, the handle's helper for each operation.")
    parser.add_argument("--spec", type=Path, default=None, help="the spec to read (default: the packaged openapi.yaml)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"where to write (default: {OUTPUT})")
    options = parser.parse_args(argv)
    contract = Contract(options.spec)
    options.output.write_text(render(contract), encoding="utf-8")
    print(f"wrote {options.output}: {len(contract.operations)} operations")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
