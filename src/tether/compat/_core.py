"""What the backoff and tenacity adapters share: a decorated callable run on tether's loop.

Each adapter translates its library's options into a :class:`~tether.RetryPolicy` once,
when it decorates, and runs every call through :func:`tether._retry._loop.run_sync` or
``run_async``, so the deadline, budget, breaker, classification and hooks are tether's.
What their callbacks need to know about the call under way (its arguments, the value or
exception the last attempt gave) lives in a :class:`CallState` that a context variable
holds for the length of one call; the policy's hooks and waits read it from there.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tether._failure import Failure
from tether._retry._decorator import annotate
from tether._retry._hooks import RetryDetails
from tether._retry._loop import Call, Outcome, run_async, run_sync
from tether._retry._policy import RetryPolicy
from tether._retry._state import Guard

UNLIMITED = sys.maxsize
"""``attempts`` when the original library had no limit: tether's deadline and budget
still end the call."""


def sleep_now(seconds: float) -> None:
    """``time.sleep`` as it is when the wait starts, as backoff and tenacity call it: a test
    that patches ``time.sleep`` (their users' habit) patches the adapters' waits too."""
    time.sleep(seconds)


_SLEEP_AT_IMPORT = RetryPolicy.__dataclass_fields__["sleep"].default


def base_policy(policy: RetryPolicy | None) -> RetryPolicy:
    """The policy an adapter starts from: ``policy`` or tether's default, its sleep read
    at each wait when it is still ``time.sleep`` (see :func:`sleep_now`)."""
    chosen = policy if policy is not None else RetryPolicy()
    if chosen.sleep is _SLEEP_AT_IMPORT:
        chosen = chosen.replace(sleep=sleep_now)
    return chosen


UNGUARDED = RetryPolicy(deadline=None, budget=None, breaker=None)
"""A base policy without tether's deadline, retry budget or circuit breaker: give it as
``policy=`` to an adapter to get the original library's behaviour back."""


@dataclass(frozen=True, slots=True)
class Later:
    """What a callback returned for the call's result that may be a coroutine
    (tenacity's ``retry_error_callback``): awaited when the call is a coroutine's."""

    value: object


def settle(value: object, pending: list[Awaitable[object]] | None, what: str) -> object:
    """``value``, or, when it is awaitable, what to await: kept in ``pending`` (an async
    call's) or refused with a TypeError naming ``what`` (a sync call cannot await it)."""
    if not inspect.isawaitable(value):
        return value
    if pending is None:
        close = getattr(value, "close", None)
        if close is not None:
            close()
        raise TypeError(f"{what} returned a coroutine; it needs an async function to decorate")
    return value


class Rejected(Exception):
    """An attempt returned a value the adapter was told to retry on (``on_predicate``,
    ``retry_if_result``); raised inside the loop so that tether counts it as a failure."""

    def __init__(self, value: object) -> None:
        super().__init__(f"the call returned {value!r}, which is to be retried")
        self.value = value


@dataclass(frozen=True, slots=True, repr=False)
class WaitPolicy(RetryPolicy):
    """A policy whose waits come from ``wait(retry, rand)`` instead of tether's backoff:
    for the waits no ``base``, ``multiplier``, ``cap`` and ``jitter`` can express
    (tenacity's ``wait_chain``, backoff's ``fibo``...).  The deadline still rules: a
    wait that would end past it ends the call instead."""

    wait: Callable[[int, Callable[[], float]], float] | None = None

    def delay(self, retry: int, previous: float | None = None) -> float:
        if self.wait is None:
            return RetryPolicy.delay(self, retry, previous)
        return max(0.0, float(self.wait(retry, self.rand)))


def with_waits(
    policy: RetryPolicy, wait: Callable[[int, Callable[[], float]], float]
) -> WaitPolicy:
    """``policy`` with its waits drawn from ``wait``."""
    fields = {f.name: getattr(policy, f.name) for f in dataclasses.fields(RetryPolicy)}
    return WaitPolicy(**fields, wait=wait)


@dataclass(slots=True)
class CallState:
    """One call under way: what the adapters' callbacks are told about it."""

    target: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    call: Call | None = None
    error: BaseException | None = None
    """What the last attempt raised (None if it returned)."""
    value: Any = None
    """What the last attempt returned."""
    waits: Any = None
    """The adapter's per-call wait state (backoff's generator)."""
    idle: float = 0.0
    """Seconds waited so far."""
    pending: list[Awaitable[object]] | None = None
    """Awaitables a callback returned, awaited before the next attempt (async calls)."""
    verdict: object = None
    """The adapter's judgement of the last attempt (``judge`` of :func:`wrap`: backoff's
    ``giveup``, tenacity's ``retry=``), an async one awaited."""

    def run(self, callback: Callable[[Any], object], argument: object) -> object:
        """Call a user's callback; a coroutine it returns is awaited before the next step."""
        result = callback(argument)
        if inspect.isawaitable(result):
            if self.pending is None:  # a sync call cannot await it
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise TypeError(f"{callback!r} is a coroutine; it needs an async function")
            self.pending.append(result)
        return result

    async def flush(self) -> None:
        pending = self.pending
        while pending:
            await pending.pop(0)


CURRENT: contextvars.ContextVar[CallState] = contextvars.ContextVar("tether_compat_call")


def hook(
    adapter: Callable[[CallState, RetryDetails], None], given: Callable[..., object] | None
) -> Callable[[RetryDetails], None]:
    """The policy's ``on_retry``: the adapter's callbacks for the call under way, then the
    hook of the policy given as a base, if any."""

    def on_retry(details: RetryDetails) -> None:
        state = CURRENT.get(None)
        if state is not None:
            state.idle += details.delay
            adapter(state, details)
        if given is not None:
            given(details)

    return on_retry


def current_error() -> BaseException | None:
    state = CURRENT.get(None)
    return None if state is None else state.error


Finish = Callable[[CallState, Call, Outcome[Any]], tuple[bool, Any]]
"""The call's end: ``(True, value)`` to return value, ``(False, error)`` to raise it."""


@dataclass(frozen=True, slots=True)
class _Attempts:
    """What :func:`wrap` was told about running ``f``'s attempts (see there)."""

    f: Callable[..., Any]
    new_call: Callable[[], Call]
    finish: Finish
    rejects: Callable[[Any], bool] | None
    before: Callable[[CallState], object] | None
    judge: Callable[[BaseException | None, Any], object] | None
    judged: str


def wrap(
    f: Callable[..., Any],
    policy: RetryPolicy,
    *,
    finish: Finish,
    rejects: Callable[[Any], bool] | None = None,
    before: Callable[[CallState], object] | None = None,
    policy_for: Callable[[], RetryPolicy] | None = None,
    judge: Callable[[BaseException | None, Any], object] | None = None,
    judged: str = "a predicate",
) -> Callable[..., Any]:
    """``f`` run on tether's loop under ``policy``, as ``@tether.retry`` runs it.

    ``rejects``: a return value for which to retry; ``before``: called before each
    attempt; ``policy_for``: a policy made for each call (options the original library
    evaluates at run time), sharing the decorated function's guard; ``judge``: called
    with each attempt's exception or value before tether decides, its answer (awaited
    for a coroutine function's call; refused for another's, naming ``judged``) kept in
    :attr:`CallState.verdict` for ``rejects`` and the policy's ``retry_if`` to read.
    """
    guard = Guard(policy)
    qualname = getattr(f, "__qualname__", None) or repr(f)
    label = f"{qualname.rpartition('<locals>.')[2]}()"

    def new_call() -> Call:
        chosen = policy if policy_for is None else policy_for()
        return Call(
            chosen, "", label, endpoint=qualname, idempotent=True, by_failure=True, guard=guard
        )

    attempts = _Attempts(f, new_call, finish, rejects, before, judge, judged)
    if inspect.iscoroutinefunction(f):

        async def run_coroutine(*args: Any, **kwargs: Any) -> Any:
            return await _run_async(attempts, CallState(f, args, kwargs, pending=[]))

        wrapped: Any = functools.wraps(f)(run_coroutine)
    else:

        def run(*args: Any, **kwargs: Any) -> Any:
            return _run_sync(attempts, CallState(f, args, kwargs))

        wrapped = functools.wraps(f)(run)
    wrapped.guard = guard
    return wrapped  # type: ignore[no-any-return]


async def _run_async(a: _Attempts, state: CallState) -> Any:
    """One call of a coroutine function: its attempts on tether's async loop."""
    token = CURRENT.set(state)
    try:
        call = state.call = a.new_call()

        async def verdict(error: BaseException | None, value: object) -> None:
            if a.judge is not None:
                found = a.judge(error, value)
                state.verdict = await found if inspect.isawaitable(found) else found

        async def send(_timeouts: object) -> Any:
            await state.flush()
            if a.before is not None:
                a.before(state)
                await state.flush()
            try:
                value = await a.f(*state.args, **state.kwargs)
            except Exception as exc:
                state.error, state.value = exc, None
                await verdict(exc, None)
                raise
            state.error, state.value = None, value
            await verdict(None, value)
            if a.rejects is not None and a.rejects(value):
                raise Rejected(value)
            return value

        outcome = await run_async(call, send)
        await state.flush()
        ok, result = a.finish(state, call, outcome)
        await state.flush()  # callbacks first (tenacity's after), in their order
        if isinstance(result, Later):
            found = result.value
            result = await found if inspect.isawaitable(found) else found
    finally:
        CURRENT.reset(token)
    if ok:
        return result
    raise result


def _run_sync(a: _Attempts, state: CallState) -> Any:
    """One call of a plain function: its attempts on tether's loop."""
    token = CURRENT.set(state)
    try:
        call = state.call = a.new_call()

        def verdict(error: BaseException | None, value: object) -> None:
            if a.judge is not None:
                state.verdict = settle(a.judge(error, value), None, a.judged)

        def send(_timeouts: object) -> Any:
            if a.before is not None:
                a.before(state)
            try:
                value = a.f(*state.args, **state.kwargs)
            except Exception as exc:
                state.error, state.value = exc, None
                verdict(exc, None)
                raise
            state.error, state.value = None, value
            verdict(None, value)
            if a.rejects is not None and a.rejects(value):
                raise Rejected(value)
            return value

        ok, result = a.finish(state, call, run_sync(call, send))
        if isinstance(result, Later):
            result = settle(result.value, None, "retry_error_callback")
    finally:
        CURRENT.reset(token)
    if ok:
        return result
    raise result


def reraise(call: Call, outcome: Outcome[Any]) -> BaseException:
    """The exception a call that gave up raises: the last attempt's, with tether's note,
    or tether's own if no attempt raised one."""
    error = outcome.error
    if error is None:
        return call.error(outcome)
    annotate(error, call, outcome)
    return error


def worth_a_retry(policy: RetryPolicy, failure: Failure) -> bool:
    """Would tether's own rules (no ``retry_if``) retry this failure?"""
    if failure.status is not None:
        return failure.status in policy.statuses
    return failure.kind in policy.kinds if policy.kinds is not None else failure.retryable


def check_handlers(name: str, handlers: object, target: Callable[..., Any]) -> list[Any]:
    """A callback or an iterable of them, as a list; a coroutine function only for a
    coroutine function's calls."""
    if handlers is None:
        return []
    found = list(handlers) if not callable(handlers) else [handlers]  # type: ignore[call-overload]
    for handler in found:
        if not callable(handler):
            raise TypeError(f"{name}={handler!r}: must be a callable or a list of them")
        if inspect.iscoroutinefunction(handler) and not inspect.iscoroutinefunction(target):
            raise TypeError(
                f"{name}={handler!r} is a coroutine function, and "
                f"{getattr(target, '__qualname__', target)} is not: it cannot be awaited"
            )
    return found
