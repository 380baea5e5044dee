"""The connect phase classifies a plain OSError once per kind of refusal and target and
reuses the failure: what it returns is what classify() returns for that very error."""

from __future__ import annotations

import errno
import socket

import requests
from hypothesis import given
from hypothesis import strategies as st

from tether._classify import classify
from tether.probe._connect import _classified


def refused() -> OSError:
    """A real refusal from a loopback port nothing listens on."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    client = socket.socket()
    try:
        client.connect(("127.0.0.1", port))
    except OSError as exc:
        return exc
    finally:
        client.close()
    raise AssertionError("a port nothing listens on accepted a connection")


def test_a_real_refusal_reused_is_what_classify_says_of_each_error() -> None:
    """Two refusals of one target: each failure equals classify() of its own error, the
    second reused from the first (its cause is its own error, not the first's)."""
    url = "http://127.0.0.1:9/health"
    first, second = refused(), refused()
    a, b = _classified(first, url), _classified(second, url)
    assert a == classify(first, url=url)
    assert b == classify(second, url=url)
    assert b.cause is second


ERRORS = st.sampled_from(
    [ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError, OSError, TimeoutError]
)
CODES = st.sampled_from(
    [
        errno.ECONNREFUSED,
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.EADDRNOTAVAIL,
        errno.EACCES,
        None,
    ]
)


@given(
    kinds=st.lists(st.tuples(ERRORS, CODES, st.sampled_from(["a", "b"])), min_size=1, max_size=8),
    url=st.sampled_from(["http://127.0.0.1:8080/", "https://localhost:8443/x", "http://[::1]:81/"]),
)
def test_any_sequence_of_errors_is_classified_as_classify_classifies_each(
    kinds: list[tuple[type[OSError], int | None, str]], url: str
) -> None:
    """Whatever errors come, in any order, repeated or not: each result equals classify()."""
    for kind, code, text in kinds:
        error = kind(code, text) if code is not None else kind(text)
        assert _classified(error, url) == classify(error, url=url)


def test_an_error_with_a_context_is_classified_afresh() -> None:
    """An error raised while handling another may be classified by what lies under it:
    it is never served from what a plain error of the same errno gave."""
    url = "http://127.0.0.1:8080/"
    _classified(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), url)
    chained = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    chained.__context__ = TimeoutError("slow")
    assert _classified(chained, url) == classify(chained, url=url)


_parts = st.text(st.sampled_from("aZ0/?#=&%@:.[]-"), max_size=10)
SERVERS = st.sampled_from(
    [
        "http://127.0.0.1:8080",
        "https://localhost",
        "http://[::1]:81",
        "http://user:pw@127.0.0.2:9",
        "http://user:***@127.0.0.2:9",
        "tcp://127.0.0.3:22",
        "//127.0.0.4",
        "127.0.0.5:80",
        "HTTP://LOCALHOST:8080",
    ]
)


@given(
    st.lists(
        st.tuples(
            st.one_of(
                ERRORS,
                st.sampled_from(
                    [requests.exceptions.InvalidURL, requests.exceptions.TooManyRedirects]
                ),
            ),
            CODES,
            SERVERS,
            st.sampled_from(["", "/", "?", "#"]),
            _parts,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_a_failure_reused_for_another_url_of_the_server_is_what_classify_gives_it(
    asked: list[tuple[type[OSError], int | None, str, str, str]],
) -> None:
    """Each monitor has a URL of its own, and the failure worked out for one URL of a
    server is reused for the others: whatever the URLs (paths, queries with secrets,
    fragments, credentials, an '@' or '//' after the server), each result equals
    classify() of its own error and URL, its ``url`` that URL redacted."""
    for kind, code, server, sep, rest in asked:
        url = server + sep + rest
        if issubclass(kind, requests.RequestException):  # an OSError: its detail quotes the URL
            error: OSError = kind("text")
        else:
            error = kind(code, "text") if code is not None else kind("text")
        got = _classified(error, url)
        assert got == classify(error, url=url)
        assert got.cause is error


def test_more_urls_than_are_remembered_are_each_classified_as_their_own() -> None:
    """Past the bound of remembered URLs (a worker with more monitors than it holds):
    each failure is still classify()'s for its URL, and a password and a token in the
    URL appear in none of its text."""
    from tether.probe import _connect

    for i in range(_connect._CLASSIFIED_MAX + 10):
        url = f"http://user:PASSMARKER@127.0.0.1:9/m{i:06d}?token=TOKENMARKER{i}"
        error = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        got = _classified(error, url)
        assert got == classify(error, url=url)
        # Reused from another URL of the server, it shows neither URL's secrets.
        shown = f"{got.url} {got.detail} {got.hint}"
        assert "PASSMARKER" not in shown
        assert "TOKENMARKER" not in shown
        assert got.url is not None
        assert f"/m{i:06d}?" in got.url
