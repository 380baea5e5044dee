"""A step's extracted value written only in characters no form changes is masked in its
one form: the same set of forms the full working out gives (issue 46 §7 made it a short
cut), so nothing a condition or detail shows escapes the mask."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from tether.monitor.checks._steps import _forms, mask

plain = st.text(alphabet="abcXYZ019._~-", max_size=40)


def _every_form(value: str) -> set[str]:
    shown = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    raw = value.encode("utf-8", "surrogatepass")
    return {
        value,
        quote(raw, safe=""),
        quote(raw, safe="/"),
        quote_plus(raw),
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1],
        shown.replace("\t", "\\t"),
    }


@given(plain)
def test_a_plain_values_forms_are_the_ones_worked_out_in_full(value: str) -> None:
    """For a value of unreserved characters the short cut's forms are every form's."""
    assert _forms(value) == _every_form(value)


@given(st.text(max_size=40))
def test_any_values_forms_are_the_ones_worked_out_in_full(value: str) -> None:
    """For any value (quotes, spaces, non-ASCII) the forms are every form's."""
    assert _forms(value) == _every_form(value)


def test_a_plain_token_is_masked_wherever_a_condition_shows_it() -> None:
    """A token of letters, digits and dashes is masked in a resolved condition."""
    token = "tok-MARKER-5f1c9e2a7b"
    shown = f'[BODY].data.token ({token}) == "{token}"'
    assert token not in mask(shown, [token])
