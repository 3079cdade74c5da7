"""Forced responses: the next N matching API requests answer with a response the spec documents
for their operation (one of its examples, or a body that conforms, with the documented headers),
after a delay, or not at all (the connection is dropped).

Rules are set per session through the control API (`/_sandbox/forced-responses`); one request
can force its own answer with the X-Sandbox-Force header. A forced answer replaces the request's
handling whole: no key check, no validation, no change to the world, no rate-limit count. A
delay alone only delays: the request is then handled as usual.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..domain.errors import Detail, NotFound, ValidationError, location
from ..resources import forced_response_schema_path
from ..spec.gate import short_message

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

    from ..spec.contract import Contract, DocumentedResponse

FORCE_HEADER = "X-Sandbox-Force"
FORCE_ENVIRON = "HTTP_X_SANDBOX_FORCE"  # the header, as WSGI names it
HEADER_FIELDS = ("status", "example", "delay_ms", "drop")  # the rest needs the control API
MAX_RULES = 64  # per session
DROP_KEY = "huskyvoice_sandbox.drop"  # set in the WSGI environ of a request to drop
_DIGITS = re.compile(r"[0-9]{1,18}")  # not str.isdigit(): it accepts "²", which int() refuses
_HEADER_TEXT = re.compile(r"[\t\x20-\x7e]{0,1024}")  # what a header value can carry, safely


class ConnectionDropped(ConnectionError):
    """A forced `drop`: the sandbox closed the connection without answering. Raised by the
    in-process app (and so by Flask's test client); the served sandbox closes the socket."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    example: str | None  # the spec example's name; None for a custom body


@dataclass
class ForcedResponse:
    operation: str | None  # None: any operation
    appointment_id: str | None  # None: any appointment
    remaining: int
    status: int | None  # None: no forced answer (a delay, or a drop)
    delay_ms: int
    drop: bool
    answers: dict[str, Answer] = field(default_factory=dict)  # by operation it can match
    id: str | None = None  # given when added to a session; header rules have none

    def matches(self, operation: str, appointment_id: str | None) -> bool:
        """With a status, only operations that document it (the ones in `answers`) match."""
        return (self.operation in (None, operation) and self.appointment_id in (None, appointment_id)
                and (self.status is None or operation in self.answers))

    @property
    def example(self) -> str | dict[str, str | None] | None:
        """The example's name, or each operation's where their names differ."""
        names = {op: answer.example for op, answer in self.answers.items()}
        distinct = set(names.values())
        if len(distinct) > 1:
            return names
        return distinct.pop() if distinct else None

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "operation": self.operation, "appointment_id": self.appointment_id,
                "remaining": self.remaining, "status": self.status, "example": self.example,
                "delay_ms": self.delay_ms, "drop": self.drop}

    def mark(self, via: str, operation: str) -> dict[str, Any]:
        """How the journal shows the request of `operation` this rule answered."""
        answer = self.answers.get(operation)
        return {"via": via, "rule": self.id, "status": self.status,
                "example": answer.example if answer else None,
                "delay_ms": self.delay_ms, "drop": self.drop}


class ForcedResponses:
    """One session's pending rules, first added first matched."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[ForcedResponse] = []
        self._ids = itertools.count(1)
        # Made when a rule is first used, not before: most sessions never force anything, and a
        # fresh sandbox per test would make one for nothing.
        self._wakeup: threading.Event | None = None

    def _current_wakeup(self) -> threading.Event:
        """What the next clear() sets (the lock held)."""
        if self._wakeup is None:
            self._wakeup = threading.Event()
        return self._wakeup

    def wakeup(self) -> threading.Event:
        """What ends a forced delay early from now on: set by the next clear() (a reset, a new
        world, the end of a test), so a slow answer never outlives the state it was forced in.
        Taken before the delay starts, so a clear() in between is not missed."""
        with self._lock:
            return self._current_wakeup()

    def add(self, rule: ForcedResponse) -> ForcedResponse:
        with self._lock:
            if len(self._rules) >= MAX_RULES:
                raise ValidationError(f"This session already has {MAX_RULES} forced responses pending; "
                                      "delete some first.", [Detail("body", f"at most {MAX_RULES} pending")])
            rule.id = f"force_{next(self._ids)}"
            self._rules.append(rule)
            return rule

    def take(self, operation: str, appointment_id: str | None
             ) -> tuple[ForcedResponse, threading.Event] | None:
        """The first rule matching this request, one use of it spent, and its wakeup() taken in
        the same step."""
        if not self._rules:  # every API request asks: no lock when nothing is pending
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(operation, appointment_id):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    return rule, self._current_wakeup()
        return None

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.view() for rule in self._rules]

    def delete(self, rule_id: str) -> None:
        with self._lock:
            for rule in self._rules:
                if rule.id == rule_id:
                    self._rules.remove(rule)
                    return
        raise NotFound(f"No pending forced response {rule_id[:64]} in this session.")

    def clear(self) -> int:
        with self._lock:
            count = len(self._rules)
            self._rules.clear()
            if self._wakeup is not None:
                self._wakeup.set()  # wake the delays under way; later ones wait on a new event
                self._wakeup = None
            return count


# -- building a rule from its description -------------------------------------------------------

def build(document: Any, contract: Contract, root: str = "body") -> ForcedResponse:
    """The rule a control request describes, checked against its schema and against the spec;
    every problem is reported, located under `root`."""
    problems = _shape_problems(document, root)
    if problems:
        raise ValidationError("The forced response is invalid.", problems)
    at = _locator(root)
    operations = _operations(document, contract, at, problems)
    status = document.get("status")
    status = None if status is None else int(status)
    if status is None:
        for name in ("example", "body", "headers"):
            if name in document:
                problems.append(Detail(at(name), "needs a status"))
    elif document.get("drop"):
        problems.append(Detail(at("drop"), "a dropped connection has no status; send one or the other"))
    elif "example" in document and "body" in document:
        problems.append(Detail(at("body"), "send an example's name or a body, not both"))
    if status is None and not document.get("drop") and not document.get("delay_ms"):
        problems.append(Detail(root, "say what to force: a status, a delay_ms of at least 1, or drop: true"))
    answers = {}
    if status is not None and operations and not problems:
        if "operation" not in document:  # the requests that can get this answer: those documenting it
            operations = [op for op in operations if status in contract.responses[op]]
            if not operations:
                documented = sorted({s for responses in contract.responses.values() for s in responses})
                problems.append(Detail(at("status"), f"no operation of the spec documents {status}; "
                                       f"they document {', '.join(map(str, documented))}"))
        for operation in operations:
            response = contract.responses[operation].get(status)
            if response is None:
                problems.append(_undocumented(contract, operation, status, at))
            else:
                answers[operation] = _answer(contract, response, document, at, problems)
    if problems:
        raise ValidationError("The forced response is invalid.", list(dict.fromkeys(problems)))
    return ForcedResponse(
        operation=document.get("operation"), appointment_id=document.get("appointment_id"),
        remaining=int(document.get("times", 1)), status=status,  # int(): JSON's 2.0 is an integer too
        delay_ms=int(document.get("delay_ms", 0)), drop=bool(document.get("drop")), answers=answers)


def from_header(value: str, operation: str, contract: Contract) -> ForcedResponse:
    """The one-off rule of an X-Sandbox-Force header, e.g. `status=429`,
    `status=409, example=SLOT_FULL`, `delay_ms=1500` or `drop`."""
    root = f"header.{FORCE_HEADER}"
    document: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, sep, raw = (part.strip() for part in item.partition("="))
        if name not in HEADER_FIELDS:
            raise ValidationError(f"{FORCE_HEADER} cannot set {name[:40]!r}.", [Detail(
                root, f"expected status=N, example=NAME, delay_ms=N or drop; got {item[:80]!r}; "
                "match by operation or appointment, or send a body or headers, through the control API")])
        if name in document:
            raise ValidationError(f"{FORCE_HEADER} gives {name} twice.",
                                  [Detail(f"{root}.{name}", "given twice; give it once")])
        document[name] = _header_value(name, raw if sep else None)
    if not document:
        raise ValidationError(f"{FORCE_HEADER} is empty.", [Detail(root, "expected e.g. status=429")])
    document["operation"] = operation
    return build(document, contract, root)


def _header_value(name: str, raw: str | None) -> Any:
    if name == "drop":
        return True if raw is None else {"true": True, "false": False}.get(raw.lower(), raw)
    if name in ("status", "delay_ms") and raw is not None:
        return _whole_number(raw)
    return raw


def _whole_number(text: str) -> int | str:
    """The integer `text` spells in ASCII digits (spaces around allowed), else `text` as is,
    for the schema to refuse in its own words."""
    return int(text.strip()) if _DIGITS.fullmatch(text.strip()) else text


@lru_cache(maxsize=1)
def _shape_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # on first use: see spec.gate.located_validator

    schema = json.loads(forced_response_schema_path().read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _shape_problems(document: Any, root: str) -> list[Detail]:
    errors = sorted(_shape_validator().iter_errors(document), key=lambda e: [str(p) for p in e.path])
    return [Detail(location(e.absolute_path, root), short_message(e)) for e in errors]


def _locator(root: str) -> Callable[[str], str]:
    return lambda name: f"{root}.{name}"


def _operations(document: dict[str, Any], contract: Contract, at: Callable[[str], str],
                problems: list[Detail]) -> list[str]:
    """The operations the rule can match."""
    operation = document.get("operation")
    if operation is None:
        return list(contract.operations)
    if operation not in contract.operations:
        problems.append(Detail(at("operation"), f"{operation[:64]!r} is not an operation of the spec; "
                               f"expected one of {', '.join(contract.operations)}"))
        return []
    return [operation]


def _undocumented(contract: Contract, operation: str, status: int, at: Callable[[str], str]) -> Detail:
    documented = ", ".join(map(str, contract.responses[operation]))
    message = f"{operation} does not document {status}; it documents {documented}"
    others = [op for op in contract.operations if status in contract.responses[op]]
    if others:
        message += f" (the operations that document {status}: {', '.join(others)})"
    return Detail(at("status"), message)


def _answer(contract: Contract, response: DocumentedResponse, document: dict[str, Any],
            at: Callable[[str], str], problems: list[Detail]) -> Answer:
    """What to send for `response`: the example (or checked body) and the documented headers."""
    example = None
    if "body" in document:
        body = document["body"]
        if response.body_pointer:
            problems.extend(contract.value_problems(response.body_pointer, body, at("body")))
        elif body is not None:
            problems.append(Detail(at("body"), f"{response.status} has no body in the spec"))
    elif response.examples:
        example = document.get("example") or next(iter(response.examples))
        if example not in response.examples:
            problems.append(Detail(at("example"), f"{response.operation_id} {response.status} has no example "
                                   f"{example[:64]!r}; it has {', '.join(response.examples)}"))
        body = response.examples.get(example)
    else:
        body = None
        if response.body_pointer:
            problems.append(Detail(at("body"), f"the spec gives no example for {response.status}; send a body"))
    return Answer(response.status, body, _headers(contract, response, document, at, problems), example)


def _headers(contract: Contract, response: DocumentedResponse, document: dict[str, Any],
             at: Callable[[str], str], problems: list[Detail]) -> dict[str, str]:
    given = {name.lower(): (name, value) for name, value in document.get("headers", {}).items()}
    documented = {name.lower(): header for name, header in response.headers.items()}
    for lowered, (name, _) in given.items():
        if lowered not in documented:
            known = ", ".join(response.headers) or "none"
            problems.append(Detail(at(f"headers.{name[:64]}"), f"is not documented for "
                                   f"{response.operation_id} {response.status} (documented: {known})"))
    headers = {}
    for lowered, header in documented.items():
        if lowered in given:
            name, value = given[lowered]
            value = _typed(contract, header.schema_pointer, value)
            found = _value_problems(contract, header.schema_pointer, value, at(f"headers.{name[:64]}"))
            problems.extend(found)
            if found:
                continue
        elif header.required and header.example is not None:
            value = header.example
        elif header.required:
            problems.append(Detail(at("headers"), f"the spec gives no example for the required "
                                   f"{header.name} header; send its value"))
            continue
        else:
            continue
        headers[header.name] = str(value)
    return headers


def _value_problems(contract: Contract, schema_pointer: str, value: Any, where: str) -> list[Detail]:
    """A header value given for a forced answer: its schema's, and what HTTP can carry."""
    found = contract.value_problems(schema_pointer, value, where)
    if not found and not _HEADER_TEXT.fullmatch(str(value)):
        found = [Detail(where, "must be printable ASCII, at most 1024 characters, on one line")]
    return found


def _typed(contract: Contract, schema_pointer: str, value: Any) -> Any:
    """A header value as its schema's type: headers travel as text, "30" is the integer 30."""
    if isinstance(value, str) and contract.resolve(schema_pointer).get("type") == "integer":
        return _whole_number(value)
    return value
