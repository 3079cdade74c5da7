"""The fast YAML path (sandbox/worlds/fastyaml.py) gives exactly what the world loader gives, or
steps aside: every world and scenario in the repository, generated documents with the strings
YAML likes to reinterpret, and documents beyond plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from huskyvoice_sandbox.domain.errors import InvalidWorld
from huskyvoice_sandbox.worlds import fastyaml
from huskyvoice_sandbox.worlds.parse import _WorldLoader, parse_document
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).parents[1]
YAML_FILES = sorted(p for p in (ROOT / "fixtures").rglob("*.yaml"))


def reference(text: str) -> Any:
    return yaml.load(text, Loader=_WorldLoader)  # noqa: S506 - a SafeLoader subclass


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_world_in_the_repository_takes_the_fast_path_and_agrees(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert parse_document(text, str(path)) == reference(text)
    anchored = any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=yaml.SafeLoader))
    if not anchored:  # an anchor and its aliases: the full loader's job
        assert fastyaml.load(text, _WorldLoader) == reference(text)


TRICKY = ["yes", "no", "on", "off", "y", "n", "0x1F", "0o17", "017", "1_000", "09:00", "24:00",
          "12:30:45", "2026-06-15", "2026-06-15T10:00:00Z", "~", "null", "Null", "NULL", "True",
          "FALSE", "1e3", "1.5", ".inf", "-.inf", ".nan", "-0", "+5", "0", "00", "<<", "=", "",
          " lead", "trail ", "a: b", "#x", "- x", "[x]", "{x}", "'q'", '"q"', "é", "\u2028", "\t"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.sampled_from(TRICKY), st.text(max_size=12))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(TRICKY), st.text(max_size=8)),
                                            inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans())
def test_generated_documents_load_alike(document: Any, flow: bool) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    expected = reference(text)
    try:
        fast = fastyaml.load(text, _WorldLoader)
    except fastyaml.Unusual:
        return  # the full loader's answer is used: nothing to compare
    assert fast == expected
    assert _types(fast) == _types(expected)  # 1 and True are equal, but not alike


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


BEYOND_PLAIN_DATA = {
    "anchor and alias": "a: &x {b: 1}\nc: *x\n",
    "merge key": "base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n",
    "explicit tag": "a: !!str 123\nb: !!int '7'\n",
    "float": "a: 1.5\nb: .inf\n",
    "complex key": "? [a, b]\n: c\n",  # refused: a world's keys are names
    "null key": "~: x\n",
    "value key": "=: x\n",
    "timestamp-looking": "clock: 2026-05-26T11:00:00Z\n",
}


@pytest.mark.parametrize("text", BEYOND_PLAIN_DATA.values(), ids=BEYOND_PLAIN_DATA.keys())
def test_documents_beyond_plain_data_load_as_the_full_loader_loads_them(text: str) -> None:
    try:
        expected = reference(text)
    except yaml.YAMLError as exc:  # refused by the full loader: refused, located, here too
        with pytest.raises(InvalidWorld) as refused:
            parse_document(text, "<test>")
        assert str(getattr(exc, "problem", exc)) in refused.value.report()
        return
    assert parse_document(text, "<test>") == expected


@pytest.mark.parametrize("text", ["a: 1\na: 2\n", "a:\n  b: 1\n  b: 1\n", "a: [1, 2\n", "a: *nowhere\n",
                                  "--- 1\n--- 2\n"])
def test_broken_documents_are_refused_as_before(text: str) -> None:
    with pytest.raises(InvalidWorld) as refused:
        parse_document(text, "<test>")
    with pytest.raises(yaml.YAMLError) as expected:
        reference(text)
    assert "not valid YAML" in refused.value.report()
    problem = getattr(expected.value, "problem", None) or str(expected.value)
    assert str(problem) in refused.value.report()
