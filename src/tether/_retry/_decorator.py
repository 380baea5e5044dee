"""``@tether.retry``: the policy around any callable, sync or async."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, ParamSpec, TypeVar, overload

from tether._retry._loop import Call, Outcome, run_async, run_sync
from tether._retry._policy import RetryPolicy
from tether._retry._state import Guard, guard_for

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_POLICY = RetryPolicy()
"""The policy of every ``@tether.retry`` without one; each function keeps its own guard."""


@overload
def retry(fn: Callable[P, T], /) -> Callable[P, T]: ...
@overload
def retry(
    *,
    policy: RetryPolicy | None = None,
    endpoint: str | None = None,
    idempotent: bool = True,
    guard: Guard | None = None,
) -> Callable[[Callable[P, T]], Callable[P, T]]: ...


def retry(
    fn: Callable[P, T] | None = None,
    /,
    *,
    policy: RetryPolicy | None = None,
    endpoint: str | None = None,
    idempotent: bool = True,
    guard: Guard | None = None,
) -> Callable[P, T] | Callable[[Callable[P, T]], Callable[P, T]]:
    """Retry ``fn`` under ``policy``, classifying what it raises with :func:`tether.classify`.

    Budget, breaker and health records are kept per endpoint: by default the
    ``host:port`` a failed attempt names (so a dead host does not open the
    circuit for a healthy one the function also calls), or the function's
    qualified name for a failure that names none.  Since which host an attempt
    will reach is known only once it fails, an open circuit then stops the
    retries but not a call's first attempt.  ``endpoint`` names one record for
    every call instead, which the breaker checks before the first attempt too.
    Each decorated function keeps these records in a guard of its own
    (``fn.guard``); pass ``guard=`` to share one (made from ``policy``).

    A decorated function is assumed safe to repeat; say ``idempotent=False``
    if a failure after the request may have reached the server must not be
    retried.  When tether
    gives up it re-raises the last exception, with ``.failure`` set and a note
    saying what was tried; if no attempt ran (open circuit, spent deadline) it
    raises :class:`tether.CircuitOpenError` or :class:`tether.DeadlineExceededError`.
    Time limits are the callable's own business: the policy's timeouts cannot
    reach into it, but its deadline stops further attempts and waits.
    """

    def decorate(f: Callable[P, T]) -> Callable[P, T]:
        g = Guard(policy or DEFAULT_POLICY) if guard is None else guard_for(policy, guard)
        chosen = g.policy
        qualname = getattr(f, "__qualname__", None) or repr(f)
        name = endpoint or qualname
        label = f"{qualname.rpartition('<locals>.')[2]}()"

        def call() -> Call:
            return Call(
                chosen,
                "",
                label,
                endpoint=name,
                idempotent=idempotent,
                by_failure=endpoint is None,
                guard=g,
            )

        if inspect.iscoroutinefunction(f):

            async def run_coroutine(*args: Any, **kwargs: Any) -> Any:
                c = call()
                outcome = await run_async(c, lambda _t: f(*args, **kwargs))
                return outcome.response if outcome.failure is None else _raise(c, outcome)

            wrapped: Any = functools.wraps(f)(run_coroutine)
            wrapped.guard = g
            return wrapped  # type: ignore[no-any-return]

        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            c = call()
            outcome = run_sync(c, lambda _t: f(*args, **kwargs))
            return outcome.response if outcome.failure is None else _raise(c, outcome)  # type: ignore[return-value]

        wrapper: Any = functools.wraps(f)(run)
        wrapper.guard = g
        return wrapper  # type: ignore[no-any-return]

    return decorate if fn is None else decorate(fn)


def _raise(call: Call, outcome: Outcome[Any]) -> NoReturn:
    error = outcome.error
    if error is None:
        raise call.error(outcome)
    annotate(error, call, outcome)
    raise error


def annotate(error: BaseException, call: Call, outcome: Outcome[Any]) -> None:
    """Set ``error.failure`` and add tether's summary as a note (PEP 678)."""
    with contextlib.suppress(AttributeError, TypeError):  # __slots__ leave no room
        error.failure = outcome.failure  # type: ignore[attr-defined]
    error.add_note(f"tether: {call.summary(outcome)}")


_ = Awaitable  # the async wrapper returns one; kept for readers of the signature
