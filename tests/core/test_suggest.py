"""``tether._suggest``: the one did-you-mean.  Pure."""

from __future__ import annotations

import pytest

from tether._suggest import closest, did_you_mean


@pytest.mark.parametrize(
    ("word", "choices", "expected"),
    [
        ("opz", ["ops", "chat"], "ops"),
        ("intervl", ["interval", "timeout"], "interval"),
        ("colour", ["name", "url", "interval"], None),
        ("ops", [], None),
        ("OPZ", ["ops"], None),  # case counts unless told otherwise
    ],
)
def test_closest(word: str, choices: list[str], expected: str | None) -> None:
    """The closest choice by difflib's ratio (0.6 at least), or None."""
    assert closest(word, choices) == expected


@pytest.mark.parametrize(
    ("word", "choices", "expected"),
    [
        ("status", ["STATUS", "BODY"], "STATUS"),  # equal but for case wins
        ("STAUTS", ["STATUS", "BODY"], "STATUS"),
        ("Len", ["len", "has"], "len"),
        ("noerrr", ["NOERROR", "NXDOMAIN"], "NOERROR"),  # tried upper-cased
        ("DSN", ["dns", "connect"], "dns"),  # tried lower-cased
        ("colour", ["STATUS", "BODY"], None),
    ],
)
def test_closest_ignoring_case(word: str, choices: list[str], expected: str | None) -> None:
    """With ignore_case, a name written in the other case is still found."""
    assert closest(word, choices, ignore_case=True) == expected


def test_did_you_mean_ends_a_message() -> None:
    """The phrase starts with its separator, writes the choice as asked, or is empty."""
    assert did_you_mean("opz", ["ops"]) == ", did you mean ops?"
    assert did_you_mean("STAUTS", ["STATUS"], sep="; ", prefix="[", suffix="]") == (
        "; did you mean [STATUS]?"
    )
    assert did_you_mean("colour", ["name", "url"]) == ""


def test_choices_may_be_any_iterable() -> None:
    """A generator or a mapping's keys serve as choices."""
    assert closest("opz", (c for c in ["ops"])) == "ops"
    assert closest("Ops", {"ops": 1}.keys(), ignore_case=True) == "ops"
