"""backoff's decorators, run on tether's retry loop: ``from tether.compat import backoff``.

``@backoff.on_exception(backoff.expo, requests.exceptions.RequestException,
max_tries=8)`` and ``@backoff.on_predicate(backoff.fibo, max_value=13)`` keep their
meaning: the same waits (drawn from the policy's ``rand``), the same handlers with the
same ``details`` keys, the same logger and messages, and ``raise_on_giveup``.  What
changes on purpose (see docs/migrating.md): ``max_time`` is tether's deadline, which
never starts a wait that would end past it, and no ``max_time`` means tether's 60 s
deadline rather than none; tether's retry budget and circuit breaker stay on.  Give
``policy=tether.compat.UNGUARDED`` (or any :class:`~tether.RetryPolicy` to start from)
to switch those off; the policy's ``sleep``, ``clock`` and ``rand`` are how a test
injects time.
"""

from __future__ import annotations

import logging
import math
import operator
import random
import traceback
import warnings
from collections.abc import Callable, Generator, Iterable
from itertools import repeat
from typing import Any

from tether._redact import redact_text
from tether._retry._hooks import RetryDetails
from tether._retry._loop import Call, Outcome
from tether._retry._policy import RetryPolicy
from tether.compat._core import (
    CURRENT,
    UNGUARDED,
    UNLIMITED,
    CallState,
    Rejected,
    base_policy,
    check_handlers,
    hook,
    reraise,
    with_waits,
    wrap,
)

__all__ = [
    "UNGUARDED",
    "constant",
    "decay",
    "expo",
    "fibo",
    "full_jitter",
    "on_exception",
    "on_predicate",
    "random_jitter",
    "runtime",
]

Waits = Generator[float, Any, None]


# -- wait generators, as backoff's: primed with one send(None), then one value per retry --


def expo(base: float = 2, factor: float = 1, max_value: float | None = None) -> Waits:
    """``factor * base ** n`` for n = 0, 1, ..., then ``max_value`` once it is reached."""
    yield  # type: ignore[misc]
    n = 0
    while True:
        a = factor * base**n
        if max_value is None or a < max_value:
            yield a
            n += 1
        else:
            yield max_value


def decay(
    initial_value: float = 1, decay_factor: float = 1, min_value: float | None = None
) -> Waits:
    """``initial_value * e ** (-t * decay_factor)``, never below ``min_value``."""
    yield  # type: ignore[misc]
    t = 0
    while True:
        a = initial_value * math.e ** (-t * decay_factor)
        if min_value is None or a > min_value:
            yield a
            t += 1
        else:
            yield min_value


def fibo(max_value: float | None = None) -> Waits:
    """1, 1, 2, 3, 5, ..., then ``max_value`` once it is reached."""
    yield  # type: ignore[misc]
    a, b = 1, 1
    while True:
        if max_value is None or a < max_value:
            yield a
            a, b = b, a + b
        else:
            yield max_value


def constant(interval: float | Iterable[float] = 1) -> Waits:
    """``interval`` each time, or each value of an iterable in turn (then give up)."""
    yield  # type: ignore[misc]
    values = repeat(interval) if isinstance(interval, (int, float)) else iter(interval)
    # Not `yield from`: that would pass backoff's send(outcome) on to a plain iterator.
    for value in values:  # noqa: UP028
        yield value


def runtime(*, value: Callable[[Any], float]) -> Waits:
    """``value(x)``, x the return value or exception of the attempt that failed."""
    given = yield  # type: ignore[misc]
    while True:
        given = yield value(given)


def full_jitter(value: float) -> float:
    """A wait between 0 and ``value`` (AWS's "Full Jitter").  In a decorator it is drawn
    from the policy's ``rand``, as tether's ``jitter="full"``."""
    return random.uniform(0, value)


def random_jitter(value: float) -> float:
    """``value`` plus up to one second (backoff before 1.2)."""
    return value + random.random()


# -- the decorators ---------------------------------------------------------------------

# backoff's own habit, kept: its logger prints nothing until the application says where.
logging.getLogger("backoff").addHandler(logging.NullHandler())


def on_exception(
    wait_gen: Callable[..., Waits],
    exception: type[BaseException] | tuple[type[BaseException], ...],
    *,
    max_tries: int | Callable[[], int] | None = None,
    max_time: float | Callable[[], float] | None = None,
    jitter: Callable[[float], float] | None = full_jitter,
    giveup: Callable[[Exception], Any] = lambda e: False,
    on_success: Any = None,
    on_backoff: Any = None,
    on_giveup: Any = None,
    raise_on_giveup: bool = True,
    logger: str | logging.Logger | logging.LoggerAdapter[Any] | None = "backoff",
    backoff_log_level: int = logging.INFO,
    giveup_log_level: int = logging.ERROR,
    policy: RetryPolicy | None = None,
    **wait_gen_kwargs: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Retry while the function raises ``exception`` (and ``giveup(e)`` is false; a
    coroutine function's ``giveup`` may be a coroutine function, awaited as backoff does).

    An exception of another type is raised at once, as with backoff.  ``policy`` is the
    tether policy to start from (default ``RetryPolicy()``); the rest is backoff's.
    """
    types = exception if isinstance(exception, tuple) else (exception,)
    if not types or not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
        raise TypeError(
            f"on_exception(exception={exception!r}): give an exception type or a tuple of them"
        )
    if not callable(giveup):
        raise TypeError(f"on_exception(giveup={giveup!r}): must be a predicate of the exception")

    def judge(error: BaseException | None, value: object) -> object:
        """``giveup(e)`` for an exception it is asked of (awaited by the wrapper)."""
        return isinstance(error, types) and giveup(error)  # type: ignore[arg-type]

    def retry_if(error: BaseException) -> bool:
        state = CURRENT.get(None)
        given_up = state.verdict if state is not None else judge(error, None)
        return isinstance(error, types) and not given_up

    def decorate(target: Callable[..., Any]) -> Callable[..., Any]:
        check_handlers("giveup", giveup, target)
        handlers = _Handlers(
            target,
            on_success,
            on_backoff,
            on_giveup,
            logger,
            backoff_log_level,
            giveup_log_level,
            key="exception",
        )

        def finish(state: CallState, call: Call, outcome: Outcome[Any]) -> tuple[bool, Any]:
            if outcome.failure is None:
                handlers.success(state, call)
                return True, outcome.response
            error = outcome.error
            if isinstance(error, types):
                handlers.giveup(state, call, error)
                if not raise_on_giveup:
                    return True, None
            return False, reraise(call, outcome)

        return _decorate(
            target,
            wait_gen,
            wait_gen_kwargs,
            jitter,
            max_tries,
            max_time,
            policy,
            retry_if,
            None,
            handlers,
            finish,
            judge,
        )

    return decorate


def on_predicate(
    wait_gen: Callable[..., Waits],
    predicate: Callable[[Any], Any] = operator.not_,
    *,
    max_tries: int | Callable[[], int] | None = None,
    max_time: float | Callable[[], float] | None = None,
    jitter: Callable[[float], float] | None = full_jitter,
    on_success: Any = None,
    on_backoff: Any = None,
    on_giveup: Any = None,
    logger: str | logging.Logger | logging.LoggerAdapter[Any] | None = "backoff",
    backoff_log_level: int = logging.INFO,
    giveup_log_level: int = logging.ERROR,
    policy: RetryPolicy | None = None,
    **wait_gen_kwargs: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Retry while ``predicate(return value)`` is true (default: the value is falsy).

    When it gives up the last value is returned; an exception is raised at once.
    """
    if not callable(predicate):
        raise TypeError(f"on_predicate(predicate={predicate!r}): must be a callable")

    def retry_if(error: BaseException) -> bool:
        return isinstance(error, Rejected)

    def decorate(target: Callable[..., Any]) -> Callable[..., Any]:
        handlers = _Handlers(
            target,
            on_success,
            on_backoff,
            on_giveup,
            logger,
            backoff_log_level,
            giveup_log_level,
            key="value",
        )

        def finish(state: CallState, call: Call, outcome: Outcome[Any]) -> tuple[bool, Any]:
            if outcome.failure is None:
                handlers.success(state, call, value=outcome.response)
                return True, outcome.response
            if isinstance(outcome.error, Rejected):
                handlers.giveup(state, call, outcome.error.value)
                return True, outcome.error.value
            return False, reraise(call, outcome)

        return _decorate(
            target,
            wait_gen,
            wait_gen_kwargs,
            jitter,
            max_tries,
            max_time,
            policy,
            retry_if,
            lambda v: bool(predicate(v)),
            handlers,
            finish,
            None,
        )

    return decorate


def _decorate(
    target: Callable[..., Any],
    wait_gen: Callable[..., Waits],
    wait_gen_kwargs: dict[str, Any],
    jitter: Callable[[float], float] | None,
    max_tries: int | Callable[[], int] | None,
    max_time: float | Callable[[], float] | None,
    policy: RetryPolicy | None,
    retry_if: Callable[[BaseException], bool],
    rejects: Callable[[Any], bool] | None,
    handlers: _Handlers,
    finish: Any,
    judge: Callable[[BaseException | None, Any], object] | None,
) -> Callable[..., Any]:
    if not callable(wait_gen):
        raise TypeError(f"wait_gen={wait_gen!r}: must be a generator function such as backoff.expo")
    if jitter is not None and not callable(jitter):
        raise TypeError(f"jitter={jitter!r}: must be a function of the wait, or None")
    base = base_policy(policy)
    limits = {} if callable(max_tries) or callable(max_time) else _limits(max_tries, max_time, base)
    translated = _translate(wait_gen, wait_gen_kwargs, jitter)
    chosen = base.replace(
        **limits,
        retry_if=retry_if,
        on_retry=hook(handlers.backoff, base.on_retry),
        **(translated or {}),
    )
    if translated is None:
        chosen = with_waits(chosen, _generated(wait_gen, wait_gen_kwargs, jitter))

    def policy_for() -> RetryPolicy:
        tries = max_tries() if callable(max_tries) else max_tries
        time = max_time() if callable(max_time) else max_time
        return chosen.replace(**_limits(tries, time, base))

    dynamic = callable(max_tries) or callable(max_time)
    return wrap(
        target,
        chosen,
        finish=finish,
        rejects=rejects,
        policy_for=policy_for if dynamic else None,
        judge=judge,
        judged="giveup",
    )


def _limits(max_tries: int | None, max_time: float | None, base: RetryPolicy) -> dict[str, Any]:
    """``attempts`` and ``deadline`` for backoff's ``max_tries`` and ``max_time``."""
    if max_tries is not None and (not isinstance(max_tries, int) or max_tries < 1):
        raise TypeError(f"max_tries={max_tries!r}: must be a whole number of 1 or more, or None")
    if max_time is not None and (not isinstance(max_time, (int, float)) or max_time <= 0):
        raise TypeError(f"max_time={max_time!r}: must be a number of seconds more than 0, or None")
    return {
        "attempts": UNLIMITED if max_tries is None else max_tries,
        "deadline": base.deadline if max_time is None else float(max_time),
    }


def _translate(
    wait_gen: Callable[..., Waits], kwargs: dict[str, Any], jitter: Callable[[float], float] | None
) -> dict[str, Any] | None:
    """tether's own backoff fields for ``expo`` and ``constant`` with full or no jitter,
    which compute the same waits; None for what they cannot express."""
    if jitter not in (full_jitter, None) or any(callable(v) for v in kwargs.values()):
        return None
    mode = "full" if jitter is full_jitter else "none"
    try:
        if wait_gen is expo:
            given = {"base": 2, "factor": 1, "max_value": None, **kwargs}
            if set(given) != {"base", "factor", "max_value"} or given["base"] < 1:
                return None
            cap = math.inf if given["max_value"] is None else given["max_value"]
            return {
                "base": given["factor"],
                "multiplier": given["base"],
                "cap": cap,
                "jitter": mode,
            }
        if wait_gen is constant:
            interval = kwargs.get("interval", 1)
            if set(kwargs) - {"interval"} or not isinstance(interval, (int, float)):
                return None
            return {"base": interval, "multiplier": 1, "cap": interval, "jitter": mode}
    except TypeError:
        return None
    return None


def _generated(
    wait_gen: Callable[..., Waits], kwargs: dict[str, Any], jitter: Callable[[float], float] | None
) -> Callable[[int, Callable[[], float]], float]:
    """Waits from a generator made for each call, sent each failed attempt's outcome,
    as backoff does; when it runs out the call ends."""

    def wait(retry: int, rand: Callable[[], float]) -> float:
        from tether.compat._core import CURRENT

        state = CURRENT.get()
        if state.waits is None:
            state.waits = wait_gen(**{k: _maybe_call(v) for k, v in kwargs.items()})
            state.waits.send(None)
        try:
            value = state.waits.send(state.error if state.error is not None else state.value)
        except StopIteration:
            return math.inf  # no wait left: past any deadline, so the call ends
        if jitter is full_jitter:
            return float(value) * rand()
        if jitter is random_jitter:
            return float(value) + rand()
        if jitter is None:
            return float(value)
        try:
            return float(jitter(value))
        except TypeError:
            # backoff before 1.2 called jitter(); backoff still does, with this warning.
            warnings.warn(
                "Nullary jitter function signature is deprecated. Use unary signature "
                "accepting a wait value in seconds and returning a jittered version of it.",
                DeprecationWarning,
                stacklevel=2,
            )
            return float(value) + float(jitter())  # type: ignore[call-arg]

    return wait


def _maybe_call(value: Any) -> Any:
    """backoff's rule for a generator's keyword: a callable is called for its value, unless
    it needs arguments (``runtime``'s ``value=``), when it is itself the value."""
    if callable(value):
        try:
            return value()
        except TypeError:
            return value
    return value


class _Handlers:
    """backoff's handlers and default log lines, given its ``details`` dicts."""

    def __init__(
        self,
        target: Callable[..., Any],
        on_success: Any,
        on_backoff: Any,
        on_giveup: Any,
        logger: Any,
        backoff_level: int,
        giveup_level: int,
        *,
        key: str,
    ) -> None:
        self.key = key
        self.on_success = check_handlers("on_success", on_success, target)
        self.on_backoff = check_handlers("on_backoff", on_backoff, target)
        self.on_giveup = check_handlers("on_giveup", on_giveup, target)
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.levels = backoff_level, giveup_level

    def _details(self, state: CallState, tries: int, elapsed: float) -> dict[str, Any]:
        return {
            "target": state.target,
            "args": state.args,
            "kwargs": state.kwargs,
            "tries": tries,
            "elapsed": elapsed,
        }

    def _outcome(self, state: CallState) -> Any:
        return state.error if self.key == "exception" else state.value

    def backoff(self, state: CallState, d: RetryDetails) -> None:
        details = self._details(state, d.attempt, d.elapsed)
        details["wait"] = d.delay
        details[self.key] = self._outcome(state)
        if self.logger is not None:
            self.logger.log(
                self.levels[0],
                "Backing off %s(...) for %.1fs (%s)",
                getattr(state.target, "__name__", repr(state.target)),
                d.delay,
                _describe(details[self.key], self.key),
            )
        for handler in self.on_backoff:
            state.run(handler, details)

    def giveup(self, state: CallState, call: Call, outcome: Any) -> None:
        details = self._details(state, call.made, call.elapsed())
        details[self.key] = outcome
        if self.logger is not None:
            self.logger.log(
                self.levels[1],
                "Giving up %s(...) after %d tries (%s)",
                getattr(state.target, "__name__", repr(state.target)),
                call.made,
                _describe(outcome, self.key),
            )
        for handler in self.on_giveup:
            state.run(handler, details)

    def success(self, state: CallState, call: Call, **value: Any) -> None:
        details = {**self._details(state, call.made, call.elapsed()), **value}
        for handler in self.on_success:
            state.run(handler, details)


def _describe(outcome: Any, key: str) -> Any:
    """What backoff's log line says of the outcome, credentials redacted (a requests
    error names its URL, user:password@ and secret query values included)."""
    if key == "exception" and isinstance(outcome, BaseException):
        return redact_text(traceback.format_exception_only(type(outcome), outcome)[-1].rstrip("\n"))
    return outcome


_ = UNGUARDED  # re-exported: backoff.UNGUARDED reads naturally beside backoff.expo
