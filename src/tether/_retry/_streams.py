"""``@tether.retry`` on coroutine and generator functions: the per-attempt timer and
streams retried only before their first item.

Imported only when such a function is decorated, so ``import tether`` does not load
:mod:`asyncio`.  A stream's attempt is the call up to its first item: the loop in
:mod:`tether._retry._loop` runs it like any attempt, then the items after it are handed
to the caller as they come, and a failure among them is the caller's, never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any, TypeVar

from tether._plural import count
from tether._retry._loop import (
    Call,
    First,
    Outcome,
    fast_first,
    fast_succeeded,
    run_async,
    run_sync,
)
from tether._retry._policy import Timeouts
from tether._retry._state import Guard

R = TypeVar("R")


async def timed(call: Call, t: Timeouts, work: Awaitable[R]) -> R:
    """Await ``work`` for at most ``t.total`` seconds: the policy's ``total``, cut to what
    the deadline leaves.  Cut by this timer, the attempt is classified by ``call`` as
    ``read.timeout`` (retried), or ``deadline.exceeded`` if the deadline is what ran out.
    """
    if t.total == math.inf:
        return await work
    limit = asyncio.timeout(t.total)
    try:
        async with limit:
            return await work
    except Exception:
        if limit.expired():
            call.mark_cut()
        raise


def coroutine(
    f: Callable[..., Awaitable[Any]],
    make_call: Callable[[First | None], Call],
    give_up: Callable[[Call, Outcome[Any]], Any],
    bounded: bool,
    guard: Guard,
    endpoint: str,
    keyed: bool,
) -> Callable[..., Awaitable[Any]]:
    """A coroutine function that retries ``f``, each attempt under :func:`timed` if
    ``bounded`` (the policy has a ``total``).

    ``give_up`` raises, or returns the fallback's value (awaited if it is a coroutine).
    Unbounded, a call's first attempt takes the fast path (issue 46 §5), as a plain
    function's does (``tether._retry._decorator``).
    """

    async def run(*args: Any, **kwargs: Any) -> Any:
        if bounded:
            call = make_call(None)
            outcome = await run_async(call, lambda t: timed(call, t, f(*args, **kwargs)))
        elif (first := fast_first(guard, endpoint, keyed=keyed)) is None:
            call = make_call(None)
            outcome = await run_async(call, lambda _t: f(*args, **kwargs))
        else:  # no timer to arm: a call costs what it did before there was one
            try:
                result = await f(*args, **kwargs)
            except Exception as exc:
                error: Exception = exc
            except BaseException:
                if keyed:
                    guard.breaker_release(endpoint)  # as Call.abandon() does
                raise
            else:
                fast_succeeded(guard, first, "", None, keyed=keyed)
                return result
            call = make_call(first)
            went: Outcome[Any] = call.first_outcome(None, error)
            outcome = await run_async(call, lambda _t: f(*args, **kwargs), first=went)
        if outcome.failure is None:
            return outcome.response
        value = give_up(call, outcome)
        return await value if inspect.iscoroutine(value) else value

    return run


def async_stream(
    f: Callable[..., AsyncGenerator[Any, Any]],
    make_call: Callable[[], Call],
    give_up: Callable[[Call, Outcome[Any]], Any],
    bounded: bool,
) -> Callable[..., AsyncGenerator[Any, Any]]:
    """An async generator function that retries ``f`` until its first item arrives, the
    wait for it under :func:`timed` if ``bounded``."""

    async def stream(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        call = make_call()

        async def first(t: Timeouts) -> tuple[AsyncGenerator[Any, Any], Any] | None:
            gen = f(*args, **kwargs)
            try:
                item = await (timed(call, t, gen.__anext__()) if bounded else gen.__anext__())
                return gen, item
            except StopAsyncIteration:
                return None  # an empty stream: a success with nothing to hand on
            except BaseException:
                await gen.aclose()
                raise

        outcome = await run_async(call, first)
        if outcome.failure is not None:
            give_up(call, outcome)
        if outcome.response is None:
            return
        gen, item = outcome.response
        delivered = 0
        try:
            while True:
                sent = yield item
                delivered += 1
                try:
                    item = await gen.asend(sent)
                except StopAsyncIteration:
                    return
                except Exception as exc:
                    _delivered(call, exc, delivered)
                    raise
        finally:
            await gen.aclose()

    return stream


def sync_stream(
    f: Callable[..., Generator[Any, Any, Any]],
    make_call: Callable[[], Call],
    give_up: Callable[[Call, Outcome[Any]], Any],
    _bounded: bool = False,
) -> Callable[..., Generator[Any, Any, Any]]:
    """A generator function that retries ``f`` until its first item arrives."""

    def stream(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        call = make_call()

        def first(_t: Timeouts) -> tuple[Generator[Any, Any, Any], Any] | None:
            gen = f(*args, **kwargs)
            try:
                return gen, next(gen)
            except StopIteration:
                return None

        outcome = run_sync(call, first)
        if outcome.failure is not None:
            give_up(call, outcome)
        if outcome.response is None:
            return
        gen, item = outcome.response
        delivered = 0
        try:
            while True:
                sent = yield item
                delivered += 1
                try:
                    item = gen.send(sent)
                except StopIteration:
                    return
                except Exception as exc:
                    _delivered(call, exc, delivered)
                    raise
        finally:
            gen.close()

    return stream


def _delivered(call: Call, error: Exception, delivered: int) -> None:
    """Mark a failure after items were handed on: classified, noted, not retried."""
    failure = call.classify(error)
    with contextlib.suppress(AttributeError, TypeError):  # __slots__ leave no room
        error.failure = failure  # type: ignore[attr-defined]
    error.add_note(
        f"tether: {call.url} failed after {count(delivered, 'item')} had been delivered "
        f"({failure.kind}); not retried: a stream is retried only before its first item"
    )
