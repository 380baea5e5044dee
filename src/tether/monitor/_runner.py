"""The monitor's pipeline: schedule → probe → conditions → detection → store →
incidents → outbox.  One object, fed by one event loop; every clock injectable.

What a check does, in order:
1. probe the target with the engine ``tether diagnose`` uses;
2. judge it: a transport failure (DNS, connect, TLS, ...) always fails; an
   answer is judged by the monitor's conditions when it has any, else by
   its status;
3. store the result with its phase timings and resolved conditions;
4. feed the detector, which may ask for a confirmation re-probe or change
   the monitor's state;
5. on a change to or from ``down``, open, extend or resolve the incident the
   failure belongs to (correlated across monitors), and queue its alerts,
   unless a maintenance window or a parent that is down holds them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tether._catalogue import CATALOGUE
from tether._kinds import Kind, Layer
from tether.monitor._conditions import Condition, context_from_probe, parse_condition
from tether.monitor._config import Monitor, MonitorConfig
from tether.monitor._correlate import correlate, held_by_parent
from tether.monitor._detect import (
    Detector,
    Observation,
    ReprobeRequested,
    Rules,
    StateChanged,
)
from tether.monitor._schedule import Schedule, run_schedule
from tether.monitor._state import State
from tether.monitor.alerts import Outbox
from tether.monitor.store import ProbeRecord, SQLiteStore
from tether.probe import ProbeOptions, ProbeResult, probe_async

log = logging.getLogger("tether.monitor")

_DETECTOR_KEY = "__detector__"


@dataclass(slots=True)
class _Open:
    id: int
    key: str
    monitors: set[str]
    opened: float


@dataclass(slots=True)
class Check:
    """What one check found, as stored."""

    monitor: str
    ok: bool
    kind: Kind | None
    detail: str | None
    latency_ms: float
    resolved: list[str] = field(default_factory=list)


class Runner:
    def __init__(
        self,
        config: MonitorConfig,
        store: SQLiteStore,
        outbox: Outbox,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        rand: Callable[[], float] = random.random,
        probe: Callable[[str, ProbeOptions], Awaitable[ProbeResult]] = probe_async,
    ) -> None:
        self.config = config
        self.store = store
        self.outbox = outbox
        self.wall, self.mono, self._sleep = wall, mono, sleep or asyncio.sleep
        self._probe = probe
        self.schedule = Schedule(rand=rand)
        self.conditions: dict[str, list[Condition]] = {
            m.name: [parse_condition(c) for c in m.conditions] for m in config.monitors
        }
        overrides = {m.name: self._rules(m) for m in config.monitors}
        saved = store.load_state().get(_DETECTOR_KEY)
        self.detector = (
            Detector.from_dict(saved, overrides=overrides)
            if saved
            else Detector(overrides=overrides)
        )
        self.latest: dict[str, Observation] = {}
        from tether.monitor._metrics import MonitorMetrics

        self.metrics = MonitorMetrics()
        self.open: dict[str, _Open] = {}
        for row in store.incidents(open_only=True):
            self.open[row["key"]] = _Open(
                row["id"], row["key"], set(row["monitors"]), row["opened"]
            )

    @staticmethod
    def _rules(m: Monitor) -> Rules:
        return Rules(failure_threshold=m.failure_threshold, success_threshold=m.success_threshold)

    # -- one check ---------------------------------------------------------------------

    async def check(self, name: str, due: float) -> Check:
        m = self.config.monitor(name)
        if m.url.startswith("dns://"):
            from tether.monitor._dnscheck import check_dns

            result = await check_dns(m)
        else:
            result = await self._probe(m.url, _options(m))
        now = self.wall()
        found = self.judge(m, result)
        self.store.record(
            ProbeRecord(
                name,
                now,
                found.ok,
                found.kind.value if found.kind else None,
                found.latency_ms,
                found.detail,
                {
                    "phases": {p.name: round(p.ms, 3) for p in result.phases},
                    "conditions": found.resolved,
                    "lag_ms": round((self.mono() - due) * 1000, 3),
                },
            )
        )
        host = result.failure.host if result.failure and result.failure.host else _host(m.url)
        observation = Observation(name, found.ok, now, found.latency_ms, found.kind, host)
        self.latest[name] = observation
        self.metrics.observe(name, found.ok, found.kind.value if found.kind else None, result)
        for event in self.detector.observe(observation, now):
            if isinstance(event, ReprobeRequested):
                self.schedule.reprobe(name, self.mono() + event.delay)
            elif isinstance(event, StateChanged):
                self.metrics.state(name, event.new is not State.DOWN)
                self.store.save_state(_DETECTOR_KEY, self.detector.to_dict())
                self._changed(event, found, now)
        return found

    def judge(self, m: Monitor, result: ProbeResult) -> Check:
        failure = result.failure
        latency = sum(p.ms for p in result.phases)
        answered = failure is None or failure.layer is Layer.HTTP
        conditions = self.conditions.get(m.name, [])
        if conditions and answered:
            context = context_from_probe(result)
            outcomes = [c.evaluate(context) for c in conditions]
            resolved = [o.resolved for o in outcomes]
            failed = [o.resolved for o in outcomes if not o.success]
            if not failed:
                return Check(m.name, True, None, None, latency, resolved)
            detail = "condition not met: " + "; ".join(failed)
            return Check(
                m.name, False, failure.kind if failure else None, detail, latency, resolved
            )
        if failure is None:
            soon = _expires_too_soon(m, result)
            if soon is not None:
                return Check(m.name, False, None, soon, latency)
            return Check(m.name, True, None, None, latency)
        return Check(m.name, False, failure.kind, failure.detail, latency)

    # -- incidents -----------------------------------------------------------------------

    def _changed(self, event: StateChanged, found: Check, now: float) -> None:
        if event.new is State.DOWN:
            self._opened(event.monitor, found, now)
        elif event.old is State.DOWN:
            self._recovered(event.monitor, now)

    def _down_observations(self) -> list[Observation]:
        states = self.detector.states()
        return [o for name, o in self.latest.items() if states.get(name) is State.DOWN]

    def _opened(self, monitor: str, found: Check, now: float) -> None:
        hosts = {m.name: _host(m.url) for m in self.config.monitors if not m.paused}
        groups = correlate(self._down_observations(), hosts)
        group = next((g for g in groups if monitor in g.monitors), None)
        if group is None:
            return
        incident = self.open.get(group.key)
        if incident is not None:
            incident.monitors.add(monitor)
            self.store.note_incident(incident.id, "monitor down", f"{monitor} is down too", now)
            return
        kind = group.kind or found.kind
        detail = found.detail or group.cause
        if group.scope != "monitor":
            detail = f"{group.cause}: {detail}"
        hint = CATALOGUE[kind].hint if kind else "Check the monitor's conditions."
        incident_id = self.store.open_incident(
            group.key, kind.value if kind else "condition", detail, hint, group.monitors, now
        )
        opened = _Open(incident_id, group.key, set(group.monitors), now)
        self.open[group.key] = opened
        log.warning("incident %d opened: %s", incident_id, detail)
        self._alert(opened, "opened", kind, detail, hint, now)

    def _recovered(self, monitor: str, now: float) -> None:
        states = self.detector.states()
        for key, incident in list(self.open.items()):
            if monitor not in incident.monitors:
                continue
            if any(states.get(m) is State.DOWN for m in incident.monitors):
                self.store.note_incident(incident.id, "monitor up", f"{monitor} is up", now)
                continue
            lasted = _duration(now - incident.opened)
            self.store.note_incident(
                incident.id, "resolved", f"down for {lasted}", now, resolve=True
            )
            del self.open[key]
            log.warning("incident %d resolved after %s", incident.id, lasted)
            self._alert(incident, "resolved", None, f"back up after {lasted}", "", now)

    def _alert(
        self, incident: _Open, event: str, kind: Kind | None, detail: str, hint: str, now: float
    ) -> None:
        names = sorted(incident.monitors)
        states = self.detector.states()
        held = [m for m in names if self._held(m, states, now)]
        if held and len(held) == len(names):
            self.store.note_incident(incident.id, "alert held", ", ".join(held), now)
            return
        since = dt.datetime.fromtimestamp(incident.opened, dt.UTC).isoformat(timespec="seconds")
        who = ", ".join(names)
        text = (
            f"{who} {'is' if len(names) == 1 else 'are'} down since {since}: {detail}"
            if event == "opened"
            else f"{who}: {detail}"
        )
        payload: dict[str, Any] = {
            "event": f"incident.{event}",
            "incident": incident.id,
            "monitors": names,
            "since": since,
            "kind": kind.value if kind else None,
            "detail": detail,
            "hint": hint,
            "text": text,
        }
        channels = {c for m in names for c in self.config.monitor(m).alerts}
        for channel in sorted(channels):
            self.outbox.queue(channel, f"{incident.key}:{incident.id}:{event}", payload, now)

    def _held(self, monitor: str, states: dict[str, State], now: float) -> bool:
        depends = {m.name: m.depends_on for m in self.config.monitors}
        if held_by_parent(monitor, depends, states) is not None:
            return True
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        return any(w.covers(monitor) and w.active(at) for w in self.config.maintenance)

    # -- running -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, deliver_every: float = 1.0) -> None:
        now = self.mono()
        for m in self.config.monitors:
            if not m.paused:
                self.schedule.add(m.name, m.interval, now)

        async def probe(name: str, due: float) -> None:
            try:
                await self.check(name, due)
            except Exception:  # one monitor's bug must not stop the others
                log.exception("check of %s failed", name)

        async def deliver() -> None:
            while not stop.is_set():
                await asyncio.to_thread(self.outbox.deliver_due, self.wall())
                await self._sleep(deliver_every)

        await asyncio.gather(
            run_schedule(self.schedule, probe, clock=self.mono, sleep=self._sleep, stop=stop),
            deliver(),
        )
        self.store.save_state(_DETECTOR_KEY, self.detector.to_dict())
        self.store.flush()


def _options(m: Monitor) -> ProbeOptions:
    tls = m.tls
    return ProbeOptions(
        method=m.method,
        headers=tuple(m.headers.items()),
        resolver=m.resolver,
        cacert=tls.ca_file if tls else None,
        insecure=tls.insecure if tls else False,
        timeout=m.timeout,
        deadline=m.timeout,
        follow_redirects=m.follow_redirects,
        max_redirects=m.max_redirects,
        keep_body=_BODY_KEPT if m.conditions else 0,
    )


_BODY_KEPT = 64 * 1024
"""Enough of a body for [BODY] conditions on a health endpoint; the rest is only counted."""


def _expires_too_soon(m: Monitor, result: ProbeResult) -> str | None:
    """With ``tls.min_days_left``, a certificate closer to expiry than that fails the check."""
    if m.tls is None:
        return None
    tls = result.phase("tls")
    chain = tls.details.get("chain") if tls else None
    if not chain:
        return None
    days = chain[0]["days_left"]
    if days >= m.tls.min_days_left:
        return None
    wanted = m.tls.min_days_left
    return f"the certificate expires in {days} days, fewer than tls.min_days_left ({wanted})"


def _host(url: str) -> str:
    from tether.probe._target import InvalidTarget, parse_target

    if url.startswith("dns://"):
        return url.split("://", 1)[1]
    try:
        return parse_target(url).ascii_host
    except InvalidTarget:
        return url


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class _Unsupported:
    """A channel type this build cannot deliver yet: its alerts stay queued, never lost."""

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self._kind = kind

    def deliver(self, payload: dict[str, Any]) -> None:
        raise RuntimeError(f"alert channel {self.name!r}: type {self._kind!r} is not delivered yet")


def channels_for(config: MonitorConfig) -> dict[str, Any]:
    """The delivery channel for each configured alert channel."""
    from tether.monitor.alerts import WebhookChannel

    out: dict[str, Any] = {}
    for c in config.alerts:
        if c.type == "webhook":
            secret = c.secret.get_secret_value() if c.secret else None
            out[c.name] = WebhookChannel(c.name, c.url, secret=secret)
        else:
            out[c.name] = _Unsupported(c.name, c.type)
    return out
