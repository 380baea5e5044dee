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
import functools
import gc
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tether._catalogue import CATALOGUE
from tether._durations import human_duration
from tether._kinds import Kind, Layer
from tether.monitor._baseline import Latency
from tether.monitor._conditions import Condition, context_from_probe, parse_condition
from tether.monitor._correlate import correlate, held_by_parent
from tether.monitor._detect import (
    Degraded,
    Detector,
    Event,
    Observation,
    Recovered,
    ReprobeRequested,
    Rules,
    StateChanged,
)
from tether.monitor._schedule import Schedule, run_schedule
from tether.monitor._state import State
from tether.monitor.alerts import Channel, Outbox
from tether.monitor.config import Monitor, MonitorConfig
from tether.monitor.store import ProbeRecord, Store
from tether.probe import Phase, ProbeOptions, ProbeResult, probe_async

log = logging.getLogger("tether.monitor")

_STATE_KEY = "detector:"
"""Each monitor's detector state is saved under ``detector:NAME``, on its own: saving
every monitor on each change cost 1.4 s of CPU per change at 60,000 monitors."""
_LEGACY_KEY = "__detector__"
"""Where the first stores kept every monitor's state in one document."""
_CHECKPOINT_EVERY = 600.0
"""Seconds between saves of every monitor's state, so that a crash loses at most this much
of the latency baselines (states themselves are saved as they change)."""


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
        store: Store,
        outbox: Outbox,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        rand: Callable[[], float] = random.random,
        probe: Callable[[str, ProbeOptions], Awaitable[ProbeResult]] = probe_async,
    ) -> None:
        self.config = config
        self._by_name: tuple[MonitorConfig | None, dict[str, Monitor]] = (None, {})
        self.store = store
        self.outbox = outbox
        self.wall, self.mono, self._sleep = wall, mono, sleep or asyncio.sleep
        self._probe = probe
        self.schedule = Schedule(rand=rand)
        self.conditions: dict[str, list[Condition]] = {
            m.name: [parse_condition(c) for c in m.conditions] for m in config.monitors
        }
        overrides = {m.name: self._rules(m) for m in config.monitors}
        self.detector = Detector(overrides=overrides)
        self._restore(store.load_state())
        self.latest: dict[str, Observation] = {}
        self.since: dict[str, float] = {}
        """When each monitor entered its current state (wall seconds), for the dashboard;
        kept in memory only, so a restart knows it again from the next change."""
        from tether.monitor._metrics import MonitorMetrics

        self.metrics = MonitorMetrics()
        self.open: dict[str, _Open] = {}
        for row in store.incidents(open_only=True):
            self.open[row["key"]] = _Open(
                row["id"], row["key"], set(row["monitors"]), row["opened"]
            )
        self._running = False
        for m in config.monitors:
            self._pause_or_resume(m)

    def _restore(self, saved: dict[str, dict[str, Any]]) -> None:
        names = {m.name for m in self.config.monitors}
        found = dict(saved.get(_LEGACY_KEY, {}).get("monitors", {}))
        found.update(
            (key.removeprefix(_STATE_KEY), data)
            for key, data in saved.items()
            if key.startswith(_STATE_KEY)
        )
        for name, data in found.items():
            if name not in names:
                continue  # removed from the configuration while tether was stopped
            try:
                self.detector.restore(name, data)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("%s: saved state not restored, starting afresh: %s", name, exc)

    def _save(self, name: str) -> None:
        exported = self.detector.export(name)
        if exported is not None:
            self.store.save_state(_STATE_KEY + name, exported)

    def checkpoint(self) -> None:
        """Save every monitor's detector state (the writer batches them)."""
        for name in self.detector.states():
            self._save(name)

    @staticmethod
    def _rules(m: Monitor) -> Rules:
        # No margin means never degraded: an infinite margin puts the limit out of reach.
        k = math.inf if m.latency_margin is None else m.latency_margin
        return Rules(
            failure_threshold=m.failure_threshold,
            success_threshold=m.success_threshold,
            latency=Latency(k=k),
        )

    def _pause_or_resume(self, m: Monitor) -> None:
        now = self.wall()
        if m.paused:
            events = self.detector.pause(m.name, now)
        elif self.detector.state(m.name) is State.PAUSED:
            events = self.detector.resume(m.name, now)
        else:
            return
        for event in events:
            self._handle(event, None, now)

    # -- one check ---------------------------------------------------------------------

    def _monitor(self, name: str) -> Monitor:
        """The monitor called ``name`` (KeyError if none), from a dict:
        ``MonitorConfig.monitor`` scans every monitor, which with tens of thousands costs
        more than the probe.  Rebuilt whenever ``self.config`` is replaced (a reload)."""
        config, by_name = self._by_name
        if config is not self.config:
            by_name = {m.name: m for m in self.config.monitors}
            self._by_name = (self.config, by_name)
        return by_name[name]

    async def check(self, name: str, due: float) -> Check:
        lag_ms = round((self.mono() - due) * 1000, 3)  # how late the check started
        m = self._monitor(name)
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
                result_data(
                    [(p.name, p.ms) for p in result.phases if _worth_keeping(p)],
                    found.resolved,
                    lag_ms,
                ),
            )
        )
        host = result.failure.host if result.failure and result.failure.host else _host(m.url)
        observation = Observation(name, found.ok, now, found.latency_ms, found.kind, host)
        self.latest[name] = observation
        self.metrics.observe(name, found.ok, found.kind.value if found.kind else None, result)
        for event in self.detector.observe(observation, now):
            self._handle(event, found, now)
        return found

    def _handle(self, event: Event, found: Check | None, now: float) -> None:
        name = event.monitor
        if isinstance(event, ReprobeRequested):
            self.schedule.reprobe(name, self.mono() + event.delay)
        elif isinstance(event, StateChanged):
            log.info("%s: %s -> %s (%s)", name, event.old, event.new, event.reason)
            self.since[name] = event.at
            if event.new is not State.PAUSED:  # a paused monitor keeps its last up value
                self.metrics.state(name, event.new is not State.DOWN)
            self._save(name)
            self._changed(event, found, now)
        elif isinstance(event, Degraded):
            expected = event.expected
            self._notice(
                name,
                "degraded",
                f"{name} is slower than usual: {event.latency_ms:.0f} ms, above its limit of "
                f"{expected.limit_ms:.0f} ms (median {expected.median_ms:.0f} ms)",
                now,
            )
        elif isinstance(event, Recovered):
            self._notice(
                name,
                "recovered",
                f"{name} is back to its usual latency: {event.latency_ms:.0f} ms",
                now,
            )

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

    def _changed(self, event: StateChanged, found: Check | None, now: float) -> None:
        """Incidents follow ``down``.  Flapping and pausing hold them as they are: a
        flapping monitor's incident stays open (no alert either way) until it settles."""
        if event.new is State.DOWN and found is not None:
            self._opened(event.monitor, found, now)
        elif event.new in (State.UP, State.DEGRADED) and event.old in (
            State.DOWN,
            State.FLAPPING,
        ):
            self._recovered(event.monitor, now)
        elif event.new in (State.FLAPPING, State.PAUSED):
            for incident in self.open.values():
                if event.monitor in incident.monitors:
                    self.store.note_incident(
                        incident.id, str(event.new), f"{event.monitor}: {event.reason}", now
                    )

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
            self.store.note_incident(
                incident.id,
                "monitor down",
                f"{monitor} is down too",
                now,
                monitors=sorted(incident.monitors),
            )
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
            lasted = human_duration(now - incident.opened)
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
        channels = {c for m in names for c in self._monitor(m).alerts}
        for channel in sorted(channels):
            self.outbox.queue(channel, f"{incident.key}:{incident.id}:{event}", payload, now)

    def _notice(self, monitor: str, event: str, text: str, now: float) -> None:
        """A latency change: an alert of its own, not an incident (the monitor is up)."""
        log.warning("%s", text)
        if self._held(monitor, self.detector.states(), now):
            return
        payload: dict[str, Any] = {
            "event": f"monitor.{event}",
            "incident": None,
            "monitors": [monitor],
            "since": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds"),
            "kind": None,
            "detail": text,
            "hint": "",
            "text": text,
        }
        for channel in self._monitor(monitor).alerts:
            self.outbox.queue(channel, f"{monitor}:{event}:{now:.3f}", payload, now)

    def _held(self, monitor: str, states: dict[str, State], now: float) -> bool:
        if states.get(monitor) is State.FLAPPING:
            return True
        depends = {m.name: m.depends_on for m in self.config.monitors}
        if held_by_parent(monitor, depends, states) is not None:
            return True
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        return any(w.covers(monitor) and w.active(at) for w in self.config.maintenance)

    # -- running -----------------------------------------------------------------------

    # -- reloading ---------------------------------------------------------------------

    def reload(
        self, config: MonitorConfig, channels: Mapping[str, Channel] | None = None
    ) -> list[str]:
        """Run ``config`` from now on, keeping every state, baseline, incident and queued
        alert; return what changed, one line each.

        Monitors keep their place in the schedule unless their interval changed.  A
        removed monitor is forgotten (its history stays in the store) and leaves its
        incidents; an incident left with no monitor is resolved.  ``storage`` and
        ``server`` cannot change under a running monitor: they are reported, not applied.
        """
        old = {m.name: m for m in self.config.monitors}
        new = {m.name: m for m in config.monitors}
        now, mono = self.wall(), self.mono()
        changes: list[str] = []
        for section in ("storage", "server"):
            if getattr(config, section) != getattr(self.config, section):
                changes.append(f"{section} changed: restart tether monitor to apply it")
        if config.alerts != self.config.alerts:
            changes.append("alert channels changed")
        for name in sorted(old.keys() - new.keys()):
            changes.append(f"removed {name}")
            self._forget(name, now)
        self.config = config
        self.conditions = {
            m.name: [parse_condition(c) for c in m.conditions] for m in config.monitors
        }
        if channels is not None:
            self.outbox.channels = channels
        for name, m in new.items():
            before = old.get(name)
            if before is None:
                changes.append(f"added {name}")
            elif before != m:
                changes.append(f"changed {name}")
            self.detector.configure(name, self._rules(m))
            self._pause_or_resume(m)
            if m.paused:
                self.schedule.remove(name)
            elif self._running and self.schedule.interval(name) != m.interval:
                self.schedule.add(name, m.interval, mono)
        return changes

    def _forget(self, name: str, now: float) -> None:
        self.schedule.remove(name)
        self.detector.forget(name)
        self.latest.pop(name, None)
        self.since.pop(name, None)
        self.metrics.forget(name)
        for key, incident in list(self.open.items()):
            if name not in incident.monitors:
                continue
            incident.monitors.discard(name)
            note = f"{name} was removed from the configuration"
            if incident.monitors:
                self.store.note_incident(
                    incident.id, "monitor removed", note, now, monitors=sorted(incident.monitors)
                )
                continue
            self.store.note_incident(incident.id, "resolved", note, now, resolve=True)
            del self.open[key]

    # -- running -----------------------------------------------------------------------

    async def run(
        self, stop: asyncio.Event, *, deliver_every: float = 1.0, freeze_gc: bool = False
    ) -> None:
        """Check every monitor on its interval until ``stop`` is set.

        ``freeze_gc`` (what ``tether monitor`` does) collects once, then moves every object
        alive now (the configuration, parsed conditions, saved states and baselines) out
        of the garbage collector's reach: they live as long as the process, and with tens
        of thousands of monitors each full collection walked them again, pausing the
        event loop for over a second.  It does so once more when every monitor has run
        once, for what the first checks create (metrics series, schedule entries, latest
        results).  Not more often: whatever is frozen in the middle of a check is never
        collected if it later becomes a reference cycle.
        """
        if freeze_gc:
            _freeze()
        now = self.mono()
        self._running = True
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

        longest = max((m.interval for m in self.config.monitors), default=0.0)

        async def housekeeping() -> None:
            """Checkpoint the detector, and drop results past their retention, every
            ten minutes."""
            last = started = self.mono()
            refreeze = freeze_gc
            while not stop.is_set():
                await self._sleep(1.0)
                if refreeze and self.mono() - started > longest + 1:
                    refreeze = False
                    _freeze()
                if self.mono() - last >= _CHECKPOINT_EVERY:
                    last = self.mono()
                    self.checkpoint()
                    await asyncio.to_thread(self.store.prune, self.wall())

        await asyncio.to_thread(self.store.prune, self.wall())
        await asyncio.gather(
            run_schedule(self.schedule, probe, clock=self.mono, sleep=self._sleep, stop=stop),
            deliver(),
            housekeeping(),
        )
        self.checkpoint()
        self.store.flush()


def _freeze() -> None:
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.info(
        "%d objects moved out of the collector's reach in %.2f s",
        gc.get_freeze_count(),
        time.perf_counter() - started,
    )


def result_data(
    phases: list[tuple[str, float]], conditions: list[str], lag_ms: float
) -> dict[str, Any]:
    """What a stored result keeps beside its verdict: phase timings (to 0.01 ms), the
    resolved conditions, and how late the check started.  Compact, since it is most of
    a row and a row is kept for every check."""
    data: dict[str, Any] = {"phases": {name: round(ms, 2) for name, ms in phases}}
    if conditions:
        data["conditions"] = conditions
    data["lag_ms"] = round(lag_ms, 1)
    return data


def _worth_keeping(phase: Phase) -> bool:
    """The url phase is parsing, and the proxy phase without a proxy is a lookup of the
    environment: neither is network time, and together they were a tenth of a row."""
    if phase.name == "url":
        return not phase.ok
    if phase.name == "proxy":
        return not phase.ok or phase.details.get("proxy") is not None
    return True


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
        body=m.body.encode() if m.body is not None else None,
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


@functools.lru_cache(maxsize=1 << 16)
def _host(url: str) -> str:
    # Cached: every check asks, and parsing the URL (IDNA included) costs as much as
    # judging the result; a monitor's URL does not change.
    from tether.probe._target import InvalidTarget, parse_target

    if url.startswith("dns://"):
        return url.split("://", 1)[1]
    try:
        return parse_target(url).ascii_host
    except InvalidTarget:
        return url


def channels_for(config: MonitorConfig) -> dict[str, Channel]:
    """The delivery channel for each configured alert channel."""
    from tether.monitor import config as c
    from tether.monitor.alerts import AppriseChannel, EmailChannel, WebhookChannel

    out: dict[str, Channel] = {}
    for channel in config.alerts:
        if isinstance(channel, c.WebhookChannelConfig):
            secret = channel.secret.get_secret_value() if channel.secret else None
            out[channel.name] = WebhookChannel(channel.name, channel.url, secret=secret)
        elif isinstance(channel, c.AppriseChannelConfig):
            out[channel.name] = AppriseChannel(channel.name, channel.targets)
        else:
            password = channel.password.get_secret_value() if channel.password else None
            out[channel.name] = EmailChannel(
                channel.name,
                channel.host,
                channel.port,
                channel.from_,
                channel.to,
                username=channel.username,
                password=password,
                starttls=channel.starttls,
                cafile=channel.ca_file,
            )
    return out
