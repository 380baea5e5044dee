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
- **One cause, one incident, one page per channel** (issue 23): when most hosts fail
  at once with one kind, the ``local`` incident opens (``_correlate.py``) and the
  incidents of those hosts already open are folded into it (their members move, each
  folded incident closes with ``folded_into`` and says so, event ``Folded``).  The
  ``local`` incident is paged once per channel (``incident.opened``: how many monitors
  and hosts, the first names, the kind, the fix); monitors that join or leave it later
  are told in one grouped ``incident.updated`` per channel at most every minute, and
  its timeline gains one line per such update, not one per monitor; its resolution is
  one ``incident.resolved`` per channel.  Its reminders and escalation go by the
  incident and the channel, not by the member.  Incidents of one service (host or
  monitor keys) keep a page per monitor, as above.
- **A short wait while the local incident may be forming**: a new incident of one
  host at a local layer (DNS, connect), opened while at least ``local_min_hosts``
  hosts fail there with its kind but not yet ``local_fraction`` of them, holds its
  page and its members' pages (``Held``: "3 hosts fail at the connect layer at once:
  waiting up to 30 s to see whether this machine is the cause") for at most
  ``local_wait``.  Folded into the ``local`` incident meanwhile, they never go (its
  page covers them); otherwise they go out when the wait ends (``Released``).  Fewer
  failing hosts than ``local_min_hosts``, an outage of one service, never waits.

Each change costs the same at any size: an open incident's members are one dict kept
in place (the events carry the incident and name the members they ``touched``), an
alert names at most ten monitors and counts the rest, and :meth:`IncidentEngine.tick`
pops what is due from a heap and re-asks the hold of held members alone.

```
 down ──► correlate ──► new cause? ── yes ─► Opened   (incident.opened)
                              └────── no ──► Joined   (monitor.down)
 up ────► last one down? ──────────── no ──► Left     (monitor.up)
                              └────── yes ─► Resolved (incident.resolved)
 tick ──► hold lifted, or a wait for local ended ─► Released · remind_every ─► Reminder
          · escalate ─► Escalated
 local opens ─► host incidents of its hosts ─► Folded · a minute of news ─► Updated
 locations ─► partial? ── new ─► Opened (incident.partial) · changed ─► Noted
                    └──── none fails ─► Resolved (incident.partial_resolved)
```
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from tether._catalogue import CATALOGUE, hint_for
from tether._durations import human_duration
from tether._kinds import Kind
from tether._plural import joined
from tether.monitor._records import (
    PARTIAL_PREFIX,
    RESOLVING,
    Alert,
    AlertPayload,
    Incident,
    LocationFact,
    Member,
    Move,
    ProbeRecord,
    TimelineEntry,
    covered,
)
from tether.monitor._state import State
from tether.monitor.engine._correlate import Correlation, Failures, IncidentGroup, where_of_key
from tether.monitor.engine._detect import Degraded, Observation, Recovered, StateChanged
from tether.monitor.engine._incident_books import (
    GROUPED_EVERY,
    LOCAL,
    NAMES_SHOWN,
    TIMELINE,
    Book,
    Names,
    News,
    host_of_key,
    index_in,
    unindex_from,
)
from tether.monitor.engine._incident_events import (
    Acknowledged,
    Escalated,
    Event,
    Folded,
    Held,
    Hold,
    Joined,
    Left,
    Noted,
    Notice,
    Opened,
    Released,
    Reminder,
    Resolved,
    Route,
    Updated,
)
from tether.monitor.engine._incident_words import (
    UP_STATES,
    alerts_to,
    cause_of,
    dedup_key,
    failing_of,
    first_names,
    is_passive,
    iso,
    kind_of,
    many,
    where_from,
)
from tether.monitor.engine._quorum import LocationsChanged

__all__ = ["IncidentEngine"]


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
    _books: dict[int, Book] = field(init=False, default_factory=dict)
    _by_key: dict[str, list[int]] = field(init=False, default_factory=dict)
    """The open incidents of each key, oldest first: a change finds its incident without
    a walk over every open one (a mass outage opens one per host)."""
    _by_host: dict[str, list[int]] = field(init=False, default_factory=dict)
    """The open incidents of one host (``host:HOST:KIND``) on each host: those the
    ``local`` incident folds."""
    _of: dict[str, list[int]] = field(init=False, default_factory=dict)
    """The open incidents (not partial) each monitor is down in, oldest first."""
    _held: dict[tuple[int, str], None] = field(init=False, default_factory=dict)
    """Members whose down alert waits on a hold: the only ones whose hold each tick asks."""
    _waiting: dict[tuple[int, str], float] = field(init=False, default_factory=dict)
    """Members whose down alert waits for a ``local`` incident that may be forming, and
    until when: the tick comes back to each off its heap (``wait``), not at every tick."""
    _due: list[tuple[float, int, int, str, str]] = field(init=False, default_factory=list)
    """A heap of (when, order, incident, what, whom): reminders, escalation steps and
    grouped updates, so that a tick costs what is due, not a walk over every member."""
    _next: dict[tuple[int, str, str], float] = field(init=False, default_factory=dict)
    """When each (incident, what, whom) is due: a heap entry that disagrees is stale."""
    _order: Iterator[int] = field(init=False, default_factory=itertools.count)
    _routed: Mapping[str, Route] | None = field(init=False, default=None)
    _moves: dict[int, list[Move]] = field(init=False, default_factory=dict)
    """Membership moves not yet handed out, by incident: each goes with the first event
    of its incident that a public method returns (:meth:`_moved`)."""

    def __post_init__(self) -> None:
        for incident in self.incidents:
            if incident.is_open:
                members = dict(incident.members) or {
                    m: Member(incident.opened, alerted=True) for m in incident.monitors
                }
                self._restore(incident, members)
        self.incidents = ()
        self._routed = self.routes

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
        return self._moved(self._changed(change, record, down, hosts, locations))

    def _changed(
        self,
        change: StateChanged,
        record: ProbeRecord | None,
        down: Iterable[Observation] | Failures,
        hosts: Mapping[str, str],
        locations: Mapping[str, LocationFact] | None = None,
    ) -> list[Event]:
        name, now = change.monitor, change.at
        facts = dict(locations) if locations is not None and len(locations) > 1 else {}
        if change.new is State.DOWN and record is not None:
            if not isinstance(down, Failures):
                failures = Failures(hosts)
                for o in down:
                    failures.set(o.monitor, o)
                down = failures
            within = self.incident_of(name)
            if within is not None:
                member = self._books[within.id].members.get(name)
                if member is None or member.paused is None:
                    return []  # back from flapping: it never left its incident
                again = down.group_of(name, self.correlation)
                if again is not None and again.key == within.key:
                    return self._resumed(within, name, member, now)
                # Resumed, and failing for another cause now: it leaves the paused one.
                left = self._leave(name, now, "changed")
                events = self._changed(change, record, down, hosts, locations)
                return left + events
            group = down.group_of(name, self.correlation)
            if group is None:
                return []
            if group.key == LOCAL:
                events = self._down_local(name, group, record, now, facts, down)
            else:
                events = self._down(name, group, record, now, facts, down)
            return events + self._end_partial(name, now, facts, superseded_by=events[0].incident)
        if change.new in UP_STATES:
            # Whatever it was before (down, flapping, or unknown when no location could see
            # it), a monitor that is up is in no incident.
            return self._leave(name, now, "up", facts)
        if change.new is State.PAUSED:
            within = self.incident_of(name)
            if within is not None:
                return self._pause(within, name, now) + self._end_partial(name, now, why="paused")
            return self._leave(name, now, "paused") + self._end_partial(name, now, why="paused")
        if change.new is State.FLAPPING:
            incident = self.incident_of(name)
            if incident is not None and incident.key != LOCAL:
                entry = TimelineEntry(now, "flapping", f"{name}: {change.reason}")
                return [Noted(incident, name, entry, touched=())]
        return []

    def forget(self, monitor: str, now: float) -> list[Event]:
        """``monitor`` was removed from the configuration: it leaves its incident."""
        return self._moved(
            self._leave(monitor, now, "removed") + self._end_partial(monitor, now, why="removed")
        )

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
            return self._moved(self._partial(name, facts, now))
        if not change.failing:
            return self._moved(self._end_partial(name, now, facts))
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
        return Notice(name, text, alerts_to(route.channels, f"{name}:{what}:{now:.3f}", payload))

    def acknowledge(self, incident_id: int, at: float) -> Acknowledged | None:
        """Someone acknowledged ``incident_id`` at ``at`` (the store says so): the
        reminders and escalation of the monitors in it then stop.  A monitor that joins
        later is not covered: its reminders run until someone acknowledges again (a
        later ``at``).  None if it is not open, or its last acknowledgement covers every
        monitor in it already."""
        incident = self._open.get(incident_id)
        if incident is None:
            return None
        if incident.acknowledged is not None and (
            at <= incident.acknowledged
            or all(covered(incident, m) for m in self._books[incident_id].members.values())
        ):
            return None
        incident = self._replace(incident, acknowledged=at)
        return Acknowledged(incident, "", None, touched=())

    def tick(self, now: float) -> list[Event]:
        """Held alerts whose hold lifted, reminders, escalation steps and grouped updates
        that are due: the hold of held members alone is asked, the rest comes off a heap."""
        if self.routes is not self._routed:
            self._reroute()
        events: list[Event] = []
        for key in list(self._held):
            incident_id, name = key
            if self.hold(name, now) is not None:
                continue
            del self._held[key]
            incident = self._open.get(incident_id)
            if incident is not None and name in self._books[incident_id].members:
                events += self._release(incident, name, now)
        while self._due and self._due[0][0] <= now:
            at, _, incident_id, what, whom = heapq.heappop(self._due)
            if self._next.get((incident_id, what, whom)) != at:
                continue  # stale: done, or moved
            del self._next[(incident_id, what, whom)]
            incident = self._open.get(incident_id)
            if incident is None:
                continue
            if what == "member":
                if whom in self._books[incident_id].members:
                    events += self._member_due(incident, whom, now)
            elif what == "wait":
                if self._waiting.pop((incident_id, whom), None) is not None:
                    if self.hold(whom, now) is None:
                        events += self._release(incident, whom, now)
                    else:  # flapping or in maintenance meanwhile: it waits on that
                        self._held[(incident_id, whom)] = None
            elif what == "update":
                events += self._update(incident, whom, now)
            elif what == "remind":
                events += self._remind_local(incident, whom, now)
            else:
                events += self._escalate_local(incident, now)
        return self._moved(events)

    # -- incidents of one service: a page per monitor ------------------------------------

    def _down(
        self,
        name: str,
        group: IncidentGroup,
        record: ProbeRecord,
        now: float,
        facts: Mapping[str, LocationFact],
        failures: Failures,
    ) -> list[Event]:
        host = failures.host_of(name)
        existing = self._keyed(group.key)
        held = self.hold(name, now)
        until = 0.0
        if held is None:
            held, until = self._wait(name, existing, failures, now)
        member = Member(now, alerted=held is None, opener=existing is None, locations=facts)
        events: list[Event]
        if existing is None:
            kind = group.kind or record.kind
            detail = record.detail or group.cause
            if group.scope != "monitor":
                detail = f"{group.cause}: {detail}"
            if facts:
                detail = f"{detail}; {where_from(facts, 'down')}"
            incident = self._open_new(group.key, kind, detail, name, member, now, host)
            alerts = () if held else self._say(incident, name, "incident.opened", now)
            events = [Opened(incident, name, None, alerts)]
        else:
            incident = existing
            book = self._add(incident, name, member, host)
            too = f"{name} is down too" + (f", {where_from(facts, 'down')}" if facts else "")
            both = self._both(book, group) if group.scope == "host" and book.traffic else None
            if both is not None:
                too = f"{too}: {both}"
            entry = TimelineEntry(now, "monitor down", too)
            alerts = () if held else self._say(incident, name, "monitor.down", now)
            if both is not None:  # the alert names the monitor, as the timeline does
                text = f"{too} (incident #{incident.id})"
                alerts = tuple(
                    dataclasses.replace(
                        a, payload=dataclasses.replace(a.payload, text=text, detail=both)
                    )
                    for a in alerts
                )
            events = [Joined(incident, name, entry, alerts, touched=(name,))]
        if held:
            if until:
                self._books[incident.id].until = until
                self._waiting[(incident.id, name)] = until
                self._push(incident.id, "wait", name, until)
            else:
                self._held[(incident.id, name)] = None
            entry = TimelineEntry(now, "alert held", f"{name}: {held}")
            events.append(Held(incident, name, entry, touched=()))
        else:
            self._schedule_member(incident, name)
        return events

    def _wait(
        self, name: str, existing: Incident | None, failures: Failures, now: float
    ) -> tuple[str | None, float]:
        """Whether ``name``'s page waits for a ``local`` incident that may be forming
        (Alertmanager's ``group_wait``, applied when it matters): enough hosts fail at its
        layer with its kind for the local rule but not yet enough of them, or its incident
        waits already (its members wait as long as its opening page).  The words of the
        hold and when the wait ends, or (None, 0): a failure of fewer hosts than
        ``local_min_hosts`` never waits."""
        rules = self.correlation or Correlation()
        if rules.local_wait <= 0:
            return None, 0.0
        until = self._books[existing.id].until if existing is not None else 0.0
        forming = failures.forming(name, rules)
        if until <= now and forming is None:
            return None, 0.0
        if until <= now:
            until = now + rules.local_wait
        waits = human_duration(until - now)
        if forming is None:
            return f"incident #{existing.id if existing else 0} waits {waits} more", until
        hosts, layer = forming
        said = (
            f"{hosts} hosts fail at the {layer} layer at once: waiting up to {waits} to see "
            "whether this machine is the cause"
        )
        return said, until

    def _both(self, book: Book, group: IncidentGroup) -> str | None:
        """The two signals of one service in a sentence, when a traffic monitor and a
        probed one are down together: "payments.internal:443: 37% of checkout's calls fail
        with tls.expired since 10:02; the probe of https://payments.internal/health
        agrees"."""
        members = book.members
        calls = [(m, words) for m in sorted(members) if (words := self.traffic(m)) is not None]
        urls = [self.routes[m].url for m in sorted(members) if m in self.routes]
        probes = [
            url
            for m, url in zip(sorted(m for m in members if m in self.routes), urls, strict=True)
            if url is not None and self.traffic(m) is None and not is_passive(url)
        ]
        if not calls or not probes:
            return None
        said = "; ".join(words for _, words in calls)
        if len(probes) == 1:
            agree = f"the probe of {probes[0]} agrees"
        else:
            agree = f"the probes of {joined(probes)} agree"
        return f"{where_of_key(group.key)}: {said}; {agree}"

    def _leave(
        self,
        name: str,
        now: float,
        why: str,
        facts: Mapping[str, LocationFact] | None = None,
    ) -> list[Event]:
        events: list[Event] = []
        for incident in [self._open[i] for i in self._of.get(name, ())]:
            member = self._remove(incident, name, now, why)
            if facts:  # its up alert shows what each location sees now
                member = dataclasses.replace(member, locations=facts)
            if incident.key == LOCAL:
                events += self._leave_local(incident, name, member, now, why)
                continue
            last = not self._books[incident.id].members
            gone = {
                "up": f"{name} is back up after {human_duration(now - member.joined)}",
                "paused": f"{name} was paused",
                "removed": f"{name} was removed from the configuration",
                "changed": f"{name} was resumed and fails for another cause now",
            }[why]
            told = member.alerted and why == "up"
            if last:
                lasted = human_duration(now - incident.opened)
                closed = self._close(incident, now, monitors=(name,))
                entry = TimelineEntry(now, "resolved", f"{gone}; down for {lasted}")
                alerts = self._say(closed, name, "incident.resolved", now, member) if told else ()
                if why == "changed" and member.alerted:
                    # Its channels heard this incident open: they hear it end, in words
                    # that say why (its new cause's incident pages them on its own).
                    said = (
                        f"{name} fails for another cause now: incident #{incident.id} "
                        f"({cause_of(incident)}) is resolved after {lasted}"
                    )
                    alerts = tuple(
                        dataclasses.replace(
                            a, payload=dataclasses.replace(a.payload, text=said, detail=gone)
                        )
                        for a in self._say(closed, name, "incident.resolved", now, member)
                    )
                events.append(Resolved(closed, name, entry, alerts))
            else:
                entry = TimelineEntry(now, f"monitor {why}", gone)
                alerts = self._say(incident, name, "monitor.up", now, member) if told else ()
                events.append(Left(incident, name, entry, alerts, touched=(name,)))
        return events

    def _pause(self, incident: Incident, name: str, now: float) -> list[Event]:
        """``name`` was paused while down in ``incident``: a pause is no recovery, so it
        stays a member, marked paused (no reminders, no escalation) until a check after
        its resume says what it is."""
        book = self._books[incident.id]
        if book.members[name].paused is None:
            book.paused += 1
        book.members[name] = dataclasses.replace(book.members[name], paused=now)
        self._move(incident, Move(name, now, "paused"))
        entry = TimelineEntry(
            now, "monitor paused", f"{name} was paused while down: it stays in this incident"
        )
        return [Noted(incident, name, entry, touched=(name,))]

    def _resumed(self, incident: Incident, name: str, member: Member, now: float) -> list[Event]:
        """``name``, paused in ``incident``, was resumed and is down for the same cause:
        it is back in the incident as it was, without a second page."""
        book = self._books[incident.id]
        book.members[name] = dataclasses.replace(member, paused=None)
        book.paused -= 1
        self._move(incident, Move(name, now, "resumed", "still down for the same cause"))
        entry = TimelineEntry(
            now,
            "monitor resumed",
            f"{name} was resumed and is still down for the same cause: no new page",
        )
        if incident.key != LOCAL:  # the local incident's reminders go by channel
            self._schedule_member(incident, name)
        return [Noted(incident, name, entry, touched=(name,))]

    def _release(self, incident: Incident, name: str, now: float) -> list[Event]:
        """``name``'s hold lifted while it is still down: its down alert goes out."""
        book = self._books[incident.id]
        member = dataclasses.replace(book.members[name], alerted=True)
        book.members[name] = member
        if incident.key == LOCAL:
            return [Released(incident, name, None, self._tell_local(incident, name, now), (name,))]
        event = (
            "incident.partial"
            if incident.is_partial
            else "incident.opened"
            if member.opener
            else "monitor.down"
        )
        entry = TimelineEntry(now, "alert sent", f"{name}: no longer held")
        self._schedule_member(incident, name)
        alerts = self._say(incident, name, event, now)
        return [Released(incident, name, entry, alerts, touched=(name,))]

    def _schedule_member(self, incident: Incident, name: str) -> None:
        """Put ``name``'s next reminder or escalation step on the heap, if it has one."""
        member = self._books[incident.id].members[name]
        if incident.is_partial or covered(incident, member) or member.paused is not None:
            return
        route = self.routes.get(name, Route())
        due: list[float] = []
        if member.escalated < len(route.escalate):
            due.append(member.joined + route.escalate[member.escalated].after)
        if route.remind_every is not None:
            last = member.reminded if member.reminded is not None else member.joined
            due.append(last + route.remind_every)
        if due:
            self._push(incident.id, "member", name, min(due))

    def _member_due(self, incident: Incident, name: str, now: float) -> list[Event]:
        """``name``'s reminder or escalation steps, if due (and not held: then a second
        later, until the hold lifts)."""
        book = self._books[incident.id]
        member = book.members[name]
        if covered(incident, member) or member.paused is not None:
            return []
        if self.hold(name, now) is not None:
            self._push(incident.id, "member", name, now + 1)
            return []
        route = self.routes.get(name, Route())
        events: list[Event] = []
        last = member.reminded if member.reminded is not None else member.joined
        steps = route.escalate[member.escalated :]
        for step in steps:
            if now - member.joined < step.after:
                break
            told = set(self._channels(route, member))
            member = dataclasses.replace(member, escalated=member.escalated + 1)
            book.members[name] = member
            new = tuple(c for c in step.alerts if c not in told)
            payload = self._payload(incident, name, "incident.escalated", now)
            alerts = alerts_to(new, dedup_key(incident, name, "incident.escalated", now), payload)
            entry = TimelineEntry(
                now,
                "escalated",
                f"{name}: down for {human_duration(step.after)}, told " + ", ".join(step.alerts),
            )
            events.append(Escalated(incident, name, entry, alerts, touched=(name,)))
        if route.remind_every is not None and now - last >= route.remind_every:
            # A channel escalated to less than half a reminder period ago has the news
            # fresh from the escalation alert: it is reminded from the next one.  (The
            # two often fall due together, a tick or a rounding apart.)
            reached = route.escalate[: member.escalated]
            fresh = route.remind_every / 2
            heard = sum(1 for step in reached if now - (member.joined + step.after) >= fresh)
            member = dataclasses.replace(member, reminded=now)
            book.members[name] = member
            entry = TimelineEntry(now, "reminder", f"{name} is still down")
            payload = self._payload(incident, name, "incident.reminder", now)
            alerts = alerts_to(
                self._channels(route, dataclasses.replace(member, escalated=heard)),
                dedup_key(incident, name, "incident.reminder", now),
                payload,
            )
            events.append(Reminder(incident, name, entry, alerts, touched=(name,)))
        self._schedule_member(incident, name)
        return events

    # -- the local incident: a page per channel ------------------------------------------

    def _down_local(
        self,
        name: str,
        group: IncidentGroup,
        record: ProbeRecord,
        now: float,
        facts: Mapping[str, LocationFact],
        failures: Failures,
    ) -> list[Event]:
        held = self.hold(name, now)
        existing = self._keyed(LOCAL)
        member = Member(now, alerted=held is None, opener=existing is None, locations=facts)
        host = failures.host_of(name)
        if existing is None:
            detail = f"{group.cause}: {record.detail}" if record.detail else group.cause
            incident = self._open_new(LOCAL, group.kind, detail, name, member, now, host)
            self._books[incident.id].cause = group.cause
            if held:
                self._held[(incident.id, name)] = None
            folds = [
                f
                for h in sorted(failures.local_hosts(self.correlation))
                for f in self._host_incidents(h, incident)
            ]
            events: list[Event] = []
            moved: list[str] = []
            for f in folds:
                events.append(self._fold(f, incident, now, moved, []))
            if folds:  # the opener went down last: its name comes after theirs
                book = self._books[incident.id]
                book.members[name] = book.members.pop(name)
            channels = self._untold(incident, self._books[incident.id].members)
            alerts = tuple(self._opening(incident, c, now) for c in channels)
            opened: list[Event] = [Opened(incident, name, None, alerts)]
            if folds:
                ids = joined([f"#{f.id}" for f in folds])
                took = "incident" if len(folds) == 1 else "incidents"
                said = f"took in {took} {ids}: {many(len(moved), 'monitor')} down before"
                entry = TimelineEntry(now, "folded", said)
                events.append(Folded(incident, "", entry, touched=tuple(moved)))
            return opened + events
        incident = existing
        self._add(incident, name, member, host)
        events = []
        if held:
            self._held[(incident.id, name)] = None
        told = () if held else self._tell_local(incident, name, now)
        self._news(incident, TIMELINE, name, now, back=False)
        events.append(Joined(incident, name, None, told, touched=(name,)))
        if host is not None:
            folds = self._host_incidents(host, incident)
            moved = []
            waited: list[str] = []
            for f in folds:
                events.append(self._fold(f, incident, now, moved, waited))
            book = self._books[incident.id]
            for w in waited:  # held for this incident: told in its next update
                for c in self.routes.get(w, Route()).channels:
                    if c in book.told:
                        self._news(incident, c, w, now, back=False)
            if folds:
                said = joined([f"#{f.id}" for f in folds])
                entry = TimelineEntry(
                    now,
                    "folded",
                    f"took in incident {said}: {many(len(moved), 'monitor')} down on {host}",
                )
                # Paged already by their own incident, they are not paged again; a channel
                # of theirs that has not heard of this one has its opening page now.
                new = tuple(self._opening(incident, c, now) for c in self._untold(incident, moved))
                events.append(Folded(incident, "", entry, new, touched=tuple(moved)))
        return events

    def _host_incidents(self, host: str, local: Incident) -> list[Incident]:
        """The open incidents of ``host`` at the ``local`` incident's layer: to fold."""
        layer = None if local.kind is None else CATALOGUE[local.kind].layer
        return [
            self._open[i]
            for i in self._by_host.get(host, ())
            if (kind := self._open[i].kind) is not None and CATALOGUE[kind].layer is layer
        ]

    def _fold(
        self, incident: Incident, local: Incident, now: float, moved: list[str], waited: list[str]
    ) -> Folded:
        """Move ``incident``'s members into ``local`` (as they are: when they joined and
        whether they were told), and close it, saying where they went.  A member whose
        page waited for a ``local`` incident forming (and on nothing else) is told by
        ``local``'s pages from now on: its own never goes (added to ``waited``)."""
        book = self._books.pop(incident.id)
        into = self._books[local.id]
        names = tuple(book.members)
        for name, member in book.members.items():
            unindex_from(self._of, name, incident.id)
            into.members[name] = member
            if member.paused is not None:
                into.paused += 1
            # Its outage goes on in ``local`` from when it began: the host's incident
            # keeps the time before, the local one the whole of it (a page shows that one).
            self._move(incident, Move(name, now, "left", f"folded into incident #{local.id}"))
            self._move(local, Move(name, member.joined, "joined", f"from incident #{incident.id}"))
            index_in(self._of, name, local.id)
            host = book.host.get(name)
            if host is not None:
                into.host[name] = host
                into.hosts[host] += 1
                into.ever_hosts.add(host)
            into.ever += 1
            self._route_in(local, name)
            if self._waiting.pop((incident.id, name), None) is not None:
                if self.hold(name, now) is None:
                    # It waited for this very incident: told by its pages from now on.
                    into.members[name] = dataclasses.replace(member, alerted=True)
                    waited.append(name)
                else:
                    self._held[(local.id, name)] = None
            elif (incident.id, name) in self._held:
                del self._held[(incident.id, name)]
                self._held[(local.id, name)] = None
            moved.append(name)
        for n in names:
            self._next.pop((incident.id, "member", n), None)
            self._next.pop((incident.id, "wait", n), None)
        del self._open[incident.id]
        unindex_from(self._by_key, incident.key, incident.id)
        unindex_from(self._by_host, host_of_key(incident.key), incident.id)
        closed = dataclasses.replace(
            incident, members={}, monitors=names, resolved=now, folded_into=local.id
        )
        said = f"folded into incident #{local.id}: {local.detail}"
        return Folded(closed, "", TimelineEntry(now, "folded", said))

    def _untold(self, incident: Incident, names: Iterable[str]) -> list[str]:
        """The channels of ``names`` (those whose page does not wait on a hold) that have
        not heard of the ``local`` incident yet: its opening page goes to each."""
        book = self._books[incident.id]
        out: dict[str, None] = {}
        for name in names:
            if book.members[name].alerted:
                for c in self.routes.get(name, Route()).channels:
                    if c not in book.told:
                        out[c] = None
        return list(out)

    def _tell_local(self, incident: Incident, name: str, now: float) -> tuple[Alert, ...]:
        """``name`` is down in the ``local`` incident and may be told: a channel of it
        that has not heard of the incident gets the opening page now, the others hear of
        it in the next grouped update."""
        book = self._books[incident.id]
        alerts: list[Alert] = []
        for c in self.routes.get(name, Route()).channels:
            if c in book.told:
                self._news(incident, c, name, now, back=False)
            else:
                alerts.append(self._opening(incident, c, now))
        return tuple(alerts)

    def _opening(self, incident: Incident, channel: str, now: float) -> Alert:
        """The ``local`` incident's one page to ``channel``; its reminders follow."""
        book = self._books[incident.id]
        book.told[channel] = now
        book.last[channel] = now
        book.reminded[channel] = now
        book.last.setdefault(TIMELINE, now)
        self._schedule_remind(incident, channel)
        first = next(iter(book.members))
        text = f"{book.cause}: {self._down_now(book, incident)}"
        payload = self._local_payload(incident, first, "incident.opened", text, now)
        return Alert(channel, dedup_key(incident, LOCAL, "incident.opened", now), payload)

    def _down_now(self, book: Book, incident: Incident) -> str:
        """``1,200 monitors down on 20 hosts (incident #7): m0, m1 and 1,198 more``."""
        n = len(book.members)
        where = f" on {many(len(book.hosts), 'host')}" if book.hosts else ""
        names = list(itertools.islice(book.members, NAMES_SHOWN))
        return (
            f"{many(n, 'monitor')} down{where} (incident #{incident.id}): {first_names(names, n)}"
        )

    def _local_payload(
        self, incident: Incident, name: str, event: str, text: str, now: float
    ) -> AlertPayload:
        """An alert of the ``local`` incident: about all of it, the first names and counts."""
        book = self._books.get(incident.id)
        members = book.members if book is not None else {}
        return AlertPayload(
            event,
            name,
            text,
            now,
            incident=incident.id,
            monitors=tuple(itertools.islice(members, NAMES_SHOWN)),
            kind=incident.kind,
            detail=incident.detail,
            hint=incident.hint,
            since=incident.opened,
            monitor_count=len(members),
            host_count=len(book.hosts) if book is not None else None,
            opened_to=() if event == "incident.opened" else self._opened_to(incident),
        )

    def _news(self, incident: Incident, whom: str, name: str, now: float, *, back: bool) -> None:
        """Keep ``name``'s news for ``whom`` (a channel, or the timeline) until its next
        grouped update, due a minute after the last one."""
        book = self._books[incident.id]
        book.news.setdefault(whom, News()).add(name, back=back)
        last = book.last.setdefault(whom, now)
        self._push(incident.id, "update", whom, max(now, last + GROUPED_EVERY))

    def _update(self, incident: Incident, whom: str, now: float) -> list[Event]:
        """The grouped update to ``whom`` (a channel, or the timeline)."""
        book = self._books[incident.id]
        news = book.news.pop(whom, None)
        if news is None or not (news.down_n or news.up_n):
            return []
        book.last[whom] = now
        said = self._said(book, news)
        if whom == TIMELINE:
            return [Updated(incident, "", TimelineEntry(now, "update", said), touched=())]
        first = (news.down or news.up)[0]
        text = f"incident #{incident.id} ({cause_of(incident)}): {said}"
        payload = self._local_payload(incident, first, "incident.updated", text, now)
        alert = Alert(whom, dedup_key(incident, LOCAL, "incident.updated", now), payload)
        return [Updated(incident, first, None, (alert,), touched=())]

    def _said(self, book: Book, news: News) -> str:
        """``312 more monitors down (1,815 in all, on 30 hosts): a, b, c and 309 more``;
        ``12 monitors back up (1,803 still down, on 30 hosts): x, y and 10 more``."""
        n = len(book.members)
        on = f", on {many(len(book.hosts), 'host')}" if book.hosts else ""
        parts = []
        if news.down_n:
            more = many(news.down_n, "more monitor")
            parts.append(f"{more} down: {first_names(news.down, news.down_n)}")
        if news.up_n:
            parts.append(f"{many(news.up_n, 'monitor')} back up: {first_names(news.up, news.up_n)}")
        state = f"{n:,} in all{on}" if not news.up_n else f"{n:,} still down{on}"
        return f"{'; '.join(parts)} ({state})"

    def _leave_local(
        self, incident: Incident, name: str, member: Member, now: float, why: str
    ) -> list[Event]:
        book = self._books[incident.id]
        if book.members:
            if member.alerted and why == "up":
                for c in self.routes.get(name, Route()).channels:
                    if c in book.told:
                        self._news(incident, c, name, now, back=True)
            self._news(incident, TIMELINE, name, now, back=True)
            return [Left(incident, name, None, (), touched=(name,))]
        lasted = human_duration(now - incident.opened)
        everyone = "the only monitor" if book.ever == 1 else f"all {book.ever:,} monitors"
        ending = {
            "up": f"{everyone} back up",
            "changed": f"{name}, the last in it, fails for another cause now",
            "removed": f"{name}, the last in it, was removed from the configuration",
            "paused": f"{name}, the last in it, was paused",
        }[why]
        said = f"incident #{incident.id} resolved after {lasted}: {ending}"
        told = list(book.told)
        ever_hosts = len(book.ever_hosts) or None
        closed = self._close(incident, now, monitors=(name,))
        alerts = tuple(
            Alert(
                c,
                dedup_key(closed, LOCAL, "incident.resolved", now),
                AlertPayload(
                    "incident.resolved",
                    name,
                    said,
                    now,
                    incident=closed.id,
                    kind=closed.kind,
                    detail=f"back up after {lasted}",
                    since=closed.opened,
                    monitor_count=book.ever,
                    host_count=ever_hosts,
                ),
            )
            for c in told
        )
        entry = TimelineEntry(now, "resolved", f"{ending}; down for {lasted}")
        return [Resolved(closed, name, entry, alerts)]

    def _route_in(self, incident: Incident, name: str, step: int = 1) -> None:
        """Count ``name``'s route in (or out of) the ``local`` incident's channels,
        reminders and escalation steps."""
        book = self._books[incident.id]
        route = self.routes.get(name, Route())
        for c in route.channels:
            values = book.remind.setdefault(c, Counter())
            values[route.remind_every or 0.0] += step
            if step > 0 and c in book.told:
                self._schedule_remind(incident, c)
        for s in route.escalate:
            book.steps[s] += step
            if step > 0 and s not in book.fired:
                self._push(incident.id, "escalate", "", incident.opened + s.after)

    def _remind_period(self, book: Book, channel: str) -> float | None:
        """The shortest ``remind_every`` among the members routed to ``channel`` (a
        channel reached by escalation alone: among all members)."""
        values = book.remind.get(channel)
        if values is None or values.total() <= 0:
            values = sum(book.remind.values(), Counter())
        periods = [p for p, n in values.items() if n > 0 and p > 0]
        return min(periods) if periods else None

    def _schedule_remind(self, incident: Incident, channel: str) -> None:
        book = self._books[incident.id]
        period = self._remind_period(book, channel)
        if period is not None and incident.acknowledged is None:
            self._push(incident.id, "remind", channel, book.reminded[channel] + period)

    def _remind_local(self, incident: Incident, channel: str, now: float) -> list[Event]:
        book = self._books[incident.id]
        period = self._remind_period(book, channel)
        if incident.acknowledged is not None or period is None or channel not in book.told:
            return []
        if now - book.reminded[channel] < period:
            self._schedule_remind(incident, channel)
            return []
        book.reminded[channel] = now
        self._schedule_remind(incident, channel)
        if book.paused >= len(book.members):  # every member paused: no one to remind of
            return []
        lasted = human_duration(now - incident.opened)
        text = f"still down after {lasted}: {self._down_now(book, incident)}"
        first = next(iter(book.members))
        payload = self._local_payload(incident, first, "incident.reminder", text, now)
        alert = Alert(channel, dedup_key(incident, LOCAL, "incident.reminder", now), payload)
        entry = TimelineEntry(
            now, "reminder", f"{channel} reminded: {many(len(book.members), 'monitor')} down"
        )
        return [Reminder(incident, first, entry, (alert,), touched=())]

    def _escalate_local(self, incident: Incident, now: float) -> list[Event]:
        """The escalation steps of the ``local`` incident's members that are due, measured
        from its opening: each tells its channels once."""
        if incident.acknowledged is not None:
            return []
        book = self._books[incident.id]
        events: list[Event] = []
        later: list[float] = []
        for s in sorted(book.steps, key=lambda s: (s.after, s.alerts)):
            if book.steps[s] <= 0 or s in book.fired:
                continue
            if now - incident.opened < s.after:
                later.append(incident.opened + s.after)
                continue
            book.fired.add(s)
            new = [c for c in s.alerts if c not in book.told]
            lasted = human_duration(s.after)
            text = f"down for {lasted}, escalated: {self._down_now(book, incident)}: {book.cause}"
            first = next(iter(book.members))
            alerts = []
            for c in new:
                payload = self._local_payload(incident, first, "incident.escalated", text, now)
                alerts.append(
                    Alert(c, dedup_key(incident, LOCAL, "incident.escalated", now), payload)
                )
                book.told[c] = book.last[c] = book.reminded[c] = now
                self._schedule_remind(incident, c)
            entry = TimelineEntry(
                now, "escalated", f"down for {lasted}, told " + ", ".join(s.alerts)
            )
            events.append(Escalated(incident, first, entry, tuple(alerts), touched=()))
        if later:
            self._push(incident.id, "escalate", "", min(later))
        return events

    # -- partial incidents ---------------------------------------------------------------

    def _partial(self, name: str, facts: dict[str, LocationFact], now: float) -> list[Event]:
        """Open ``name``'s partial incident, or follow what its locations see."""
        detail = f"{name} {where_from(facts, 'unreachable')}"
        kind = kind_of(facts)
        existing = self.partial_of(name)
        if existing is not None:
            book = self._books[existing.id]
            member = book.members.get(name) or Member(existing.opened, opener=True)
            same = failing_of(member.locations) == failing_of(facts)
            book.members[name] = dataclasses.replace(member, locations=facts)
            if same:
                # Only an up location's news, or the same failures: keep the facts fresh.
                return []
            incident = self._replace(existing, detail=detail, kind=kind)
            return [Noted(incident, name, TimelineEntry(now, "locations", detail), (), (name,))]
        route = self.routes.get(name, Route())
        held = self.hold(name, now) if route.partial_alerts else None
        member = Member(
            now, alerted=route.partial_alerts and held is None, opener=True, locations=facts
        )
        incident = self._open_new(PARTIAL_PREFIX + name, kind, detail, name, member, now, None)
        alerts = self._say(incident, name, "incident.partial", now) if member.alerted else ()
        events: list[Event] = [Opened(incident, name, None, alerts)]
        if held:
            self._held[(incident.id, name)] = None
            entry = TimelineEntry(now, "alert held", f"{name}: {held}")
            events.append(Held(incident, name, entry, touched=()))
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
        left = why if superseded_by is None else f"down in incident #{superseded_by.id}"
        closed = self._close(incident, now, monitors=(name,), why=left)
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
        book = self._books[incident.id]
        member = book.members[name]
        if not facts:
            return []
        book.members[name] = dataclasses.replace(member, locations=facts)
        if failing_of(member.locations) == failing_of(facts):
            return []
        entry = TimelineEntry(now, "locations", f"{name}: {where_from(facts, 'down')}")
        return [Noted(incident, name, entry, touched=(name,))]

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
        channels = self._channels(route, member)
        book = self._books.get(incident.id)
        if event == "incident.opened" and book is not None:
            book.opened_to = channels
        payload = self._payload(incident, name, event, now, member, then)
        return alerts_to(channels, dedup_key(incident, name, event, now), payload)

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
        cause = cause_of(incident)
        partial_over = (
            f"down from a quorum of its locations now (incident #{then.id})"
            if then is not None
            else f"reachable from every location again after {down_for}"
        )
        text = {
            "incident.opened": f"{name} is down since {iso(incident.opened)}: {incident.detail}",
            "monitor.down": (
                f"{name} is down too: same cause as incident #{incident.id} ({cause}), "
                f"{others} monitors affected"
                + (
                    f"; the incident was acknowledged at {iso(incident.acknowledged)}, "
                    f"before {name} joined: its reminders run until someone acknowledges "
                    "again"
                    if incident.acknowledged is not None and not covered(incident, member)
                    else ""
                )
            ),
            "monitor.up": (
                f"{name} is back up after {down_for}; incident #{incident.id} ({cause}) goes "
                f"on: {many(others, 'monitor')} still down"
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
        shown = tuple(itertools.islice(incident.members, NAMES_SHOWN)) or (name,)
        return AlertPayload(
            event,
            name,
            text,
            now,
            incident=incident.id,
            monitors=shown,
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
            monitor_count=len(incident.members) if len(incident.members) > len(shown) else None,
            opened_to=() if event == "incident.opened" else self._opened_to(incident),
        )

    def _opened_to(self, incident: Incident) -> tuple[str, ...]:
        """The channels ``incident``'s opening alert went to, as far as the engine knows."""
        book = self._books.get(incident.id)
        if book is None:
            return ()
        return tuple(book.told) if incident.key == LOCAL else book.opened_to

    # -- bookkeeping -----------------------------------------------------------------------

    def _open_new(
        self,
        key: str,
        kind: Kind | None,
        detail: str,
        name: str,
        member: Member,
        now: float,
        host: str | None,
    ) -> Incident:
        """A new incident for ``key``, opened by ``name``, with the next id."""
        members: dict[str, Member] = {}
        incident = Incident(
            self.new_id(),
            key,
            kind,
            detail,
            hint_for(kind, detail) if kind else "Check the monitor's conditions.",
            now,
            monitors=Names(members),
            timeline=(TimelineEntry(now, "opened", detail),),
            members=members,
        )
        self._open[incident.id] = incident
        self._books[incident.id] = Book(members)
        index_in(self._by_key, key, incident.id)
        if key.startswith("host:"):
            index_in(self._by_host, host_of_key(key), incident.id)
        self._add(incident, name, member, host)
        return incident

    def _restore(self, incident: Incident, members: dict[str, Member]) -> None:
        """Carry on with ``incident``, open before a restart."""
        incident = dataclasses.replace(incident, members=members, monitors=Names(members))
        self._open[incident.id] = incident
        book = self._books[incident.id] = Book(members)
        index_in(self._by_key, incident.key, incident.id)
        if incident.key.startswith("host:"):
            index_in(self._by_host, host_of_key(incident.key), incident.id)
        book.ever = len(members)
        # The local incident's detail is its cause ("this machine cannot open connections:
        # connection refused (20 of 32 hosts at once)"), then the first failure's words.
        book.cause = ": ".join(incident.detail.split(": ")[:2])
        book.paused = sum(1 for m in members.values() if m.paused is not None)
        for name, member in members.items():
            if not incident.is_partial:
                index_in(self._of, name, incident.id)
            route = self.routes.get(name, Route())
            if incident.key == LOCAL:
                if member.alerted:
                    for c in route.channels:
                        book.told[c] = book.last[c] = book.reminded[c] = incident.opened
                self._route_in(incident, name)
            if member.opener and member.alerted:  # its opening page went to its channels
                book.opened_to = tuple(route.channels)
            if not member.alerted and (not incident.is_partial or route.partial_alerts):
                self._held[(incident.id, name)] = None
            elif incident.key != LOCAL:
                self._schedule_member(incident, name)
        if incident.key == LOCAL:
            for c in book.told:
                self._schedule_remind(incident, c)

    def _reroute(self) -> None:
        """The routes were replaced (a reload): each member's reminders, escalation and
        channels are worked out again (the one walk over every member)."""
        old, self._routed = self._routed or {}, self.routes
        for incident in list(self._open.values()):
            book = self._books[incident.id]
            if incident.key == LOCAL:
                new_routes, self.routes = self.routes, old
                for name in book.members:
                    self._route_in(incident, name, -1)
                self.routes = new_routes
                for name in book.members:
                    self._route_in(incident, name)
            else:
                for name, member in book.members.items():
                    if member.alerted:
                        self._schedule_member(incident, name)

    def _add(
        self, incident: Incident, name: str, member: Member, host: str | None, why: str = "down"
    ) -> Book:
        """``name`` joins ``incident`` (``why``: for its membership history)."""
        book = self._books[incident.id]
        book.members[name] = member
        self._move(incident, Move(name, member.joined, "joined", why))
        book.ever += 1
        if not incident.is_partial:
            index_in(self._of, name, incident.id)
        if host is not None:
            book.host[name] = host
            book.hosts[host] += 1
            book.ever_hosts.add(host)
        if self.traffic(name) is not None:
            book.traffic.add(name)
        if incident.key == LOCAL:
            self._route_in(incident, name)
        return book

    def _remove(self, incident: Incident, name: str, now: float, why: str) -> Member:
        """``name`` leaves ``incident`` at ``now`` (``why``: up, paused, removed, changed);
        its member record as it was."""
        book = self._books[incident.id]
        member = book.members.pop(name)
        if member.paused is not None:
            book.paused -= 1
        self._move(incident, Move(name, now, "left", why))
        unindex_from(self._of, name, incident.id)
        self._held.pop((incident.id, name), None)
        self._waiting.pop((incident.id, name), None)
        self._next.pop((incident.id, "member", name), None)
        self._next.pop((incident.id, "wait", name), None)
        book.traffic.discard(name)
        host = book.host.pop(name, None)
        if host is not None:
            book.hosts[host] -= 1
            if book.hosts[host] <= 0:
                del book.hosts[host]
        if incident.key == LOCAL:
            self._route_in(incident, name, -1)
        return member

    def _close(
        self, incident: Incident, now: float, monitors: tuple[str, ...], why: str = "up"
    ) -> Incident:
        """``incident`` is resolved at ``now``: no longer open (the members still in it
        leave it, ``why``)."""
        book = self._books.pop(incident.id)
        for name in list(book.members):
            self._move(incident, Move(name, now, "left", why))
            unindex_from(self._of, name, incident.id)
            self._held.pop((incident.id, name), None)
            self._waiting.pop((incident.id, name), None)
        del self._open[incident.id]
        unindex_from(self._by_key, incident.key, incident.id)
        if incident.key.startswith("host:"):
            unindex_from(self._by_host, host_of_key(incident.key), incident.id)
        return dataclasses.replace(incident, members={}, monitors=monitors, resolved=now)

    def _replace(self, incident: Incident, **changes: object) -> Incident:
        new = dataclasses.replace(incident, **changes)  # type: ignore[arg-type]
        if new.resolved is None:
            self._open[new.id] = new
        return new

    def _move(self, incident: Incident, move: Move) -> None:
        self._moves.setdefault(incident.id, []).append(move)

    def _moved(self, events: list[Event]) -> list[Event]:
        """``events``, the first of each incident carrying its membership moves."""
        if not self._moves:
            return events
        out = list(events)
        for i, event in enumerate(out):
            moves = self._moves.pop(event.incident.id, None)
            if moves:
                out[i] = dataclasses.replace(event, moves=(*event.moves, *moves))
        return out

    def _keyed(self, key: str) -> Incident | None:
        """The oldest open incident of ``key``."""
        ids = self._by_key.get(key)
        return self._open[ids[0]] if ids else None

    def _push(self, incident_id: int, what: str, whom: str, at: float) -> None:
        """Have the tick come back to (``what``, ``whom``) of ``incident_id`` at ``at``,
        or earlier if it is due earlier already."""
        key = (incident_id, what, whom)
        due = self._next.get(key)
        if due is not None and due <= at:
            return
        self._next[key] = at
        heapq.heappush(self._due, (at, next(self._order), incident_id, what, whom))
