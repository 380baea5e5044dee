"""The probing half of the monitor: schedule → probe → judge, one :class:`Check` per run.

A :class:`Prober` probes its share of the monitors on their intervals and hands each
check to a sink.  It keeps no store, no detector and no incident: those live in the
coordinator (``_runner.py``), which tells it which monitors are its own
(:meth:`Prober.assign`) and when to probe one again to confirm a failure
(:meth:`Prober.reprobe`).  The same prober runs inside ``tether monitor``'s process
(``workers: 1``) or in each worker process (``_workers.py``), so a check is made the
same way whichever runs it.

What crosses from a prober to the coordinator is one :class:`Check`: the judged record
and the few facts about the probe that the coordinator's ``/metrics`` needs, never the
probe's whole result (it may hold a body, and in a worker it would have to be copied
between processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tether._catalogue import CATALOGUE
from tether._classify import classify, failure_for
from tether._failure import Failure
from tether._frozen import quick_init
from tether._hostport import join_hostport
from tether._kinds import Kind, Layer
from tether.monitor._records import ProbeRecord
from tether.monitor._turns import in_turns
from tether.monitor.checks._blackbox import phase_seconds
from tether.monitor.checks._judge import judge, probe_options, tls_leaf
from tether.monitor.checks._rdap import RdapLookup
from tether.monitor.checks._schedule import START_QUANTUM, Schedule, run_schedule
from tether.monitor.checks._steps import StepPlan, plan_steps, run_steps
from tether.monitor.config import Monitor
from tether.monitor.config._conditions import Condition, parse_condition
from tether.monitor.config._steps import CONTEXT
from tether.probe import (
    IcmpNotPermitted,
    ProbeOptions,
    ProbeResult,
    keep_target,
    probe_async,
    proxy_environment,
    redact_target,
)

__all__ = ["Check", "Prober", "ScreenshotKeeper", "host_of", "take_record"]

log = logging.getLogger("tether.monitor")

Probe = Callable[[str, ProbeOptions], Awaitable[ProbeResult]]
Sink = Callable[["Check"], object]


@quick_init
@dataclass(frozen=True, slots=True)
class Check:
    """One check, as a prober hands it to the coordinator."""

    record: ProbeRecord
    host: str
    """What failed, at the layer that failed (:func:`where_failed`): the name for DNS,
    ``host:port`` beyond (a redirect's, if that one failed); else the monitor's."""
    timings: Mapping[str, float] = field(default_factory=dict)
    """Seconds per blackbox_exporter phase (resolve, connect, tls, processing, transfer)."""
    cert_days_left: int | None = None
    """Days until the leaf certificate expires, when the check saw one."""
    cert_expires: float | None = None
    """When the leaf certificate expires (Unix seconds), when the check saw one."""
    screenshot: bytes | None = field(default=None, repr=False)
    """A failed browser check's PNG of the page (:func:`take_record` keeps it)."""

    def __reduce__(self) -> tuple[Any, ...]:
        # As ProbeRecord's: the constructor's arguments, not fields() walked per check.
        args = (
            self.record,
            self.host,
            self.timings,
            self.cert_days_left,
            self.cert_expires,
            self.screenshot,
        )
        return (Check, args)


def take_record(store: ScreenshotKeeper, check: Check) -> None:
    """Store ``check``'s record, and the screenshot of a failed browser check with it."""
    store.record(check.record)
    if check.screenshot is not None and not check.record.ok:
        store.save_screenshot(check.record.monitor, check.record.ts, check.screenshot)


class ScreenshotKeeper(Protocol):
    """What :func:`take_record` needs of the store."""

    def record(self, record: ProbeRecord) -> None: ...

    def save_screenshot(self, monitor: str, at: float, png: bytes) -> None: ...


@dataclass(slots=True)
class _Plan:
    """What the prober needs of one monitor, worked out once per configuration."""

    monitor: Monitor
    options: ProbeOptions
    conditions: list[Condition]
    broken: Failure | None = None
    """Why the plan could not be made: each check of the monitor fails with it."""
    steps: tuple[StepPlan, ...] = ()
    """A multi-step check's steps (``_steps.py``); none for any other monitor."""
    rdap: bool = False
    """A condition reads ``[DOMAIN_EXPIRATION]``: each check looks the domain up."""
    kept: object = None
    """The monitor's URL parsed, kept for the probe engine's ``parse_target`` from the
    first check on (``keep_target``); ``False`` when it is not a target to parse."""
    places: tuple[str, str] | None = None
    """The monitor's host and service (:func:`host_of`, :func:`service_of`), worked out
    at its first check: their caches hold 65,536 URLs, fewer than a worker's monitors."""

    def keep(self) -> None:
        """Keep the URL's parse for the probe engine (once: it does not change)."""
        if self.kept is None:
            try:
                self.kept = keep_target(self.monitor.url)
            except ValueError:  # not a URL the engine parses (dns://...): nothing to keep
                self.kept = False

    def where(self, failure: Failure | None, kind: Kind | None) -> str:
        """:func:`where_failed` of the monitor's URL, its host and service worked out once."""
        if self.places is None:
            url = self.monitor.url
            self.places = (host_of(url), service_of(url))
        host, service = self.places
        return where_failed(self.monitor.url, failure, kind, host=host, service=service)


def _plan(
    m: Monitor, env: Mapping[str, str] | None = None, clock: Callable[[], float] | None = None
) -> _Plan:
    """The plan of ``m`` (``env``: the proxy variables, read once for all; ``clock``: the
    wall clock); one that raises is a plan whose checks fail saying why, not an
    assignment (of every monitor) that fails."""
    try:
        options = probe_options(m, env, clock)
        steps = plan_steps(m, options, _condition) if m.steps else ()
        rdap = any("[DOMAIN_EXPIRATION]" in c for c in m.conditions)
        return _Plan(m, options, [_condition(c) for c in m.conditions], steps=steps, rdap=rdap)
    except Exception as exc:
        return _Plan(m, ProbeOptions(), [], broken=_raised(m, exc))


class Prober:
    """Probes the monitors it is assigned, each on its interval; every clock and the
    probe itself are injectable (the tests run it on simulated time)."""

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        rand: Callable[[], float] = random.random,
        probe: Probe = probe_async,
    ) -> None:
        self.wall, self.mono = wall, mono
        self._sleep = sleep or asyncio.sleep
        self._probe = probe
        self.schedule = Schedule(rand=rand)
        self._plans: dict[str, _Plan] = {}
        self.rdap = RdapLookup(wall=wall, mono=mono)
        """The RDAP lookups of ``[DOMAIN_EXPIRATION]``, cached across checks."""
        self._running = False
        self._wake: asyncio.Event | None = None
        """Set when a re-probe moves a run earlier; made by :meth:`run` on its loop."""

    def assign(self, monitors: Iterable[Monitor], made: Mapping[str, _Plan] | None = None) -> None:
        """Probe exactly ``monitors`` from now on: at start, on a reload, or when the
        coordinator moves monitors between probers.  A monitor kept with the same
        interval keeps its place in the schedule; a new one (or one with a new interval)
        has its first run spread over its interval.  ``made``: plans made already for
        some of them (:meth:`assign_in_turns`)."""
        given = {m.name: m for m in monitors}
        for name in self._plans.keys() - given.keys():
            self.schedule.remove(name)
        now = self.mono()
        plans: dict[str, _Plan] = {}
        env: Mapping[str, str] | None = None  # read once, when a plan is to be made
        made = made or {}
        for name, m in given.items():
            plan = made.get(name)
            if plan is None:
                plan = self._plans.get(name)
            if plan is None or (plan.monitor is not m and plan.monitor != m):
                if env is None:
                    env = proxy_environment()
                plan = _plan(m, env, self.wall)
            plans[name] = plan
            if self._running and self.schedule.interval(name) != m.interval:
                self.schedule.add(name, m.interval, now)
                self._woken()
        self._plans = plans

    async def assign_in_turns(
        self, monitors: Sequence[Monitor], clock: Callable[[], float] = time.monotonic
    ) -> None:
        """:meth:`assign`, its new plans made with the event loop given a turn every
        :data:`~tether.monitor._turns.TURN` of the work (``in_turns``; ``clock`` its
        clock): a worker's loop also answers the monitor's HTTP port, and planning 60,000
        monitors at once held it for over a second at a cold start.  What is probed
        changes once, at the end, as :meth:`assign` changes it."""
        env = proxy_environment()
        made: dict[str, _Plan] = {}
        async for m in in_turns(monitors, clock=clock):
            plan = self._plans.get(m.name)
            if plan is None or (plan.monitor is not m and plan.monitor != m):
                made[m.name] = _plan(m, env, self.wall)
        self.assign(monitors, made)

    def update(self, monitors: Iterable[Monitor], removed: Iterable[str] = ()) -> None:
        """Probe ``monitors`` too (new, or changed), and no longer those ``removed``, the
        others as they are: :meth:`assign` for a few monitors, at their cost (a change of
        the monitor set).  A monitor kept with the same interval keeps its place."""
        for name in removed:
            if self._plans.pop(name, None) is not None:
                self.schedule.remove(name)
        now = self.mono()
        env = proxy_environment()
        for m in monitors:
            plan = self._plans.get(m.name)
            if plan is None or (plan.monitor is not m and plan.monitor != m):
                self._plans[m.name] = _plan(m, env, self.wall)
            if self._running and self.schedule.interval(m.name) != m.interval:
                self.schedule.add(m.name, m.interval, now)
                self._woken()

    def _woken(self) -> None:
        """A run was planned while :meth:`run` may be waiting with nothing planned."""
        if self._wake is not None:
            self._wake.set()

    @property
    def names(self) -> frozenset[str]:
        """The monitors this prober probes."""
        return frozenset(self._plans)

    def reprobe(self, name: str, delay: float) -> None:
        """Probe ``name`` again in ``delay`` seconds (a confirmation), then on its interval."""
        moved = name in self._plans and self.schedule.reprobe(name, self.mono() + delay)
        if moved and self._wake is not None:
            self._wake.set()  # the schedule's loop may be waiting for a later run

    async def check(self, name: str, due: float) -> Check:
        """Probe ``name`` now and judge the result; ``due`` is when the schedule had it
        due (monotonic seconds), for the start lag.  Never raises (but for cancellation):
        whatever a step raises is a failed check like any other, so a monitor is never
        left without results, and alerts."""
        lag_ms = round((self.mono() - due) * 1000, 3)  # how late the check started
        plan = self._plans[name]
        m = plan.monitor
        failure = plan.broken
        if failure is None:
            try:
                return await self._check(plan, lag_ms)
            except Exception as exc:
                failure = _raised(m, exc)
        record = ProbeRecord(
            m.name, self.wall(), False, failure.kind, None, failure.detail, lag_ms=lag_ms
        )
        return Check(record, failure.host or redact_target(m.url))

    async def _check(self, plan: _Plan, lag_ms: float) -> Check:
        m = plan.monitor
        if plan.steps:
            return await self._steps(plan, lag_ms)
        plan.keep()
        try:
            result = await self._probe(m.url, plan.options)
        except IcmpNotPermitted as exc:
            # This machine's setup, not the target: the check fails saying how to fix it
            # (on the dashboard and in alerts), and the log says it in one line.
            log.error("%s: %s", m.name, exc)
            setup = failure_for(Kind.UNKNOWN, str(exc), url=redact_target(m.url))
            result = ProbeResult(redact_target(m.url), (), setup)
        if plan.rdap and result.failure is None:
            result = await self.rdap.add_phase(result, host_of(m.url), m.rdap, m.timeout)
        record = judge(m, plan.conditions, result, now=self.wall(), lag_ms=lag_ms)
        days_left, expires = _certificate(result)
        where = plan.where(result.failure, record.kind)
        shot = None if record.ok else result.screenshot
        return Check(record, where, phase_seconds(result), days_left, expires, shot)

    async def _steps(self, plan: _Plan, lag_ms: float) -> Check:
        """A multi-step check: its steps in order, one verdict (``_steps.py``)."""
        m, wall, mono = plan.monitor, self.wall, self.mono
        run = await run_steps(m, plan.steps, self._probe, wall=wall, mono=mono, lag_ms=lag_ms)
        timings: dict[str, float] = {}
        for result in run.results:
            for name, seconds in phase_seconds(result).items():
                timings[name] = timings.get(name, 0.0) + seconds
        days_left, expires = next(
            (c for c in map(_certificate, run.results) if c[0] is not None), (None, None)
        )
        where = where_failed(CONTEXT.sub("x", run.url), run.failure, run.record.kind)
        return Check(run.record, where, timings, days_left, expires)

    async def run(
        self,
        stop: asyncio.Event,
        sink: Sink,
        *,
        concurrency: int = 256,
        quantum: float = START_QUANTUM,
    ) -> None:
        """Check every assigned monitor on its interval, handing each check to ``sink``,
        until ``stop`` is set; runs due within ``quantum`` of each other start together
        (:data:`~tether.monitor.checks._schedule.START_QUANTUM`)."""
        now = self.mono()
        self._running = True
        self._wake = asyncio.Event()
        for name, plan in self._plans.items():
            self.schedule.add(name, plan.monitor.interval, now)

        async def one(name: str, due: float) -> None:
            if name not in self._plans:  # unassigned while it waited for a slot
                return
            check = await self.check(name, due)
            try:
                sink(check)
            except Exception:  # one monitor's bug must not stop the others
                log.exception("check of %s could not be taken", name)

        try:
            await run_schedule(
                self.schedule,
                one,
                clock=self.mono,
                sleep=self._sleep,
                stop=stop,
                concurrency=concurrency,
                wake=self._wake,
                quantum=quantum,
            )
        finally:
            self._running = False
            self._wake = None


def _raised(m: Monitor, exc: Exception) -> Failure:
    """What a step of ``m``'s check raised, as its failure: the kind the classifier gives
    it (``unknown`` when nothing better fits, with the exception's class and first line),
    redacted.  Logged in one line, redacted, with where it was raised: a traceback would
    show the message as it was, credentials and all."""
    failure = classify(exc, url=m.url)
    where = ""
    if frames := traceback.extract_tb(exc.__traceback__):
        last = frames[-1]
        where = f" in {last.name} ({os.path.basename(last.filename)}:{last.lineno})"
    log.error(
        "%s: the check raised %s%s",
        m.name,
        failure.detail,
        where,
        extra={"event": "check.raised", "monitor": m.name, "kind": failure.kind.value},
    )
    return failure


@functools.lru_cache(maxsize=4096)
def _condition(text: str) -> Condition:
    """A condition parsed once per text: thousands of monitors often share a few (a
    :class:`Condition` is frozen, so one can serve them all)."""
    return parse_condition(text)


def _certificate(result: ProbeResult) -> tuple[int | None, float | None]:
    """The leaf certificate's days left and its expiry (Unix seconds), if the check saw one."""
    leaf = tls_leaf(result)
    if leaf is None:
        return None, None
    expires = None
    with contextlib.suppress(ValueError):
        expires = leaf.expires.timestamp()
    return leaf.days_left, expires


@functools.lru_cache(maxsize=1 << 16)
def _traffic_host(url: str) -> str:
    """A traffic monitor's host (``traffic://APP/ENDPOINT``): its endpoint's, when the
    endpoint names one ``host:port`` rather than a glob; else the URL, its own."""
    from urllib.parse import unquote

    from tether._hostport import InvalidHostPort, ascii_host, split_hostport

    endpoint = unquote(url.removeprefix("traffic://").partition("/")[2])
    if any(c in endpoint for c in "*?"):
        return url
    try:
        return ascii_host(split_hostport(endpoint)[0])
    except (InvalidHostPort, ValueError):
        return url


def service_of(url: str) -> str:
    """The service a monitor's URL names: ``host:port`` (IDNA-encoded, the scheme's port
    when none is given); the host alone for ICMP, which has no port; a DNS check's name
    and resolver, as :func:`host_of`; a traffic monitor's endpoint ``host:port``.

    Cached, as :func:`host_of`."""
    return _service_of(url)


@functools.lru_cache(maxsize=1 << 16)
def _service_of(url: str) -> str:
    from tether._hostport import InvalidHostPort, split_hostport
    from tether.probe import InvalidTarget, parse_target

    if url.startswith("traffic://"):
        host = _traffic_host(url)
        if host == url:
            return url
        from urllib.parse import unquote

        endpoint = unquote(url.removeprefix("traffic://").partition("/")[2])
        try:
            return join_hostport(host, split_hostport(endpoint)[1])
        except (InvalidHostPort, ValueError):
            return host
    if url.startswith("dns://"):
        return host_of(url)
    try:
        target = parse_target(url)
    except InvalidTarget:
        return url
    return target.ascii_host if target.scheme == "icmp" else target.hostport


def where_failed(
    url: str,
    failure: Failure | None,
    kind: Kind | None,
    *,
    host: str | None = None,
    service: str | None = None,
) -> str:
    """What failed, at the layer that failed: what its incident is keyed on (``_correlate``).

    A name for DNS (with the resolver, for a DNS check); the proxy's ``host:port`` for a
    proxy; the monitor's ``host:port`` for a connection, TLS and an HTTP answer: two
    services on one host are two causes, two paths of one service failing alike are one.
    Not the address a failure names: a name that resolves to several addresses is still
    one service.  ``host`` and ``service``: the URL's :func:`host_of` and
    :func:`service_of`, when the caller has them."""
    if url.startswith("dns://"):
        return host or host_of(url)
    layer = None if kind is None else CATALOGUE[kind].layer
    if layer is Layer.DNS:
        return host or host_of(url)
    if layer is Layer.PROXY and failure is not None and failure.host:
        return join_hostport(failure.host, failure.port)
    return service or service_of(url)


def host_of(url: str) -> str:
    """The host a monitor's URL names (IDNA-encoded), for correlating failures.

    Cached: every check asks, and parsing the URL (IDNA included) costs as much as
    judging the result; a monitor's URL does not change."""
    from tether.probe import InvalidTarget, parse_target

    if url.startswith("dns://"):
        return url.split("://", 1)[1]
    if url.startswith("traffic://"):
        return _traffic_host(url)
    try:
        return parse_target(url).ascii_host
    except InvalidTarget:
        return url
