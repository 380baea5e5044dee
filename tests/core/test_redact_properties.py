"""Properties of ``tether._redact``: whatever a password holds ('@', ':', '/', '%', any
letter) and however a secret parameter's name is spelled or percent-encoded, no part of
the secret survives redaction; and every pattern reads its input in one pass."""

from __future__ import annotations

import re
from re import _parser  # type: ignore[attr-defined]  # sre's parser: the patterns' structure
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether import _redact
from tether._redact import MASK, is_secret_name, redact, redact_text, redact_url

PROPERTY = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def leaks(secret: str, ideal: str, shown: str) -> list[str]:
    """The parts of ``secret`` (3 characters or more) that ``shown`` holds and ``ideal``,
    the text with the secret masked, does not: what redaction let through."""
    parts = {secret[i:j] for i in range(len(secret)) for j in range(i + 3, len(secret) + 1)}
    return sorted(p for p in parts if p in shown and p not in ideal)


# --- examples from the issue -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("https://u:SEC@RET@h/", "https://u:***@h/", id="at-in-password"),
        pytest.param("see https://u:a@b@c@h/x ok", "see https://u:***@h/x ok", id="two-ats"),
        pytest.param("https://u:pa/ss@h/x", "https://u:***@h/x", id="slash-in-password"),
        pytest.param("https://u:pa?s#s@h/x", "https://u:***@h/x", id="query-in-password"),
        pytest.param("https://tok@en@h/", "https://***@h/", id="at-in-token"),
        pytest.param("https://u:x@h/y@h/", "https://u:***@h/", id="at-and-slash"),
        pytest.param("http://[::1]:8080/@scope", "http://[::1]:8080/@scope", id="v6-at-in-path"),
        pytest.param("http://u:p@[::1]:80/@x", "http://u:***@x", id="v6-password-at-in-path"),
        pytest.param(
            "a https://h/?next=https://u:p@x/ b", "a https://h/?next=https://u:***@x/ b", id="inner"
        ),
    ],
)
def test_a_password_holding_at_or_slash_is_masked_whole(text: str, expected: str) -> None:
    """The user information runs to the authority's last '@' (or, for `user:pa/ss@`, the
    word's): `https://u:SEC@RET@h/` no longer shows `RET`, in text and as a URL."""
    assert redact_text(text) == expected
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "x pass%77ord=hunter2 y",
        "GET /?%70%61%73%73%77%6F%72%64=hunter2&a=1",
        "?pass%2577ord=hunter2",
        "host=h PaSsWoRd=hunter2",
        "?api+key=hunter2",
        "https://h/?ACCESS%5FTOKEN=hunter2",
    ],
)
def test_a_percent_encoded_or_oddly_cased_name_is_still_secret(text: str) -> None:
    """`pass%77ord=` is `password=`: names are decoded (twice over too) and read in any
    case before they are judged."""
    assert "hunter2" not in redact_text(text)
    assert "hunter2" not in redact(text)


@pytest.mark.parametrize("name", ["keyword", "author", "tokenizer", "bypass", "passes", "pk%2"])
def test_names_that_only_look_secret_stay_shown(name: str) -> None:
    """Decoding and case-folding add no false alarm: `keyword`, `author`, `bypass` are
    shown."""
    assert not is_secret_name(name)
    assert redact_text(f"?{name}=v") == f"?{name}=v"


# --- properties ------------------------------------------------------------------------

# Any character a password may hold in free text: all but whitespace (which ends a word).
PASSWORD_CHARS = st.characters(
    blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters="\x85"
)
SECRET = st.text(PASSWORD_CHARS, min_size=1, max_size=24) | st.text(
    "@:/%?#&=*abc", min_size=1, max_size=24
)
HOST = st.sampled_from(["127.0.0.1", "[::1]:8080", "db.internal", "h:5432"])


@PROPERTY
@given(
    scheme=st.sampled_from(["https", "postgresql", "redis", "git+ssh"]),
    user=st.sampled_from(["", "u", "alice", "svc-1"]),
    secret=SECRET,
    host=HOST,
    tail=st.sampled_from(["/", "/db?sslmode=require", "", "/a/b#frag"]),
    before=st.sampled_from(["", "connect to ", "error: '", "(", "GET "]),
    after=st.sampled_from(["", " failed", "': refused", ")", " and https://h/ too"]),
)
def test_no_part_of_a_url_password_survives(
    scheme: str, user: str, secret: str, host: str, tail: str, before: str, after: str
) -> None:
    """For any password in a URL's user information, in any text around it, neither
    redact_text nor redact shows a part of it (3 characters or more) that the rest of the
    text does not hold."""
    text, ideal = (f"{before}{scheme}://{user}:{s}@{host}{tail}{after}" for s in (secret, MASK))
    assert leaks(secret, ideal, redact_text(text)) == []
    assert leaks(secret, ideal, redact(text)) == []


SECRET_NAMES = st.sampled_from(
    ["password", "passwd", "pwd", "token", "api_key", "apiKey", "x-api-key", "client_secret",
     "access_token", "db_password", "sessionid", "auth"]
)  # fmt: skip


@st.composite
def spelled(draw: st.DrawFn) -> str:
    """A secret name in any case, with any of its characters percent-encoded (in upper or
    lower case hex, now and then twice over)."""
    out = []
    for written in draw(SECRET_NAMES):
        char = written.upper() if draw(st.booleans()) else written
        encoding = draw(st.sampled_from(["", "", "%{:02X}", "%{:02x}", "%25{:02X}"]))
        out.append(encoding.format(ord(char)) if encoding else char)
    return "".join(out)


# A value in a query or a DSN ends at & ; # and whitespace, quotes and closing brackets.
VALUE = st.text(
    st.characters(
        blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters="\x85&;#'\")]}"
    ),
    min_size=1,
    max_size=24,
)


@PROPERTY
@given(
    name=spelled(),
    secret=VALUE,
    shape=st.sampled_from(
        [
            "GET https://h/p?{}&q=1 failed",
            "https://h/p?a=1&{}#x",
            "host=db {} dbname=app",
            "{}",
            "redirect to http://127.0.0.1/?a=b;{}",
            "form ({}) refused",
        ]
    ),
)
def test_no_part_of_a_secret_value_survives_any_spelling_of_its_name(
    name: str, secret: str, shape: str
) -> None:
    """For any spelling and percent-encoding of a secret name, the value of `name=value`
    shows no part of itself (3 characters or more) that the rest of the text does not
    hold, in redact_text and redact."""
    text, ideal = (shape.format(f"{name}={s}") for s in (secret, MASK))
    assert leaks(secret, ideal, redact_text(text)) == []
    assert leaks(secret, ideal, redact(text)) == []


# --- one pass --------------------------------------------------------------------------

_REPEATS = {"MAX_REPEAT", "MIN_REPEAT"}


def backtracking_repeats(tree: Any) -> list[str]:
    """The repetitions in a parsed pattern that may give characters back (greedy or lazy
    ones of more than one), as opposed to possessive ones, which never do."""
    found = []
    for op, arg in tree:
        name = str(op)
        if name in _REPEATS and arg[1] > 1:  # an optional (?) gives back one at most
            found.append(name)
        if isinstance(arg, tuple | list):
            for item in arg:
                if isinstance(item, _parser.SubPattern):
                    found += backtracking_repeats(item)
                elif isinstance(item, list):  # BRANCH: (None, [alternatives])
                    for alt in item:
                        if isinstance(alt, _parser.SubPattern):
                            found += backtracking_repeats(alt)
    return found


def test_every_redaction_pattern_is_possessive() -> None:
    """Each pattern of tether._redact repeats possessively, so none tries a position
    twice: with the scanner's one pass over each word, redaction is linear in its input
    (the cut at LIMIT bounds that input), whatever the text."""
    patterns = [v for v in vars(_redact).values() if isinstance(v, re.Pattern)]
    assert len(patterns) >= 6
    for pattern in patterns:
        assert backtracking_repeats(_parser.parse(pattern.pattern)) == [], pattern.pattern


def test_the_scanner_reads_each_word_once() -> None:
    """Counted, not timed: on 60,000 characters of schemes with no '@' after them (the
    input a per-scheme look-ahead to the word's last '@' would read 7,500 times over), the
    scanner searches for the word's end once."""
    calls = 0
    search = _redact._SPACE.search

    class Counting:
        def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
            nonlocal calls
            calls += 1
            return search(text, pos)

    original = _redact._SPACE
    _redact._SPACE = Counting()  # type: ignore[assignment]
    try:
        shown = redact_text("@ " + "a://u:x/" * 7_500)
    finally:
        _redact._SPACE = original
    assert calls == 1
    assert shown == "@ " + "a://u:x/" * 7_500
    assert redact_url("http://u:p@h/") == "http://u:***@h/"
