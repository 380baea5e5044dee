"""Hedged calls on simulated time: the async loop with an injected clock and sleep, and a
fake ``send`` whose attempts end at chosen simulated moments."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

import tether
import tether.testing
from tests.helpers.simtime import SimTime
from tether._retry._loop import Call, Outcome, run_async
from tether._retry._policy import Timeouts

URL = "http://127.0.0.1:8080/item"
ENDPOINT = "127.0.0.1:8080"


@dataclass(frozen=True)
class Answer:
    attempt: int
    status: int
    headers: dict[str, str] = field(default_factory=dict)


Result = int | tuple[int, dict[str, str]] | BaseException


class Script:
    """Attempt ``k`` (from 1) takes ``plan[k - 1][0]`` simulated seconds, then answers
    with the status, or raises the exception, of ``plan[k - 1][1]``."""

    def __init__(self, sim: SimTime, plan: Sequence[tuple[float, Result]]) -> None:
        self.sim, self.plan = sim, plan
        self.sent: list[float] = []
        self.cancelled: list[int] = []
        self.discarded: list[int] = []

    async def send(self, _t: Timeouts) -> Answer:
        k = len(self.sent) + 1
        self.sent.append(round(self.sim.now, 6))
        seconds, result = self.plan[k - 1]
        try:
            await self.sim.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled.append(k)
            raise
        if isinstance(result, BaseException):
            raise result
        status, headers = result if isinstance(result, tuple) else (result, {})
        return Answer(k, status, headers)

    async def discard(self, answer: Answer) -> None:
        self.discarded.append(answer.attempt)


def status(answer: Answer) -> tuple[int, dict[str, str]]:
    return answer.status, answer.headers


class World:
    """A policy on simulated time, its guard, and what its hooks heard."""

    def __init__(self, **changes: object) -> None:
        self.sim = SimTime()
        self.hedges: list[tether.HedgeDetails] = []
        self.give_ups: list[tether.GiveUpDetails] = []
        settings: dict[str, object] = {
            "hedge": tether.Hedge(delay=0.1),
            "deadline": 5.0,
            "clock": self.sim.mono,
            "async_sleep": self.sim.sleep,
            "on_hedge": self.hedges.append,
            "on_give_up": self.give_ups.append,
        }
        settings.update(changes)
        self.policy = tether.RetryPolicy(**settings)  # type: ignore[arg-type]
        self.guard = tether.Guard(self.policy)

    def call(
        self, plan: Sequence[tuple[float, Result]], method: str = "GET"
    ) -> tuple[Outcome[Answer], Script]:
        script = Script(self.sim, plan)
        call = Call(self.policy, method, URL, guard=self.guard)
        outcome = self.sim.run(run_async(call, script.send, status, script.discard))
        return outcome, script

    def at(self) -> float:
        return round(self.sim.now, 6)


def test_a_hedge_goes_after_the_delay_and_the_first_good_answer_wins() -> None:
    """With no answer after the delay a second attempt goes; it answers first, wins, and
    the first, still in flight, is cancelled."""
    world = World()
    outcome, script = world.call([(5.0, 200), (0.05, 200)])
    assert outcome.failure is None
    assert outcome.response == Answer(2, 200)
    assert script.sent == [0.0, 0.1]
    assert script.cancelled == [1]
    assert world.at() == 0.15
    [hedge] = world.hedges
    assert (hedge.attempt, hedge.delay, hedge.failure, hedge.endpoint) == (2, 0.1, None, ENDPOINT)


def test_an_answer_within_the_delay_sends_no_hedge() -> None:
    """A first attempt that answers before the delay is the only one."""
    world = World()
    outcome, script = world.call([(0.05, 200)])
    assert outcome.response == Answer(1, 200)
    assert script.sent == [0.0]
    assert world.hedges == []


def test_hedges_stop_at_max_attempts_and_the_deadline_cancels_them_all() -> None:
    """Three attempts at most, one a delay apart; the deadline ends the call with every one
    of them cancelled."""
    world = World(hedge=tether.Hedge(delay=0.1, max_attempts=3), deadline=1.0)
    outcome, script = world.call([(10.0, 200)] * 5)
    assert script.sent == [0.0, 0.1, 0.2]
    assert sorted(script.cancelled) == [1, 2, 3]
    assert outcome.failure is not None
    assert outcome.failure.kind == tether.Kind.DEADLINE_EXCEEDED
    assert "3 of 3 attempts still in flight" in outcome.failure.detail
    assert world.at() == 1.0
    assert len(world.give_ups) == 1


def test_a_loser_that_answered_too_is_discarded() -> None:
    """Two attempts answering at the same moment: one is returned, the other discarded."""
    world = World()
    outcome, script = world.call([(0.2, 200), (0.1, 200)])
    assert outcome.response is not None
    assert script.discarded == [3 - outcome.response.attempt]


def test_a_retryable_failure_sends_the_next_hedge_at_once() -> None:
    """gRPC's non-fatal status: a refused attempt is followed at once, not after the delay."""
    world = World()
    outcome, script = world.call([(0.03, ConnectionRefusedError()), (0.02, 200)])
    assert outcome.response == Answer(2, 200)
    assert script.sent == [0.0, 0.03]
    [hedge] = world.hedges
    assert hedge.failure is not None
    assert hedge.failure.kind == tether.Kind.CONNECT_REFUSED


def test_a_failure_not_worth_a_retry_ends_the_call_and_cancels_the_rest() -> None:
    """A hedge that fails in a way no retry fixes ends the call with that failure."""
    world = World()
    error = ValueError("the handler broke")
    outcome, script = world.call([(5.0, 200), (0.02, error)])
    assert outcome.error is error
    assert script.cancelled == [1]
    assert world.at() == 0.12
    [give_up] = world.give_ups
    assert give_up.reason == "unknown is not worth a retry"


def test_when_every_attempt_fails_the_last_failure_ends_the_call_without_retries() -> None:
    """All hedges failed: the call ends with the last one, and no retry follows."""
    world = World(hedge=tether.Hedge(delay=0.1, max_attempts=2))
    outcome, script = world.call([(0.01, ConnectionRefusedError())] * 4)
    assert len(script.sent) == 2
    assert outcome.failure is not None
    assert outcome.failure.kind == tether.Kind.CONNECT_REFUSED
    assert world.give_ups[0].reason == "every attempt it could make failed"


@pytest.mark.parametrize(
    "pushback",
    [503, 429, (502, {"Retry-After": "1"})],
    ids=["503", "429", "retry-after"],
)
def test_pushback_stops_hedging_but_an_attempt_in_flight_may_still_win(pushback: Result) -> None:
    """A 503, a 429 or a Retry-After sends no more hedges; the first attempt still wins, and
    the pushed-back response is discarded."""
    world = World(hedge=tether.Hedge(delay=0.1, max_attempts=4))
    outcome, script = world.call([(1.0, 200), (0.01, pushback), (0.01, 200), (0.01, 200)])
    assert script.sent == [0.0, 0.1]
    assert outcome.response == Answer(1, 200)
    assert script.discarded == [2]


def test_a_status_the_policy_retries_is_answered_with_the_next_hedge_at_once() -> None:
    """A 502 without Retry-After is a non-fatal status: the next hedge goes at once."""
    world = World(hedge=tether.Hedge(delay=0.1, max_attempts=3))
    outcome, script = world.call([(1.0, 200), (0.01, 502), (0.01, 200)])
    assert script.sent == [0.0, 0.1, 0.11]
    assert outcome.response == Answer(3, 200)
    assert script.discarded == [2]


def test_each_hedge_spends_the_retry_budget_and_none_goes_without_it() -> None:
    """A budget of one retry: the first call hedges, the second cannot."""
    world = World(budget=tether.Budget(ratio=0, per_second=0.1, window=10))
    _, first = world.call([(1.0, 200), (0.01, 200)])
    assert first.sent == [0.0, 0.1]
    assert world.guard.budget_left(URL) == 0
    start = world.at()
    outcome, second = world.call([(1.0, 200), (0.01, 200)])
    assert [round(t - start, 6) for t in second.sent] == [0.0]
    assert outcome.response == Answer(1, 200)


def test_a_half_open_breaker_lets_its_one_trial_through_and_no_hedge() -> None:
    """The first attempt is the half-open breaker's trial; the hedge is refused."""
    world = World(breaker=tether.Breaker(failures=1, cooldown=0.5))
    failure = tether.classify(ConnectionRefusedError(), url=URL)
    world.guard.record(ENDPOINT, failure, 0.0)
    assert world.guard.breaker_state(URL) == tether.BreakerState.OPEN
    world.sim.now = 1.0
    outcome, script = world.call([(1.0, 200), (0.01, 200)])
    assert script.sent == [1.0]
    assert outcome.response == Answer(1, 200)
    assert world.guard.breaker_state(URL) == tether.BreakerState.CLOSED


def test_a_call_not_safe_to_send_twice_runs_the_plain_loop() -> None:
    """A POST without an Idempotency-Key is never hedged."""
    world = World()
    outcome, script = world.call([(1.0, 200), (0.01, 200)], method="POST")
    assert script.sent == [0.0]
    assert outcome.response == Answer(1, 200)


def test_the_percentile_delay_follows_the_endpoint_once_min_samples_are_known() -> None:
    """No hedge before min_samples (no delay given); then the hedge goes at the endpoint's
    median latency."""
    world = World(hedge=tether.Hedge(percentile=50, min_samples=5))
    for _ in range(4):
        world.call([(0.2, 200)])
    _, unhedged = world.call([(1.0, 200), (0.01, 200)])
    assert len(unhedged.sent) == 1  # four samples known: not yet
    start = world.at()
    outcome, hedged = world.call([(5.0, 200), (0.01, 200)])
    # samples: 0.2 x4 and 1.0: the median is 0.2
    assert [round(t - start, 6) for t in hedged.sent] == [0.0, 0.2]
    assert outcome.response == Answer(2, 200)
    assert world.hedges[-1].delay == pytest.approx(0.2)


def test_the_fixed_delay_serves_until_the_percentile_has_its_samples() -> None:
    """With both a delay and a percentile, the delay is used until min_samples are known."""
    world = World(hedge=tether.Hedge(delay=0.5, percentile=50, min_samples=3))
    _, first = world.call([(1.0, 200), (0.01, 200)])
    assert first.sent == [0.0, 0.5]
    for _ in range(3):
        world.call([(0.1, 200)])
    start = world.at()
    _, later = world.call([(1.0, 200), (0.01, 200)])
    assert [round(t - start, 6) for t in later.sent] == [0.0, 0.1]


def test_an_unanswered_loser_counts_in_the_percentile_as_at_least_its_wait() -> None:
    """A first attempt cancelled after 0.15 s counts as a sample of 0.15 s, not as nothing:
    hedging does not talk the percentile down by hiding the tail it cuts off."""
    world = World(hedge=tether.Hedge(delay=0.1, percentile=90, min_samples=1))
    world.call([(5.0, 200), (0.05, 200)])
    assert world.guard.hedge_delay(ENDPOINT) == pytest.approx(0.15)


def test_each_attempt_is_timed_from_its_own_start() -> None:
    """A first attempt that wins after a hedge went counts its own 0.15 s, not the time
    since the hedge was sent."""
    world = World(hedge=tether.Hedge(delay=0.1, percentile=90, min_samples=1))
    outcome, _ = world.call([(0.15, 200), (5.0, 200)])
    assert outcome.response == Answer(1, 200)
    assert world.guard.hedge_delay(ENDPOINT) == pytest.approx(0.15)


def test_latency_is_kept_only_for_a_percentile() -> None:
    """A fixed delay, or no hedge at all, keeps no samples: nothing is paid for them."""
    for policy in (tether.RetryPolicy(), tether.RetryPolicy(hedge=tether.Hedge(delay=0.1))):
        guard = tether.Guard(policy)
        guard.record(ENDPOINT, None, 1.0, duration=0.5)
        assert guard._latency is None


def test_cancelling_a_hedged_call_cancels_every_attempt() -> None:
    """The caller's cancellation reaches every attempt in flight."""
    world = World(hedge=tether.Hedge(delay=0.1, max_attempts=3))
    script = Script(world.sim, [(10.0, 200)] * 3)
    call = Call(world.policy, "GET", URL, guard=world.guard)

    async def main() -> None:
        task = asyncio.ensure_future(run_async(call, script.send, status, script.discard))
        await world.sim.sleep(0.25)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    world.sim.run(main())
    assert sorted(script.cancelled) == [1, 2, 3]


def test_fast_retries_caps_the_hedges_too() -> None:
    """tether.testing's attempts cap bounds a hedged call as it bounds retries."""
    world = World(hedge=tether.Hedge(delay=0.1, max_attempts=4), deadline=1.0)
    with tether.testing.fast_retries(attempts=2):
        _, script = world.call([(10.0, 200)] * 4)
    assert script.sent == [0.0, 0.1]


def test_a_decorated_coroutine_is_hedged() -> None:
    """@tether.retry on a coroutine function races its calls too."""
    world = World()
    plan = [(5.0, "slow"), (0.01, "fast")]
    calls: list[int] = []

    @tether.retry(policy=world.policy, endpoint="inventory")
    async def fetch() -> str:
        calls.append(1)
        seconds, answer = plan[len(calls) - 1]
        await world.sim.sleep(seconds)
        return answer

    assert world.sim.run(fetch()) == "fast"
    assert len(world.hedges) == 1
    assert world.hedges[0].endpoint == "inventory"


def test_hedges_are_counted_apart_from_retries_by_what_sent_them() -> None:
    """tether_hedges_total grows by one per hedge, labelled by its trigger; retries'
    counter does not move."""
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"endpoint": ENDPOINT, **labels}) or 0.0

    before = (
        sample("tether_hedges_total", trigger="delay"),
        sample("tether_hedges_total", trigger="connect.refused"),
        sample("tether_retries_total", kind="connect.refused"),
    )
    world = World(hedge=tether.Hedge(delay=0.1, max_attempts=3))
    world.call([(5.0, 200), (0.01, ConnectionRefusedError()), (0.01, 200)])
    after = (
        sample("tether_hedges_total", trigger="delay"),
        sample("tether_hedges_total", trigger="connect.refused"),
        sample("tether_retries_total", kind="connect.refused"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 0]


@pytest.mark.parametrize(
    "limit", [{"bulkhead": tether.Bulkhead()}, {"throttle": tether.Throttle()}], ids=str
)
def test_a_hedge_beside_a_bulkhead_or_a_throttle_is_refused(limit: dict[str, Any]) -> None:
    """The limits count one attempt per call; a hedged call has several in flight, so the
    two are not combined (yet): the policy says so when it is made."""
    with pytest.raises(ValueError, match="cannot be combined with a bulkhead or a throttle"):
        tether.RetryPolicy(hedge=tether.Hedge(delay=0.1), **limit)
    tether.RetryPolicy(hedge=tether.Hedge(delay=0.1))  # alone, it is fine
