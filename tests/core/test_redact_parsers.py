"""A redacted URL, read by the parsers that read URLs for real: no user information and
no secret parameter any of them reads in it holds the secret.

The parsers: ``urllib.parse`` (tether's own reading), urllib3's ``parse_url`` (requests),
``httpx.URL``, ``yarl.URL`` (aiohttp), and Ada, the WHATWG URL parser Node.js uses, which
reads a URL as a browser does: for ``http``, ``https``, ``ws``, ``wss``, ``ftp`` and
``file`` it skips any run of slashes and backslashes after the colon, none included, so
``https:////u:p@h/``, ``https:\\\\u:p@h/`` and ``https:u:p@h/`` all hold a password.

Before this, ``redact_url('https:////u:p@h/')`` answered ``https://u:p@h/``: urlsplit
reads no host in it and ``//u:p@h/`` as its path, and ``urlunsplit`` wrote that path
back after the scheme's ``//``, a password every one of these parsers reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl, unquote, urlsplit

import ada_url
import httpx
import pytest
import urllib3
import yarl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether import _redact
from tether._redact import MASK, is_secret_name, redact, redact_text, redact_url

PROPERTY = settings(
    max_examples=1500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
SECRET = "S3CR3T"


def _userinfos(url: str) -> Iterator[tuple[str, str]]:
    """``(parser, user information)`` for each parser that reads ``url``, decoded."""
    readers: dict[str, Callable[[str], str]] = {
        "urllib.parse": lambda u: f"{urlsplit(u).username}:{urlsplit(u).password}",
        "urllib3": lambda u: urllib3.util.parse_url(u).auth or "",
        "httpx": lambda u: httpx.URL(u).userinfo.decode(),
        "yarl": lambda u: f"{yarl.URL(u).user}:{yarl.URL(u).password}",
        "ada": lambda u: f"{ada_url.URL(u).username}:{ada_url.URL(u).password}",
    }
    for name, read in readers.items():
        try:
            yield name, unquote(read(url))
        except (ValueError, TypeError, UnicodeError, httpx.InvalidURL):
            continue  # this parser refuses the URL: it reads no password in it


def _secret_values(url: str) -> Iterator[tuple[str, str]]:
    """``(parser, value)`` for each secret-named parameter of the query or the fragment
    that each parser reads in ``url``."""
    readers: dict[str, Callable[[str], tuple[str, str]]] = {
        "urllib.parse": lambda u: (urlsplit(u).query, urlsplit(u).fragment),
        "ada": lambda u: (ada_url.URL(u).search[1:], ada_url.URL(u).hash[1:]),
    }
    for name, read in readers.items():
        try:
            parts = read(url)
        except (ValueError, TypeError, UnicodeError):
            continue
        for part in parts:
            for key, value in parse_qsl(part, keep_blank_values=True):
                if is_secret_name(key):
                    yield name, value
    try:
        params = httpx.URL(url).params
    except (ValueError, TypeError, UnicodeError, httpx.InvalidURL):
        return
    yield from (("httpx", v) for k, v in params.multi_items() if is_secret_name(k))


def read_secrets(url: str) -> list[str]:
    """What each parser reads in ``url`` that holds :data:`SECRET`."""
    return [
        f"{parser}: {found!r}"
        for parser, found in [*_userinfos(url), *_secret_values(url)]
        if SECRET in found
    ]


@pytest.mark.parametrize(
    "url",
    [
        f"https:////u:{SECRET}@h/",
        f"https:\\\\u:{SECRET}@h/",
        f"https:u:{SECRET}@h/",
        f"HTTPS:/\\{SECRET}@h/",
        f"ws:////u:{SECRET}@h",
        f"https:///{SECRET}@h/p?x=1",
        f"://u:{SECRET}@h/",
    ],
)
def test_a_password_after_odd_slashes_is_masked(url: str) -> None:
    """The shapes a browser (or httpx, for the last) reads a password in and urlsplit
    does not: before, the first answered ``https://u:S3CR3T@h/``.  The same in free
    text."""
    assert read_secrets(url), "the example no longer holds a secret any parser reads"
    for shown in (redact_url(url), redact(url), redact_text(url), redact_text(f"at {url} .")):
        assert SECRET not in shown
    assert read_secrets(redact_url(url)) == []


def test_a_tab_in_a_url_is_dropped_as_every_parser_drops_it() -> None:
    """``ht<TAB>tps:u:p@h`` is ``https:u:p@h`` to a parser (free text reads the tab as
    the end of a word)."""
    url = f"ht\ttps:u:{SECRET}@h"
    assert read_secrets(url)
    assert redact_url(url) == "https:u:***@h"


SCHEMES = st.sampled_from(
    ["http", "https", "HTTPS", "ws", "wss", "ftp", "file", "postgresql", "redis", "foo", ""]
)
SEPARATORS = st.sampled_from(
    ["://", ":", ":/", ":///", "://///", ":\\\\", ":/\\", ":\\/", "//", "", ":\t//"]
)
USERINFOS = st.sampled_from(
    [
        f"u:{SECRET}@",
        f"{SECRET}@",
        f"u:{SECRET}@x@",
        f"u:pa/{SECRET}@",
        f"u:{SECRET}:x@",
        f"u:{SECRET}#@",
        f"u:{SECRET}?@",
        "u:@",
        "",
    ]
)
HOSTS = st.sampled_from(["h", "127.0.0.1", "[::1]", "h:8080", "", "h:x"])
TAILS = st.sampled_from(
    [
        "",
        "/",
        "/p",
        f"/p?token={SECRET}",
        f"?a=1&password={SECRET}",
        f"#access_token={SECRET}",
        "/@x",
        "\\p",
        "/p?x=1#y",
        f"?next=https://u:{SECRET}@h2/",
        f"//u:{SECRET}@h3/",
        f"?x=//u:{SECRET}@h4&api_key={SECRET}",
    ]
)


@PROPERTY
@given(
    scheme=SCHEMES,
    separator=SEPARATORS,
    userinfo=USERINFOS,
    host=HOSTS,
    tail=TAILS,
    junk=st.sampled_from(["", " ", "\t", "@", "//", "\\"]),
)
def test_no_parser_reads_a_secret_in_a_redacted_url(
    scheme: str, separator: str, userinfo: str, host: str, tail: str, junk: str
) -> None:
    """Whatever the scheme, the slashes and backslashes after it, the user information and
    what follows the host, none of the five parsers reads a user information or a secret
    parameter holding the secret in what ``redact_url`` shows."""
    url = f"{scheme}{separator}{junk}{userinfo}{host}{tail}"
    assert read_secrets(redact_url(url)) == []


# --- one redaction is enough ----------------------------------------------------------------

URL_PIECES = [*"ab:/\\@?#=&;%+[]. 1\t", "password", "token", "http://", "https:", "foo://"]
URL_PIECES += ["u:p@", "//", "=x", "HTTP:", "ws:", "@https:"]
URL_TEXT = st.lists(st.sampled_from(URL_PIECES), max_size=30).map("".join)


@PROPERTY
@given(url=URL_TEXT)
def test_a_redacted_url_is_its_own_redaction(url: str) -> None:
    """``redact_url`` of what it showed shows the same: a pass that masked something made
    no new user information for another pass to find (``foo:`` and a path ``//u:p@h``,
    written back by ``urlunsplit``), so nothing shown is a secret by tether's own reading."""
    shown = redact_url(url)
    assert redact_url(shown) == shown


@pytest.mark.parametrize(
    ("url", "passes"),
    [
        ("https://h/", 1),
        ("https://u:p@h/", 2),
        ("@https::?=x:@=x/", 3),  # the first pass's masks make another user information
        ("ws:@\tws:foo://@\t", 3),
    ],
)
def test_a_url_is_redacted_again_until_nothing_changes(
    url: str, passes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passes are made until one changes nothing; a URL still changing after the last
    allowed pass is shown as ``***``."""
    made: list[str] = []
    once = _redact._redact_once

    def counted(text: str) -> str:
        made.append(text)
        return once(text)

    monkeypatch.setattr(_redact, "_redact_once", counted)
    shown = _redact._redact_url(url)
    assert len(made) == passes
    assert once(shown) == shown
    monkeypatch.setattr(_redact, "_PASSES", passes - 1)
    if passes > 1:
        assert _redact._redact_url(url) == MASK


@PROPERTY
@given(url=st.lists(st.sampled_from([*"ab:/\\?#&;%+[]. 1", "HTTP://", "Https:"])).map("".join))
def test_a_url_with_nothing_to_mask_comes_back_as_written(url: str) -> None:
    """Without an '@' or an '=' a URL holds no user information and no parameter's value:
    it is shown as written (``HTTP://H/?``, ``https:////h//x``), not in urlsplit's words,
    which drop an empty query and fold slashes a second reading folds again."""
    assert redact_url(url) == url
