"""Labels and matchers (``config/labels/_labels.py``): Alertmanager's matcher semantics, as its
docs state them, and a matcher written out reads back as itself."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from tether.monitor.config.labels._labels import (
    LabelMap,
    Matcher,
    MatcherList,
    label_problem,
    matches,
    parse_matchers,
)


class _Model(BaseModel):
    labels: LabelMap = {}
    match: MatcherList = ()


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('team="db"', {"team": "db"}, True),
        ('team="db"', {"team": "dba"}, False),
        ('team!="db"', {}, True),  # a missing label reads as ""
        ('team=""', {}, True),
        ('team=""', {"team": "db"}, False),
        ('team=~"d."', {"team": "db"}, True),
        ('team=~"d"', {"team": "db"}, False),  # anchored at both ends
        ('team=~"b"', {"team": "db"}, False),
        ('team!~"d.*"', {"team": "web"}, True),
        ('team!~".*"', {}, False),
        ('{team="db", tier=~"1|2"}', {"team": "db", "tier": "2"}, True),
        ('{team="db", tier=~"1|2"}', {"team": "db", "tier": "3"}, False),
        ("team=db,tier=1", {"team": "db", "tier": "1"}, True),
        ('team="a\\"b"', {"team": 'a"b'}, True),
        ('team=~"a\nb"', {"team": "a\nb"}, True),
    ],
)
def test_alertmanager_semantics(text: str, labels: dict[str, str], expected: bool) -> None:
    assert matches(parse_matchers(text), labels) is expected


def test_no_matchers_match_everything() -> None:
    assert matches((), {})
    assert matches((), {"a": "b"})


_names = st.from_regex(re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}"), fullmatch=True)


@given(_names, st.sampled_from(["=", "!="]), st.text(max_size=20))
def test_written_reads_back(name: str, op: str, value: str) -> None:
    m = Matcher.of(name, op, value)  # type: ignore[arg-type]
    assert parse_matchers(str(m)) == (m,)
    assert parse_matchers("{" + f"{m}, {m}" + "}") == (m, m)


@given(_names, st.text(max_size=20), st.text(max_size=20))
def test_equality_is_equality(name: str, value: str, have: str) -> None:
    assert Matcher.of(name, "=", value).matches({name: have}) is (value == have)
    assert Matcher.of(name, "!=", value).matches({name: have}) is (value != have)


@given(_names, st.text(alphabet="ab", max_size=6))
def test_regex_is_anchored(name: str, have: str) -> None:
    assert Matcher.of(name, "=~", "a*").matches({name: have}) is (set(have) <= {"a"})
    assert Matcher.of(name, "!~", "a*").matches({name: have}) is not (set(have) <= {"a"})


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("team", "is not a matcher"),
        ('team="db" tier="1"', "expected a comma"),
        ('{team="db"', "opens a brace"),
        ('team=~"("', "not a regular expression RE2 can run"),
        ('team=~"(?!db)"', "a lookahead or lookbehind, which RE2"),
        ('1team="a"', "is not a matcher"),
    ],
)
def test_bad_matchers_say_why(written: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_matchers(written)


def test_the_three_ways_to_write_a_list() -> None:
    one = _Model(match=['service="checkout"', 'tier=~"1|2"']).match
    assert _Model(match='{service="checkout", tier=~"1|2"}').match == one
    assert _Model(match={"service": "checkout"}).match == one[:1]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("1x", "is not a label name"),
        ("a-b", "is not a label name"),
        ("__name__", "begins with __"),
        ("monitor", "tether's own"),
        ("kind", "tether's own"),
    ],
)
def test_label_names(name: str, why: str) -> None:
    problem = label_problem(name)
    assert problem is not None
    assert why in problem


def test_label_values_are_text() -> None:
    assert _Model(labels={"team": "db", "_x": ""}).labels == {"team": "db", "_x": ""}
    for value in (1, True, None, ["a"]):
        with pytest.raises(ValueError, match="is not text"):
            _Model(labels={"tier": value})
    with pytest.raises(ValueError, match="at most 64"):
        _Model(labels={f"l{i}": "" for i in range(65)})
