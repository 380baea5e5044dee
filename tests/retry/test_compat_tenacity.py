"""``tether.compat.tenacity``: tenacity's own documented examples, beside tenacity itself.

Each spec from tenacity's docs runs twice, through the real tenacity (installed for
these tests) and through the adapter, on the same failing function, with sleep injected
and random waits drawn from the same seed: the attempts, waits, exceptions, callbacks
and log lines must match.  The adapter starts from ``UNGUARDED`` where a test compares
exact behaviour; where tether differs on purpose, the test says so.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import pytest
import requests
import tenacity
from hypothesis import given
from hypothesis import strategies as st

import tether
import tether.testing
from tests.helpers.fakes import FakeClock
from tether.compat import UNGUARDED
from tether.compat import tenacity as compat
from tether.lab import Lab


class MyException(Exception):
    pass


def side_by_side(body: Any, seed: int = 7, **spec: Any) -> tuple[Any, Any]:
    """Run ``body`` under ``spec`` built from tenacity and from the adapter; for each, the
    calls made, the sleeps and what it raised or returned."""
    results = []
    for lib in (tenacity, compat):
        sleeps: list[float] = []
        calls: list[int] = []
        built = {k: (v(lib) if callable(v) else v) for k, v in spec.items()}
        extra = (
            {"policy": UNGUARDED.replace(rand=random.Random(seed).random)} if lib is compat else {}
        )

        def fn(calls: list[int] = calls) -> Any:
            calls.append(1)
            return body(len(calls))

        decorated = lib.retry(sleep=sleeps.append, **built, **extra)(fn)
        random.seed(seed)
        try:
            outcome: Any = ("returned", decorated())
        except BaseException as exc:
            outcome = ("raised", type(exc).__name__, str(getattr(exc, "last_attempt", exc)) != "")
        results.append((len(calls), sleeps, outcome))
    return results[0], results[1]


def failing(n: int) -> Any:
    raise Exception


DOC_SPECS = {
    "stop_after_attempt(7)": {"stop": lambda t: t.stop_after_attempt(7)},
    "wait_fixed(2)": {"wait": lambda t: t.wait_fixed(2)},
    "wait_random(min=1, max=2)": {"wait": lambda t: t.wait_random(min=1, max=2)},
    "wait_exponential(multiplier=1, min=4, max=10)": {
        "wait": lambda t: t.wait_exponential(multiplier=1, min=4, max=10)
    },
    "wait_fixed(3) + wait_random(0, 2)": {"wait": lambda t: t.wait_fixed(3) + t.wait_random(0, 2)},
    "wait_random_exponential(multiplier=1, max=60)": {
        "wait": lambda t: t.wait_random_exponential(multiplier=1, max=60)
    },
    "wait_chain": {
        "wait": lambda t: t.wait_chain(
            *[t.wait_fixed(3) for i in range(3)]
            + [t.wait_fixed(7) for i in range(2)]
            + [t.wait_fixed(9)]
        )
    },
    "wait_random_exponential(min=2)": {
        "wait": lambda t: t.wait_random_exponential(multiplier=1, max=60, min=2)
    },
    "wait_exponential_jitter()": {"wait": lambda t: t.wait_exponential_jitter(max=30)},
    "wait_incrementing(1, 2, 6)": {"wait": lambda t: t.wait_incrementing(1, 2, 6)},
    "sum of waits": {"wait": lambda t: sum([t.wait_fixed(1), t.wait_random(0, 1)])},
}


@pytest.mark.parametrize("name", list(DOC_SPECS))
def test_docs_wait_and_stop_examples_match_tenacity(name: str) -> None:
    """Each example of tenacity's "Stopping" and "Waiting before retrying": the same
    attempts and the same waits as tenacity, then RetryError."""
    spec = {
        "stop": lambda t: t.stop_after_attempt(9),
        "retry": lambda t: t.retry_if_exception_type(),
        **DOC_SPECS[name],
    }
    theirs, ours = side_by_side(failing, **spec)
    assert ours == theirs
    assert ours[2][:2] == ("raised", "RetryError")
    assert len(ours[1]) == ours[0] - 1


def test_retry_if_exception_type_matches_tenacity() -> None:
    """ "Whether to retry": retry_if_exception_type(IOError) retries IOError; any other
    exception is raised at once, itself, not as RetryError."""

    def body(n: int) -> Any:
        raise OSError("io") if n < 3 else MyException("other")

    theirs, ours = side_by_side(body, retry=lambda t: t.retry_if_exception_type(IOError))
    assert ours == theirs == (3, [0, 0], ("raised", "MyException", True))


def test_retry_if_not_exception_type_matches_tenacity() -> None:
    """retry_if_not_exception_type(ClientError): ClientError is raised at once."""

    class ClientError(Exception):
        pass

    def body(n: int) -> Any:
        raise KeyError(n) if n < 4 else ClientError

    theirs, ours = side_by_side(body, retry=lambda t: t.retry_if_not_exception_type(ClientError))
    assert ours == theirs == (4, [0, 0, 0], ("raised", "ClientError", False))


def test_retry_if_result_and_combinations_match_tenacity() -> None:
    """retry_if_result(is_none_p), alone and | retry_if_exception_type(): None is
    retried, the value returned once it is not None."""

    def body(n: int) -> Any:
        if n == 2:
            raise ValueError
        return None if n < 4 else "value"

    for retry in (
        lambda t: t.retry_if_result(lambda v: v is None) | t.retry_if_exception_type(),
        lambda t: t.retry_any(t.retry_if_result(lambda v: v is None), t.retry_if_exception_type()),
    ):
        theirs, ours = side_by_side(body, retry=retry, wait=lambda t: t.wait_fixed(1))
        assert ours == theirs == (4, [1, 1, 1], ("returned", "value"))
    theirs, ours = side_by_side(
        lambda n: None,
        retry=lambda t: t.retry_if_result(lambda v: v is None),
        stop=lambda t: t.stop_after_attempt(3),
    )
    assert ours == theirs == (3, [0, 0], ("raised", "RetryError", True))


def test_retry_all_and_messages_match_tenacity() -> None:
    """retry_if_exception_message(match=...) & retry_if_exception_type: both must hold."""

    def body(n: int) -> Any:
        raise ValueError("try again") if n < 3 else ValueError("fatal")

    theirs, ours = side_by_side(
        body,
        retry=lambda t: (
            t.retry_if_exception_message(match="try") & t.retry_if_exception_type(ValueError)
        ),
    )
    assert ours == theirs == (3, [0, 0], ("raised", "ValueError", True))


def test_try_again_matches_tenacity() -> None:
    """Raising TryAgain retries whatever the retry condition says."""
    for lib in (tenacity, compat):
        calls: list[Any] = []
        extra = {"policy": UNGUARDED} if lib is compat else {}

        @lib.retry(retry=lib.retry_if_exception_type(KeyError), sleep=lambda s: None, **extra)
        def do_something(calls: list[int] = calls, lib: Any = lib) -> int:
            calls.append(1)
            if len(calls) < 3:
                raise lib.TryAgain
            return len(calls)

        assert do_something() == 3


def test_reraise_true_raises_the_exception_itself() -> None:
    """ "Error Handling": reraise=True with stop_after_attempt(3) raises MyException."""
    calls = []

    @compat.retry(
        reraise=True,
        stop=compat.stop_after_attempt(3),
        retry=compat.retry_if_exception_type(),
        sleep=lambda s: None,
    )
    def raise_my_exception() -> None:
        calls.append(1)
        raise MyException("Fail")

    with pytest.raises(MyException):
        raise_my_exception()
    assert len(calls) == 3


def test_retry_error_carries_the_last_attempt() -> None:
    """RetryError.last_attempt is a Future with attempt_number, failed, exception(); the
    exception is the RetryError's cause, and reraise() raises it."""

    @compat.retry(
        stop=compat.stop_after_attempt(2),
        retry=compat.retry_if_exception_type(),
        sleep=lambda s: None,
    )
    def fail() -> None:
        raise MyException("Fail")

    with pytest.raises(compat.RetryError) as caught:
        fail()
    last = caught.value.last_attempt
    assert (last.attempt_number, last.failed) == (2, True)
    assert isinstance(last.exception(), MyException)
    assert caught.value.__cause__ is last.exception()
    assert str(caught.value).startswith("RetryError[<Future at")
    with pytest.raises(MyException):
        caught.value.reraise()


def test_retry_error_callback_returns_the_last_value() -> None:
    """ "Custom Callbacks": return_last_value after 3 tries of eventually_return_false."""

    def return_last_value(retry_state: Any) -> Any:
        return retry_state.outcome.result()

    for lib in (tenacity, compat):
        calls: list[Any] = []

        @lib.retry(
            stop=lib.stop_after_attempt(3),
            retry_error_callback=return_last_value,
            retry=lib.retry_if_result(lambda v: v is False),
            sleep=lambda s: None,
        )
        def eventually_return_false(calls: list[int] = calls) -> bool:
            calls.append(1)
            return False

        assert eventually_return_false() is False
        assert len(calls) == 3


def test_before_after_and_before_sleep_log_lines_match_tenacity(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """before_log, after_log and before_sleep_log write tenacity's lines, word for word
    (after_log's seconds aside, which are real time in tenacity)."""
    logger = logging.getLogger("tests.compat")
    lines = []
    for lib in (tenacity, compat):
        caplog.clear()

        def raise_my_exception() -> None:
            raise MyException("Fail")

        extra = {"policy": UNGUARDED} if lib is compat else {}
        decorated = lib.retry(
            stop=lib.stop_after_attempt(3),
            retry=lib.retry_if_exception_type(),
            wait=lib.wait_fixed(0.5),
            sleep=lambda s: None,
            before=lib.before_log(logger, logging.DEBUG),
            after=lib.after_log(logger, logging.DEBUG, sec_format="%.0f"),
            before_sleep=lib.before_sleep_log(logger, logging.INFO),
            **extra,
        )(raise_my_exception)
        gave_up = (tenacity.RetryError, compat.RetryError)
        with caplog.at_level(logging.DEBUG, logger="tests.compat"), pytest.raises(gave_up):
            decorated()
        lines.append(
            [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "tests.compat"]
        )
    assert lines[1] == lines[0]
    assert len(lines[0]) == 3 + 3 + 2
    assert lines[1][2] == (
        "INFO",
        "Retrying tests.retry.test_compat_tenacity."
        "test_before_after_and_before_sleep_log_lines_match_tenacity.<locals>.raise_my_exception"
        " in 0.5 seconds as it raised MyException: Fail.",
    )


def test_async_functions_retry_with_async_sleep() -> None:
    """A coroutine function: the same attempts; sleep= is awaited; a coroutine callback
    is awaited before the next attempt; a value retry_if_result rejects is retried."""
    sleeps: list[float] = []
    events: list[str] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def before_sleep(retry_state: Any) -> None:
        await asyncio.sleep(0)
        events.append(f"told {retry_state.attempt_number}")

    @compat.retry(
        stop=compat.stop_after_attempt(4),
        wait=compat.wait_fixed(2),
        sleep=sleep,
        retry=compat.retry_if_exception_type(IOError) | compat.retry_if_result(lambda v: v is None),
        before_sleep=before_sleep,
    )
    async def fetch() -> str | None:
        events.append("try")
        if len(sleeps) < 2:
            raise OSError("not yet")
        return None if len(sleeps) < 3 else "ok"

    assert asyncio.run(fetch()) == "ok"
    assert sleeps == [2, 2, 2]
    assert events == ["try", "told 1", "try", "told 2", "try", "told 3", "try"]


# -- what tether does differently, on purpose ------------------------------------------


def test_without_retry_tethers_classification_decides(lab: Lab) -> None:
    """Bare @retry: tenacity retries every exception for ever.  The adapter retries what
    tether classifies as worth it: a refused connection (until stop), not a KeyError."""
    calls = []

    @compat.retry(stop=compat.stop_after_attempt(4))
    def fetch(url: str) -> None:
        calls.append(url)
        requests.get(url, timeout=2)

    with tether.testing.fast_retries() as retries, pytest.raises(compat.RetryError) as caught:
        fetch(lab["refused"].url)
    assert len(calls) == 4
    assert len(retries.waits) == 3
    assert isinstance(caught.value.last_attempt.exception(), requests.ConnectionError)

    @compat.retry
    def never_gonna_give_you_up() -> None:
        calls.append("bug")
        raise KeyError("a bug, not a blip")

    calls.clear()
    with pytest.raises(KeyError):
        never_gonna_give_you_up()
    assert calls == ["bug"]


def test_stop_after_delay_is_tethers_deadline() -> None:
    """stop_after_delay(10) | stop_after_attempt(5) is attempts=5, deadline=10: a wait
    that would end past 10 s ends the call (tenacity would wait, then try once more)."""
    clock = FakeClock()
    calls = []

    @compat.retry(
        stop=(compat.stop_after_delay(10) | compat.stop_after_attempt(5)),
        wait=compat.wait_fixed(4),
        retry=compat.retry_if_exception_type(),
        policy=UNGUARDED.replace(clock=clock, sleep=clock.sleep),
    )
    def stop_after_10_s_or_5_retries() -> None:
        calls.append(clock.now)
        raise MyException

    chosen = stop_after_10_s_or_5_retries.guard.policy  # type: ignore[attr-defined]
    assert (chosen.attempts, chosen.deadline) == (5, 10)
    with pytest.raises(compat.RetryError):
        stop_after_10_s_or_5_retries()
    assert clock.slept == [4, 4]
    assert len(calls) == 3


def test_tethers_budget_stays_on_unless_unguarded() -> None:
    """With tether's default policy, retries of one endpoint spend its budget: a flood of
    failing calls is cut short; UNGUARDED lets every call make all its attempts."""
    clock = FakeClock()
    counts = {}
    for name, base in (("default", tether.RetryPolicy()), ("unguarded", UNGUARDED)):
        calls: list[Any] = []

        @compat.retry(
            stop=compat.stop_after_attempt(4),
            retry=compat.retry_if_exception_type(),
            policy=base.replace(clock=clock, sleep=lambda s: None),
        )
        def flood(calls: list[int] = calls) -> None:
            calls.append(1)
            raise OSError

        for _ in range(40):
            with pytest.raises(compat.RetryError):
                flood()
        counts[name] = len(calls)
    assert counts["unguarded"] == 160
    assert counts["default"] < 100


def test_native_waits_become_tethers_own_fields() -> None:
    """wait_exponential without min, wait_random_exponential, wait_fixed and wait_random
    from 0 are tether's base, multiplier, cap and jitter; others get a custom wait."""
    cases = {
        compat.wait_exponential(multiplier=0.5, max=8): (0.5, 2, 8, "none"),
        compat.wait_random_exponential(multiplier=1, max=60): (1, 2, 60, "full"),
        compat.wait_fixed(2): (2, 1, 2, "none"),
        compat.wait_random(0, 3): (3, 1, 3, "full"),
    }
    for wait, fields in cases.items():
        policy = compat.retry(wait=wait)(lambda: None).guard.policy  # type: ignore[attr-defined]
        assert type(policy) is tether.RetryPolicy
        assert (policy.base, policy.multiplier, policy.cap, policy.jitter) == fields
    custom = compat.retry(wait=compat.wait_exponential(min=4))(lambda: None).guard.policy  # type: ignore[attr-defined]
    assert type(custom) is not tether.RetryPolicy
    assert isinstance(custom, tether.RetryPolicy)


@given(
    attempt=st.integers(1, 80),
    multiplier=st.floats(0, 10),
    exp_base=st.floats(1, 4),
    cap=st.floats(0, 1000),
    seed=st.integers(0, 2**32),
)
def test_native_translation_gives_tenacitys_waits(
    attempt: int, multiplier: float, exp_base: float, cap: float, seed: int
) -> None:
    """For any parameters, tether's backoff_delay with the translated fields equals
    tenacity's own wait for the same attempt and the same random draw."""
    state = tenacity.RetryCallState(None, None, (), {})
    state.attempt_number = attempt
    for ours, theirs in (
        (
            compat.wait_exponential(multiplier, cap, exp_base),
            tenacity.wait_exponential(multiplier, cap, exp_base),
        ),
        (
            compat.wait_random_exponential(multiplier, cap, exp_base),
            tenacity.wait_random_exponential(multiplier, cap, exp_base),
        ),
        (compat.wait_random(0, cap), tenacity.wait_random(0, cap)),
    ):
        assert ours.native is not None
        random.seed(seed)
        expected = theirs(state)
        rand = random.Random(seed).random
        got = tether.backoff_delay(
            attempt,
            rand=rand,
            **{
                "base": ours.native["base"],
                "multiplier": ours.native["multiplier"],
                "cap": ours.native["cap"],
                "jitter": ours.native["jitter"],
            },
        )
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: compat.retry(stop=lambda rs: True)(print),
            "stop=.*not one of tenacity's strategies",
        ),
        (
            lambda: compat.retry(stop=tenacity.stop_after_attempt(3))(print),
            "tenacity's own object; import stop_after_attempt from tether.compat.tenacity",
        ),
        (lambda: compat.retry(wait=lambda rs: 1)(print), "wait=.*use wait_fixed"),
        (lambda: compat.retry(retry=lambda rs: True)(print), "retry=.*retry_if=predicate"),
        (lambda: compat.stop_after_attempt(3) & compat.stop_after_delay(5), "stop_all"),
        (
            lambda: compat.retry(stop_max_attempt_number=3),
            "stop_max_attempt_number is not an option",
        ),
        (lambda: compat.retry(3), "keyword arguments only"),
        (lambda: compat.Retrying(stop=compat.stop_after_attempt(3)), "@retry only"),
        (lambda: compat.stop_after_attempt(0), "stop_after_attempt"),
        (lambda: compat.retry(before_sleep=3)(print), "before_sleep=3"),
    ],
)
def test_bad_signatures_fail_when_decorating(make: Any, message: str) -> None:
    """What cannot be translated is one TypeError, at decoration, naming it and the way."""
    with pytest.raises(TypeError, match=message):
        make()


def test_retry_with_changes_options() -> None:
    """fn.retry_with(stop=...) gives a copy with other options, as in tenacity."""
    calls = []

    @compat.retry(
        stop=compat.stop_after_attempt(5),
        retry=compat.retry_if_exception_type(),
        sleep=lambda s: None,
    )
    def fail() -> None:
        calls.append(1)
        raise MyException

    with pytest.raises(compat.RetryError):
        fail.retry_with(stop=compat.stop_after_attempt(2))()  # type: ignore[attr-defined]
    assert len(calls) == 2


def test_before_sleep_log_keeps_a_urls_credentials_secret(caplog: pytest.LogCaptureFixture) -> None:
    """tenacity's before_sleep line names the exception; tether's redacts the URL's
    password and secret query value in it."""
    logger = logging.getLogger("tether.test.compat")
    failures = iter([ValueError("failed on http://alice:hunter2@127.0.0.1:9/x?token=s3cret")])

    @compat.retry(
        stop=compat.stop_after_attempt(2),
        wait=compat.wait_fixed(0),
        retry=compat.retry_if_exception_type(ValueError),
        before_sleep=compat.before_sleep_log(logger, logging.INFO),
    )
    def call() -> str:
        for error in failures:
            raise error
        return "ok"

    with caplog.at_level(logging.INFO, logger=logger.name):
        assert call() == "ok"
    (line,) = [r.getMessage() for r in caplog.records if r.name == logger.name]
    assert line.startswith("Retrying ")
    assert "ValueError" in line
    assert "hunter2" not in line, line
    assert "s3cret" not in line, line
