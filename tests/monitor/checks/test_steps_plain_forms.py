"""A step's extracted value written only in characters no form changes is masked in its
one form: the same set of forms the full working out gives (issue 46 §7 made it a short
cut), so nothing a condition or detail shows escapes the mask."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tether.monitor.checks._steps import _forms, every_form, mask

plain = st.text(alphabet="abcXYZ019._~-", max_size=40)


@given(plain)
def test_a_plain_values_forms_are_the_ones_worked_out_in_full(value: str) -> None:
    """For a value of unreserved characters the short cut's forms are every form's."""
    assert _forms(value) == every_form(value)


@given(st.text(st.characters(blacklist_categories=()), max_size=40))
def test_any_values_forms_are_the_ones_worked_out_in_full(value: str) -> None:
    """For any value, lone surrogates, slashes and spaces included, the forms made from one
    percent-encoding are every form's (urllib's three encodings, JSON's two, shown text)."""
    assert _forms(value) == every_form(value)


def test_a_plain_token_is_masked_wherever_a_condition_shows_it() -> None:
    """A token of letters, digits and dashes is masked in a resolved condition."""
    token = "tok-MARKER-5f1c9e2a7b"
    shown = f'[BODY].data.token ({token}) == "{token}"'
    assert token not in mask(shown, [token])
