"""The simulation behind ``bench_overload.py``: a server of fixed capacity, open-loop
clients, and each retry strategy as one client model, on a simulated clock.

Pure and seeded: no sockets, no threads, no real time; the same arguments give the same
:class:`Run`.  The model and the strategies are described in ``bench_overload.py``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import tenacity
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from tether import Adaptive, Bulkhead, Guard, RetryPolicy, Throttle
from tether._retry._limits import AimdLimit, Gradient2Limit, ThrottleWindow
from tether._retry._loop import Call, Outcome

URL = "http://127.0.0.1:8080/"  # a key for tether's per-endpoint records; nothing is sent
OK, REJECTED, TIMED_OUT = "200", "503", "timeout"
WARMUP, MEASURE = 120.0, 60.0


@dataclass(frozen=True, slots=True)
class Model:
    """The simulated server and clients (bench_overload.py's docstring says why these)."""

    workers: int = 10
    service: float = 0.1
    """Mean seconds of a worker per request (exponential)."""
    queue: int = 50
    reject_cost: float = 0.005
    """Seconds of a worker to answer 503 to a request that found the queue full."""
    timeout: float = 1.0
    clients: int = 10

    @property
    def capacity(self) -> float:
        return self.workers / self.service


MODEL = Model()


# -- the simulation ------------------------------------------------------------------------


class Sim:
    """A clock and a heap of events; nothing else moves time."""

    __slots__ = ("_heap", "_seq", "now")

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[[Any], object], Any]] = []
        self._seq = itertools.count()

    def at(self, when: float, fn: Callable[[Any], object], arg: Any = None) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), fn, arg))

    def run(self, until: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= until:
            when, _, fn, arg = heapq.heappop(heap)
            self.now = when
            fn(arg)
        self.now = until


class Attempt:
    """One request on the wire: answered, or timed out, whichever comes first."""

    __slots__ = ("ctx", "live", "on_end", "sent_at")

    def __init__(self, on_end: Callable[[Attempt, str], None], ctx: Any, now: float) -> None:
        self.on_end, self.ctx, self.sent_at, self.live = on_end, ctx, now, True

    def end(self, result: str) -> None:
        if self.live:
            self.live = False
            self.on_end(self, result)


def _expire(attempt: Attempt) -> None:
    attempt.end(TIMED_OUT)


@dataclass(slots=True)
class Stats:
    """Counts per simulated second, and a few totals."""

    seconds: int
    start: float
    """Failures are counted from here on (the per-second series from 0)."""
    offered: list[int] = field(default_factory=list)
    good: list[int] = field(default_factory=list)
    good_by_start: list[int] = field(default_factory=list)
    arrivals: list[int] = field(default_factory=list)
    wasted: list[int] = field(default_factory=list)
    served: int = 0
    rejected: int = 0
    busy: float = 0.0
    """Worker-seconds of work finished (requests served and 503s written)."""
    failures: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        n = self.seconds + 1
        self.offered, self.good, self.good_by_start = [0] * n, [0] * n, [0] * n
        self.arrivals, self.wasted = [0] * n, [0] * n


class Server:
    """C workers, a bounded FIFO queue, 503s that cost a little work, no cancellation."""

    def __init__(self, sim: Sim, model: Model, rng: random.Random, stats: Stats) -> None:
        self.sim, self.model, self.stats = sim, model, stats
        self._service = rng.expovariate
        self._rate = 1 / model.service
        self.busy = 0
        self.queue: deque[Attempt] = deque()
        self.rejects = 0  # 503s whose work no worker has done yet
        self.down = False
        self.epoch = 0  # work begun before an outage is lost with it

    def arrive(self, attempt: Attempt) -> None:
        self.stats.arrivals[int(self.sim.now)] += 1
        if self.down:
            return  # answers nothing: the client times out
        if self.busy < self.model.workers:
            self.busy += 1
            self._begin(attempt)
        elif len(self.queue) < self.model.queue:
            self.queue.append(attempt)
        else:
            self.stats.rejected += 1
            self.rejects += self.model.reject_cost > 0
            attempt.end(REJECTED)

    def _begin(self, attempt: Attempt) -> None:
        took = self._service(self._rate)
        self.sim.at(self.sim.now + took, self._finish, (self.epoch, attempt, took))

    def _finish(self, arg: tuple[int, Attempt | None, float]) -> None:
        epoch, attempt, took = arg
        if epoch != self.epoch:
            return
        self.stats.busy += took
        if attempt is not None:
            self.stats.served += 1
            if attempt.live:
                attempt.end(OK)
            else:
                self.stats.wasted[int(self.sim.now)] += 1
        if self.rejects:
            self.rejects -= 1
            cost = self.model.reject_cost
            self.sim.at(self.sim.now + cost, self._finish, (epoch, None, cost))
        elif self.queue:
            self._begin(self.queue.popleft())
        else:
            self.busy -= 1

    def fail(self, _: object = None) -> None:
        self.down, self.epoch = True, self.epoch + 1
        self.busy, self.rejects = 0, 0
        self.queue.clear()

    def recover(self, _: object = None) -> None:
        self.down = False


class World:
    """What every client model shares: the clock, the server, the counts."""

    def __init__(self, sim: Sim, server: Server, model: Model, stats: Stats) -> None:
        self.sim, self.server, self.model, self.stats = sim, server, model, stats

    def send(self, on_end: Callable[[Attempt, str], None], ctx: Any) -> Attempt:
        now = self.sim.now
        attempt = Attempt(on_end, ctx, now)
        self.sim.at(now + self.model.timeout, _expire, attempt)
        self.server.arrive(attempt)
        return attempt

    def good(self, started: float) -> None:
        """A call that began at ``started`` was answered 200 now."""
        self.stats.good[int(self.sim.now)] += 1
        self.stats.good_by_start[int(started)] += 1

    def failed(self, why: str) -> None:
        if self.sim.now >= self.stats.start:
            self.stats.failures[why] += 1


# -- the client models ---------------------------------------------------------------------


class NoRetries:
    def __init__(self, world: World, rand: random.Random) -> None:
        self.w = world

    def call(self) -> None:
        self.w.send(self._end, None)

    def _end(self, attempt: Attempt, result: str) -> None:
        if result == OK:
            self.w.good(attempt.sent_at)
        else:
            self.w.failed(result)


class Urllib3Retry:
    """urllib3's own ``Retry``, stepped as its connection pool steps it (``is_retry``,
    ``increment``, ``get_backoff_time``)."""

    _TIMED_OUT = ReadTimeoutError(None, URL, "Read timed out.")  # type: ignore[arg-type]
    _503 = SimpleNamespace(status=503, get_redirect_location=lambda: False, headers={})

    def __init__(self, world: World, rand: random.Random) -> None:
        self.w = world

    def new(self) -> Retry:
        return Retry(3)

    def call(self) -> None:
        self._attempt((self.new(), self.w.sim.now))

    def _attempt(self, ctx: tuple[Retry, float]) -> None:
        self.w.send(self._end, ctx)

    def _end(self, attempt: Attempt, result: str) -> None:
        retry, started = attempt.ctx
        if result == OK:
            self.w.good(started)
            return
        try:
            if result == REJECTED:
                # Without a status_forcelist or a Retry-After, the 503 goes back as it is.
                if not retry.is_retry("GET", 503, has_retry_after=False):
                    self.w.failed(result)
                    return
                retry = retry.increment("GET", URL, response=self._503)  # type: ignore[arg-type]
            else:
                retry = retry.increment("GET", URL, error=self._TIMED_OUT)
        except MaxRetryError:
            self.w.failed(result)
            return
        self.w.sim.at(self.w.sim.now + retry.get_backoff_time(), self._attempt, (retry, started))


class Urllib3Forcelist(Urllib3Retry):
    """The configuration the requests tutorials copy: ``Retry(total=3, backoff_factor=1,
    status_forcelist=[429, 500, 502, 503, 504])``."""

    def new(self) -> Retry:
        return Retry(total=3, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504])


class Tenacity:
    """``@retry(stop=stop_after_attempt(4), wait=wait_exponential(multiplier=1, min=4,
    max=10))`` around a function that calls ``raise_for_status()``."""

    STOP = tenacity.stop_after_attempt(4)
    WAIT = tenacity.wait_exponential(multiplier=1, min=4, max=10)

    def __init__(self, world: World, rand: random.Random) -> None:
        self.w = world

    def call(self) -> None:
        self._attempt((1, self.w.sim.now))

    def _attempt(self, ctx: tuple[int, float]) -> None:
        self.w.send(self._end, ctx)

    def _end(self, attempt: Attempt, result: str) -> None:
        number, started = attempt.ctx
        if result == OK:
            self.w.good(started)
            return
        state: Any = SimpleNamespace(attempt_number=number)
        if self.STOP(state):
            self.w.failed(result)
            return
        self.w.sim.at(self.w.sim.now + self.WAIT(state), self._attempt, (number + 1, started))


class Tether:
    """tether's ``Call`` and ``Guard`` on the simulated clock, with the throttle and the
    adaptive bulkhead from their pure cores when the policy asks for them."""

    _TIMED_OUT = TimeoutError("timed out")

    def __init__(self, world: World, rand: random.Random, policy: RetryPolicy) -> None:
        self.w = world
        self.rand = rand.random
        # The Guard's own bulkhead and throttle wait on threads and event loops, which a
        # discrete-event simulation has none of: their pure cores (tether._retry._limits)
        # are driven here on the simulated clock instead, with the same rules for what a
        # drop is (a 503 or a timeout) as tether._retry._admission's.
        self.policy = policy.replace(
            clock=lambda: world.sim.now, rand=self.rand, bulkhead=None, throttle=None
        )
        self.guard = Guard(self.policy)
        t = policy.throttle
        self.throttle = None if t is None else ThrottleWindow(t.k, t.window)
        self.bulkhead = b = policy.bulkhead
        self.limiter: Gradient2Limit | AimdLimit | None = None
        if b is not None and b.adaptive is not None:
            a = b.adaptive
            bounds = {"min_limit": a.min_limit, "max_limit": a.max_limit}
            if a.algorithm == "aimd":
                self.limiter = AimdLimit(b.limit, backoff=a.backoff, **bounds)
            else:
                self.limiter = Gradient2Limit(
                    b.limit, tolerance=a.tolerance, smoothing=a.smoothing, **bounds
                )
        self.inflight = 0
        self.waiting: deque[list[Any]] = deque()  # [call, still waiting]

    def call(self) -> None:
        self._attempt((Call(self.policy, "GET", URL, guard=self.guard), self.w.sim.now))

    def _limit(self) -> int:
        if self.limiter is not None:
            return self.limiter.limit
        return self.bulkhead.limit if self.bulkhead is not None else 1 << 30

    def _attempt(self, ctx: tuple[Call, float]) -> None:
        now, call = self.w.sim.now, ctx[0]
        throttle = self.throttle
        if throttle is not None and self.rand() < throttle.probability(now):
            throttle.record(now, accepted=False)
            self.w.failed("throttle.rejected")
            return
        if (stop := call.begin()) is not None:
            self.w.failed(str(stop.kind))
            return
        b = self.bulkhead
        if b is None or self.inflight < self._limit():
            self._send(ctx)
        elif len(self.waiting) < b.queue:
            waiter = [ctx, True]
            self.waiting.append(waiter)
            self.w.sim.at(now + b.queue_timeout, self._give_up_waiting, waiter)
        else:
            call.abandon()
            self.w.failed("bulkhead.full")

    def _give_up_waiting(self, waiter: list[Any]) -> None:
        if waiter[1]:
            waiter[1] = False
            waiter[0][0].abandon()
            self.w.failed("bulkhead.full")

    def _send(self, ctx: tuple[Call, float]) -> None:
        self.inflight += 1
        self.w.send(self._end, (ctx, self.inflight))

    def _end(self, attempt: Attempt, result: str) -> None:
        ctx, inflight = attempt.ctx
        call, started = ctx
        now = self.w.sim.now
        self.inflight -= 1
        if self.limiter is not None:
            self.limiter.update(now - attempt.sent_at, inflight, dropped=result != OK)
        if self.throttle is not None:
            self.throttle.record(now, accepted=result == OK)
        while self.waiting and self.inflight < self._limit():
            waiter = self.waiting.popleft()
            if waiter[1]:
                waiter[1] = False
                self._send(waiter[0])
        if result == OK:
            call.succeeded()
            self.w.good(started)
            return
        if result == REJECTED:
            failure = call.judge(503)
        else:
            call.mark_cut()  # the attempt's total timer ended it
            failure = call.classify(self._TIMED_OUT)
        delay = None if failure is None else call.failed(Outcome(None, None, failure))
        if delay is None:
            self.w.failed(result)
        else:
            self.w.sim.at(now + delay, self._attempt, ctx)


def _tether(policy: RetryPolicy) -> Callable[[World, random.Random], Tether]:
    return lambda world, rand: Tether(world, rand, policy)


BASE = RetryPolicy(total=1.0)
STRATEGIES: dict[str, Callable[[World, random.Random], Any]] = {
    "no retries": NoRetries,
    "urllib3 Retry(3)": Urllib3Retry,
    "urllib3 Retry(3) + status_forcelist": Urllib3Forcelist,
    "tenacity (4 attempts, exponential)": Tenacity,
    "tether default": _tether(BASE),
    "tether, budget only": _tether(BASE.replace(breaker=None)),
    "tether + throttle": _tether(BASE.replace(throttle=Throttle())),
    "tether + adaptive": _tether(BASE.replace(bulkhead=Bulkhead(adaptive=Adaptive()))),
}
ALONE: dict[str, Callable[[World, random.Random], Any]] = {
    "tether + throttle, no breaker": _tether(BASE.replace(breaker=None, throttle=Throttle())),
    "tether + adaptive, no breaker": _tether(
        BASE.replace(breaker=None, bulkhead=Bulkhead(adaptive=Adaptive()))
    ),
}
"""Each answer to overload without the breaker, whose shedding hides them at 2x."""


# -- runs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """What one run measured: rates per second over its counted span, and its series."""

    offered: float
    goodput: float
    server_load: float
    wasted: float
    failures: dict[str, float]
    """Calls failed per second, by what ended them (the last attempt's outcome, or the
    local refusal: ``circuit.open``, ``throttle.rejected``, ``bulkhead.full``)."""
    good_series: tuple[int, ...]
    good_by_start: tuple[int, ...]
    offered_series: tuple[int, ...]
    arrival_series: tuple[int, ...]
    limits: tuple[int, ...]
    """Each client's adaptive limit at the end (empty without one)."""
    served: int
    """Requests the server finished in the whole run, answered in time or not."""
    utilisation: float
    """Worker-seconds of finished work over the workers' seconds in the whole run."""


def simulate(
    strategy: str,
    load: float,
    *,
    model: Model = MODEL,
    warmup: float = WARMUP,
    measure: float = MEASURE,
    seed: int = 1,
    outage: tuple[float, float] | None = None,
) -> Run:
    """Run ``strategy`` at ``load`` times the server's capacity; count from ``warmup`` on.

    ``outage``: (start, end) seconds during which the server answers nothing.
    """
    log = logging.getLogger("tether")
    was, log.disabled = log.disabled, True  # tether logs each retry, breaker and give-up
    try:
        return _simulate(strategy, load, model, warmup, measure, seed, outage)
    finally:
        log.disabled = was


def _simulate(
    strategy: str,
    load: float,
    model: Model,
    warmup: float,
    measure: float,
    seed: int,
    outage: tuple[float, float] | None,
) -> Run:
    seconds = int(warmup + measure)
    sim, stats = Sim(), Stats(seconds, warmup)
    server = Server(sim, model, random.Random(f"{seed}:server:{strategy}:{load}"), stats)
    world = World(sim, server, model, stats)
    make = {**STRATEGIES, **ALONE}[strategy]
    clients = [
        make(world, random.Random(f"{seed}:client{i}:{strategy}:{load}"))
        for i in range(model.clients)
    ]
    if outage is not None:
        sim.at(outage[0], server.fail)
        sim.at(outage[1], server.recover)
    rate = load * model.capacity
    if rate > 0:
        arrivals = random.Random(f"{seed}:arrivals:{load}")  # the same calls for everyone

        def arrive(_: object) -> None:
            stats.offered[int(sim.now)] += 1
            clients[arrivals.randrange(len(clients))].call()
            sim.at(sim.now + arrivals.expovariate(rate), arrive)

        sim.at(arrivals.expovariate(rate), arrive)
    sim.run(seconds)
    start, end = int(warmup), seconds

    def per_second(series: list[int]) -> float:
        return sum(series[start:end]) / (end - start)

    return Run(
        offered=per_second(stats.offered),
        goodput=per_second(stats.good),
        server_load=per_second(stats.arrivals),
        wasted=per_second(stats.wasted),
        failures={k: v / (end - start) for k, v in sorted(stats.failures.items())},
        good_series=tuple(stats.good[:end]),
        good_by_start=tuple(stats.good_by_start[:end]),
        offered_series=tuple(stats.offered[:end]),
        arrival_series=tuple(stats.arrivals[:end]),
        limits=tuple(c.limiter.limit for c in clients if getattr(c, "limiter", None)),
        served=stats.served,
        utilisation=stats.busy / (model.workers * seconds),
    )


def recovery_time(run: Run, outage_end: float, window: int = 5) -> float | None:
    """Seconds from the outage's end to the first ``window``-s span in which 90% of the
    calls that began succeeded (whenever they ended); None if none does.

    Counted by the calls' start, so that a burst of old calls finishing late does not
    pass for recovery."""
    end = int(outage_end)
    last = len(run.good_by_start) - window - 20  # calls begun later may not have ended
    for t in range(end, last + 1):
        good = sum(run.good_by_start[t : t + window])
        offered = sum(run.offered_series[t : t + window])
        if offered and good >= 0.9 * offered:
            return float(t - end)
    return None
