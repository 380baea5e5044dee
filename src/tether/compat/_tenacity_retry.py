"""tenacity's retry strategies (``retry=``) for :mod:`tether.compat.tenacity`: whether an
attempt's outcome, an exception or a value returned, is to be retried.  A predicate may be
a coroutine function's (tenacity's ``AsyncRetrying`` awaits those): its answer is then
awaited by the wrapper of a coroutine function, and refused for a plain function's."""

from __future__ import annotations

import functools
import inspect
import operator
import re
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = [
    "Verdict",
    "judged",
    "known",
    "retry_all",
    "retry_always",
    "retry_any",
    "retry_if_exception",
    "retry_if_exception_cause_type",
    "retry_if_exception_message",
    "retry_if_exception_type",
    "retry_if_not_exception_message",
    "retry_if_not_exception_type",
    "retry_if_not_result",
    "retry_if_result",
    "retry_never",
    "retry_unless_exception_type",
]


Verdict = bool | Awaitable[bool]
"""A retry strategy's answer: a coroutine's when one of its predicates is async (tenacity
awaits those in ``AsyncRetrying``; so does the adapter for a coroutine function)."""


class _Awaiting:
    """An answer still to await: ``run()`` awaits ``first`` (a predicate's coroutine) and
    what follows it; closed unawaited (a plain function's call cannot await it), it closes
    ``first``, so no coroutine is left never awaited."""

    def __init__(self, first: Awaitable[Any], run: Callable[[], Any]) -> None:
        self.first, self.run = first, run

    def __await__(self) -> Any:
        return self.run().__await__()

    def close(self) -> None:
        close = getattr(self.first, "close", None)
        if close is not None:
            close()


def _then(found: object, read: Callable[[object], bool]) -> Verdict:
    """``read(found)``, after awaiting ``found`` if it is awaitable."""
    if inspect.isawaitable(found):
        awaitable = found

        async def later() -> bool:
            return read(await awaitable)

        return _Awaiting(awaitable, later)
    return read(found)


def _fold(checks: list[Callable[[], Verdict]], settles: bool) -> Verdict:
    """``any`` (``settles`` True) or ``all`` (False) of ``checks`` in order, stopping at the
    first that settles it, awaiting the async ones as they come."""
    for i, check in enumerate(checks):
        found = check()
        if inspect.isawaitable(found):

            async def rest(found: Awaitable[bool] = found, i: int = i) -> bool:
                if bool(await found) is settles:
                    return settles
                for later in checks[i + 1 :]:
                    got = later()
                    if bool(await got if inspect.isawaitable(got) else got) is settles:
                        return settles
                return not settles

            return _Awaiting(found, rest)
        if bool(found) is settles:
            return settles
    return not settles


class _Retry:
    """Whether an outcome (an exception, or a value returned) is to be retried."""

    results = False
    """Does it ever retry a value returned?  (If not, no value is looked at.)"""

    def wants(self, error: BaseException | None, value: object) -> Verdict:
        raise NotImplementedError

    def __or__(self, other: object) -> _Retry:
        return retry_any(self, other)  # type: ignore[arg-type]

    def __and__(self, other: object) -> _Retry:
        return retry_all(self, other)  # type: ignore[arg-type]


class _When(_Retry):
    def __init__(
        self, test: Callable[[BaseException | None, object], Verdict], results: bool
    ) -> None:
        self.test, self.results = test, results

    def wants(self, error: BaseException | None, value: object) -> Verdict:
        return self.test(error, value)


def retry_if_exception(predicate: Callable[[BaseException], Any]) -> _Retry:
    """Retry an exception ``predicate`` holds for (a coroutine function's may be async)."""
    return _When(lambda e, v: e is not None and _then(predicate(e), bool), results=False)


def retry_if_exception_type(
    exception_types: type[BaseException] | tuple[type[BaseException], ...] = Exception,
) -> _Retry:
    return _When(lambda e, v: isinstance(e, exception_types), results=False)


def retry_if_not_exception_type(
    exception_types: type[BaseException] | tuple[type[BaseException], ...] = Exception,
) -> _Retry:
    return _When(lambda e, v: e is not None and not isinstance(e, exception_types), results=False)


def retry_unless_exception_type(
    exception_types: type[BaseException] | tuple[type[BaseException], ...] = Exception,
) -> _Retry:
    """Retry everything, a value returned included, until such an exception is raised."""
    return _When(lambda e, v: not isinstance(e, exception_types), results=True)


def retry_if_exception_cause_type(
    exception_types: type[BaseException] | tuple[type[BaseException], ...] = Exception,
) -> _Retry:
    def caused(error: BaseException | None, value: object) -> bool:
        while error is not None:
            if isinstance(error.__cause__, exception_types):
                return True
            error = error.__cause__
        return False

    return _When(caused, results=False)


def retry_if_exception_message(message: str | None = None, match: str | None = None) -> _Retry:
    if (message is None) == (match is None):
        raise TypeError("retry_if_exception_message: give one of message= or match=")
    pattern = re.compile(match) if match is not None else None

    def said(error: BaseException | None, value: object) -> bool:
        if error is None:
            return False
        text = str(error)
        return text == message if pattern is None else pattern.match(text) is not None

    return _When(said, results=False)


def retry_if_not_exception_message(message: str | None = None, match: str | None = None) -> _Retry:
    said = retry_if_exception_message(message, match)
    return _When(lambda e, v: e is not None and not said.wants(e, v), results=False)


def retry_if_result(predicate: Callable[[Any], Any]) -> _Retry:
    """Retry a value ``predicate`` holds for (a coroutine function's may be async)."""
    return _When(lambda e, v: e is None and _then(predicate(v), bool), results=True)


def retry_if_not_result(predicate: Callable[[Any], Any]) -> _Retry:
    """Retry a value ``predicate`` does not hold for (a coroutine function's may be async)."""
    return _When(lambda e, v: e is None and _then(predicate(v), operator.not_), results=True)


def retry_any(*retries: _Retry) -> _Retry:
    found = [known("retry", r, _Retry) for r in retries]

    def test(e: BaseException | None, v: object) -> Verdict:
        return _fold([functools.partial(r.wants, e, v) for r in found], settles=True)

    return _When(test, any(r.results for r in found))


def retry_all(*retries: _Retry) -> _Retry:
    found = [known("retry", r, _Retry) for r in retries]

    def test(e: BaseException | None, v: object) -> Verdict:
        return _fold([functools.partial(r.wants, e, v) for r in found], settles=False)

    return _When(test, all(r.results for r in found))


retry_always = _When(lambda e, v: True, results=True)
retry_never = _When(lambda e, v: False, results=False)


def known(option: str, given: object, cls: type[Any]) -> Any:
    """``given`` if it is one of this module's strategies; else a TypeError saying why not."""
    if isinstance(given, cls):
        return given
    origin = getattr(type(given), "__module__", "") or ""
    if origin.split(".")[0] == "tenacity":
        name = type(given).__name__
        why = f"is tenacity's own object; import {name} from tether.compat.tenacity too"
    else:
        why = (
            "is not one of tenacity's strategies this adapter translates into a tether "
            "RetryPolicy (a function of the retry state cannot be)"
        )
    advice = {
        "stop": "stop_after_attempt(n) | stop_after_delay(s), "
        "or tether.RetryPolicy(attempts=, deadline=)",
        "wait": "wait_fixed, wait_random, wait_exponential, wait_random_exponential, wait_chain, "
        "wait_exponential_jitter, wait_incrementing, wait_exception and +",
        "retry": "retry_if_exception_type, retry_if_exception(predicate), retry_if_result "
        "and |, &, or tether.RetryPolicy(retry_if=predicate)",
    }[option]
    raise TypeError(f"{option}={given!r} {why}; use {advice}")


def judged(strategy: _Retry, error: BaseException | None, value: object) -> Verdict:
    """``strategy``'s answer for an attempt that raised ``error`` or returned ``value``
    (a value only asked of a strategy that looks at values)."""
    if error is None and not strategy.results:
        return False
    return strategy.wants(error, value)
