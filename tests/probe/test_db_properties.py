"""The pure cores of the database checks, as properties: a RESP command written by
tether reads back as the words it was made of (the reader and the writer agree), any
bytes a server sends are a reply or a named failure, never an exception of another
kind; a database URL's options are either accepted or refused in one line."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.probe import InvalidTarget, parse_target
from tether.probe._redis import _Broken, as_value, command, read_reply

WORDS = st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=6)


def _read(data: bytes, limit: int = 1 << 20) -> object:
    async def go() -> object:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_reply(reader, limit)

    return asyncio.run(go())


@given(WORDS)
def test_a_command_reads_back_as_its_words(words: list[str]) -> None:
    assert _read(command(*words)) == [w.encode() for w in words]


@given(st.binary(max_size=200))
def test_any_bytes_are_a_reply_or_a_named_failure(data: bytes) -> None:
    try:
        reply = _read(data, limit=1000)
    except _Broken as exc:
        kind = exc.kind.value
    else:
        as_value(reply)  # whatever came, [RESULT] can hold it
        kind = "response.ok"
    assert kind.startswith(("response.", "connection."))


@given(
    st.sampled_from(["postgresql", "postgres", "mysql", "mariadb", "redis", "rediss"]),
    st.text(alphabet="abcdefgz0123456789=&/%?-_", max_size=30),
)
def test_a_database_url_is_accepted_or_refused_in_one_line(scheme: str, tail: str) -> None:
    text = f"{scheme}://u:p@127.0.0.1:5/{tail}"
    try:
        target = parse_target(text)
    except InvalidTarget as exc:
        refusal = str(exc)
    else:
        refusal = ""
        assert target.scheme == scheme
        assert urlsplit(target.url).password in (None, "***")
    assert "\n" not in refusal
    assert "p@" not in refusal


def test_a_reply_is_bounded_as_a_whole_not_per_string() -> None:
    """Many bulk strings each under the limit, nested in arrays, still count against one
    budget: a hostile server cannot make a check hold more than the limit in memory."""
    one = b"$600\r\n" + b"x" * 600 + b"\r\n"
    nested = b"*2\r\n*2\r\n" + one * 2 + b"*2\r\n" + one * 2
    with pytest.raises(_Broken) as raised:
        _read(nested, limit=2000)
    assert raised.value.kind is Kind.RESPONSE_TOO_LARGE
    assert _read(b"*2\r\n" + one * 2, limit=2000) == [b"x" * 600] * 2


def test_a_header_line_past_asyncios_limit_is_malformed_not_a_crash() -> None:
    """A reply line longer than the stream's 64 KiB line limit: one malformed failure."""
    with pytest.raises(_Broken) as raised:
        _read(b"+" + b"y" * 70_000 + b"\r\n")
    assert raised.value.kind is Kind.RESPONSE_MALFORMED


@given(st.floats(min_value=0.001, max_value=3600))
def test_the_server_limit_leaves_the_client_a_margin(timeout: float) -> None:
    """The server's statement limit is positive and ends before the check's timeout by a
    tenth of it, and by at least a second (half the timeout where that is shorter)."""
    from tether.probe._dbcommon import statement_limit

    limit = statement_limit(timeout)
    assert limit >= 0.001
    if timeout > 0.01:
        assert timeout - limit >= min(1.0, timeout / 2) - 0.001
        assert timeout - limit >= timeout / 10 - 0.001
