"""Traffic monitors, the pure core: an application's own calls (``POST /api/report``,
``_report_api.py``) in a sliding window, and the verdict they add up to.  No clock, no
I/O: the runner feeds the calls with their ``at`` and asks for a verdict at ``now``.

Per traffic monitor, a :class:`Traffic` keeps

- the window (``window`` seconds, 5 min by default) in buckets of one second, each with
  its calls counted by kind and its latencies in fixed log-spaced buckets; running totals
  beside them, so a verdict costs nothing more than the buckets that expired since the
  last one.  Memory is bounded by the window's seconds, never by the call rate;
- how many calls failed in a row (arrival order; a batch in the order of its ``at``);
- how many calls needed more than one attempt, and how many retries they made in all:
  a call that succeeded on its third attempt is a success, but a share of such calls
  rising is the endpoint failing under the retries, and the page and metrics say so.

The rules (``Thresholds``):

- ``consecutive: N``: down once the last N calls failed (the tutorials' rule; 0: off);
- ``failure_ratio: R`` with ``min_calls: M``: down while the window holds at least M
  calls and at least R of them failed.

Down when either rule holds.  Up when neither holds, the window holds a call, and the
last call succeeded (or ``consecutive`` is off).  Otherwise no verdict, and the state
stays: no calls is no news (an application that stopped calling is not a failing
endpoint; a push monitor watches for silence), nor is one failure after successes
while fewer than N failed in a row.

A call older than the window when it arrives, or than the last call counted, does not
change the run of failures; one older than the window is left out of the window too.  A
call stamped in the future (a client's clock ahead) is counted at ``now``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, NamedTuple, TypeVar

from tether._durations import format_duration

__all__ = [
    "LATENCY_BOUNDS_MS",
    "Thresholds",
    "Traffic",
    "TrafficCall",
    "TrafficVerdict",
    "WindowView",
    "percentile",
]

_RATIO: Final = 2 ** (1 / 4)
LATENCY_BOUNDS_MS: Final = tuple(0.25 * _RATIO**i for i in range(84))
"""The upper bounds of the latency buckets: from 0.25 ms up by a factor of 2^(1/4)
(19%) to 250 s; a percentile is read as its bucket's bound, within 19% above the truth.
Fixed, so buckets of different windows (or instances) add up."""
_TOP: Final = len(LATENCY_BOUNDS_MS)
"""The bucket of a latency past the last bound."""
_LOG_RATIO: Final = math.log(_RATIO)
_K = TypeVar("_K")
_LEAST_COVERED: Final = 60.0
"""The least time a rate of calls is taken over, in seconds."""


def latency_bucket(ms: float) -> int:
    """The index of the bucket ``ms`` falls in (``_TOP`` past the last bound)."""
    if ms <= LATENCY_BOUNDS_MS[0]:
        return 0
    i = math.ceil(math.log(ms / LATENCY_BOUNDS_MS[0]) / _LOG_RATIO - 1e-9)
    return min(i, _TOP)


def percentile(buckets: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (0 to 1) of the latencies counted in ``buckets`` (index to
    count), as its bucket's upper bound in ms; None without any."""
    total = sum(buckets.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for i in sorted(buckets):
        seen += buckets[i]
        if seen >= rank:
            return LATENCY_BOUNDS_MS[min(i, _TOP - 1)]
    raise AssertionError("unreachable: rank is at most the total")


class TrafficCall(NamedTuple):
    """One reported call, as the monitor keeps it (a tuple: a batch makes thousands)."""

    at: float
    """Unix seconds when it ended."""
    endpoint: str
    """``host:port`` (``[::1]:443``)."""
    kind: str | None
    """The failure kind's value, or None for a success."""
    ms: float
    """Its whole latency, every attempt included."""
    attempts: int = 1
    """How many attempts it took (0: stopped before one, by a breaker or a deadline)."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a traffic monitor is down (the module's docstring)."""

    consecutive: int = 3
    failure_ratio: float | None = None
    window: float = 300.0
    min_calls: int = 10


@dataclass(slots=True)
class _Bucket:
    calls: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    latency: dict[int, int] = field(default_factory=dict)
    retried: int = 0
    retries: int = 0


@dataclass(frozen=True, slots=True)
class WindowView:
    """What the window holds at one moment: for the verdict, the page and the metrics."""

    calls: int
    failed: int
    kinds: Mapping[str, int]
    """Failed calls by kind."""
    latency: Mapping[int, int]
    """Latency bucket index to count (:data:`LATENCY_BOUNDS_MS`)."""
    span: float
    """The window's length, seconds."""
    retried: int = 0
    """Calls that took more than one attempt (whether they then failed or not)."""
    retries: int = 0
    """The attempts after the first, over every call."""
    covered: float | None = None
    """The seconds of the window that calls were watched for: the whole window, or less
    while the first call counted is more recent than the window is long, but a minute at
    least (a rate from a few seconds would be noise); None: the whole window."""

    @property
    def per_minute(self) -> float | None:
        """Calls a minute over the time covered (None before any call: no time yet)."""
        seconds = self.span if self.covered is None else self.covered
        return self.calls * 60 / seconds if seconds > 0 else None

    @property
    def share(self) -> float:
        """The share of the calls that failed (0 without calls)."""
        return self.failed / self.calls if self.calls else 0.0

    @property
    def retried_share(self) -> float:
        """The share of the calls that needed a retry (0 without calls)."""
        return self.retried / self.calls if self.calls else 0.0

    def p(self, q: float) -> float | None:
        return percentile(self.latency, q)

    def top_kind(self) -> str | None:
        """The commonest failing kind that reached the network (the first in name order on
        a tie): an application's own breaker refusing calls (``circuit.open``) is a
        consequence of those failures, so it is the kind only when there is no other."""
        wire = {k: n for k, n in self.kinds.items() if k != CONSEQUENCE} or self.kinds
        if not wire:
            return None
        return min(wire, key=lambda k: (-wire[k], k))

    def kinds_text(self, limit: int = 3) -> str:
        """``tls.expired 150, connect.refused 2``: the commonest kinds first."""
        ordered = sorted(self.kinds.items(), key=lambda kv: (-kv[1], kv[0]))
        words = [f"{kind} {n}" for kind, n in ordered[:limit]]
        if len(ordered) > limit:
            words.append(f"{len(ordered) - limit} more kinds")
        return ", ".join(words)


@dataclass(frozen=True, slots=True)
class TrafficVerdict:
    """What a traffic monitor's calls say at one moment."""

    ok: bool | None
    """False: down (a rule holds); True: up; None: no verdict, the state stays."""
    kind: str | None
    """The commonest failing kind in the window (or of the run of failures), when down."""
    latency_ms: float | None
    """The window's median latency."""
    detail: str
    """In plain words: "37% of checkout's 412 calls in the last 5m failed (tls.expired
    150, connect.refused 2)"."""
    words: str | None = None
    """When down, the short form an incident joins to a probe's: "37% of checkout's
    calls fail with tls.expired"."""


class Traffic:
    """One traffic monitor's calls: the window and the run of failures (module docstring).
    Mutable, owned by the runner; ``app`` and ``endpoint`` only word the verdicts."""

    def __init__(self, app: str, endpoint: str, thresholds: Thresholds) -> None:
        self.app, self.endpoint, self.thresholds = app, endpoint, thresholds
        self._buckets: dict[int, _Bucket] = {}
        self._seconds: list[int] = []  # a heap of the buckets' seconds
        self._calls = 0
        self._retried = 0
        self._retries = 0
        self._kinds: dict[str, int] = {}
        self._latency: dict[int, int] = {}
        self.run = 0
        """Calls failed in a row, up to the last one counted."""
        self.run_kind: str | None = None
        """The kind of the last failed call of the run."""
        self.last_at = -math.inf
        """The ``at`` of the last call counted in the run."""
        self.seen = False
        """Whether any call was ever counted."""
        self.first_at = math.inf
        """When the first call counted ended: the window covers no time before it."""

    @property
    def span(self) -> float:
        return self.thresholds.window

    def add(self, calls: Iterable[TrafficCall], now: float) -> int:
        """Count ``calls`` at ``now``; how many were recent enough for the window.

        The run of failures goes by the calls' ``at``: after the batch it is the failures
        stamped after its latest success (or, with no success in it, the run so far and
        the batch's failures), counting only calls no older than the last one counted.
        """
        self._expire(now)
        cutoff = math.floor(now - self.span)
        buckets, kinds, latency = self._buckets, self._kinds, self._latency
        first, bound, log_ratio, top = LATENCY_BOUNDS_MS[0], self.last_at, _LOG_RATIO, _TOP
        counted = retried = retries = 0
        earliest = math.inf
        last_ok = -math.inf
        failures: list[tuple[float, str]] = []
        for stamped, _, kind, ms, attempts in calls:
            at = stamped if stamped < now else now
            second = math.floor(at)
            if second <= cutoff:
                continue
            counted += 1
            earliest = min(earliest, at)
            bucket = buckets.get(second)
            if bucket is None:
                bucket = buckets[second] = _Bucket()
                heapq.heappush(self._seconds, second)
            lat = 0 if ms <= first else math.ceil(math.log(ms / first) / log_ratio - 1e-9)
            lat = min(lat, top)
            bucket.calls += 1
            if attempts > 1:
                retried += 1
                retries += attempts - 1
                bucket.retried += 1
                bucket.retries += attempts - 1
            held = bucket.latency
            held[lat] = held.get(lat, 0) + 1
            latency[lat] = latency.get(lat, 0) + 1
            if kind is not None:
                held_kinds = bucket.kinds
                held_kinds[kind] = held_kinds.get(kind, 0) + 1
                kinds[kind] = kinds.get(kind, 0) + 1
            if at >= bound:
                if kind is None:
                    last_ok = max(last_ok, at)
                else:
                    failures.append((at, kind))
        self._calls += counted
        self._retried += retried
        self._retries += retries
        if counted:
            self.seen = True
            self.first_at = min(self.first_at, earliest)
        if last_ok > -math.inf:
            after = [f for f in failures if f[0] > last_ok]
            self.run = len(after)
            self.run_kind = _cause_of(after) or (max(after)[1] if after else None)
            self.last_at = max(last_ok, max(after)[0]) if after else last_ok
        elif failures:
            latest = max(failures)
            self.run += len(failures)
            cause = _cause_of(failures)
            if cause is not None or self.run_kind in (None, CONSEQUENCE):
                self.run_kind = cause or latest[1]
            self.last_at = max(self.last_at, latest[0])
        return counted

    def _expire(self, now: float) -> None:
        """Drop the buckets that left the window by ``now``: those of a second at or before
        ``now - window`` (so the window holds between ``window - 1`` and ``window``
        seconds of calls)."""
        cutoff = math.floor(now - self.span)
        seconds = self._seconds
        while seconds and seconds[0] <= cutoff:
            bucket = self._buckets.pop(heapq.heappop(seconds))
            self._calls -= bucket.calls
            self._retried -= bucket.retried
            self._retries -= bucket.retries
            _subtract(self._kinds, bucket.kinds)
            _subtract(self._latency, bucket.latency)

    def view(self, now: float) -> WindowView:
        """The window at ``now``."""
        self._expire(now)
        return WindowView(
            self._calls,
            sum(self._kinds.values()),
            dict(self._kinds),
            dict(self._latency),
            self.span,
            self._retried,
            self._retries,
            min(self.span, max(_LEAST_COVERED, now - self.first_at)) if self.seen else None,
        )

    def verdict(self, now: float) -> TrafficVerdict:
        """What the calls say at ``now`` (the module's docstring has the rules)."""
        window = self.view(now)
        rules = self.thresholds
        to = "" if self.endpoint == "*" else f" to {self.endpoint}"
        last = format_duration(self.span)
        by_ratio = (
            rules.failure_ratio is not None
            and window.calls >= max(rules.min_calls, 1)
            and window.share >= rules.failure_ratio
        )
        by_run = rules.consecutive > 0 and self.run >= rules.consecutive
        median = window.p(0.5)
        summary = (
            f"{_percent(window.share)} of {self.app}'s {_calls(window.calls)}{to} "
            f"in the last {last} failed"
        )
        if window.kinds:
            summary += f" ({window.kinds_text()})"
        if window.retried:
            summary += f"; {_percent(window.retried_share)} needed a retry"
        if by_ratio:
            kind = window.top_kind()
            words = f"{_percent(window.share)} of {self.app}'s calls{to} fail with {kind}"
            refused = window.kinds.get(CONSEQUENCE, 0) if kind != CONSEQUENCE else 0
            if refused:
                words += f" ({refused} more refused by its own circuit breaker)"
            return TrafficVerdict(False, kind, median, summary, words)
        if by_run:
            kind = self.run_kind
            detail = f"the last {self.run} of {self.app}'s calls{to} failed in a row ({kind})"
            if window.calls:
                detail += f"; {summary}"
            words = f"{self.run} of {self.app}'s calls{to} in a row fail with {kind}"
            return TrafficVerdict(False, kind, median, detail, words)
        if window.calls and (rules.consecutive == 0 or self.run == 0):
            return TrafficVerdict(True, None, median, summary)
        if not window.calls:
            return TrafficVerdict(
                None, None, None, f"no calls of {self.app}{to} in the last {last}"
            )
        return TrafficVerdict(None, None, median, summary)


CONSEQUENCE: Final = "circuit.open"
"""The kind of a call the application's own breaker refused: never the cause."""


def _cause_of(failures: Iterable[tuple[float, str]]) -> str | None:
    """The kind of the latest of ``failures`` that reached the network, if any."""
    real = [f for f in failures if f[1] != CONSEQUENCE]
    return max(real)[1] if real else None


def _subtract(total: dict[_K, int], part: Mapping[_K, int]) -> None:
    """``total`` less ``part``, dropping what falls to zero."""
    for key, n in part.items():
        left = total[key] - n
        if left:
            total[key] = left
        else:
            del total[key]


def _percent(share: float) -> str:
    """``37%``; ``0.4%`` below 1% but above none, so a few failures do not read as none."""
    pct = share * 100
    if 0 < pct < 1:
        return f"{pct:.1f}%"
    return f"{math.floor(pct + 0.5)}%"


def _calls(n: int) -> str:
    return "1 call" if n == 1 else f"{n} calls"
