"""Large YAML worlds, fast: libyaml's parser events built straight into Python values.

PyYAML's loaders build a node for every scalar, mapping and sequence, then construct each node
in Python: most of the 20 s a 100,000-appointment world took. A world is plain data (mappings,
sequences, scalars), so its events can be built into values directly, with the world loader's
own resolver choosing each plain scalar's type. Anything else (anchors, aliases, explicit tags,
merge keys, a key given twice, floats, several documents) raises Unusual, and the caller loads
the text with the full loader, which also gives the located error. tests/test_fastyaml.py
checks that both give the same values.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

_STR, _NULL, _BOOL, _INT = (f"tag:yaml.org,2002:{name}" for name in ("str", "null", "bool", "int"))
_NO_KEY: Any = object()  # a mapping waiting for its next key
_ITEM: Any = object()  # a sequence's marker in place of a key
_PLAIN = (True, False)  # ScalarEvent.implicit of a plain scalar, as the resolver is asked


class Unusual(Exception):
    """The document uses YAML beyond plain data: load it with the full loader."""


def load(text: str, loader: type[yaml.SafeLoader]) -> Any:
    """The document as `loader` (a SafeLoader subclass with libyaml's parser) would give it,
    or Unusual."""
    parser = loader(text)
    try:
        return _build(parser, _Scalars(parser))
    finally:
        parser.dispose()


class _Scalars(dict[str, Any]):
    """Plain scalars' values by their text, resolved once each (worlds repeat a lot of text)."""

    def __init__(self, resolver: yaml.SafeLoader) -> None:
        super().__init__()
        self._resolver = resolver

    def __missing__(self, text: str) -> Any:
        tag = self._resolver.resolve(yaml.ScalarNode, text, _PLAIN)
        if tag == _STR:
            value: Any = text
        elif tag == _NULL:
            value = None
        elif tag == _BOOL:
            value = text.lower() == "true"
        elif tag == _INT:  # decimal digits only, in a world (see world._WorldLoader)
            value = int(text)
        else:  # a float, a merge key, ...: rare in worlds, left to the full loader
            raise Unusual(tag)
        self[text] = value
        return value


def _build(parser: yaml.SafeLoader, scalars: _Scalars) -> Any:
    # The innermost open container and its pending key (_NO_KEY: none yet; _ITEM: a
    # sequence) are locals; the outer ones wait on `outer`. One pass, no nodes.
    outer: list[tuple[Any, Any]] = []
    top: Any = None
    key: Any = None
    documents = 0
    root: Any = None
    next_event = parser.get_event
    while True:
        event = next_event()
        kind = type(event)
        if kind is ScalarEvent:
            if event.anchor is not None or event.tag is not None:
                raise Unusual("an anchor or a tag")
            value = scalars[event.value] if event.implicit[0] else event.value
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None or not event.implicit:
                raise Unusual("an anchor or a tag")
            outer.append((top, key))
            top, key = ({}, _NO_KEY) if kind is MappingStartEvent else ([], _ITEM)
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            value = top
            top, key = outer.pop()
        elif kind is StreamEndEvent:
            return root
        elif kind is AliasEvent:
            raise Unusual("an alias")
        else:
            if kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise Unusual("several documents")
            continue
        if top is None:
            root = value
        elif key is _ITEM:
            top.append(value)
        elif key is _NO_KEY:
            if isinstance(value, (dict, list)) or value in top:
                raise Unusual("a complex or repeated key")
            key = value
        else:
            top[key] = value
            key = _NO_KEY
