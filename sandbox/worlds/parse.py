"""Parsing a world document: JSON when it looks like JSON, else YAML without YAML 1.1's
surprises. Problems are located (`InvalidWorld`)."""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from typing import Any

import yaml

from ..domain.errors import Detail, InvalidWorld
from ..spec import strictjson
from . import fastyaml

# libyaml's parser where PyYAML has it: about three times faster on large worlds.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _WorldLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """YAML with the surprises of YAML 1.1 removed: `09:00` and `11:00` stay strings (not
    sexagesimal numbers), dates stay strings, and only true/false are booleans."""


_DROPPED = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool"}
_WorldLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_WorldLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(0|[1-9][0-9]*)$"), list("-+0123456789"))
_WorldLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def parse_document(text: str | bytes, source: str) -> Any:
    """Parse a world document: JSON when it looks like JSON, else YAML.

    Problems (syntax, duplicate keys) are an InvalidWorld with their line.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidWorld(source, [Detail("document", f"not UTF-8 (byte {exc.start})")]) from None
    if text.lstrip().startswith("{"):
        try:
            return strictjson.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise InvalidWorld(source, [Detail(where, f"not valid JSON: {exc.msg}")]) from None
        except ValueError as exc:  # a key given twice, NaN
            raise InvalidWorld(source, [Detail("document", str(exc))]) from None
    try:
        try:
            return fastyaml.load(text, _WorldLoader)
        except fastyaml.Unusual:  # beyond plain data: the full loader, which locates problems
            return yaml.load(text, Loader=_WorldLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        raise InvalidWorld(source, [Detail(where, f"not valid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidWorld(source, [Detail("document", f"not valid YAML: {exc}")]) from None


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """A YAML mapping that refuses a key given twice (YAML would keep the last silently)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):  # [a, b] as a key: refused as PyYAML refuses it
            raise yaml.constructor.ConstructorError(
                None, None, f"a mapping key cannot be a {type(key).__name__}", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_WorldLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
