"""The depth scan that guards every JSON route (``tether.monitor.web._params.json_depth``):
held to ``json.loads`` over random documents, strings full of brackets, quotes and
escapes included, and never raising on bytes that are not JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.monitor.web._params import MAX_DEPTH, BadBody, json_depth, parse_json

_TRICKY = st.text(alphabet=st.sampled_from('[]{}"\\/ab\n\t\u00e9\u2028\U0001f600'), max_size=12)
_DOCS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=4),
    max_leaves=40,
)


def depth(value: Any) -> int:
    """The nesting depth of a parsed document, counted on the Python values."""
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(_DOCS, st.booleans(), st.sampled_from([None, 0, 2]))
def test_the_scan_agrees_with_json_loads_on_depth(doc: Any, ascii_only: bool, indent: Any) -> None:
    """For any valid document, however it is written out, the linear scan counts the
    depth that ``json.loads`` builds."""
    body = json.dumps(doc, ensure_ascii=ascii_only, indent=indent).encode()
    assert json_depth(body) == depth(json.loads(body)) == depth(doc)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_the_scan_and_the_parser_never_raise_past_bad_body_on_any_bytes(body: bytes) -> None:
    """Any bytes at all: the scan gives a number, and parsing gives a document or a
    :class:`BadBody`, never another exception."""
    assert json_depth(body) >= 0
    status = 0
    try:
        parse_json(body)
    except BadBody as exc:
        status = exc.status
    assert status in (0, 400)


def test_the_limit_is_the_last_depth_taken() -> None:
    """MAX_DEPTH levels parse; one more is refused before parsing, as is 100,000."""
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    for n in (MAX_DEPTH + 1, 100_000):
        with pytest.raises(BadBody, match=f"more than {MAX_DEPTH} deep$") as refused:
            parse_json(b"[" * n + b"]" * n)
        assert refused.value.status == 400


def test_brackets_in_strings_and_escaped_quotes_are_not_counted() -> None:
    """A string's brackets, an escaped quote and an escaped backslash before a closing
    quote leave the depth to the document's own brackets."""
    assert json_depth(rb'{"a": "[[[[", "b\"[[": ["\\", "]]]"]}') == 2
    assert json_depth(b'"[[[["') == 0
