"""Concurrency limits and client-side throttling per endpoint: the runtime around the
pure cores of :mod:`tether._retry._limits`.

A :class:`Limits` belongs to a :class:`tether.Guard` whose policy has a ``bulkhead`` or
a ``throttle`` (``guard.limits`` is None otherwise, and the loop looks no further).  For
each endpoint an :class:`EndpointLimits` drops an attempt with the SRE book's
probability (:meth:`~EndpointLimits.throttled`), hands out the bulkhead's slots
(:meth:`~EndpointLimits.acquire_sync`, :meth:`~EndpointLimits.acquire_async`), and takes
each attempt's outcome back (:meth:`~EndpointLimits.done`), which frees its slot and
feeds the adaptive limit and the throttle's counts.

Threads and event loops share one queue.  A thread waits on an Event, a coroutine on a
future of its own loop; whoever frees a slot hands it to the first waiter under the lock
(:class:`SlotQueue`, pure) and wakes it the way it waits (``call_soon_threadsafe`` for a
loop).  A waiter that times out or is cancelled takes itself out of the queue under the
same lock; if the slot had already been handed to it, it keeps it (a timeout: it won the
race) or passes it on (a cancellation, which must leave nothing held).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from tether._kinds import Kind
from tether._retry._limits import AimdLimit, Gradient2Limit, ThrottleWindow

if TYPE_CHECKING:
    from tether._failure import Failure
    from tether._retry._policy import Bulkhead, RetryPolicy, Throttle

__all__ = [
    "OVERLOAD_KINDS",
    "OVERLOAD_STATUSES",
    "EndpointLimits",
    "LimitState",
    "Limits",
    "SlotQueue",
    "ThrottleState",
    "overloaded",
]

T = TypeVar("T")

OVERLOAD_STATUSES = frozenset({429, 503})
"""Answers that turn a request away for load: the throttle's "not accepted", the
adaptive limit's "dropped"."""
OVERLOAD_KINDS = frozenset(
    {
        Kind.CONNECT_REFUSED,
        Kind.CONNECT_TIMEOUT,
        Kind.TLS_TIMEOUT,
        Kind.WRITE_TIMEOUT,
        Kind.READ_TIMEOUT,
        Kind.DEADLINE_EXCEEDED,
    }
)
"""Failures without an answer that say the endpoint could not take the request: a full
backlog refuses or drops connections, a long queue times out."""


def overloaded(failure: Failure | None) -> bool:
    """Did the endpoint turn this attempt away (429, 503), or fail to take it at all
    (refused, a timeout)?  Any other answer, an error status included, was accepted."""
    if failure is None:
        return False
    if failure.status is not None:
        return failure.status in OVERLOAD_STATUSES
    return failure.kind in OVERLOAD_KINDS


class SlotQueue(Generic[T]):
    """At most ``limit`` slots taken at once, and up to ``bound`` waiters first come,
    first served.  Pure: no lock, no clock; the caller holds a lock around it.

    A freed slot goes to the first waiter at once (its count stays taken), so nobody who
    arrives later can overtake the queue.  Methods that free or add slots return the
    waiters just given one, for the caller to wake.
    """

    __slots__ = ("_waiting", "bound", "inflight", "limit")

    def __init__(self, limit: int, bound: int) -> None:
        self.limit, self.bound, self.inflight = limit, bound, 0
        self._waiting: deque[T] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiting)

    def take(self) -> bool:
        """Take a slot now if one is free and nobody waits for it."""
        if self.inflight < self.limit and not self._waiting:
            self.inflight += 1
            return True
        return False

    def wait(self, waiter: T) -> bool:
        """Queue ``waiter`` for the next free slot; False when the queue is full."""
        if len(self._waiting) >= self.bound:
            return False
        self._waiting.append(waiter)
        return True

    def give_up(self, waiter: T) -> bool:
        """Take ``waiter`` out of the queue: True if it was waiting, False if a slot had
        already been handed to it (it holds one now)."""
        try:
            self._waiting.remove(waiter)
        except ValueError:
            return False
        return True

    def leave(self) -> list[T]:
        """Free a slot."""
        self.inflight -= 1
        return self._grant()

    def resize(self, limit: int) -> list[T]:
        """Change the limit (slots taken above a lower one stay until they are freed)."""
        self.limit = limit
        return self._grant()

    def _grant(self) -> list[T]:
        granted: list[T] = []
        while self._waiting and self.inflight < self.limit:
            granted.append(self._waiting.popleft())
            self.inflight += 1
        return granted


@dataclass(frozen=True, slots=True)
class LimitState:
    """An endpoint's concurrency limit as :meth:`tether.Guard.limit` reads it."""

    endpoint: str
    limit: int
    """Attempts allowed in flight now (the adaptive limit's current value, with one)."""
    in_flight: int
    queued: int


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """An endpoint's client-side throttling as :meth:`tether.Guard.throttling` reads it."""

    endpoint: str
    requests: int
    """Attempts wanted over the window, those dropped here included."""
    accepts: int
    """Of those, the ones the endpoint accepted."""
    probability: float
    """The chance that the next attempt is dropped here."""


class _Waiter:
    """One caller waiting for a slot: a thread (an Event) or a coroutine (a future)."""

    __slots__ = ("event", "future", "loop")

    def __init__(
        self,
        event: threading.Event | None,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.event, self.loop, self.future = event, loop, future

    def wake(self) -> bool:
        """Tell the waiter it holds a slot; False if it cannot be told (its loop closed)."""
        if self.event is not None:
            self.event.set()
            return True
        assert self.loop is not None
        assert self.future is not None
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # the loop is closed: nobody is left to take the slot
            return False
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # cancelled meanwhile: give_up() decides who owns the slot
        future.set_result(None)


class EndpointLimits:
    """The bulkhead and the throttle of one endpoint (either may be absent)."""

    __slots__ = (
        "_bulkhead",
        "_lock",
        "_throttle_config",
        "adaptive",
        "endpoint",
        "queue",
        "throttle",
    )

    def __init__(self, endpoint: str, policy: RetryPolicy, lock: threading.Lock) -> None:
        self.endpoint, self._lock = endpoint, lock
        self._bulkhead = b = policy.bulkhead
        self._throttle_config = t = policy.throttle
        self.queue: SlotQueue[_Waiter] | None = None
        self.adaptive: AimdLimit | Gradient2Limit | None = None
        if b is not None:
            self.queue = SlotQueue(b.limit, b.queue)
            a = b.adaptive
            if a is not None and a.algorithm == "aimd":
                self.adaptive = AimdLimit(
                    b.limit, min_limit=a.min_limit, max_limit=a.max_limit, backoff=a.backoff
                )
            elif a is not None:
                self.adaptive = Gradient2Limit(
                    b.limit,
                    min_limit=a.min_limit,
                    max_limit=a.max_limit,
                    tolerance=a.tolerance,
                    smoothing=a.smoothing,
                )
        self.throttle = None if t is None else ThrottleWindow(t.k, t.window)

    # -- client-side throttling ------------------------------------------------

    def throttled(self, now: float, rand: Callable[[], float]) -> str | None:
        """Drop the attempt (counting it as a request) with the rejection probability,
        drawn with ``rand`` (only when it is above 0): the reason, or None to go ahead."""
        window = self.throttle
        if window is None:
            return None
        with self._lock:
            p = window.probability(now)
            if p <= 0 or rand() >= p:
                return None
            window.record(now, accepted=False)
            requests, accepts = window.counts(now)
        t = self._throttle_config
        assert t is not None
        return (
            f"client-side throttling dropped the request to {self.endpoint}: it accepted "
            f"{accepts} of the last {requests} requests in {t.window:g} s (K={t.k:g}), so "
            f"requests are dropped with probability {p:.2f}; no request was sent"
        )

    # -- the bulkhead -----------------------------------------------------------

    def acquire_sync(self, timeout: float, by_deadline: bool) -> str | None:
        """Take a slot, waiting in this thread up to ``timeout`` seconds: None once one is
        held, else why not."""
        queue = self.queue
        if queue is None:
            return None
        with self._lock:
            if queue.take():
                return None
            waiter = _Waiter(threading.Event())
            if timeout <= 0 or not queue.wait(waiter):
                return self._refusal(timeout, by_deadline)
        assert waiter.event is not None
        try:
            if waiter.event.wait(timeout if math.isfinite(timeout) else None):
                return None
        except BaseException:
            self._abandon(waiter)
            raise
        return self._expired(waiter, timeout, by_deadline)

    async def acquire_async(self, timeout: float, by_deadline: bool) -> str | None:
        """:meth:`acquire_sync`, awaiting the slot on the running loop."""
        queue = self.queue
        if queue is None:
            return None
        with self._lock:
            if queue.take():
                return None
            loop = asyncio.get_running_loop()
            waiter = _Waiter(None, loop, loop.create_future())
            if timeout <= 0 or not queue.wait(waiter):
                return self._refusal(timeout, by_deadline)
        assert waiter.future is not None
        try:
            async with asyncio.timeout(timeout if math.isfinite(timeout) else None):
                await waiter.future
            return None
        except TimeoutError:
            return self._expired(waiter, timeout, by_deadline)
        except BaseException:
            self._abandon(waiter)
            raise

    def _refusal(self, timeout: float, by_deadline: bool) -> str:
        """Why a caller got no slot at once (called under the lock)."""
        queue = self.queue
        assert queue is not None
        if queue.queued < queue.bound:  # room in the queue, but no time to wait in it
            return self._waited(0.0, by_deadline)
        return (
            f"the limit of {queue.limit} calls in flight to {self.endpoint} is reached and "
            f"its queue is full ({queue.inflight} in flight, {queue.queued} of "
            f"{queue.bound} queued); no request was sent"
        )

    def _waited(self, timeout: float, by_deadline: bool) -> str:
        queue = self.queue
        assert queue is not None
        bound = "what the call's deadline left" if by_deadline else "the bulkhead's queue_timeout"
        return (
            f"no slot of the {queue.limit} for calls in flight to {self.endpoint} came free "
            f"within {timeout:g} s ({bound}; {queue.inflight} in flight, {queue.queued} "
            "queued); no request was sent"
        )

    def _expired(self, waiter: _Waiter, timeout: float, by_deadline: bool) -> str | None:
        """The wait ran out: leave the queue, unless a slot came just in time."""
        assert self.queue is not None
        with self._lock:
            detail = self._waited(timeout, by_deadline)  # counting itself among the queued
            if not self.queue.give_up(waiter):
                return None  # handed a slot as the timer fired: keep it
            return detail

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter interrupted (cancelled, KeyboardInterrupt) must hold nothing."""
        assert self.queue is not None
        with self._lock:
            if self.queue.give_up(waiter):
                return
            granted = self.queue.leave()
        self._wake(granted)

    def release(self) -> None:
        """Free a slot whose attempt has no outcome (cancelled, or stopped before sending)."""
        assert self.queue is not None
        with self._lock:
            granted = self.queue.leave()
        self._wake(granted)

    def _wake(self, granted: list[_Waiter]) -> None:
        while granted:
            if granted.pop().wake():
                continue
            with self._lock:  # its loop is gone: the slot goes to the next in line
                assert self.queue is not None
                granted += self.queue.leave()

    # -- after an attempt -------------------------------------------------------

    def done(self, failure: Failure | None, now: float, duration: float, held: bool) -> None:
        """Take a sent attempt's outcome: free its slot (``held``), feed the adaptive limit
        and count it for the throttle.

        ``connect.resource_exhausted`` feeds neither: this machine ran short, the
        endpoint was never asked.
        """
        counted = failure is None or failure.kind is not Kind.CONNECT_RESOURCE_EXHAUSTED
        dropped = overloaded(failure)
        granted: list[_Waiter] = []
        with self._lock:
            if counted and self.throttle is not None:
                self.throttle.record(now, accepted=not dropped)
            queue = self.queue
            if queue is not None and held:
                if counted and self.adaptive is not None:
                    # in flight as this attempt ends, itself included
                    limit = self.adaptive.update(duration, queue.inflight, dropped=dropped)
                    granted = queue.resize(limit)
                granted += queue.leave()
        if granted:
            self._wake(granted)

    # -- reading ----------------------------------------------------------------

    def limit_state(self) -> LimitState | None:
        queue = self.queue
        if queue is None:
            return None
        with self._lock:
            return LimitState(self.endpoint, queue.limit, queue.inflight, queue.queued)

    def throttle_state(self, now: float) -> ThrottleState | None:
        window = self.throttle
        if window is None:
            return None
        with self._lock:
            requests, accepts = window.counts(now)
            p = window.probability(now)
        return ThrottleState(self.endpoint, requests, accepts, p)


class Limits:
    """The bulkheads and throttles of one guard, one :class:`EndpointLimits` per endpoint."""

    __slots__ = ("_endpoints", "_lock", "bulkhead", "policy", "throttle")

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.bulkhead: Bulkhead | None = policy.bulkhead
        self.throttle: Throttle | None = policy.throttle
        self._lock = threading.Lock()
        self._endpoints: dict[str, EndpointLimits] = {}

    def at(self, endpoint: str) -> EndpointLimits:
        """The limits of ``endpoint``, made on first use."""
        found = self._endpoints.get(endpoint)
        if found is None:
            with self._lock:
                found = self._endpoints.get(endpoint)
                if found is None:
                    found = EndpointLimits(endpoint, self.policy, self._lock)
                    self._endpoints[endpoint] = found
        return found
