"""Properties of filling values taken from answers into a step's request, and of masking
them: whatever a server answers, a filled header is a header (or refused), a filled JSON
body is JSON holding the value as a string, a filled URL holds it as one percent-encoded
piece, and masked text never holds the value."""

from __future__ import annotations

import json
import string
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether._fieldsyntax import value_problem
from tether.monitor.checks._steps import StepProblem, fill_body, fill_header, fill_url, mask

values = st.text(min_size=1, max_size=60)
text = st.characters(blacklist_categories=("Cs",))
"""What a JSON answer holds as text may be a lone surrogate (``"\\ud800"``): refused when
filled in (tested on its own), so the properties draw the rest."""


@given(values, st.text(alphabet=string.printable, max_size=20))
def test_a_filled_header_is_a_header_or_refused(value: str, around: str) -> None:
    """A value with CR, LF, NUL or non-ASCII is refused; any other fills a header value
    that passes the configured headers' own check."""
    template = around.replace("\r", "").replace("\n", "") + "[CONTEXT].v"
    try:
        filled = fill_header("Authorization", template, {"v": value})
    except StepProblem:
        assert value_problem(value) is not None
        return
    assert value_problem(filled) is None
    assert "\r" not in filled
    assert "\n" not in filled
    assert filled.isascii()


@given(st.text(text, min_size=1, max_size=60))
def test_a_filled_json_body_holds_the_value_as_a_string(value: str) -> None:
    """Inside a JSON string and outside one, the body parses and holds the value."""
    template = '{"a": "x [CONTEXT].v y", "b": [CONTEXT].v, "c": "\\" [CONTEXT].v"}'
    filled = fill_body(template, {"v": value}, "application/json")
    data = json.loads(filled)
    assert data == {"a": f"x {value} y", "b": value, "c": f'" {value}'}


@given(st.text(text, min_size=1, max_size=60))
def test_a_filled_form_body_is_one_percent_encoded_value(value: str) -> None:
    from urllib.parse import parse_qs

    filled = fill_body("a=[CONTEXT].v&b=2", {"v": value}, "application/x-www-form-urlencoded")
    assert parse_qs(filled, keep_blank_values=True) == {"a": [value], "b": ["2"]}


@given(st.text(text, min_size=1, max_size=60))
def test_a_filled_url_holds_the_value_as_one_path_segment(value: str) -> None:
    """The path gains one segment, the value percent-encoded; nothing of it reaches the
    host, the query or the fragment."""
    url = fill_url("http://127.0.0.1:9/items/[CONTEXT].v?q=1", {"v": value})
    parts = urlsplit(url)
    assert parts.netloc == "127.0.0.1:9"
    assert parts.query == "q=1"
    assert parts.fragment == ""
    segment = parts.path.removeprefix("/items/")
    assert "/" not in segment
    assert unquote(segment) == value
    assert all(c.isascii() and c.isprintable() and c != " " for c in segment)


_no_star = st.characters(blacklist_characters="*", blacklist_categories=("Cs",))


@given(
    st.text(_no_star, min_size=4, max_size=40),
    st.text(max_size=40),
    st.text(max_size=40),
    st.sampled_from(["as is", "json", "url"]),
)
def test_masked_text_never_holds_the_value(secret: str, before: str, after: str, how: str) -> None:
    """In any of the forms it is shown in (as is, JSON-escaped, percent-encoded), the
    value is gone from the text, whatever surrounds it."""
    form = {
        "as is": secret,
        "json": json.dumps(secret)[1:-1],
        "url": fill_url("[CONTEXT].v", {"v": secret}),
    }[how]
    masked = mask(before + form + after, [secret])
    assert secret not in masked
    assert form not in masked


@pytest.mark.parametrize(
    ("text", "secret", "out"),
    [
        ("[BODY] (abcdefgh) == x", "abcdefgh", "[BODY] (***) == x"),
        ("[BODY] (xx abcdef…) == x", "abcdefghij", "[BODY] (xx ***…) == x"),
        (
            "[STATUS] (201) == 201; [BODY].id (7) == 8",
            "7",
            "[STATUS] (201) == 201; [BODY].id (***) == 8",
        ),
        ("/items/a%2Fb%20c", "a/b c", "/items/***"),
    ],
)
def test_mask_examples(text: str, secret: str, out: str) -> None:
    assert mask(text, [secret]) == out


def test_a_lone_surrogate_is_refused_wherever_it_goes() -> None:
    """JSON may hold one (``"\\ud800"``); no request can carry it as UTF-8."""
    for fill in (
        lambda: fill_url("http://127.0.0.1:9/[CONTEXT].v", {"v": "a\ud800"}),
        lambda: fill_body('{"a": "[CONTEXT].v"}', {"v": "a\ud800"}, None),
        lambda: fill_header("X-A", "[CONTEXT].v", {"v": "a\ud800"}),
    ):
        with pytest.raises(StepProblem, match="lone surrogate"):
            fill()
