"""``tether.compat.backoff``: backoff's own README examples, run on tether's loop.

Each example is backoff's, pointed at the lab or at a local function that fails a
given number of times; time is a fake clock (``policy=``), so nothing sleeps.  The
attempts, waits, exceptions and handler ``details`` are those backoff documents; where
tether differs on purpose (deadline, budget, breaker) the test says so and shows that
``UNGUARDED`` gives backoff's behaviour back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
import requests

import tether
from tests.helpers.fakes import FakeClock
from tether.compat import UNGUARDED, backoff
from tether.lab import Lab

KEYS = {"target", "args", "kwargs", "tries", "elapsed"}


def timed(
    base: tether.RetryPolicy = UNGUARDED, **changes: Any
) -> tuple[tether.RetryPolicy, FakeClock]:
    clock = FakeClock()
    policy = base.replace(clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, **changes)
    return policy, clock


def status_url(lab: Lab, code: int) -> str:
    return lab["http_404"].url.rsplit("/", 1)[0] + f"/{code}"


class Flaky:
    """A callable that raises ``error`` ``failures`` times, then returns ``value``."""

    def __init__(
        self, failures: int, error: BaseException | None = None, value: object = "ok"
    ) -> None:
        self.failures, self.error, self.value, self.calls = failures, error, value, 0
        self.__name__ = "flaky"

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error if self.error is not None else ValueError(f"failure {self.calls}")
        return self.value


def test_max_tries_8_without_jitter_against_a_refused_port(lab: Lab) -> None:
    """README: expo, RequestException, max_tries=8, jitter=None: 8 attempts, waits 1, 2, 4
    ... 64, then the requests exception is raised, with tether's note."""
    policy, clock = timed()
    calls = []

    @backoff.on_exception(
        backoff.expo, requests.exceptions.RequestException, max_tries=8, jitter=None, policy=policy
    )
    def get_url(url: str) -> requests.Response:
        calls.append(url)
        return requests.get(url, timeout=2)

    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        get_url(lab["refused"].url)
    assert len(calls) == 8
    assert clock.slept == [1, 2, 4, 8, 16, 32, 64]
    assert caught.value.__notes__[-1].startswith("tether: get_url() failed after 8 attempts")


def test_tethers_deadline_budget_and_breaker_stay_on_by_default(lab: Lab) -> None:
    """The same decorator without UNGUARDED: the breaker opens after 5 refusals and tether's
    60 s deadline ends the call before a wait that would pass it: 6 attempts, not 8."""
    policy, clock = timed(tether.RetryPolicy())
    calls = []

    @backoff.on_exception(
        backoff.expo, requests.exceptions.RequestException, max_tries=8, jitter=None, policy=policy
    )
    def get_url(url: str) -> requests.Response:
        calls.append(url)
        return requests.get(url, timeout=2)

    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        get_url(lab["refused"].url)
    assert len(calls) == 6
    assert clock.slept == [1, 2, 4, 8, 16]
    assert "would pass the deadline" in caught.value.__notes__[-1]
    endpoint = f"{lab['refused'].host}:{lab['refused'].port}"
    assert get_url.guard.breaker_state(endpoint) == tether.BreakerState.OPEN  # type: ignore[attr-defined]


def test_expo_translates_into_tethers_own_policy_fields() -> None:
    """expo with full jitter is tether's base, multiplier, cap and jitter="full": no custom
    wait, and the same waits from the same random draws."""
    draws = iter([0.5, 0.25, 1.0])
    policy, clock = timed(rand=lambda: next(draws))

    @backoff.on_exception(
        backoff.expo, ValueError, max_tries=4, factor=0.5, max_value=3, policy=policy
    )
    def work() -> None:
        raise ValueError("no")

    chosen = work.guard.policy  # type: ignore[attr-defined]
    assert type(chosen) is tether.RetryPolicy
    assert (chosen.attempts, chosen.base, chosen.multiplier, chosen.cap, chosen.jitter) == (
        4,
        0.5,
        2,
        3,
        "full",
    )
    with pytest.raises(ValueError, match="no"):
        work()
    assert clock.slept == [0.5 * 0.5, 1.0 * 0.25, 2.0 * 1.0]


def test_giveup_stops_on_a_fatal_code(lab: Lab) -> None:
    """README: giveup=fatal_code (4xx): a 404's HTTPError is raised after one attempt, and
    on_giveup is told, even though tether alone never sees a 404 as worth a retry either."""
    policy, _ = timed()
    gave_up: list[dict[str, Any]] = []

    def fatal_code(e: Exception) -> bool:
        return 400 <= e.response.status_code < 500  # type: ignore[attr-defined]

    @backoff.on_exception(
        backoff.expo,
        requests.exceptions.RequestException,
        max_time=300,
        giveup=fatal_code,
        on_giveup=gave_up.append,
        policy=policy,
    )
    def get_url(url: str) -> requests.Response:
        response = requests.get(url, timeout=2)
        response.raise_for_status()
        return response

    with pytest.raises(requests.exceptions.HTTPError):
        get_url(status_url(lab, 404))
    assert [d["tries"] for d in gave_up] == [1]
    assert set(gave_up[0]) == KEYS | {"exception"}


def test_the_filter_decides_for_errors_with_a_status(lab: Lab) -> None:
    """RequestException covers a 500's HTTPError, which backoff retries: so does the
    adapter, though tether's own rules would return a 500 at once (retry_if decides)."""
    policy, clock = timed()
    statuses = []

    @backoff.on_exception(
        backoff.constant,
        requests.exceptions.RequestException,
        max_tries=3,
        jitter=None,
        interval=0.5,
        policy=policy,
    )
    def get_url(url: str) -> None:
        response = requests.get(url, timeout=2)
        statuses.append(response.status_code)
        response.raise_for_status()

    with pytest.raises(requests.exceptions.HTTPError):
        get_url(status_url(lab, 500))
    assert statuses == [500, 500, 500]
    assert clock.slept == [0.5, 0.5]


def test_raise_on_giveup_false_returns_none() -> None:
    """README: raise_on_giveup=False: the call returns None when it gives up."""
    policy, _ = timed()
    work = Flaky(5, error=ConnectionError("down"))
    decorated = backoff.on_exception(
        backoff.expo, ConnectionError, max_tries=3, raise_on_giveup=False, policy=policy
    )(work)
    assert decorated() is None
    assert work.calls == 3


def test_other_exceptions_are_raised_at_once_without_handlers() -> None:
    """An exception outside the filter goes straight through: one attempt, no handler."""
    policy, _ = timed()
    events: list[dict[str, Any]] = []
    work = Flaky(5, error=KeyError("k"))
    decorated = backoff.on_exception(
        backoff.expo, ValueError, on_backoff=events.append, on_giveup=events.append, policy=policy
    )(work)
    with pytest.raises(KeyError):
        decorated()
    assert (work.calls, events) == (1, [])


def test_handlers_get_backoffs_details() -> None:
    """README "Event handlers": on_backoff, on_giveup and on_success get the documented
    keys; a list of handlers calls each in turn."""
    policy, _ = timed(rand=lambda: 0.5)
    seen: dict[str, list[dict[str, Any]]] = {"backoff": [], "backoff2": [], "success": []}
    work = Flaky(2)

    @backoff.on_exception(
        backoff.expo,
        ValueError,
        on_backoff=[seen["backoff"].append, seen["backoff2"].append],
        on_success=seen["success"].append,
        policy=policy,
    )
    def get_url(url: str, *, timeout: float) -> object:
        return work(url)

    assert get_url("http://127.0.0.1:9/", timeout=2) == "ok"
    first, second = seen["backoff"]
    assert set(first) == KEYS | {"wait", "exception"}
    assert (first["tries"], first["wait"], second["tries"], second["wait"]) == (1, 0.5, 2, 1.0)
    assert first["args"] == ("http://127.0.0.1:9/",)
    assert first["kwargs"] == {"timeout": 2}
    assert first["target"].__name__ == "get_url"
    assert isinstance(first["exception"], ValueError)
    assert seen["backoff2"] == seen["backoff"]
    assert [set(d) for d in seen["success"]] == [KEYS]
    assert seen["success"][0]["tries"] == 3


def test_backoffs_default_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    """The 'backoff' logger gets backoff's lines: INFO per wait, ERROR on giving up."""
    policy, _ = timed()
    decorated = backoff.on_exception(
        backoff.constant, ValueError, max_tries=2, jitter=None, policy=policy
    )(Flaky(5, error=ValueError("nope")))
    logs = caplog.at_level(logging.INFO, logger="backoff")
    with logs, pytest.raises(ValueError, match="nope"):
        decorated()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "backoff"]
    assert lines == [
        ("INFO", "Backing off flaky(...) for 1.0s (ValueError: nope)"),
        ("ERROR", "Giving up flaky(...) after 2 tries (ValueError: nope)"),
    ]


def test_on_predicate_fibo_polls_until_a_message() -> None:
    """README: on_predicate(fibo, lambda x: x == [], max_value=13): retried while the
    queue is empty, fibonacci waits (full jitter drawn from rand), the message returned."""
    policy, clock = timed(rand=lambda: 0.5)
    queue = [[], [], [], [], [], ["message"]]

    @backoff.on_predicate(backoff.fibo, lambda x: x == [], max_value=13, policy=policy)
    def poll_for_messages(q: list[list[str]]) -> list[str]:
        return q.pop(0)

    assert poll_for_messages(queue) == ["message"]
    assert clock.slept == [0.5, 0.5, 1, 1.5, 2.5]


def test_on_predicate_gives_up_with_the_last_value() -> None:
    """on_predicate(constant, jitter=None, interval=1) with max_tries: the falsy value is
    returned after the last try, and on_giveup sees it under 'value'."""
    policy, clock = timed()
    gave_up: list[dict[str, Any]] = []

    @backoff.on_predicate(
        backoff.constant,
        jitter=None,
        interval=1,
        max_tries=3,
        on_giveup=gave_up.append,
        policy=policy,
    )
    def poll_for_message() -> str:
        return ""

    assert poll_for_message() == ""
    assert clock.slept == [1, 1]
    assert [(set(d), d["tries"], d["value"]) for d in gave_up] == [(KEYS | {"value"}, 3, "")]


def test_runtime_waits_what_the_response_says(lab: Lab) -> None:
    """README "@backoff.runtime": the lab's 429 says Retry-After: 3; the wait is 3 s."""
    policy, clock = timed()

    @backoff.on_predicate(
        backoff.runtime,
        predicate=lambda r: r.status_code == 429,
        value=lambda r: int(r.headers.get("Retry-After")),
        jitter=None,
        max_tries=2,
        policy=policy,
    )
    def get_url() -> requests.Response:
        return requests.get(lab["http_429"].url, timeout=2)

    assert get_url().status_code == 429
    assert clock.slept == [3]


def test_max_time_from_a_callable_is_read_at_each_call() -> None:
    """README "Runtime Configuration": max_time=lookup_max_time is evaluated per call."""
    config = {"BACKOFF_MAX_TIME": 2.5}
    policy, _clock = timed()
    work = Flaky(100)
    decorated = backoff.on_exception(
        backoff.constant,
        ValueError,
        jitter=None,
        interval=1,
        max_time=lambda: config["BACKOFF_MAX_TIME"],
        policy=policy,
    )(work)
    with pytest.raises(ValueError, match="failure"):
        decorated()
    assert work.calls == 3  # waits end at 1 and 2 s; one more would end at 3, past 2.5
    config["BACKOFF_MAX_TIME"] = 1.5
    work.calls = 0
    with pytest.raises(ValueError, match="failure"):
        decorated()
    assert work.calls == 2


def test_a_finite_constant_sequence_ends_the_call() -> None:
    """constant(interval=[1, 2]): two waits, then backoff gives up (StopIteration)."""
    policy, clock = timed()
    work = Flaky(100)
    decorated = backoff.on_exception(
        backoff.constant, ValueError, interval=[1, 2], jitter=None, policy=policy
    )(work)
    with pytest.raises(ValueError, match="failure"):
        decorated()
    assert (work.calls, clock.slept) == (3, [1, 2])


def test_stacked_decorators_each_keep_their_own_rule() -> None:
    """README "Using multiple decorators": the inner one retries its exception, the outer
    one its own."""
    policy, clock = timed()
    outcomes: list[object] = [TimeoutError(), TimeoutError(), KeyError("k"), "done"]

    @backoff.on_exception(backoff.constant, KeyError, jitter=None, interval=5, policy=policy)
    @backoff.on_exception(backoff.constant, TimeoutError, jitter=None, interval=1, policy=policy)
    def poll() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    assert poll() == "done"
    assert clock.slept == [1, 1, 5]


def test_async_on_exception_against_a_refused_port(lab: Lab) -> None:
    """README "Asynchronous code": aiohttp.ClientError, coroutine handlers awaited."""
    policy, clock = timed()
    backoffs: list[int] = []

    async def record(details: dict[str, Any]) -> None:
        backoffs.append(details["tries"])

    @backoff.on_exception(
        backoff.expo,
        aiohttp.ClientError,
        max_tries=3,
        jitter=None,
        on_backoff=record,
        policy=policy,
    )
    async def get_url(url: str) -> str:
        async with (
            aiohttp.ClientSession(raise_for_status=True) as session,
            session.get(url) as response,
        ):
            return await response.text()

    with pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(get_url(lab["refused"].url))
    assert (backoffs, clock.slept) == ([1, 2], [1, 2])
    assert asyncio.run(get_url(lab["healthy"].url)) == "ok\n"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: backoff.on_exception(backoff.expo, "ValueError"), "exception type"),
        (lambda: backoff.on_exception(backoff.expo, ValueError, max_tries=0)(print), "max_tries=0"),
        (lambda: backoff.on_exception(backoff.expo, ValueError, max_time=-1)(print), "max_time=-1"),
        (lambda: backoff.on_exception(backoff.expo, ValueError, jitter=3)(print), "jitter=3"),
        (lambda: backoff.on_predicate(backoff.expo, predicate=3), "predicate=3"),
        (lambda: backoff.on_exception(3, ValueError)(print), "wait_gen=3"),
    ],
)
def test_bad_signatures_fail_when_decorating(make: Any, message: str) -> None:
    """A wrong argument is one TypeError, when the function is decorated, naming it."""
    with pytest.raises(TypeError, match=message):
        make()


def test_a_coroutine_handler_on_a_plain_function_is_refused() -> None:
    """A coroutine handler cannot be awaited by a plain function's call: said at once."""

    async def handler(details: dict[str, Any]) -> None:
        pass

    with pytest.raises(TypeError, match=r"on_backoff=.*coroutine function"):
        backoff.on_exception(backoff.expo, ValueError, on_backoff=handler)(print)


def test_jitter_functions_keep_backoffs_ranges() -> None:
    """full_jitter is within [0, value]; random_jitter within [value, value + 1]."""
    for _ in range(50):
        assert 0 <= backoff.full_jitter(2.0) <= 2.0
        assert 2.0 <= backoff.random_jitter(2.0) <= 3.0


def test_wait_generators_yield_backoffs_sequences() -> None:
    """expo, fibo, decay and constant yield what backoff's do, after the priming send."""

    def first(gen: Any, n: int) -> list[float]:
        gen.send(None)
        return [gen.send(None) for _ in range(n)]

    assert first(backoff.expo(), 5) == [1, 2, 4, 8, 16]
    assert first(backoff.expo(base=3, factor=0.5, max_value=5), 4) == [0.5, 1.5, 4.5, 5]
    assert first(backoff.fibo(max_value=6), 6) == [1, 1, 2, 3, 5, 6]
    assert first(backoff.constant(interval=2), 3) == [2, 2, 2]
    assert first(backoff.decay(initial_value=8, decay_factor=0, min_value=1), 2) == [8, 8]


def test_async_on_predicate_polls_a_coroutine() -> None:
    """on_predicate on a coroutine function: falsy values are retried, then returned."""
    policy, clock = timed()
    values: list[object] = [None, 0, "ready"]

    @backoff.on_predicate(backoff.constant, jitter=None, interval=2, policy=policy)
    async def poll() -> object:
        return values.pop(0)

    assert asyncio.run(poll()) == "ready"
    assert clock.slept == [2, 2]


def test_log_lines_keep_a_urls_credentials_secret(caplog: pytest.LogCaptureFixture) -> None:
    """An exception that names a URL with user:password@ and a token in its query (as
    requests' do) is logged with both redacted, waiting and giving up."""
    policy, _ = timed()
    error = ValueError("failed on http://alice:hunter2@127.0.0.1:9/x?token=s3cret")
    decorated = backoff.on_exception(
        backoff.constant, ValueError, max_tries=2, jitter=None, policy=policy
    )(Flaky(5, error=error))
    logs = caplog.at_level(logging.INFO, logger="backoff")
    with logs, pytest.raises(ValueError, match="failed on"):
        decorated()
    lines = [r.getMessage() for r in caplog.records if r.name == "backoff"]
    assert len(lines) == 2
    for line in lines:
        assert "hunter2" not in line, line
        assert "s3cret" not in line, line
        assert "alice:***@127.0.0.1:9" in line
