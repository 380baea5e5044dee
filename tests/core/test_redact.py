"""Unit tests of ``tether._redact``: nothing secret leaves tether.

``redact_url`` masks a URL's password (or a lone user name, which is usually a
token) and the values of query parameters whose names say "secret";
``redact_text`` masks the credentials of every URL inside free text;
``redact_headers`` masks credential-bearing headers.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from tether._redact import (
    MASK,
    quote,
    redact,
    redact_apprise,
    redact_headers,
    redact_text,
    redact_url,
)

# --- redact_url: credentials in the authority ---------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "http://alice:hunter2@target.test/p", "http://alice:***@target.test/p", id="password"
        ),
        pytest.param(
            "https://ghp_token123@github.example/repo.git",
            "https://***@github.example/repo.git",
            id="lone-user-is-a-token",
        ),
        pytest.param("redis://:secret@cache:6379/0", "redis://:***@cache:6379/0", id="no-user"),
        pytest.param("http://alice:@h/", "http://alice:***@h/", id="empty-password"),
        pytest.param("http://@h/", "http://***@h/", id="empty-userinfo"),
        pytest.param("http://u:p%40ss@h/", "http://u:***@h/", id="percent-encoded-at"),
        pytest.param("http://u:p@ss@h/", "http://u:***@h/", id="raw-at-in-password"),
        pytest.param("http://u:p@h:8080/x", "http://u:***@h:8080/x", id="with-port"),
        pytest.param("ftp://u:p@files.example/", "ftp://u:***@files.example/", id="ftp"),
    ],
)
def test_redact_url_userinfo(url: str, expected: str) -> None:
    """The password, or a lone user name, is replaced by the mask; the user name is kept."""
    assert redact_url(url) == expected


# --- redact_url: secret query parameters ---------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "Token",
        "TOKEN",
        "key",
        "apikey",
        "api_key",
        "api-key",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "pwd",
        "sig",
        "signature",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "session",
        "sessionid",
        "access_token",
        "access-token",
        "refresh_token",
        "id_token",
        "private_key",
        "code",
        # Signed URLs: S3, Google Cloud Storage, Azure SAS.
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "X-Goog-Signature",
        "X-Goog-Credential",
    ],
)
def test_secret_query_parameter_is_masked(name: str) -> None:
    """A parameter named like a secret, or ending in -secret / _secret, has its value masked."""
    redacted = redact_url(f"https://h.example/p?{name}=s3cr3t&page=2")
    assert "s3cr3t" not in redacted
    assert parse_qsl(urlsplit(redacted).query) == [(name, MASK), ("page", "2")]


@pytest.mark.parametrize(
    "name",
    [
        "q",
        "page",
        "keyword",  # ends in "word", not a separated "key"
        "monkey",  # ends in "key" without a separator
        "tokenizer",
        "signatures_count",
        "author",
        "codec",
        "X-Amz-Date",
        "X-Amz-Algorithm",
        "X-Amz-Expires",
    ],
)
def test_non_secret_query_parameter_is_untouched(name: str) -> None:
    """Parameters that merely contain a secret word are left exactly as they were."""
    url = f"https://h.example/p?{name}=visible&page=2"
    assert redact_url(url) == url


def test_presigned_s3_url() -> None:
    """A presigned S3 URL loses its credential and signature and keeps the rest verbatim."""
    url = (
        "https://bucket.s3.example/object?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIDEXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20250101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
    )
    assert redact_url(url) == (
        "https://bucket.s3.example/object?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=***&X-Amz-Date=20250101T000000Z&X-Amz-Expires=900"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=***"
    )


def test_every_occurrence_of_a_repeated_secret_is_masked() -> None:
    """A secret parameter given twice is masked twice."""
    assert redact_url("http://h/?token=a&token=b") == "http://h/?token=***&token=***"


def test_blank_secret_parameter_is_masked() -> None:
    """A secret parameter without a value still gets the mask: no hint of its absence."""
    assert redact_url("http://h/?token") == "http://h/?token=***"


def test_percent_encoded_secret_name_is_recognised() -> None:
    """``%74oken`` is ``token``: the name is compared decoded."""
    assert "abc" not in redact_url("http://h/?%74oken=abc")


def test_non_secret_values_keep_their_meaning_beside_a_secret() -> None:
    """When a secret is masked, the other parameters decode to the same values as before."""
    url = "http://h/p?q=a%20b&next=http://x/y%3Fz&flag=&token=t&n=1"
    redacted = redact_url(url)
    before = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    after = parse_qsl(urlsplit(redacted).query, keep_blank_values=True)
    assert after == [(k, MASK if k == "token" else v) for k, v in before]
    assert urlsplit(redacted)[:3] == urlsplit(url)[:3]


@pytest.mark.parametrize(
    "url",
    [
        "http://target.test/",
        "https://target.test:8443/a/b?c=d&e=f#frag",
        "http://h/?q=a%20b&x=%2F",
        "http://h/?a=1;b=2",
        "http://user.name.with.dots.example/",
        "http://[2001:db8::1]:8080/x?y=z",
        "/relative/path?page=1",
    ],
)
def test_url_without_secrets_is_returned_unchanged(url: str) -> None:
    """A URL with nothing secret comes back byte for byte."""
    assert redact_url(url) == url


@pytest.mark.parametrize("name", ["session_id", "jsessionid", "PHPSESSID"])
def test_session_id_parameter_is_masked(name: str) -> None:
    """Session identifiers are credentials, whatever their spelling."""
    assert "s3cr3t" not in redact_url(f"http://h/?{name}=s3cr3t")


# --- redact_url: IPv6 and malformed input ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://u:p@[::1]:80/", "http://u:***@[::1]:80/", id="loopback"),
        pytest.param("http://[::1]:80/?token=a&q=1", "http://[::1]:80/?token=***&q=1", id="query"),
        pytest.param("https://tok@[2001:db8::7]/x", "https://***@[2001:db8::7]/x", id="token-user"),
        pytest.param(
            "http://u:p@[fe80::1%25eth0]:8080/",
            "http://u:***@[fe80::1%25eth0]:8080/",
            id="zone-id",
        ),
    ],
)
def test_redact_url_ipv6(url: str, expected: str) -> None:
    """IPv6 literals in brackets survive redaction intact."""
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "http://",
        "http://[::1",
        "http://[",
        "http://]",
        "http://h:99999/",
        "http://h:port/",
        "://@",
        "%",
        "http://h/?%zz=1",
        "http://h/?=&&=",
        "\x00\n\t",
        "http://h/\udcff",
        "h" * 10_000,
    ],
)
def test_malformed_url_never_raises(url: str) -> None:
    """Anything at all comes back as a string, never as an exception."""
    assert isinstance(redact_url(url), str)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        pytest.param("http://u:hunter2@[::1", "hunter2", id="unclosed-bracket"),
        pytest.param("http://u:hunter2@[", "hunter2", id="lone-bracket"),
        pytest.param("http://u:hunter2@h:notaport/?token=abc", "hunter2", id="bad-port-user"),
        pytest.param("http://u:p@h:notaport/?token=abc", "abc", id="bad-port-query"),
        pytest.param("http://u:p@h:99999/?api_key=abc", "abc", id="port-out-of-range"),
        pytest.param("http://tok-abc@[::1/x", "tok-abc", id="unclosed-token-user"),
    ],
)
def test_malformed_url_is_still_redacted(url: str, secret: str) -> None:
    """An unparsable URL is redacted textually: its credentials are still masked."""
    assert secret not in redact_url(url)


# --- redact_text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "GET http://alice:hunter2@h/ failed, then https://tok@h2/x too",
            "GET http://alice:***@h/ failed, then https://***@h2/x too",
            id="two-urls",
        ),
        pytest.param(
            "Invalid URL 'http://u:p@[::1': bad", "Invalid URL 'http://u:***@[::1': bad", id="v6"
        ),
        pytest.param(
            "proxy socks5h://user:pw@proxy:1080 refused",
            "proxy socks5h://user:***@proxy:1080 refused",
            id="socks",
        ),
        pytest.param("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0", id="no-user"),
    ],
)
def test_redact_text_masks_userinfo(text: str, expected: str) -> None:
    """Every URL inside free text loses its password or token user name."""
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no url here",
        "user@host",
        "mail alice@target.test about it",
        "mailto:bob@target.test",
        "http://target.test/path@v2",
        "http://target.test/?email=a@b.example",
        "Max retries exceeded with url: /p (Caused by NewConnectionError)",
    ],
)
def test_redact_text_leaves_other_text_alone(text: str) -> None:
    """Text with no credentials in a URL's authority comes back unchanged."""
    assert redact_text(text) == text


def test_redact_text_masks_secret_query_values() -> None:
    """A secret query value inside free text is masked, as redact_url would mask it."""
    assert "abc" not in redact_text("GET http://h.example/p?token=abc failed")


# --- redact_headers -------------------------------------------------------------------------


def test_redact_headers_masks_credentials_case_insensitively() -> None:
    """Credential headers are masked whatever their case; others and key spelling are kept."""
    headers = {
        "Authorization": "Bearer abc",
        "proxy-authorization": "Basic xyz",
        "COOKIE": "sid=1",
        "Set-Cookie": "sid=2",
        "X-Api-Key": "k",
        "x-auth-token": "t",
        "X-Amz-Security-Token": "s",
        "Accept": "*/*",
        "User-Agent": "tether",
        "X-Request-Id": "42",
    }
    assert redact_headers(headers) == {
        "Authorization": MASK,
        "proxy-authorization": MASK,
        "COOKIE": MASK,
        "Set-Cookie": MASK,
        "X-Api-Key": MASK,
        "x-auth-token": MASK,
        "X-Amz-Security-Token": MASK,
        "Accept": "*/*",
        "User-Agent": "tether",
        "X-Request-Id": "42",
    }


def test_redact_headers_returns_a_copy() -> None:
    """The caller's mapping is not modified."""
    headers = {"Authorization": "Bearer abc"}
    redacted = redact_headers(headers)
    assert redacted is not headers
    assert headers == {"Authorization": "Bearer abc"}


def test_redact_headers_empty() -> None:
    """No headers, no work."""
    assert redact_headers({}) == {}


# --- redact, redact_apprise, quote: a user's text in a message ------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://u:p@ss@h/x", "http://u:***@h/x"),  # parsed as a URL: the last '@' ends it
        ("see http://u:pw@h/x now", "see http://u:***@h/x now"),
        ("plain words", "plain words"),
    ],
)
def test_redact_parses_a_whole_url_and_searches_other_text(text: str, expected: str) -> None:
    """A value that is one URL is parsed (a password may hold '@'); other text is searched."""
    assert redact(text) == expected


def test_redact_apprise_shows_only_the_scheme() -> None:
    """An apprise URL's tokens are its path, so nothing but the scheme is shown."""
    assert redact_apprise("slack://T000/B000/XOXB") == "slack://***"
    assert redact_apprise("no scheme at all") == "***"


def test_quote_redacts_then_cuts() -> None:
    """quote is JSON-quoted, redacted before the cut, and shorter than 60 characters."""
    assert quote('say "hi"') == '"say \\"hi\\""'
    assert quote("café") == '"café"'
    long = "http://user:hunter2@" + "h" * 80 + "/"
    shown = quote(long)
    assert len(shown) == 58
    assert quote(long[:40]) == f'"{long[:40]}"'.replace("hunter2", "***")
    assert shown.startswith('"http://user:***@h')
    assert shown.endswith('…"')
    assert "hunter2" not in shown


# --- names by pattern, fragments, DSNs ------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "accessToken",
        "apiToken",
        "pass",
        "jwt",
        "bearer",
        "db_password",
        "clientSecret",
        "x-auth-sig",
        "sessionId",
        "refreshtoken",
        "userPwd",
        "Credentials",
    ],
)
def test_secret_names_are_found_by_their_words(name: str) -> None:
    """A name is secret when one of its camelCase, _, - parts is a secret word."""
    assert "s3cr3t" not in redact_url(f"https://h.example/p?{name}=s3cr3t&page=2")
    assert "s3cr3t" not in redact_text(f"GET https://h.example/p?{name}=s3cr3t failed")


def test_fragment_parameters_are_masked() -> None:
    """An OAuth implicit-flow fragment (``#access_token=...``) loses its token, keeps the rest."""
    url = "https://app.example/cb#access_token=s3cr3t&state=xyz"
    assert redact_url(url) == "https://app.example/cb#access_token=***&state=xyz"
    assert "s3cr3t" not in redact_text(f"redirected to {url}")


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("host=db password=s3cr3t dbname=t", "host=db password=*** dbname=t"),
        ("host=db password = 's3 cr3t' user=u", "host=db password=*** user=u"),
        ("host=db password='s3cr3t", "host=db password=***"),
        ("dbname=t sslpassword=s3cr3t", "dbname=t sslpassword=***"),
    ],
)
def test_libpq_keyword_dsn_password_is_masked(dsn: str, expected: str) -> None:
    """A libpq ``key=value`` DSN loses its password, quoted, spaced or unterminated."""
    assert redact(dsn) == expected


def test_long_text_is_cut_without_showing_a_cut_secret() -> None:
    """Text over LIMIT is cut and marked; a URL cut before its '@' goes with the cut."""
    from tether._redact import LIMIT

    filler = "x " * ((LIMIT - 10) // 2)
    text = filler + "http://alice:s3cr3t@h.example/ and more"
    shown = redact_text(text)
    assert "s3cr3t" not in shown
    assert shown.endswith(" characters cut]")
    assert len(shown) <= LIMIT + 40


_ADVERSARIAL = r"""
import sys
from tether._redact import _PAIR, _SCHEME, redact, redact_text, redact_url
from tether.probe._target import _LOOSE_USERINFO, redact_target
n = 1 << 20
inputs = ["a" * n, "a:" * (n // 2), "a://" + "b" * n, "?" + "a" * n, "/" + "a" * n,
          " a" * (n // 2), "password='" + "x" * n, "&a" * (n // 2), "/a:" * (n // 3),
          "a://u:x/" * (n // 8), "a://u:x/" * (n // 8) + "@", "a://" * (n // 4) + "@",
          "a://@" * (n // 5), "?pass%" * (n // 6), "%25" * (n // 3) + "=x"]
for text in inputs:
    for pattern in (_SCHEME, _PAIR, _LOOSE_USERINFO):
        pattern.sub("", text)  # the pattern itself, over the whole megabyte
    for f in (redact, redact_text, redact_url, redact_target):
        f(text)
print("done")
"""


def test_redaction_of_a_megabyte_of_adversarial_text_finishes() -> None:
    """Every pattern reads 1 MB of its worst input (long runs with no '@', '=' or '://')
    in one pass: the quadratic scheme pattern took hours on this; linear takes well
    under a second, and the subprocess gets a generous two minutes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, "-c", _ADVERSARIAL],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "done"
