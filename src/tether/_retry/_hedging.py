"""Hedged requests: gRPC's hedging policy (proposal A6) on the async loop.

The first attempt goes at once.  Each time the hedge delay passes with no answer, one more
goes beside those in flight, up to ``Hedge.max_attempts`` in all.  The first good answer
wins and the others are cancelled; a response a loser already had is discarded.  A failure
worth a retry (gRPC's "non-fatal status") sends the next hedge at once; any other failure
ends the call with it.  Each hedge spends the retry budget and passes the breaker, and a
server's pushback (429, 503, any ``Retry-After``) stops further hedges, though attempts in
flight may still win.  When every attempt has failed the call ends with the last failure:
no retries follow (A6: "hedging can be seen as retrying the original RPC before a failure
is even received").  The call's deadline cancels whatever is still in flight.

Every judgement is the :class:`~tether._retry._loop.Call`'s, as in the plain loop; this
module starts attempts, waits on them and cancels them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from tether._failure import Failure
from tether._kinds import Kind
from tether._retry import _testing
from tether._retry._ended import SINKS
from tether._retry._hooks import HedgeDetails, emit
from tether._retry._outcome import EXHAUSTED, Outcome
from tether._retry._policy import RetryPolicy, Timeouts
from tether._retry._state import Guard

R = TypeVar("R")


class HedgedCall(Protocol):
    """What a race reads and tells of :class:`tether._retry._loop.Call`, which calls it:
    named here so that the loop imports this module and not the other way round."""

    policy: RetryPolicy
    guard: Guard
    endpoint: str
    method: str
    made: int
    replayable: bool
    _deadline_at: float
    _start: float
    _attempt_at: float
    _known: bool

    @property
    def url(self) -> str: ...
    def safe(self) -> bool: ...
    def begin(self) -> Failure | None: ...
    def timeouts(self) -> Timeouts: ...
    def classify(self, error: BaseException) -> Failure: ...
    def judge(self, status: int, headers: Any = None) -> Failure | None: ...
    def succeeded(self) -> None: ...
    def refusal(self, failure: Failure) -> str | None: ...
    def abandon(self) -> None: ...
    def stop(self, last: Outcome[R] | None, failure: Failure) -> Outcome[R]: ...
    def ended(
        self, outcome: Outcome[Any], status: Callable[[Any], tuple[int, Any]] | None
    ) -> None: ...
    def _record(self, failure: Failure | None, now: float) -> None: ...
    def _give_up(self, outcome: Outcome[Any], reason: str) -> None: ...
    def _failure(self, kind: Kind, detail: str) -> Failure: ...


_PUSHBACK = frozenset({429, 503})
"""Statuses that say the server is short of capacity: no more hedges for the call."""


def hedge_delay(call: HedgedCall) -> float | None:
    """The hedge delay of ``call``, or None to run it unhedged: it is not safe to send
    twice (the retry rules), or its endpoint has no delay yet (a percentile alone, with
    fewer than ``min_samples`` successful attempts seen)."""
    if not (call.replayable and call.safe()):
        return None
    return call.guard.hedge_delay(call.endpoint)


async def run_hedged(
    call: HedgedCall,
    delay: float,
    send: Callable[[Timeouts], Awaitable[R]],
    status: Callable[[R], tuple[int, Any]] | None = None,
    discard: Callable[[R], Awaitable[object]] | None = None,
) -> Outcome[R]:
    """Race attempts of ``call``, a hedge after every ``delay`` seconds with no answer;
    never raises what ``send`` raises (a cancellation of the call cancels every attempt)."""
    if (stop := call.begin()) is not None:
        outcome: Outcome[R] = call.stop(None, stop)
    else:
        race = _Race(call, delay, send, status, discard)
        try:
            outcome = await race.run()
        finally:
            await race.cancel_all()
    if SINKS:
        call.ended(outcome, status)
    return outcome


class _Race(Generic[R]):
    """One hedged call's attempts in flight, and whether more may be sent."""

    def __init__(
        self,
        call: HedgedCall,
        delay: float,
        send: Callable[[Timeouts], Awaitable[R]],
        status: Callable[[R], tuple[int, Any]] | None,
        discard: Callable[[R], Awaitable[object]] | None,
    ) -> None:
        self.call, self.delay = call, delay
        self.send, self.status, self.discard = send, status, discard
        hedge = call.policy.hedge
        assert hedge is not None
        override = _testing.current()
        cap = override.attempts if override else None
        self.limit = min(hedge.max_attempts, cap) if cap else hedge.max_attempts
        self.flying: dict[asyncio.Task[R], float] = {}
        """Attempts in flight, with the time each was sent."""
        self.last: Outcome[R] | None = None
        """The last attempt that failed in a way worth another (its response kept)."""
        self.stopped: str | None = None
        """Why no more hedges may be sent, once one of the rules said so."""

    async def run(self) -> Outcome[R]:
        call, clock = self.call, self.call.policy.clock
        now = clock()
        self._launch(now)
        next_at = now + self.delay
        sleep = call.policy.async_sleep or asyncio.sleep
        while True:
            more = self.stopped is None and call.made < self.limit
            if not self.flying:
                return self._give_up()
            wake_at = min(next_at if more else math.inf, call._deadline_at)
            timer = None
            waiting: set[asyncio.Future[Any]] = set(self.flying)
            if wake_at < math.inf:
                timer = asyncio.ensure_future(sleep(max(0.0, wake_at - now)))
                waiting.add(timer)
            try:
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if timer is not None:
                    timer.cancel()
            now = clock()
            failures: list[Failure] = []
            for task in sorted((t for t in done if t in self.flying), key=self.flying.__getitem__):
                outcome = self._outcome(task, now)
                failure = outcome.failure
                if failure is None:
                    return await self._win(outcome)
                if (refused := call.refusal(failure)) is not None:
                    return await self._lose(outcome, refused)
                await self._keep(outcome)
                failures.append(failure)
                if failure.status in _PUSHBACK or failure.retry_after is not None:
                    code = f"status {failure.status}" if failure.status else failure.kind
                    self._stop(f"the server pushed back ({code}): no more hedges")
            if now >= call._deadline_at or (timer in done and wake_at == call._deadline_at):
                return await self._deadline()
            if failures:
                # gRPC's non-fatal status: the next hedge in line goes at once.
                for failure in failures:
                    self._hedge(now, failure)
                next_at = now + self.delay
            elif timer is not None and timer in done:
                self._hedge(now, None)
                next_at = now + self.delay

    # -- sending ---------------------------------------------------------------

    def _launch(self, now: float) -> None:
        task = asyncio.ensure_future(self.send(self.call.timeouts()))
        self.flying[task] = now

    def _hedge(self, now: float, failure: Failure | None) -> None:
        """Send one more attempt if the rules allow: the count, the budget, the breaker."""
        call = self.call
        if self.stopped is not None or call.made >= self.limit:
            return
        if not call.guard.spend_retry(call.endpoint, now):
            self._stop(f"the retry budget for {call.endpoint} is spent")
            return
        if (refused := call.begin()) is not None:
            self._stop(refused.detail)
            return
        emit(
            call.policy.on_hedge,
            "hedge",
            HedgeDetails(
                call.method,
                call.url,
                call.endpoint,
                call.made,
                self.delay,
                now - call._start,
                failure,
            ),
        )
        self._launch(now)

    def _stop(self, reason: str) -> None:
        if self.stopped is None:
            self.stopped = reason

    # -- what came back --------------------------------------------------------

    def _outcome(self, task: asyncio.Task[R], now: float) -> Outcome[R]:
        """Judge a finished attempt as the plain loop would, and record it."""
        call = self.call
        call._attempt_at = self.flying.pop(task)  # each attempt's own duration
        if task.cancelled():  # not by us: the attempt's own code cancelled it
            call.abandon()
            raise asyncio.CancelledError
        error = task.exception()
        if error is None:
            response = task.result()
            if self.status is None:
                call.succeeded()
                return Outcome(response, None, None)
            outcome = Outcome(response, None, call.judge(*self.status(response)))
        elif isinstance(error, Exception):
            outcome = Outcome(None, error, call.classify(error))
        else:  # KeyboardInterrupt, SystemExit: the call's end, as in the plain loop
            call.abandon()
            raise error
        if outcome.failure is not None:
            call._record(outcome.failure, now)
        return outcome

    async def _keep(self, outcome: Outcome[R]) -> None:
        """``outcome`` is now the last failure; the one before it is done with."""
        if self.last is not None:
            await self._discard(self.last)
        self.last = outcome

    async def _discard(self, outcome: Outcome[R]) -> None:
        if outcome.response is not None and self.discard is not None:
            await self.discard(outcome.response)

    # -- ending ----------------------------------------------------------------

    async def _win(self, outcome: Outcome[R]) -> Outcome[R]:
        call = self.call
        won_at, now = call._attempt_at, call.policy.clock()
        if call._known:
            for started in self.flying.values():
                if started < won_at:
                    # Sent before the winner and still unanswered: it took at least this
                    # long, which keeps the tail the hedge cut off in the percentile.
                    call.guard.latency_sample(call.endpoint, now - started)
        await self.cancel_all()
        if self.last is not None:
            await self._discard(self.last)
        return outcome

    async def _lose(self, outcome: Outcome[R], reason: str) -> Outcome[R]:
        await self.cancel_all()
        if self.last is not None:
            await self._discard(self.last)
        self.call._give_up(outcome, reason)
        return outcome

    async def _deadline(self) -> Outcome[R]:
        call = self.call
        flying = len(self.flying)
        await self.cancel_all()
        deadline = call.policy.deadline
        failure = call._failure(
            Kind.DEADLINE_EXCEEDED,
            f"no complete answer within the call's {deadline:g} s deadline "
            f"({flying} of {call.made} attempts still in flight)",
        )
        if self.last is not None:
            return call.stop(self.last, failure)
        return call.stop(None, failure)

    def _give_up(self) -> Outcome[R]:
        """Every attempt sent has failed and no more may be sent."""
        assert self.last is not None
        reason = EXHAUSTED if self.call.made >= self.limit else self.stopped or EXHAUSTED
        self.call._give_up(self.last, reason)
        return self.last

    async def cancel_all(self) -> None:
        """Cancel the attempts in flight and wait for them to end; discard the response
        of any that finished before the cancel landed."""
        tasks = list(self.flying)
        self.flying.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for task in tasks:
            if task.cancelled():
                self.call.abandon()
            elif task.exception() is None and self.discard is not None:
                await self.discard(task.result())
