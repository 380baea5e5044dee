"""The pure cores of the database checks, as properties: a RESP command written by
tether reads back as the words it was made of (the reader and the writer agree), any
bytes a server sends are a reply or a named failure, never an exception of another
kind; a database URL's options are either accepted or refused in one line."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

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
