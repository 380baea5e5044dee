"""The adapters keep backoff's and tenacity's contracts where their own test suites (vendored
under vendored/, README.md) cannot reach through the decorator: async predicates are
awaited, async handlers and tenacity's async ``retry_error_callback`` too, a patched
``time.sleep`` is the adapters' sleep; and what they refuse on purpose is refused as
docs/migrating.md says (a coroutine predicate on a plain function, tether's own log
lines beside the library's)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tether.compat import UNGUARDED, backoff
from tether.compat.tenacity import (
    RetryError,
    retry,
    retry_if_exception,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_fixed,
)

FAST = UNGUARDED.replace(async_sleep=lambda s: asyncio.sleep(0), sleep=lambda s: None)


def test_backoffs_async_giveup_is_awaited() -> None:
    """A coroutine function's ``giveup`` coroutine is awaited: false goes on retrying, true
    gives up (issue 45: the coroutine object read as true, so every call gave up at once)."""
    asked: list[str] = []

    async def fatal(e: Exception) -> bool:
        asked.append(str(e))
        return str(e) == "fatal"

    said = ["fatal", "transient", "transient"]

    @backoff.on_exception(backoff.constant, ValueError, giveup=fatal, interval=0, policy=FAST)
    async def call() -> None:
        raise ValueError(said.pop())

    with pytest.raises(ValueError, match=r"^fatal"):
        asyncio.run(call())
    assert asked == ["transient", "transient", "fatal"]


def test_backoffs_async_giveup_on_a_plain_function_is_refused() -> None:
    """A coroutine ``giveup`` on a plain function cannot be awaited: refused when
    decorating, saying why (backoff would read the coroutine object as true)."""

    async def fatal(e: Exception) -> bool:
        return True

    with pytest.raises(TypeError, match=r"giveup=.* is a coroutine function, and .* is not"):

        @backoff.on_exception(backoff.expo, ValueError, giveup=fatal)
        def call() -> None:
            raise ValueError("x")


def test_backoffs_async_handlers_are_awaited_with_their_details() -> None:
    """``on_backoff``, ``on_giveup`` and ``on_success`` coroutines are awaited in order."""
    seen: list[tuple[str, int]] = []

    async def note(event: str, details: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        seen.append((event, details["tries"]))

    tries = iter([ValueError(), ValueError(), "ok"])

    @backoff.on_exception(
        backoff.constant,
        ValueError,
        interval=0,
        on_backoff=lambda d: note("backoff", d),
        on_success=lambda d: note("success", d),
        policy=FAST,
    )
    async def call() -> str:
        got = next(tries)
        if isinstance(got, Exception):
            raise got
        return got

    assert asyncio.run(call()) == "ok"
    assert seen == [("backoff", 1), ("backoff", 2), ("success", 3)]


@pytest.mark.parametrize(
    "strategy",
    [
        "result",
        "result | exception",
        "exception | result",
        "result & result",
    ],
)
def test_tenacitys_async_predicates_are_awaited(strategy: str) -> None:
    """``retry_if_result`` and ``retry_if_exception`` with coroutine predicates, alone and
    combined with ``|`` and ``&``, are awaited for a coroutine function, as tenacity's
    AsyncRetrying awaits them."""

    async def low(x: int) -> bool:
        await asyncio.sleep(0)
        return x < 3

    async def custom(e: BaseException) -> bool:
        return isinstance(e, LookupError)

    chosen = {
        "result": retry_if_result(low),
        "result | exception": retry_if_result(low) | retry_if_exception(custom),
        "exception | result": retry_if_exception(custom) | retry_if_result(low),
        "result & result": retry_if_result(low) & retry_if_result(lambda x: x >= 0),
    }[strategy]
    made: list[int] = []

    @retry(retry=chosen, stop=stop_after_attempt(10), policy=FAST)
    async def call() -> int:
        made.append(len(made) + 1)
        if strategy != "result" and len(made) == 1 and "exception" in strategy:
            raise LookupError("first")
        return len(made)

    assert asyncio.run(call()) == 3
    assert made == [1, 2, 3]


def test_tenacitys_async_exception_predicate_false_raises_at_once() -> None:
    """An async ``retry_if_exception`` that answers false ends the call with the error."""

    async def never(e: BaseException) -> bool:
        return False

    made: list[int] = []

    @retry(retry=retry_if_exception(never), stop=stop_after_attempt(5), policy=FAST)
    async def call() -> None:
        made.append(1)
        raise OSError("no")

    with pytest.raises(OSError, match="no"):
        asyncio.run(call())
    assert made == [1]


def test_tenacitys_async_callbacks_are_awaited() -> None:
    """``before``, ``after``, ``before_sleep`` and ``retry_error_callback`` coroutines are
    awaited; the callback's value is the call's (not a coroutine object)."""
    seen: list[str] = []

    def note(event: str) -> Any:
        async def callback(state: Any) -> str:
            await asyncio.sleep(0)
            seen.append(f"{event} {state.attempt_number}")
            return f"gave up after {state.attempt_number}"

        return callback

    @retry(
        retry=retry_if_exception_type(OSError),
        stop=stop_after_attempt(2),
        wait=wait_fixed(0),
        before=note("before"),
        after=note("after"),
        before_sleep=note("sleep"),
        retry_error_callback=note("error"),
        policy=FAST,
    )
    async def call() -> None:
        raise OSError("down")

    assert asyncio.run(call()) == "gave up after 2"
    assert seen == ["before 1", "after 1", "sleep 1", "before 2", "after 2", "error 2"]


def test_tenacitys_async_predicate_on_a_plain_function_is_refused() -> None:
    """A coroutine predicate on a plain function cannot be awaited: the call raises a
    TypeError saying so, rather than reading the coroutine as true."""

    async def low(x: int) -> bool:
        return x < 3

    @retry(retry=retry_if_result(low), stop=stop_after_attempt(5), policy=FAST)
    def call() -> int:
        return 1

    with pytest.raises(TypeError, match="retry= returned a coroutine"):
        call()


def test_a_patched_time_sleep_is_the_adapters_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """backoff and tenacity call ``time.sleep`` when each wait starts, and their users'
    tests patch it: the adapters do the same (a policy's own ``sleep=`` still wins)."""
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)

    @backoff.on_exception(backoff.expo, ValueError, max_tries=3, jitter=None, policy=UNGUARDED)
    def flaky() -> None:
        raise ValueError("x")

    @retry(
        retry=retry_if_exception_type(ValueError),
        stop=stop_after_attempt(3),
        wait=wait_fixed(2),
        policy=UNGUARDED,
    )
    def flaky_too() -> None:
        raise ValueError("x")

    with pytest.raises(ValueError, match="x"):
        flaky()
    with pytest.raises(RetryError):
        flaky_too()
    assert waits == [1, 2, 2, 2]


def test_tethers_own_log_lines_stay_beside_backoffs(caplog: pytest.LogCaptureFixture) -> None:
    """Refused on purpose (docs/migrating.md): ``logger=None`` silences backoff's lines,
    not tether's own on the ``tether`` logger (backoff's test_on_exception_logger_none is
    left out for it)."""

    @backoff.on_exception(backoff.constant, KeyError, max_tries=2, interval=0, logger=None)
    def missing() -> None:
        raise KeyError("k")

    with caplog.at_level(logging.INFO), pytest.raises(KeyError):
        missing()
    assert [r.name for r in caplog.records if r.name == "backoff"] == []
    assert any(r.name == "tether" and "giving up" in r.getMessage() for r in caplog.records)
