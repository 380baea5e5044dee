"""The incident engine: state changes in; incident events and the alerts they send out.

Pure: it reads no clock, touches no store and sends nothing.  The runner feeds it
the detector's state changes (with the check behind each), latency notices, and a
tick every second; it answers with events, each carrying the incident as it now
is, a line for its timeline, and the alerts to queue.  The runner only writes
them down and queues them.

The rules, which are what a team relies on when it lets tether page it:

- **Every monitor that goes down or comes back gets its own alert**, naming the
  incident it belongs to.  The first monitor down for a cause opens the incident
  (``incident.opened``); another one down for the same cause joins it
  (``monitor.down``: "bravo is down too: same cause as incident #2 ..."); one
  that comes back while others are still down leaves it (``monitor.up``); the
  last one back resolves it (``incident.resolved``, naming the kind it resolves).
  Grouping never hides a monitor.
- **Each alert goes to each of the monitor's channels**, as its own queued alert:
  the outbox keeps one queue per channel.
- **Held, never dropped**: while a monitor is flapping, in a maintenance window,
  or a monitor it depends on is down, its down alert waits (the timeline says
  so); once the hold lifts and it is still down, the alert goes out.  A monitor
  whose down alert never went out sends no up alert either.
- **Reminders** (``remind_every``) repeat a down monitor's alert while its
  incident stays open and nobody has acknowledged it.
- **Escalation** (``escalate``): after each step's ``after``, the monitor's
  alerts also go to that step's channels, starting with an ``incident.escalated``
  alert there.  Acknowledging an incident stops reminders and further steps.
- **Partial incidents** (a monitor probed from several locations, see ``_quorum.py``):
  while some of its locations fail, fewer than its quorum, the monitor has one
  incident keyed ``partial:NAME`` ("api unreachable from eu-west (connect.timeout), up
  from us-east and local") whose timeline follows the locations, resolved when none
  fails any more, or when the monitor goes down for the cluster ("down from a quorum
  now: see incident #N", and that incident opens with its usual alert).  It goes to
  the monitor's channels only with ``partial_alerts`` (``incident.partial``, then
  ``incident.partial_resolved``), held as a down alert is, and never reminded or
  escalated: nothing is down for the cluster.  A full incident of such a monitor names
  its locations and their kinds too.

```
 down ──► correlate ──► new cause? ── yes ─► Opened   (incident.opened)
                              └────── no ──► Joined   (monitor.down)
 up ────► last one down? ──────────── no ──► Left     (monitor.up)
                              └────── yes ─► Resolved (incident.resolved)
 tick ──► hold lifted ─► Released · remind_every ─► Reminder · escalate ─► Escalated
 locations ─► partial? ── new ─► Opened (incident.partial) · changed ─► Noted
                    └──── none fails ─► Resolved (incident.partial_resolved)
```
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tether._catalogue import CATALOGUE
from tether._durations import human_duration
from tether._kinds import Kind
from tether._plural import count, joined
from tether.monitor._correlate import Correlation, Failures, IncidentGroup, correlate
from tether.monitor._detect import Degraded, Observation, Recovered, StateChanged
from tether.monitor._quorum import LocationsChanged
from tether.monitor._records import (
    PARTIAL_PREFIX,
    RESOLVING,
    Alert,
    AlertPayload,
    Incident,
    LocationFact,
    Member,
    ProbeRecord,
    TimelineEntry,
    kind_text,
)
from tether.monitor._state import State

__all__ = [
    "Acknowledged",
    "Alert",
    "Escalated",
    "Escalation",
    "Event",
    "Held",
    "IncidentEngine",
    "Joined",
    "Left",
    "Noted",
    "Notice",
    "Opened",
    "Released",
    "Reminder",
    "Resolved",
    "Route",
]

_DOWN = frozenset({State.DOWN, State.FLAPPING})
_UP = frozenset({State.UP, State.DEGRADED})


@dataclass(frozen=True, slots=True)
class Escalation:
    """After ``after`` seconds down, a monitor's alerts also go to ``alerts``."""

    after: float
    alerts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """Where a monitor's alerts go, and how often they repeat."""

    channels: tuple[str, ...] = ()
    url: str | None = None
    """The monitor's target, credentials already redacted: it goes in every payload."""
    remind_every: float | None = None
    escalate: tuple[Escalation, ...] = ()
    partial_alerts: bool = False
    """Whether its partial incidents go to ``channels`` (they are opened either way)."""


@dataclass(frozen=True, slots=True)
class _Event:
    incident: Incident
    """The incident as it is after this event."""
    monitor: str
    entry: TimelineEntry | None
    """What the incident's timeline gains (None: nothing)."""
    alerts: tuple[Alert, ...] = ()
    touched: tuple[str, ...] | None = None
    """The members whose record changed in this event (joined, changed, or left): the
    store writes those alone.  None: every member (an incident opened, folded or
    resolved), written whole."""


@dataclass(frozen=True, slots=True)
class Opened(_Event):
    """The first monitor down for a new cause opened ``incident``."""


@dataclass(frozen=True, slots=True)
class Joined(_Event):
    """Another monitor went down for the cause of an open incident."""


@dataclass(frozen=True, slots=True)
class Left(_Event):
    """A monitor came back (or was paused or removed) while the incident goes on."""


@dataclass(frozen=True, slots=True)
class Resolved(_Event):
    """The incident's last monitor came back (or was paused or removed)."""


@dataclass(frozen=True, slots=True)
class Held(_Event):
    """A monitor's down alert waits: it is flapping, in maintenance, or its parent is down."""


@dataclass(frozen=True, slots=True)
class Released(_Event):
    """A held down alert went out: the hold lifted and the monitor is still down."""


@dataclass(frozen=True, slots=True)
class Reminder(_Event):
    """A down monitor's alert, repeated (``remind_every``)."""


@dataclass(frozen=True, slots=True)
class Escalated(_Event):
    """A monitor stayed down past an escalation step: more channels are told."""


@dataclass(frozen=True, slots=True)
class Noted(_Event):
    """Something worth a line in the timeline, with no alert (a member started flapping,
    what its locations see changed)."""


@dataclass(frozen=True, slots=True)
class Acknowledged(_Event):
    """Someone acknowledged the incident: reminders and escalation stop."""


@dataclass(frozen=True, slots=True)
class Notice:
    """A latency notice (degraded, recovered): alerts of its own, no incident."""

    monitor: str
    text: str
    alerts: tuple[Alert, ...] = ()


Event = (
    Opened
    | Joined
    | Left
    | Resolved
    | Held
    | Released
    | Reminder
    | Escalated
    | Noted
    | Acknowledged
)

Hold = Callable[[str, float], str | None]
"""Why ``monitor``'s alerts wait at ``now`` (flapping, maintenance, a parent down), or None."""


def _no_hold(monitor: str, now: float) -> str | None:
    return None


def _no_traffic(monitor: str) -> str | None:
    return None


@dataclass(slots=True)
class IncidentEngine:
    """Open incidents, and the rules that turn state changes into alerts.

    ``new_id`` hands out incident ids (the store's); ``hold`` says why a monitor's
    alerts wait; ``routes`` says where each monitor's alerts go (replaced on reload).
    ``incidents`` are the open incidents to carry on with (after a restart).
    ``traffic`` words a down traffic monitor's failure ("37% of checkout's calls fail
    with tls.expired since 10:02"), None for any other monitor: when one joins a probe's
    incident on the same host, or a probe joins its, the incident says both signals.
    """

    routes: Mapping[str, Route]
    new_id: Callable[[], int]
    hold: Hold = _no_hold
    correlation: Correlation | None = None
    traffic: Callable[[str], str | None] = _no_traffic
    incidents: Iterable[Incident] = ()
    _open: dict[int, Incident] = field(init=False, default_factory=dict)
    _by_key: dict[str, list[int]] = field(init=False, default_factory=dict)
    """The open incidents of each key, oldest first: a change finds its incident without
    a walk over every open one (a mass outage opens one per host)."""
    _of: dict[str, list[int]] = field(init=False, default_factory=dict)
    """The open incidents (not partial) each monitor is down in, oldest first."""

    def __post_init__(self) -> None:
        for incident in self.incidents:
            if incident.is_open:
                members = dict(incident.members) or {
                    m: Member(incident.opened, alerted=True) for m in incident.monitors
                }
                self._put(dataclasses.replace(incident, members=members))
        self.incidents = ()

    # -- what the runner asks ------------------------------------------------------------

    def open_incidents(self) -> list[Incident]:
        """The open incidents, oldest first."""
        return [self._open[i] for i in sorted(self._open)]

    def incident_of(self, monitor: str) -> Incident | None:
        """The open incident ``monitor`` is down in, if any (not its partial incident)."""
        ids = self._of.get(monitor)
        return self._open[ids[0]] if ids else None

    def partial_of(self, monitor: str) -> Incident | None:
        """``monitor``'s open partial incident, if any."""
        return self._keyed(PARTIAL_PREFIX + monitor)

    def changed(
        self,
        change: StateChanged,
        record: ProbeRecord | None,
        down: Iterable[Observation] | Failures,
        hosts: Mapping[str, str],
        locations: Mapping[str, LocationFact] | None = None,
    ) -> list[Event]:
        """A monitor's state changed; ``record`` is the check behind it, ``down`` the latest
        failed observation of every monitor down now, ``hosts`` every monitored host.
        ``down`` may instead be the :class:`Failures` that keeps both, one change at a
        time (the runner's): its cost then does not grow with the number of failures.

        ``locations`` is what each of the monitor's locations sees (``Quorum.locations``),
        for a monitor of more than one: its incident's detail and alerts name them."""
        name, now = change.monitor, change.at
        facts = dict(locations) if locations is not None and len(locations) > 1 else {}
        if change.new is State.DOWN and record is not None:
            if self.incident_of(name) is not None:
                return []  # back from flapping: it never left its incident
            if isinstance(down, Failures):
                group = down.group_of(name, self.correlation)
            else:
                groups = correlate(down, hosts, self.correlation)
                group = next((g for g in groups if name in g.monitors), None)
            if group is None:
                return []
            events = self._down(name, group, record, now, facts)
            return events + self._end_partial(name, now, facts, superseded_by=events[0].incident)
        if change.new in _UP:
            # Whatever it was before (down, flapping, or unknown when no location could see
            # it), a monitor that is up is in no incident.
            return self._leave(name, now, "up", facts)
        if change.new is State.PAUSED:
            return self._leave(name, now, "paused") + self._end_partial(name, now, why="paused")
        if change.new is State.FLAPPING:
            incident = self.incident_of(name)
            if incident is not None:
                entry = TimelineEntry(now, "flapping", f"{name}: {change.reason}")
                return [Noted(incident, name, entry)]
        return []

    def forget(self, monitor: str, now: float) -> list[Event]:
        """``monitor`` was removed from the configuration: it leaves its incident."""
        return self._leave(monitor, now, "removed") + self._end_partial(monitor, now, why="removed")

    def locations(self, change: LocationsChanged) -> list[Event]:
        """What a monitor's locations see changed (``Quorum`` says so, after the
        ``StateChanged`` it goes with, if any).

        Down in an incident: the incident notes it.  Partial (some locations fail, the
        monitor is not down): its partial incident opens, or notes the change.  No
        location failing: its partial incident resolves.  Down for the cluster: nothing
        here, :meth:`changed` opened the incident and closed the partial one."""
        name, now = change.monitor, change.at
        facts = dict(change.locations) if len(change.locations) > 1 else {}
        incident = self.incident_of(name)
        if incident is not None:
            return self._note_locations(incident, name, facts, now)
        if change.partial:
            return self._partial(name, facts, now)
        if not change.failing:
            return self._end_partial(name, now, facts)
        return []

    def notice(self, event: Degraded | Recovered, now: float) -> Notice:
        """A latency notice: its own alert on the monitor's channels, unless held."""
        name = event.monitor
        if isinstance(event, Degraded):
            expected = event.expected
            what = "degraded"
            text = (
                f"{name} is slower than usual: {event.latency_ms:.0f} ms, above its limit of "
                f"{expected.limit_ms:.0f} ms (median {expected.median_ms:.0f} ms)"
            )
        else:
            what, text = (
                "recovered",
                f"{name} is back to its usual latency: {event.latency_ms:.0f} ms",
            )
        if self.hold(name, now) is not None:
            return Notice(name, text)
        route = self.routes.get(name, Route())
        payload = AlertPayload(
            f"monitor.{what}", name, text, now, url=route.url, detail=text, since=now
        )
        return Notice(name, text, _alerts(route.channels, f"{name}:{what}:{now:.3f}", payload))

    def acknowledge(self, incident_id: int, at: float) -> Acknowledged | None:
        """Someone acknowledged ``incident_id`` (the store says so): reminders and
        escalation stop.  None if it is not open, or was acknowledged already."""
        incident = self._open.get(incident_id)
        if incident is None or incident.acknowledged is not None:
            return None
        incident = self._replace(incident, acknowledged=at)
        return Acknowledged(incident, "", None)

    def tick(self, now: float) -> list[Event]:
        """Held alerts whose hold lifted, reminders and escalation steps that are due."""
        events: list[Event] = []
        for incident_id in sorted(self._open):
            for name in sorted(self._open[incident_id].members):
                events += self._due(self._open[incident_id], name, now)
        return events

    # -- the rules -----------------------------------------------------------------------

    def _down(
        self,
        name: str,
        group: IncidentGroup,
        record: ProbeRecord,
        now: float,
        facts: Mapping[str, LocationFact],
    ) -> list[Event]:
        held = self.hold(name, now)
        existing = self._keyed(group.key)
        member = Member(now, alerted=held is None, opener=existing is None, locations=facts)
        events: list[Event]
        if existing is None:
            kind = group.kind or record.kind
            detail = record.detail or group.cause
            if group.scope != "monitor":
                detail = f"{group.cause}: {detail}"
            if facts:
                detail = f"{detail}; {_where(facts, 'down')}"
            incident = self._open_new(group.key, kind, detail, name, member, now)
            alerts = () if held else self._say(incident, name, "incident.opened", now)
            events = [Opened(incident, name, None, alerts)]
        else:
            members = {**existing.members, name: member}
            incident = self._replace(existing, members=members)
            too = f"{name} is down too" + (f", {_where(facts, 'down')}" if facts else "")
            both = self._both(members, group) if group.scope == "host" else None
            if both is not None:
                too = f"{too}: {both}"
            entry = TimelineEntry(now, "monitor down", too)
            alerts = () if held else self._say(incident, name, "monitor.down", now)
            if both is not None:
                text = f"{both} (incident #{incident.id})"
                alerts = tuple(
                    dataclasses.replace(
                        a, payload=dataclasses.replace(a.payload, text=text, detail=both)
                    )
                    for a in alerts
                )
            events = [Joined(incident, name, entry, alerts)]
        if held:
            entry = TimelineEntry(now, "alert held", f"{name}: {held}")
            events.append(Held(incident, name, entry))
        return events

    def _both(self, members: Mapping[str, Member], group: IncidentGroup) -> str | None:
        """The two signals of one host in a sentence, when a traffic monitor and a probed
        one are down together: "payments.internal: 37% of checkout's calls fail with
        tls.expired since 10:02; the probe of https://payments.internal/health agrees"."""
        calls = [(m, words) for m in sorted(members) if (words := self.traffic(m)) is not None]
        urls = [self.routes[m].url for m in sorted(members) if m in self.routes]
        probes = [
            url
            for m, url in zip(sorted(m for m in members if m in self.routes), urls, strict=True)
            if url is not None and self.traffic(m) is None and not _passive(url)
        ]
        if not calls or not probes:
            return None
        said = "; ".join(words for _, words in calls)
        if len(probes) == 1:
            agree = f"the probe of {probes[0]} agrees"
        else:
            agree = f"the probes of {joined(probes)} agree"
        return f"{group.host}: {said}; {agree}"

    def _leave(
        self,
        name: str,
        now: float,
        why: str,
        facts: Mapping[str, LocationFact] | None = None,
    ) -> list[Event]:
        events: list[Event] = []
        for incident in [self._open[i] for i in self._of.get(name, ())]:
            member = incident.members[name]
            if facts:  # its up alert shows what each location sees now
                member = dataclasses.replace(member, locations=facts)
            members = {m: v for m, v in incident.members.items() if m != name}
            last = not members
            gone = {
                "up": f"{name} is back up after {human_duration(now - member.joined)}",
                "paused": f"{name} was paused",
                "removed": f"{name} was removed from the configuration",
            }[why]
            told = member.alerted and why == "up"
            if last:
                lasted = human_duration(now - incident.opened)
                closed = self._replace(incident, members={}, resolved=now)
                self._drop(incident.id)
                entry = TimelineEntry(now, "resolved", f"{gone}; down for {lasted}")
                alerts = self._say(closed, name, "incident.resolved", now, member) if told else ()
                events.append(Resolved(closed, name, entry, alerts))
            else:
                left = self._replace(incident, members=members)
                entry = TimelineEntry(now, f"monitor {why}", gone)
                alerts = self._say(left, name, "monitor.up", now, member) if told else ()
                events.append(Left(left, name, entry, alerts))
        return events

    def _due(self, incident: Incident, name: str, now: float) -> list[Event]:
        member = incident.members[name]
        route = self.routes.get(name, Route())
        held = self.hold(name, now)
        if held is not None:
            return []
        if incident.is_partial and (member.alerted or not route.partial_alerts):
            return []  # nothing is down for the cluster: no reminder, no escalation
        if not member.alerted:
            member = dataclasses.replace(member, alerted=True)
            incident = self._member(incident, name, member)
            event = (
                "incident.partial"
                if incident.is_partial
                else "incident.opened"
                if member.opener
                else "monitor.down"
            )
            entry = TimelineEntry(now, "alert sent", f"{name}: no longer held")
            return [Released(incident, name, entry, self._say(incident, name, event, now))]
        if incident.acknowledged is not None:
            return []
        events: list[Event] = []
        last = member.reminded if member.reminded is not None else member.joined
        steps = route.escalate[member.escalated :]
        for step in steps:
            if now - member.joined < step.after:
                break
            told = set(self._channels(route, member))
            member = dataclasses.replace(member, escalated=member.escalated + 1)
            incident = self._member(incident, name, member)
            new = tuple(c for c in step.alerts if c not in told)
            payload = self._payload(incident, name, "incident.escalated", now)
            alerts = _alerts(new, _dedup(incident, name, "incident.escalated", now), payload)
            entry = TimelineEntry(
                now,
                "escalated",
                f"{name}: down for {human_duration(step.after)}, told " + ", ".join(step.alerts),
            )
            events.append(Escalated(incident, name, entry, alerts))
        if route.remind_every is not None and now - last >= route.remind_every:
            # A channel escalated to less than half a reminder period ago has the news
            # fresh from the escalation alert: it is reminded from the next one.  (The
            # two often fall due together, a tick or a rounding apart.)
            reached = route.escalate[: member.escalated]
            fresh = route.remind_every / 2
            heard = sum(1 for step in reached if now - (member.joined + step.after) >= fresh)
            member = dataclasses.replace(member, reminded=now)
            incident = self._member(incident, name, member)
            entry = TimelineEntry(now, "reminder", f"{name} is still down")
            payload = self._payload(incident, name, "incident.reminder", now)
            alerts = _alerts(
                self._channels(route, dataclasses.replace(member, escalated=heard)),
                _dedup(incident, name, "incident.reminder", now),
                payload,
            )
            events.append(Reminder(incident, name, entry, alerts))
        return events

    def _partial(self, name: str, facts: dict[str, LocationFact], now: float) -> list[Event]:
        """Open ``name``'s partial incident, or follow what its locations see."""
        detail = f"{name} {_where(facts, 'unreachable')}"
        kind = _kind(facts)
        existing = self.partial_of(name)
        if existing is not None:
            member = existing.members.get(name) or Member(existing.opened, opener=True)
            if _failing(member.locations) == _failing(facts):
                # Only an up location's news, or the same failures: keep the facts fresh.
                self._member(existing, name, dataclasses.replace(member, locations=facts))
                return []
            member = dataclasses.replace(member, locations=facts)
            incident = self._replace(existing, detail=detail, kind=kind, members={name: member})
            return [Noted(incident, name, TimelineEntry(now, "locations", detail))]
        route = self.routes.get(name, Route())
        held = self.hold(name, now) if route.partial_alerts else None
        member = Member(
            now, alerted=route.partial_alerts and held is None, opener=True, locations=facts
        )
        incident = self._open_new(PARTIAL_PREFIX + name, kind, detail, name, member, now)
        alerts = self._say(incident, name, "incident.partial", now) if member.alerted else ()
        events: list[Event] = [Opened(incident, name, None, alerts)]
        if held:
            events.append(Held(incident, name, TimelineEntry(now, "alert held", f"{name}: {held}")))
        return events

    def _end_partial(
        self,
        name: str,
        now: float,
        facts: Mapping[str, LocationFact] | None = None,
        *,
        why: str = "up",
        superseded_by: Incident | None = None,
    ) -> list[Event]:
        """Resolve ``name``'s partial incident: no location fails (``up``), it was paused
        or removed, or it is down for the cluster now (``superseded_by`` that incident).
        ``facts``, when given, are what its alert shows of each location now."""
        incident = self.partial_of(name)
        if incident is None:
            return []
        member = incident.members.get(name) or Member(incident.opened, opener=True)
        if facts:
            member = dataclasses.replace(member, locations=facts)
        lasted = human_duration(now - incident.opened)
        if superseded_by is not None:
            said = f"{name} is down from a quorum now: see incident #{superseded_by.id}"
        else:
            said = {
                "up": f"{name} is reachable from every location again after {lasted}",
                "paused": f"{name} was paused",
                "removed": f"{name} was removed from the configuration",
            }[why]
        closed = self._replace(incident, members={}, resolved=now)
        self._drop(incident.id)
        told = member.alerted and why == "up"
        alerts: tuple[Alert, ...] = ()
        if told:
            alerts = self._say(
                closed, name, "incident.partial_resolved", now, member, then=superseded_by
            )
        return [Resolved(closed, name, TimelineEntry(now, "resolved", said), alerts)]

    def _note_locations(
        self, incident: Incident, name: str, facts: dict[str, LocationFact], now: float
    ) -> list[Event]:
        """A monitor down in ``incident``: its timeline follows the failing locations."""
        member = incident.members[name]
        if not facts or _failing(member.locations) == _failing(facts):
            if facts:
                self._member(incident, name, dataclasses.replace(member, locations=facts))
            return []
        incident = self._member(incident, name, dataclasses.replace(member, locations=facts))
        entry = TimelineEntry(now, "locations", f"{name}: {_where(facts, 'down')}")
        return [Noted(incident, name, entry)]

    # -- alerts ----------------------------------------------------------------------------

    def _say(
        self,
        incident: Incident,
        name: str,
        event: str,
        now: float,
        member: Member | None = None,
        then: Incident | None = None,
    ) -> tuple[Alert, ...]:
        """``event``'s alert about ``name``, for each channel the monitor's alerts go to."""
        member = member or incident.members[name]
        route = self.routes.get(name, Route())
        payload = self._payload(incident, name, event, now, member, then)
        return _alerts(self._channels(route, member), _dedup(incident, name, event, now), payload)

    @staticmethod
    def _channels(route: Route, member: Member) -> tuple[str, ...]:
        """The monitor's channels, and those of the escalation steps it has reached."""
        out = list(route.channels)
        for step in route.escalate[: member.escalated]:
            out += [c for c in step.alerts if c not in out]
        return tuple(out)

    def _payload(
        self,
        incident: Incident,
        name: str,
        event: str,
        now: float,
        member: Member | None = None,
        then: Incident | None = None,
    ) -> AlertPayload:
        member = member or incident.members[name]
        route = self.routes.get(name, Route())
        down_for = human_duration(now - member.joined)
        others = len(incident.members)
        cause = _cause(incident)
        partial_over = (
            f"down from a quorum of its locations now (incident #{then.id})"
            if then is not None
            else f"reachable from every location again after {down_for}"
        )
        text = {
            "incident.opened": f"{name} is down since {_iso(incident.opened)}: {incident.detail}",
            "monitor.down": (
                f"{name} is down too: same cause as incident #{incident.id} ({cause}), "
                f"{others} monitors affected"
            ),
            "monitor.up": (
                f"{name} is back up after {down_for}; incident #{incident.id} ({cause}) goes "
                f"on: {count(others, 'monitor')} still down"
            ),
            "incident.resolved": (
                f"{name} is back up after {down_for}: incident #{incident.id} ({cause}) is "
                f"resolved after {human_duration(now - incident.opened)}"
            ),
            "incident.reminder": (
                f"{name} is still down after {down_for}: {incident.detail} "
                f"(incident #{incident.id})"
            ),
            "incident.escalated": (
                f"{name} has been down for {down_for}: {incident.detail} "
                f"(incident #{incident.id}, escalated)"
            ),
            "incident.partial": f"{incident.detail} (incident #{incident.id})",
            "incident.partial_resolved": (
                f"{name} is {partial_over}: partial incident #{incident.id} is resolved"
            ),
        }[event]
        back = event in RESOLVING
        return AlertPayload(
            event,
            name,
            text,
            now,
            incident=incident.id,
            monitors=tuple(sorted(incident.members)) if incident.members else (name,),
            url=route.url,
            kind=incident.kind,
            detail=(
                partial_over
                if event == "incident.partial_resolved"
                else f"back up after {down_for}"
                if back
                else incident.detail
            ),
            hint="" if back else incident.hint,
            since=member.joined,
            locations=member.locations,
        )

    # -- bookkeeping -----------------------------------------------------------------------

    def _open_new(
        self, key: str, kind: Kind | None, detail: str, name: str, member: Member, now: float
    ) -> Incident:
        """A new incident for ``key``, opened by ``name``, with the next id."""
        incident = Incident(
            self.new_id(),
            key,
            kind,
            detail,
            CATALOGUE[kind].hint if kind else "Check the monitor's conditions.",
            now,
            monitors=(name,),
            timeline=(TimelineEntry(now, "opened", detail),),
            members={name: member},
        )
        self._put(incident)
        return incident

    def _replace(self, incident: Incident, **changes: object) -> Incident:
        new = dataclasses.replace(incident, **changes)  # type: ignore[arg-type]
        if "members" in changes and new.resolved is None:
            new = dataclasses.replace(new, monitors=tuple(sorted(new.members)))
        if new.resolved is None:
            self._put(new)
        return new

    def _keyed(self, key: str) -> Incident | None:
        """The oldest open incident of ``key``."""
        ids = self._by_key.get(key)
        return self._open[ids[0]] if ids else None

    def _put(self, incident: Incident) -> None:
        """Keep ``incident`` open, as it is now, and the indexes in step with its members."""
        old = self._open.get(incident.id)
        self._open[incident.id] = incident
        if old is None:
            _index(self._by_key, incident.key, incident.id)
        if incident.is_partial or (old is not None and old.members is incident.members):
            return
        before = old.members.keys() if old is not None else {}.keys()
        for gone in before - incident.members.keys():
            _unindex(self._of, gone, incident.id)
        for came in incident.members.keys() - before:
            _index(self._of, came, incident.id)

    def _drop(self, incident_id: int) -> None:
        """``incident_id`` is no longer open."""
        incident = self._open.pop(incident_id)
        _unindex(self._by_key, incident.key, incident_id)
        for name in [] if incident.is_partial else incident.members:
            _unindex(self._of, name, incident_id)

    def _member(self, incident: Incident, name: str, member: Member) -> Incident:
        return self._replace(incident, members={**incident.members, name: member})


def _index(index: dict[str, list[int]], name: str, incident_id: int) -> None:
    ids = index.setdefault(name, [])
    ids.append(incident_id)
    ids.sort()  # oldest first, as the open incidents are: a list of one or two


def _unindex(index: dict[str, list[int]], name: str, incident_id: int) -> None:
    ids = index.get(name)
    if ids is not None and incident_id in ids:
        ids.remove(incident_id)
        if not ids:
            del index[name]


def _passive(url: str) -> bool:
    """Whether a monitor of ``url`` is told rather than probed (push, traffic)."""
    return url.startswith(("push://", "traffic://"))


def _alerts(channels: Sequence[str], dedup: str, payload: AlertPayload) -> tuple[Alert, ...]:
    return tuple(Alert(channel, dedup, payload) for channel in channels)


def _dedup(incident: Incident, name: str, event: str, now: float) -> str:
    return f"{incident.id}:{name}:{event}:{now:.3f}"


def _cause(incident: Incident) -> str:
    """``http.server_error on 127.0.0.1``, from the incident's key when it names a host."""
    scope, _, rest = incident.key.partition(":")
    if scope == "host":
        host = rest.rpartition(":")[0]
        return f"{kind_text(incident.kind)} on {host}"
    if scope == "local":
        return f"{kind_text(incident.kind)} on this machine"
    return kind_text(incident.kind)


def _failing(facts: Mapping[str, LocationFact]) -> list[tuple[str, str]]:
    """The failing locations and why: what is worth a timeline line when it changes."""
    return [(loc, fact.why) for loc, fact in facts.items() if fact.failing]


def _kind(facts: Mapping[str, LocationFact]) -> Kind | None:
    """The most common kind among the failing locations (the first one's on a tie)."""
    kinds = [fact.kind for fact in facts.values() if fact.failing]
    return max(kinds, key=kinds.count) if kinds else None


def _where(facts: Mapping[str, LocationFact], verb: str) -> str:
    """``unreachable from eu-west (connect.timeout), up from us-east and local``: the
    failing locations with why, then those that see it up, those with no result yet and
    those not counted (no live instance)."""
    failing = [f"{loc} ({fact.why})" for loc, fact in facts.items() if fact.failing]
    up = [loc for loc, fact in facts.items() if fact.live and fact.state in _UP]
    waiting = [loc for loc, fact in facts.items() if fact.live and fact.state is State.UNKNOWN]
    dead = [loc for loc, fact in facts.items() if not fact.live]
    parts = [f"{verb} from {joined(failing)}"] if failing else []
    if up:
        parts.append(f"up from {joined(up)}")
    if waiting:
        parts.append(f"no result yet from {joined(waiting)}")
    if dead:
        parts = [", ".join(parts)] if parts else []
        parts.append(f"not counted: {joined(dead)} (no live instance)")
        return "; ".join(parts)
    return ", ".join(parts)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")
