"""``@tether.retry``: the policy around any callable, sync or async."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, ParamSpec, TypeVar, overload

from tether._failure import Failure
from tether._retry._loop import Call, First, Outcome, fast_first, fast_succeeded, run_sync
from tether._retry._policy import RetryPolicy
from tether._retry._state import Guard, guard_for

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_POLICY = RetryPolicy()
"""The policy of every ``@tether.retry`` without one; each function keeps its own guard."""

_NO_FALLBACK: Any = object()
"""``fallback=`` not given (``None`` is a fallback value like any other)."""


@overload
def retry(fn: Callable[P, T], /) -> Callable[P, T]: ...
@overload
def retry(
    *,
    policy: RetryPolicy | None = None,
    endpoint: str | None = None,
    idempotent: bool = True,
    guard: Guard | None = None,
    fallback: Any = _NO_FALLBACK,
) -> Callable[[Callable[P, T]], Callable[P, T]]: ...


def retry(
    fn: Callable[P, T] | None = None,
    /,
    *,
    policy: RetryPolicy | None = None,
    endpoint: str | None = None,
    idempotent: bool = True,
    guard: Guard | None = None,
    fallback: Any = _NO_FALLBACK,
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
    With a policy ``total`` (the per-attempt timeout), a coroutine function's
    attempt runs under ``asyncio.timeout`` of it, cut to what the deadline leaves:
    cut by ``total``, the attempt is a ``read.timeout`` and is retried; cut by the
    deadline, ``deadline.exceeded``.  Without ``total`` no timer is armed (it would
    cost every call), and, as for a sync callable, which cannot be interrupted,
    the deadline stops only further attempts and waits.

    ``fallback``: what the call returns when the policy gives up (for any reason,
    an open circuit included) instead of raising: a value, or a callable given
    the :class:`tether.Failure` (for a coroutine function it may be async).  The
    give-up hook fires and the call is recorded as failed all the same.

    An async generator or generator function is retried only until its first
    item arrives; a failure after an item was handed on is raised as it is, with
    a note, never retried.
    """

    def decorate(f: Callable[P, T]) -> Callable[P, T]:
        g = Guard(policy or DEFAULT_POLICY) if guard is None else guard_for(policy, guard)
        chosen = g.policy
        qualname = getattr(f, "__qualname__", None) or repr(f)
        name = endpoint or qualname
        label = f"{qualname.rpartition('<locals>.')[2]}()"
        keyed = endpoint is not None

        def call(first: First | None = None) -> Call:
            return Call(
                chosen,
                "",
                label,
                endpoint=name,
                idempotent=idempotent,
                by_failure=endpoint is None,
                guard=g,
                first=first,
            )

        wrapped: Any
        if inspect.isasyncgenfunction(f) or inspect.isgeneratorfunction(f):
            wrapped = _stream(f, call, fallback, label, chosen.total is not None)
        elif inspect.iscoroutinefunction(f):
            from tether._retry._streams import coroutine

            give_up = lambda c, o: _substitute(c, o, fallback)  # noqa: E731
            wrapped = coroutine(f, call, give_up, chosen.total is not None, g, name, keyed)
        else:
            wrapped = _sync(f, call, fallback, label, g, name, keyed)
        wrapped = functools.wraps(f)(wrapped)
        wrapped.guard = g
        return wrapped  # type: ignore[no-any-return]

    return decorate if fn is None else decorate(fn)


def _stream(
    f: Callable[..., Any], call: Callable[[], Call], fallback: Any, label: str, bounded: bool
) -> Any:
    """The retrying generator function for ``f``, an async one or not."""
    if fallback is not _NO_FALLBACK:
        raise TypeError(
            f"@tether.retry(fallback=...) on {label}: a generator function has no "
            "single value to stand in for it; catch the failure where you iterate"
        )
    from tether._retry import _streams

    make = _streams.async_stream if inspect.isasyncgenfunction(f) else _streams.sync_stream
    return make(f, call, _raise, bounded)


def _sync(
    f: Callable[..., Any],
    call: Callable[[First | None], Call],
    fallback: Any,
    label: str,
    guard: Guard,
    endpoint: str,
    keyed: bool,
) -> Any:
    """The retrying function for a plain callable ``f``; ``keyed``: its records are kept
    under ``endpoint`` from the first attempt on, rather than by its failures."""
    if inspect.iscoroutinefunction(fallback):
        raise TypeError(
            f"@tether.retry(fallback=...) on {label}: an async fallback for a sync "
            "function would return a coroutine nobody awaits"
        )

    def run(*args: Any, **kwargs: Any) -> Any:
        # The fast path (issue 46 §5): the first attempt made here, with no Call, closure
        # or Outcome; what it raised goes on in the full loop.
        first = fast_first(guard, endpoint, keyed=keyed)
        if first is None:
            c = call(None)
            outcome = run_sync(c, lambda _t: f(*args, **kwargs))
        else:
            try:
                result = f(*args, **kwargs)
            except Exception as exc:
                error: Exception = exc
            except BaseException:
                if keyed:
                    guard.breaker_release(endpoint)  # as Call.abandon() does
                raise
            else:
                fast_succeeded(guard, first, "", None, keyed=keyed)
                return result
            c = call(first)
            went: Outcome[Any] = c.first_outcome(None, error)
            outcome = run_sync(c, lambda _t: f(*args, **kwargs), first=went)
        return outcome.response if outcome.failure is None else _substitute(c, outcome, fallback)

    return run


def _substitute(call: Call, outcome: Outcome[Any], fallback: Any) -> Any:
    """The fallback's value for a call the policy gave up on, or the failure raised."""
    if fallback is _NO_FALLBACK:
        _raise(call, outcome)
    failure: Failure | None = outcome.failure
    return fallback(failure) if callable(fallback) else fallback


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
