"""The incident engine: state changes in; incident events and the alerts they send out.

Pure: it reads no clock, touches no store and sends nothing.  The runner feeds it
the detector's state changes (with the check behind each), latency notices, and a
tick every second; it answers with events, each carrying the incident as it now
is, a line for its timeline, and the alerts to queue.  The runner only writes
them down and queues them.

The rules, which are what a team relies on when it lets tether page it:

- **Every monitor that goes down or comes back is told**, naming the incident it
  belongs to.  The first monitor down for a cause opens the incident
  (``incident.opened``); another one down for the same cause joins it
  (``monitor.down``: "bravo is down too: same cause as incident #2 ..."); one
  that comes back while others are still down leaves it (``monitor.up``); the
  last one back resolves it (``incident.resolved``, naming the kind it resolves).
  Joins and leaves go as they are to ``alertmanager`` channels only; the others
  hear of them in the incident's grouped ``incident.updated`` or its resolution
  (``incidents/_groups.py``).  Grouping never hides a monitor.
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
  fails any more.  It goes to the monitor's channels only with ``partial_alerts``
  (``incident.partial``, then ``incident.partial_resolved``), held as a down alert is,
  and never reminded or escalated: nothing is down for the cluster.  A full incident
  of such a monitor names its locations and their kinds too.
- **One outage, one incident** (issue 73 item 9): when the monitor goes down for the
  cluster and no incident of its cause is open, its partial incident *becomes* that
  incident (``Widened``: the same id, the cause's key, paged with ``incident.opened``);
  when it is up for the cluster while some location still fails and it was the
  incident's last monitor, the incident goes on as its partial one (``Narrowed``: its
  channels hear ``monitor.up`` in those words).  Each change ends the monitor's stint
  in one scope and begins one in the other in the membership history (``partial``
  while partial), so the status pages tell its full time alone.  Down for a cause
  whose incident is open already, it joins that incident instead and its partial one
  resolves ("down from a quorum now: see incident #N").
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
 down, partial open ─► Widened (incident.opened) · up, some fail ─► Narrowed (monitor.up)
```

:class:`IncidentEngine` is what the runner asks (this module); its parts, each a class
the next builds on: ``incidents/_ledger.py`` (the state: open incidents, indexes, the
heap of what is due), ``incidents/_alerts.py`` (a monitor's alerts),
``incidents/_local.py`` (the ``local`` incident), ``incidents/_service.py`` (incidents of
one service), ``incidents/_partial.py`` (partial incidents).  The values it is given and
answers with are in ``incidents/_events.py``, what it keeps of each incident in
``incidents/_books.py``, its words in ``incidents/_words.py``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from tether.monitor._records import (
    AlertPayload,
    Incident,
    LocationFact,
    ProbeRecord,
    TimelineEntry,
    covered,
)
from tether.monitor._state import State
from tether.monitor.engine._correlate import Failures
from tether.monitor.engine._detect import Degraded, Observation, Recovered, StateChanged
from tether.monitor.engine._quorum import LocationsChanged
from tether.monitor.engine.incidents._books import LOCAL
from tether.monitor.engine.incidents._events import (
    Acknowledged,
    Event,
    IncidentRoute,
    Noted,
    Notice,
)
from tether.monitor.engine.incidents._partial import PartialIncidents
from tether.monitor.engine.incidents._service import ServiceIncidents
from tether.monitor.engine.incidents._words import UP_STATES, alerts_to

__all__ = ["IncidentEngine"]


class IncidentEngine(ServiceIncidents, PartialIncidents):
    """Open incidents, and the rules that turn state changes into alerts.

    ``new_id`` hands out incident ids (the store's); ``hold`` says why a monitor's
    alerts wait; ``routes`` says where each monitor's alerts go (replaced on reload).
    ``incidents`` are the open incidents to carry on with (after a restart).
    ``traffic`` words a down traffic monitor's failure ("37% of checkout's calls fail
    with tls.expired since 10:02"), None for any other monitor: when one joins a probe's
    incident on the same host, or a probe joins its, the incident says both signals.
    """

    __slots__ = ()

    def open_incidents(self) -> list[Incident]:
        """The open incidents, oldest first."""
        return [self._open[i] for i in sorted(self._open)]

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
        facts = dict(locations) if locations is not None and len(locations) > 1 else {}
        return self._moved(self._changed(change, record, down, hosts, facts))

    def _changed(
        self,
        change: StateChanged,
        record: ProbeRecord | None,
        down: Iterable[Observation] | Failures,
        hosts: Mapping[str, str],
        facts: dict[str, LocationFact],
    ) -> list[Event]:
        """:meth:`changed`, ``facts`` what its locations see when there are several."""
        name, now = change.monitor, change.at
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
                events = self._changed(change, record, down, hosts, facts)
                return left + events
            group = down.group_of(name, self.correlation)
            if group is None:
                return []
            if group.key == LOCAL:
                events = self._down_local(name, group, record.detail, now, facts, down)
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
        route = self.routes.get(name, IncidentRoute())
        payload = AlertPayload(
            f"monitor.{what}",
            name,
            text,
            now,
            url=route.url,
            detail=text,
            since=now,
            labels=route.labels,
        )
        channels = route.channels_for(f"monitor.{what}")
        return Notice(name, text, alerts_to(channels, f"{name}:{what}:{now:.3f}", payload))

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
            elif what == "group":
                events += self._group_update(incident, whom, now)
            elif what == "remind":
                events += self._remind_local(incident, whom, now)
            else:
                events += self._escalate_local(incident, now)
        return self._moved(events)
