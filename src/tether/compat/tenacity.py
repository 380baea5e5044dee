"""tenacity's ``@retry``, run on tether's retry loop: ``from tether.compat.tenacity import ...``.

``@retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=1, max=10),
retry=retry_if_exception_type(IOError), before_sleep=before_sleep_log(log, logging.INFO))``
keeps its meaning: the same attempts, the same waits (random ones drawn from the
policy's ``rand``, in tenacity's order), the same callbacks given a ``RetryCallState``
with tenacity's attributes, ``RetryError`` with ``.last_attempt``, ``reraise`` and
``retry_error_callback``.  ``|`` and ``&`` combine retry conditions, ``|`` stop
conditions and ``+`` waits, as in tenacity.

What changes on purpose (see docs/migrating.md): without ``retry=``, tether's
classification decides what is worth a retry (tenacity retries every exception, a bug's
``KeyError`` included); ``stop_after_delay`` is tether's deadline, which starts no
attempt and no wait that would end past it (tenacity's ``stop_before_delay``); without a
``stop``, tether's 60 s deadline still ends the call; tether's retry budget and circuit
breaker stay on.  Give ``policy=tether.compat.UNGUARDED`` to switch those off.
A stop, wait or retry written as a function of the retry state cannot become a policy:
it is refused when the function is decorated, saying what to use instead.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import logging
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NoReturn

from tether._classify import classify
from tether._redact import redact_text
from tether._retry._hooks import RetryDetails
from tether._retry._loop import Call, Outcome
from tether._retry._policy import RetryPolicy
from tether.compat._core import (
    CURRENT,
    UNGUARDED,
    UNLIMITED,
    CallState,
    Later,
    Rejected,
    base_policy,
    current_error,
    hook,
    with_waits,
    worth_a_retry,
    wrap,
)
from tether.compat._core import reraise as _raised
from tether.compat._tenacity_retry import (
    _Retry,
    judged,
    known,
    retry_all,
    retry_always,
    retry_any,
    retry_if_exception,
    retry_if_exception_cause_type,
    retry_if_exception_message,
    retry_if_exception_type,
    retry_if_not_exception_message,
    retry_if_not_exception_type,
    retry_if_not_result,
    retry_if_result,
    retry_never,
    retry_unless_exception_type,
)

__all__ = [
    "UNGUARDED",
    "AsyncRetrying",
    "Future",
    "RetryCallState",
    "RetryError",
    "Retrying",
    "TryAgain",
    "after_log",
    "before_log",
    "before_sleep_log",
    "retry",
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
    "stop_after_attempt",
    "stop_after_delay",
    "stop_all",
    "stop_any",
    "stop_before_delay",
    "stop_never",
    "wait_chain",
    "wait_combine",
    "wait_exception",
    "wait_exponential",
    "wait_exponential_jitter",
    "wait_fixed",
    "wait_full_jitter",
    "wait_incrementing",
    "wait_none",
    "wait_random",
    "wait_random_exponential",
]

MAX_WAIT = 2**63 / 2
"""tenacity's "no maximum" (``sys.maxsize / 2``)."""

Time = float | int | timedelta


def _seconds(value: Time) -> float:
    return float(value.total_seconds() if isinstance(value, timedelta) else value)


# -- what the callbacks are given -------------------------------------------------------


class RetryError(Exception):
    """Raised when the stop condition ends a call whose last outcome was to be retried;
    ``last_attempt`` is its outcome (a ``Future``), as with tenacity."""

    def __init__(self, last_attempt: Future) -> None:
        self.last_attempt = last_attempt
        super().__init__(last_attempt)

    def reraise(self) -> NoReturn:
        if self.last_attempt.failed:
            raise self.last_attempt.result()
        raise self

    def __str__(self) -> str:
        return f"{self.__class__.__name__}[{self.last_attempt}]"


class TryAgain(Exception):
    """Raise it in the decorated function to retry whatever the ``retry`` condition says."""


class Future(concurrent.futures.Future[Any]):
    """One attempt's outcome, as tenacity's ``Future``."""

    def __init__(self, attempt_number: int) -> None:
        super().__init__()
        self.attempt_number = attempt_number

    @property
    def failed(self) -> bool:
        return self.exception() is not None

    @classmethod
    def of(cls, number: int, state: CallState) -> Future:
        made = cls(number)
        if state.error is not None:
            made.set_exception(state.error)
        else:
            made.set_result(state.value)
        return made


class RetryAction:
    """What comes next: a wait of ``sleep`` seconds."""

    def __init__(self, sleep: float) -> None:
        self.sleep = sleep


class RetryCallState:
    """What tenacity's callbacks are given: ``fn``, ``args``, ``kwargs``,
    ``attempt_number``, ``outcome``, ``next_action``, ``idle_for``,
    ``seconds_since_start``, ``start_time``, ``outcome_timestamp``."""

    def __init__(
        self, state: CallState, call: Call, attempt: int, *, done: bool, sleep: float | None
    ) -> None:
        self.retry_object = None
        self.fn = state.target
        self.args = state.args
        self.kwargs = state.kwargs
        self.attempt_number = attempt
        self.outcome = Future.of(attempt, state) if done else None
        self.next_action = None if sleep is None else RetryAction(sleep)
        self.idle_for = state.idle
        now = call.policy.clock()
        self.start_time = now - call.elapsed()
        self.outcome_timestamp = now if done else None

    @property
    def seconds_since_start(self) -> float | None:
        if self.outcome_timestamp is None:
            return None
        return self.outcome_timestamp - self.start_time

    def get_fn_name(self) -> str:
        fn = self.fn
        name = str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn)))
        module = getattr(fn, "__module__", None)
        return f"{module}.{name}" if module else name


# -- stop -------------------------------------------------------------------------------


class _Stop:
    """A stop condition as tether's limits: at most ``attempts``, within ``deadline``."""

    def __init__(self, attempts: int | None = None, deadline: float | None = None) -> None:
        self.attempts, self.deadline = attempts, deadline

    def __or__(self, other: object) -> _Stop:
        return stop_any(self, other)  # type: ignore[arg-type]

    def __and__(self, other: object) -> NoReturn:
        stop_all(self, other)


def stop_after_attempt(max_attempt_number: int) -> _Stop:
    """At most ``max_attempt_number`` attempts: tether's ``attempts``."""
    if not isinstance(max_attempt_number, int) or max_attempt_number < 1:
        raise TypeError(
            f"stop_after_attempt({max_attempt_number!r}): must be a whole number of 1 or more"
        )
    return _Stop(attempts=max_attempt_number)


def stop_after_delay(max_delay: Time) -> _Stop:
    """tether's ``deadline``: no attempt and no wait that would end past it."""
    return _Stop(deadline=_positive("stop_after_delay", max_delay))


def stop_before_delay(max_delay: Time) -> _Stop:
    """tether's ``deadline`` (which is what this always meant)."""
    return _Stop(deadline=_positive("stop_before_delay", max_delay))


def _positive(name: str, value: Time) -> float:
    seconds = _seconds(value)
    if not seconds > 0:
        raise TypeError(f"{name}({value!r}): must be more than 0 seconds")
    return seconds


stop_never = _Stop()


def stop_any(*stops: _Stop) -> _Stop:
    """Stop when any stops: the fewest attempts and the soonest deadline."""
    for stop in stops:
        known("stop", stop, _Stop)
    attempts = [s.attempts for s in stops if s.attempts is not None]
    deadlines = [s.deadline for s in stops if s.deadline is not None]
    return _Stop(min(attempts, default=None), min(deadlines, default=None))


def stop_all(*stops: object) -> NoReturn:
    """Refused: tether stops at the first of its limits, never only when all are reached."""
    raise TypeError(
        "stop_all (or stop & stop): tether stops at the first limit reached, attempts or "
        "deadline; give the one you mean, e.g. stop=stop_after_delay(10)"
    )


# -- wait -------------------------------------------------------------------------------


class _Wait:
    """A wait as a function of the attempt number that failed and a random source; with
    ``native`` the tether fields that give the same waits."""

    native: dict[str, Any] | None = None

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        raise NotImplementedError

    def __add__(self, other: object) -> _Wait:
        return wait_combine(self, other)  # type: ignore[arg-type]

    def __radd__(self, other: object) -> _Wait:
        if other == 0:  # sum([...]) starts from 0
            return self
        return wait_combine(other, self)  # type: ignore[arg-type]


class wait_fixed(_Wait):
    def __init__(self, wait: Time) -> None:
        self.wait = _seconds(wait)
        self.native = {"base": self.wait, "multiplier": 1, "cap": self.wait, "jitter": "none"}

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        return self.wait


class wait_none(wait_fixed):
    def __init__(self) -> None:
        super().__init__(0)


class wait_random(_Wait):
    def __init__(self, min: Time = 0, max: Time = 1) -> None:
        self.low, self.high = _seconds(min), _seconds(max)
        if self.low == 0:
            self.native = {"base": self.high, "multiplier": 1, "cap": self.high, "jitter": "full"}

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        return self.low + rand() * (self.high - self.low)


class wait_exponential(_Wait):
    """``multiplier * exp_base ** (n - 1)``, within ``min`` and ``max``: without ``min``,
    tether's ``base``, ``multiplier`` and ``cap`` with ``jitter="none"``."""

    jitter = "none"

    def __init__(
        self,
        multiplier: float = 1,
        max: Time = MAX_WAIT,
        exp_base: float = 2,
        min: Time = 0,
    ) -> None:
        self.multiplier, self.exp_base = multiplier, exp_base
        self.low, self.high = _seconds(min), _seconds(max)
        if self.low == 0 and exp_base >= 1 and multiplier >= 0 and self.high >= 0:
            self.native = {
                "base": multiplier,
                "multiplier": exp_base,
                "cap": self.high,
                "jitter": self.jitter,
            }

    def _expo(self, attempt: int) -> float:
        try:
            result = self.multiplier * self.exp_base ** (attempt - 1)
        except OverflowError:
            return self.high
        return max(0, self.low, min(result, self.high))

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        return self._expo(attempt)


class wait_random_exponential(wait_exponential):
    """A wait between ``min`` and :class:`wait_exponential`'s: tether's full jitter."""

    jitter = "full"

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        high = self._expo(attempt)
        return self.low + (high - self.low) * rand()


wait_full_jitter = wait_random_exponential


class wait_exponential_jitter(_Wait):
    def __init__(
        self,
        initial: float = 1,
        max: Time = MAX_WAIT,
        exp_base: float = 2,
        jitter: Time = 1,
        min: Time = 0,
        multiplier: float = 1,
    ) -> None:
        self.multiplier = initial if initial != 1 else multiplier
        self.high, self.exp_base = _seconds(max), exp_base
        self.jitter, self.low = _seconds(jitter), _seconds(min)

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        jitter = self.jitter * rand()
        try:
            result = self.multiplier * self.exp_base ** (attempt - 1) + jitter
        except OverflowError:
            result = self.high
        return max(0, self.low, min(result, self.high))


class wait_incrementing(_Wait):
    def __init__(self, start: Time = 0, increment: Time = 100, max: Time = MAX_WAIT) -> None:
        self.start, self.increment, self.high = _seconds(start), _seconds(increment), _seconds(max)

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        return max(0, min(self.start + self.increment * (attempt - 1), self.high))


class wait_combine(_Wait):
    def __init__(self, *strategies: _Wait) -> None:
        self.strategies = [known("wait", s, _Wait) for s in strategies]

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        return float(sum(s.delay(attempt, rand) for s in self.strategies))


class wait_chain(_Wait):
    """The n-th strategy after the n-th attempt, the last one thereafter."""

    def __init__(self, *strategies: _Wait) -> None:
        if not strategies:
            raise ValueError("wait_chain() requires at least one strategy")
        self.strategies = [known("wait", s, _Wait) for s in strategies]

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        chosen: _Wait = self.strategies[min(max(attempt, 1), len(self.strategies)) - 1]
        return chosen.delay(attempt, rand)


class wait_exception(_Wait):
    """``predicate(exception)`` seconds."""

    def __init__(self, predicate: Callable[[BaseException], float]) -> None:
        self.predicate = predicate

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        error = current_error()
        if error is None:
            raise RuntimeError("wait_exception: the attempt raised no exception")
        return self.predicate(error)


# -- retry: tenacity's strategies, in _tenacity_retry.py ---------------------------------

# -- logging callbacks, as tenacity's -----------------------------------------------------


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def before_log(logger: logging.Logger, log_level: int) -> Callable[[RetryCallState], None]:
    def log_it(retry_state: RetryCallState) -> None:
        logger.log(
            log_level,
            f"Starting call to '{retry_state.get_fn_name()}', "
            f"this is the {_ordinal(retry_state.attempt_number)} time calling it.",
        )

    return log_it


def after_log(
    logger: logging.Logger, log_level: int, sec_format: str = "%.3g"
) -> Callable[[RetryCallState], None]:
    def log_it(retry_state: RetryCallState) -> None:
        secs = retry_state.seconds_since_start
        logger.log(
            log_level,
            f"Finished call to '{retry_state.get_fn_name()}' "
            f"after {sec_format % secs if secs is not None else '?'}(s), "
            f"this was the {_ordinal(retry_state.attempt_number)} time calling it.",
        )

    return log_it


def before_sleep_log(
    logger: logging.Logger, log_level: int, exc_info: bool = False, sec_format: str = "%.3g"
) -> Callable[[RetryCallState], None]:
    def log_it(retry_state: RetryCallState) -> None:
        assert retry_state.outcome is not None
        assert retry_state.next_action is not None
        error = retry_state.outcome.exception()
        if error is not None:
            verb, value = "raised", f"{error.__class__.__name__}: {error}"
        else:
            verb, value = "returned", retry_state.outcome.result()
        msg = (
            f"Retrying {retry_state.get_fn_name()} "
            f"in {sec_format % retry_state.next_action.sleep} seconds as it {verb} {value}."
        )
        if exc_info and error is not None:
            tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            msg = f"{msg}\n{tb.rstrip()}"
        logger.log(log_level, redact_text(msg))  # an error may name a URL's credentials

    return log_it


# -- the decorator ----------------------------------------------------------------------


def Retrying(*args: object, **kwargs: object) -> NoReturn:
    """Refused: the adapter translates the ``@retry`` decorator only."""
    raise TypeError(
        "tether.compat.tenacity translates @retry only, not the Retrying loop object: "
        "decorate a function with @retry(...), or with @tether.retry(policy=...)"
    )


AsyncRetrying = Retrying

_OPTIONS = frozenset(
    {
        "sleep",
        "stop",
        "wait",
        "retry",
        "before",
        "after",
        "before_sleep",
        "reraise",
        "retry_error_cls",
        "retry_error_callback",
        "policy",
    }
)


def retry(*dargs: Any, **dkw: Any) -> Any:
    """tenacity's ``@retry`` and ``@retry(...)``, on tether's loop.

    ``policy``: the tether policy to start from (default ``RetryPolicy()``); its fields
    that tenacity's options set are replaced, the rest (budget, breaker, deadline when no
    ``stop_after_delay`` is given, hooks, ``clock``, ``rand``) kept.
    """
    if len(dargs) == 1 and callable(dargs[0]) and not dkw:
        return retry()(dargs[0])
    if dargs:
        raise TypeError(f"retry() takes keyword arguments only, not {dargs!r}")
    unknown = sorted(set(dkw) - _OPTIONS)
    if unknown:
        raise TypeError(
            f"retry(): {', '.join(unknown)} is not an option tether.compat.tenacity translates "
            f"(it takes {', '.join(sorted(_OPTIONS))})"
        )

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        wrapped: Any = _decorate(f, **dkw)
        wrapped.retry_with = lambda **changes: retry(**{**dkw, **changes})(f)
        return wrapped  # type: ignore[no-any-return]

    return decorate


def _retry_if(strategy: _Retry | None, base: RetryPolicy) -> Callable[[BaseException], bool]:
    """The policy's ``retry_if``: ``retry=``'s verdict on the attempt (judged, and awaited
    for a coroutine function, when the attempt ended), else tether's classification."""

    def retry_if(error: BaseException) -> bool:
        if isinstance(error, (Rejected, TryAgain)):
            return True
        if strategy is not None:
            state = CURRENT.get(None)
            if state is not None and state.error is error:
                return bool(state.verdict)
            found = strategy.wants(error, None)
            if inspect.isawaitable(found):  # not the attempt's own: it cannot be awaited here
                close = getattr(found, "close", None)
                if close is not None:
                    close()
                return False
            return bool(found)
        if base.retry_if is not None:
            return base.retry_if(error)
        return worth_a_retry(base, classify(error))

    return retry_if


def _decorate(
    f: Callable[..., Any],
    *,
    sleep: Callable[[float], Any] | None = None,
    stop: _Stop = stop_never,
    wait: _Wait | None = None,
    retry: _Retry | None = None,
    before: Callable[[RetryCallState], object] | None = None,
    after: Callable[[RetryCallState], object] | None = None,
    before_sleep: Callable[[RetryCallState], object] | None = None,
    reraise: bool = False,
    retry_error_cls: type[RetryError] = RetryError,
    retry_error_callback: Callable[[RetryCallState], Any] | None = None,
    policy: RetryPolicy | None = None,
) -> Any:
    stop = known("stop", stop, _Stop)
    wait = known("wait", wait if wait is not None else wait_none(), _Wait)
    strategy = known("retry", retry, _Retry) if retry is not None else None
    for name, given in (
        ("before", before),
        ("after", after),
        ("before_sleep", before_sleep),
        ("retry_error_callback", retry_error_callback),
        ("sleep", sleep),
    ):
        if given is not None and not callable(given):
            raise TypeError(f"{name}={given!r}: must be a callable")
    base = base_policy(policy)
    coroutine = inspect.iscoroutinefunction(f)
    retry_if = _retry_if(strategy, base)

    def on_retry(state: CallState, d: RetryDetails) -> None:
        assert state.call is not None
        if after is not None:
            state.run(after, RetryCallState(state, state.call, d.attempt, done=True, sleep=None))
        if before_sleep is not None:
            retry_state = RetryCallState(state, state.call, d.attempt, done=True, sleep=d.delay)
            state.run(before_sleep, retry_state)

    changes: dict[str, Any] = {
        "attempts": stop.attempts if stop.attempts is not None else UNLIMITED,
        "deadline": stop.deadline if stop.deadline is not None else base.deadline,
        "retry_if": retry_if,
        "on_retry": hook(on_retry, base.on_retry),
        **(wait.native or {}),
    }
    if sleep is not None:
        changes["async_sleep" if coroutine else "sleep"] = sleep
    chosen = base.replace(**changes)
    if wait.native is None:
        chosen = with_waits(chosen, wait.delay)

    def before_attempt(state: CallState) -> None:
        assert before is not None
        assert state.call is not None
        state.run(
            before, RetryCallState(state, state.call, state.call.made, done=False, sleep=None)
        )

    def finish(state: CallState, call: Call, outcome: Outcome[Any]) -> tuple[bool, Any]:
        if outcome.failure is None:
            return True, outcome.response
        error = outcome.error
        if error is None:
            return False, _raised(call, outcome)
        if not retry_if(error):
            return False, _raised(call, outcome)
        if isinstance(error, Rejected):
            state.error, state.value = None, error.value
        retry_state = RetryCallState(state, call, call.made, done=True, sleep=None)
        if after is not None:
            state.run(after, retry_state)
        if retry_error_callback is not None:
            return True, Later(retry_error_callback(retry_state))
        if reraise and state.error is not None:
            return False, _raised(call, outcome)
        made = retry_error_cls(retry_state.outcome)  # type: ignore[arg-type]
        made.__cause__ = state.error
        return False, made

    return wrap(
        f,
        chosen,
        finish=finish,
        rejects=(lambda v: bool(CURRENT.get().verdict))
        if strategy is not None and strategy.results
        else None,
        before=before_attempt if before is not None else None,
        judge=functools.partial(judged, strategy) if strategy is not None else None,
        judged="retry=",
    )


_ = UNGUARDED  # re-exported: tether.compat.tenacity.UNGUARDED
