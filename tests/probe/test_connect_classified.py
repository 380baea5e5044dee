"""The connect phase classifies a plain OSError once per kind of refusal and target and
reuses the failure: what it returns is what classify() returns for that very error."""

from __future__ import annotations

import errno
import socket

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
