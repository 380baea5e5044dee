"""The request messages a stream-unary call keeps to send again (issue 71 §2), held to a
property over random streams, limits and attempts: every attempt sends the source's
messages from its first, in order, never a gap; the source is read once; and once the kept
messages outgrow the limit, no attempt after may start (a truncated stream is never sent)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.integrations.grpc import _Replay

messages = st.lists(st.binary(max_size=8), max_size=12)
reads = st.lists(st.integers(min_value=0, max_value=14), min_size=1, max_size=5)


class Counted:
    """The caller's iterator, counting what was taken from it."""

    def __init__(self, items: list[bytes]) -> None:
        self.items, self.taken = items, 0

    def __iter__(self) -> Iterator[bytes]:
        for item in self.items:
            self.taken += 1
            yield item


@given(messages, st.integers(min_value=0, max_value=64), reads)
def test_each_attempt_resends_the_stream_from_its_first_message(
    items: list[bytes], limit: int, attempts: list[int]
) -> None:
    """Each attempt reads ``wanted`` of its messages (as a call that failed part-way; 0:
    all of them): exactly the source's first ``wanted``, none lost; the source is read once."""
    source = Counted(items)
    replay = _Replay(source, limit)
    for wanted in attempts:
        if replay.spilled:
            with pytest.raises(AssertionError, match="truncated"):
                replay.again()
            return
        sent = []
        for message in replay.again():
            sent.append(message)
            if len(sent) == wanted:
                break
        assert sent == items[: wanted or len(items)]
        assert source.taken <= len(items)


@given(messages, st.integers(min_value=0, max_value=64))
def test_an_attempt_that_has_ended_takes_nothing_more(items: list[bytes], limit: int) -> None:
    """A message pulled by the next attempt is never taken by one that has ended (gRPC's
    thread for an ended call may still ask its iterator)."""
    replay = _Replay(items, limit)
    old = replay.again()
    replay.again()
    assert list(old) == []


@given(messages, st.integers(min_value=0, max_value=64), reads)
def test_an_async_source_is_resent_the_same(
    items: list[bytes], limit: int, attempts: list[int]
) -> None:
    """grpc.aio: an async generator's messages, resent the same way."""

    async def source() -> AsyncIterator[bytes]:
        for item in items:
            yield item

    async def main() -> None:
        replay = _Replay(source(), limit)
        for wanted in attempts:
            if replay.spilled:
                return
            sent = []
            async for message in replay.again_async():
                sent.append(message)
                if len(sent) == wanted:
                    break
            assert sent == items[: wanted or len(items)]

    asyncio.run(main())
