"""The contract, `openapi.yaml`, loaded once: its operations (method, path, the scopes of their
`security`, their query parameters and body), request validation with the spec's own schemas,
and response validation (used by the tests and the contract kit)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..domain.errors import Detail, location
from ..resources import spec_path
from .gate import GatedValidator, impossible_day, located_validator, short_message

if TYPE_CHECKING:
    from referencing import Registry

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SPEC_URI = "urn:huskyvoice:openapi"
MAX_DETAILS = 20
MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class DocumentedHeader:
    name: str
    required: bool
    schema_pointer: str
    example: Any  # None when the spec gives none


@dataclass(frozen=True)
class DocumentedResponse:
    """One response the spec documents for an operation: what a forced answer may send."""

    operation_id: str
    status: int
    examples: dict[str, Any]  # name -> body, in spec order
    body_pointer: str | None  # the JSON body's schema, if the response has a body
    headers: dict[str, DocumentedHeader]


@dataclass(frozen=True)
class Parameter:
    """A query parameter of an operation, as the spec declares it."""

    name: str
    required: bool
    schema_pointer: str
    kind: str  # the schema's type: "string", "integer", ...


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    # The operation's `security`: any one of these sets of scopes is enough.
    scope_sets: tuple[frozenset[str], ...]
    body_pointer: str | None  # JSON pointer to the request body schema, if any
    query: tuple[Parameter, ...] = ()
    path_params: tuple[str, ...] = ()

    def allows(self, scopes: frozenset[str]) -> bool:
        return any(needed <= scopes for needed in self.scope_sets)

    def scopes_wanted(self) -> str:
        """The scopes a key needs, as a phrase: "slots:read or appointments:read"."""
        return " or ".join(" and ".join(sorted(needed)) for needed in self.scope_sets)


class Contract:
    """The parsed spec with compiled validators. Build it once; it is read-only after."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else spec_path()
        self.text = self.path.read_text(encoding="utf-8")
        # libyaml's parser when PyYAML has it (its wheels do): the same document, parsed in a
        # seventh of the time, which every fresh process (a test run, a CLI command) pays.
        self.spec: dict[str, Any] = yaml.load(self.text, Loader=_SafeLoader)  # noqa: S506 - safe
        self.operations = {op.operation_id: op for op in self._read_operations()}
        self._validators: dict[str, GatedValidator] = {}
        self._body_fields = {
            op.operation_id: _named_fields(self.resolve(op.body_pointer)) if op.body_pointer else ()
            for op in self.operations.values()
        }
        self._body_validators = {
            op.operation_id: self._validator(op.body_pointer)
            for op in self.operations.values() if op.body_pointer
        }
        self._query_validators = {
            op.operation_id: self._object_validator(f"query:{op.operation_id}", op.query)
            for op in self.operations.values() if op.query
        }
        # Each query parameter's default, read once: the spec does not change while it is served.
        self._query_defaults = {
            op.operation_id: [(param.name, default) for param in op.query
                              if (default := self.resolve(param.schema_pointer).get("default")) is not None]
            for op in self.operations.values()
        }
        self.responses = {op.operation_id: self._read_responses(op) for op in self.operations.values()}
        self.defaults = {op.operation_id: response for op in self.operations.values()
                         if (response := self._read_response(op, "default")) is not None}

    # -- reading the spec -------------------------------------------------------------------
    def _read_operations(self) -> list[Operation]:
        found = []
        for path, item in self.spec["paths"].items():
            for method, op in item.items():
                if method not in {"get", "put", "post", "patch", "delete"}:
                    continue
                base = f"/paths/{_escape(path)}/{method}"
                pointer = None
                body = op.get("requestBody", {}).get("content", {}).get("application/json")
                if body:
                    pointer = self.deref_pointer(f"{base}/requestBody/content/application~1json/schema")
                params = [self.deref_pointer(f"/paths/{_escape(path)}/parameters/{i}")
                          for i in range(len(item.get("parameters", [])))]
                params += [self.deref_pointer(f"{base}/parameters/{i}") for i in range(len(op.get("parameters", [])))]
                security = op.get("security", self.spec.get("security", []))
                found.append(Operation(
                    method.upper(), path, op["operationId"],
                    tuple(frozenset(scope for scopes in requirement.values() for scope in scopes)
                          for requirement in security),
                    pointer,
                    tuple(self._parameter(p) for p in params if self.resolve(p)["in"] == "query"),
                    tuple(self.resolve(p)["name"] for p in params if self.resolve(p)["in"] == "path")))
        return found

    def _parameter(self, pointer: str) -> Parameter:
        node = self.resolve(pointer)
        schema_pointer = self.deref_pointer(f"{pointer}/schema")
        return Parameter(node["name"], bool(node.get("required")), schema_pointer,
                         self.resolve(schema_pointer).get("type", "string"))

    def _object_validator(self, key: str, params: tuple[Parameter, ...]) -> GatedValidator:
        """A validator of the query parameters as one object, each by its own schema."""
        properties = {p.name: {"$ref": f"#{p.schema_pointer}"} for p in params}
        schema = {"type": "object", "properties": properties,
                  "required": [p.name for p in params if p.required]}
        located = {**schema, "properties": {n: {"$ref": f"{SPEC_URI}{r['$ref']}"}
                                            for n, r in properties.items()}}
        parts: dict[str, Any] = {part: self.spec[part] for part in ("components", "paths") if part in self.spec}
        whole: dict[str, Any] = {**schema, **parts}
        self._validators[key] = GatedValidator(whole, lambda: located_validator(located, self._registry))
        return self._validators[key]

    def _read_responses(self, op: Operation) -> dict[int, DocumentedResponse]:
        base = f"/paths/{_escape(op.path)}/{op.method.lower()}/responses"
        found = {}
        for status in self.resolve(base):
            if status.isdigit():  # "default" or a range: nothing a forced answer can name
                found[int(status)] = self._read_response(op, status)
        return found  # type: ignore[return-value]

    def _read_response(self, op: Operation, status: str) -> DocumentedResponse | None:
        base = f"/paths/{_escape(op.path)}/{op.method.lower()}/responses"
        if status not in self.resolve(base):
            return None
        pointer = self.deref_pointer(f"{base}/{status}")
        response = self.resolve(pointer)
        content = response.get("content", {}).get("application/json")
        examples = {name: self.deref(example).get("value")
                    for name, example in (content or {}).get("examples", {}).items()}
        headers = {}
        for name in response.get("headers", {}):
            header_pointer = self.deref_pointer(f"{pointer}/headers/{_escape(name)}")
            header = self.resolve(header_pointer)
            example = header.get("example", (header.get("examples") or [None])[0])
            headers[name] = DocumentedHeader(name, bool(header.get("required")),
                                             f"{header_pointer}/schema", example)
        body_pointer = self.deref_pointer(f"{pointer}/content/application~1json/schema") if content else None
        return DocumentedResponse(op.operation_id, int(status) if status.isdigit() else 0, examples,
                                  body_pointer, headers)

    def _validator(self, pointer: str) -> GatedValidator:
        """The validator of the schema at `pointer`, compiled once."""
        if pointer not in self._validators:
            located = {"$ref": f"{SPEC_URI}#{pointer}"}
            # Self-contained for jsonschema-rs: the spec's schemas, referred to from the root.
            whole: dict[str, Any] = {"$ref": f"#{pointer}",
                     **{part: self.spec[part] for part in ("components", "paths") if part in self.spec}}
            self._validators[pointer] = GatedValidator(whole, lambda: located_validator(located, self._registry))
        return self._validators[pointer]

    @cached_property
    def _registry(self) -> Registry:
        """The spec as jsonschema's located validators resolve it (made, and jsonschema's
        libraries imported, only once a document is refused: see gate.located_validator)."""
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        return Registry().with_resource(
            SPEC_URI, Resource.from_contents(self.spec, default_specification=DRAFT202012))

    @cached_property
    def json_text(self) -> str:
        return json.dumps(self.spec, indent=2)

    @lru_cache(maxsize=16)  # noqa: B019 - one Contract per app, a few origins each
    def served(self, origin: str, as_json: bool) -> str:
        """The spec as a sandbox at `origin` serves it: its own origin listed first among the
        servers (so a generated client or "Try it out" talks to it), production after."""
        if as_json:
            servers = [{"url": origin, "description": "this huskyvoice-sandbox"},
                       *[s for s in self.spec.get("servers", []) if "huskyvoice.ai" in s.get("url", "")]]
            return json.dumps({**self.spec, "servers": servers}, indent=2)
        lines = self.text.splitlines(keepends=True)
        start = lines.index("servers:\n")
        end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
        kept = [line for line in lines[start + 1:end]]
        production = "".join(kept[i] + kept[i + 1] for i in range(0, len(kept), 2)
                             if "huskyvoice.ai" in kept[i])
        own = f"  - url: {json.dumps(origin)}\n    description: this huskyvoice-sandbox\n"
        return "".join(lines[:start + 1]) + own + production + "".join(lines[end:])

    def body_fields(self, operation_id: str) -> tuple[str, ...]:
        """The fields the request body's schema names, in spec order: its properties, then the
        fields it refuses (`dependentSchemas`: what names a calendar window, which cannot change)."""
        return self._body_fields[operation_id]

    def resolve(self, pointer: str) -> dict[str, Any]:
        node: Any = self.spec
        for part in pointer.strip("/").split("/"):
            name = part.replace("~1", "/").replace("~0", "~")
            node = node[int(name)] if isinstance(node, list) else node[name]
        return node

    def deref_pointer(self, pointer: str) -> str:
        """The pointer of the node `pointer` refers to, following `$ref`s."""
        node = self.resolve(pointer)
        while isinstance(node, dict) and "$ref" in node:
            pointer = node["$ref"][1:]
            node = self.resolve(pointer)
        return pointer

    # -- requests ---------------------------------------------------------------------------
    def body_problems(self, operation_id: str, body: Any) -> list[Detail]:
        """Every way `body` breaks the operation's request schema, located (`body.status`)."""
        validator = self._body_validators[operation_id]
        errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.path])
        details = dict.fromkeys(_detail(e) for e in errors)  # one schema may fail twice alike
        return list(details)[:MAX_DETAILS]

    def query_problems(self, operation_id: str, args: Mapping[str, list[str]]) -> tuple[dict[str, Any], list[Detail]]:
        """The operation's query parameters, typed by their schemas (`"2"` is 2 for an integer),
        with their defaults; and every way they break the spec, located (`query.limit`).
        Parameters the spec does not declare are not looked at."""
        op = self.operations[operation_id]
        values: dict[str, Any] = {}
        problems = []
        for param in op.query:
            given = args.get(param.name)
            if not given:
                continue
            if len(given) > 1:
                problems.append(Detail(f"query.{param.name}", "is given more than once; give it once"))
                continue
            values[param.name] = _typed(given[0], param.kind)
        if op.query:
            # One detail per parameter: its most specific problem (a day that does not exist,
            # rather than also the pattern that year 0000 breaks).
            errors = sorted(self._query_validators[operation_id].iter_errors(values),
                            key=lambda e: ([str(p) for p in e.path], impossible_day(e) is None))
            located = [Detail(location(e.absolute_path, "query"), _message(e))
                       if e.absolute_path else Detail(f"query.{_missing(e)}", "is required") for e in errors]
            first: dict[str, Detail] = {}
            for detail in located:
                first.setdefault(detail.location, detail)
            problems += first.values()
        for name, default in self._query_defaults[operation_id]:
            values.setdefault(name, default)
        return values, list(dict.fromkeys(problems))[:MAX_DETAILS]

    # -- responses (for the tests and the contract kit) -------------------------------------
    def documented_answers(self) -> list[tuple[str, int, str | None]]:
        """Every (operation, status, error code) the spec documents; an error response's codes
        are the names of its examples (written like codes, in capitals)."""
        found: list[tuple[str, int, str | None]] = []
        for op_id, responses in self.responses.items():
            for status, response in responses.items():
                codes: list[str | None] = [name for name in response.examples if name.isupper()]
                found += [(op_id, status, code) for code in codes or [None]]
        return found

    def status_of_codes(self) -> dict[str, int]:
        """The status each error code is sent with, as the spec documents it."""
        return {code: status for _, status, code in self.documented_answers() if code}

    def operation_for(self, method: str, path: str) -> Operation | None:
        """The operation a request is for; a literal path wins over a template that also
        matches (`/webhooks/deliveries` over `/webhooks/{endpoint_id}`), as routing does."""
        for op in self._by_specificity:
            if op.method == method.upper() and _template_regex(op.path).fullmatch(path):
                return op
        return None

    @cached_property
    def _by_specificity(self) -> list[Operation]:
        return sorted(self.operations.values(), key=lambda op: op.path.count("{"))

    def response_problems(self, method: str, path: str, status: int,
                          headers: Mapping[str, str], body: Any) -> list[str]:
        """How a response breaks the contract; empty when it conforms.

        Paths and methods the spec does not describe must still answer in the error envelope.
        """
        op = self.operation_for(method, path)
        if op is None:
            return self._schema_problems("/components/schemas/ErrorEnvelope", body)
        response = self.responses[op.operation_id].get(status) or self.defaults.get(op.operation_id)
        if response is None:
            return [f"{op.operation_id}: status {status} is not documented"]
        sent = {name.lower(): value for name, value in headers.items()}  # names are case-blind
        problems = []
        for header in response.headers.values():
            value = sent.get(header.name.lower())
            if value is None:
                if header.required:
                    problems.append(f"header {header.name} is required")
                continue
            problems += [f"header {header.name}: {d.message} (got {value[:80]!r})" for d in
                         self.value_problems(header.schema_pointer, self.header_value(header, value), "")]
        if response.body_pointer:
            ctype = sent.get("content-type", "")
            if not ctype.startswith("application/json"):
                problems.append(f"Content-Type must be application/json, got {ctype!r}")
            problems += self._schema_problems(response.body_pointer, body)
        return problems

    def webhook_problems(self, headers: Mapping[str, str], body: Any) -> list[str]:
        """How a webhook delivery breaks the spec's `webhooks` (chosen by the body's `event`);
        empty when it conforms."""
        name = body.get("event") if isinstance(body, dict) else None
        if not isinstance(name, str) or name not in self.spec.get("webhooks", {}):
            return [f"event: {name!r} is not one of the spec's webhooks"]
        base = f"/webhooks/{_escape(name)}/post"
        sent = {key.lower(): value for key, value in headers.items()}
        problems = []
        for index, _ in enumerate(self.resolve(base).get("parameters", [])):
            param = self.resolve(self.deref_pointer(f"{base}/parameters/{index}"))
            value = sent.get(param["name"].lower())
            if value is None:
                problems += [f"header {param['name']} is required"] if param.get("required") else []
            else:
                pointer = self.deref_pointer(f"{base}/parameters/{index}") + "/schema"
                problems += [f"header {param['name']}: {d.message}" for d in self.value_problems(pointer, value, "")]
        pointer = self.deref_pointer(f"{base}/requestBody/content/application~1json/schema")
        return problems + self._schema_problems(pointer, body)

    def header_value(self, header: DocumentedHeader, text: str) -> Any:
        """A header's text as its schema's type (headers travel as text: "30" is 30)."""
        if self.resolve(header.schema_pointer).get("type") == "integer" and re.fullmatch(r"[0-9]{1,18}", text):
            return int(text)
        return text

    def _schema_problems(self, pointer: str, body: Any) -> list[str]:
        return [f"{location(e.absolute_path) or 'body'}: {e.message}" for e in
                self._validator(pointer).iter_errors(body)]

    def value_problems(self, pointer: str, value: Any, root: str) -> list[Detail]:
        """How `value` breaks the schema at `pointer`, located under `root` (e.g. `body.body`)."""
        errors = sorted(self._validator(pointer).iter_errors(value), key=lambda e: [str(p) for p in e.path])
        return [Detail(location(e.absolute_path, root), short_message(e)[:MAX_MESSAGE_CHARS])
                for e in errors][:MAX_DETAILS]

    def deref(self, node: dict[str, Any]) -> dict[str, Any]:
        """The spec node a `$ref` points to (followed until it is no reference)."""
        return self.resolve(self.deref_pointer(node["$ref"][1:])) if "$ref" in node else node


def _named_fields(schema: dict[str, Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*schema.get("properties", {}), *schema.get("dependentSchemas", {})]))


def _escape(name: str) -> str:
    """A name as one JSON-pointer segment."""
    return name.replace("~", "~0").replace("/", "~1")


def _typed(text: str, kind: str) -> Any:
    """A query value as its schema's type, where it spells one; else the text, for the schema
    to refuse in its own words."""
    if kind == "integer" and re.fullmatch(r"[0-9]{1,18}", text):
        return int(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def _missing(error: Any) -> str:
    found = re.match(r"'(.+?)' is a required property", error.message)
    return found.group(1) if found else "?"


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))


def _detail(error: Any) -> Detail:
    path = list(error.absolute_path)
    if error.validator == "required":  # located at the missing field, like a world's
        return Detail(location([*path, _missing(error)], "body"), "is required")
    # A schema's x-error-message explains any failure of it; at the top level it explains
    # only the "at least one field" rule (a `not`: no object without any of the fields), not,
    # say, a wrong type of body.
    return Detail(location(path, "body"), _message(error, top_level=not path))


def _message(error: Any, top_level: bool = False) -> str:
    """What a detail says: a day that does not exist, said so; else the schema's own
    x-error-message (which explains any failure of it: a pattern and a format failing alike
    say one thing), except at the top level of a body; else jsonschema's, shortened."""
    impossible = impossible_day(error)
    message = error.schema.get("x-error-message") if isinstance(error.schema, dict) else None
    if top_level and error.validator not in ("not", "anyOf"):
        message = None
    return (impossible or message or short_message(error))[:MAX_MESSAGE_CHARS]
