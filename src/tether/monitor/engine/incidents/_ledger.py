"""The incident engine's state: the open incidents, what it keeps of each (their
:class:`~tether.monitor.engine.incidents._books.IncidentBook`), the indexes that find one without a
walk, the membership moves not yet handed out and the heap of what is due (reminders,
escalation steps, grouped updates, waits), with the bookkeeping that keeps them in step."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from tether._catalogue import hint_for
from tether._kinds import Kind
from tether.monitor._records import (
    PARTIAL,
    PARTIAL_PREFIX,
    Incident,
    Member,
    Move,
    TimelineEntry,
    covered,
)
from tether.monitor.engine._correlate import Correlation
from tether.monitor.engine.incidents._books import (
    LOCAL,
    IncidentBook,
    Names,
    host_of_key,
    index_in,
    unindex_from,
)
from tether.monitor.engine.incidents._events import Event, Hold, IncidentRoute

__all__ = ["IncidentLedger"]


def _no_hold(monitor: str, now: float) -> str | None:
    return None


def _no_traffic(monitor: str) -> str | None:
    return None


@dataclass(slots=True)
class IncidentLedger:
    """What :class:`~tether.monitor.engine.incidents._engine.IncidentEngine` is given (its fields,
    described there) and keeps; the parts of the engine build on it."""

    routes: Mapping[str, IncidentRoute]
    new_id: Callable[[], int]
    hold: Hold = _no_hold
    correlation: Correlation | None = None
    traffic: Callable[[str], str | None] = _no_traffic
    incidents: Iterable[Incident] = ()
    told: Mapping[tuple[int, str], float] = field(default_factory=dict)
    _open: dict[int, Incident] = field(init=False, default_factory=dict)
    _books: dict[int, IncidentBook] = field(init=False, default_factory=dict)
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
    _routed: Mapping[str, IncidentRoute] | None = field(init=False, default=None)
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
        self.incidents, self.told = (), {}
        self._routed = self.routes

    def incident_of(self, monitor: str) -> Incident | None:
        """The open incident ``monitor`` is down in, if any (not its partial incident)."""
        ids = self._of.get(monitor)
        return self._open[ids[0]] if ids else None

    def partial_of(self, monitor: str) -> Incident | None:
        """``monitor``'s open partial incident, if any."""
        return self._keyed(PARTIAL_PREFIX + monitor)

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
        self._file(incident, members)
        self._add(incident, name, member, host)
        return incident

    def _restore(self, incident: Incident, members: dict[str, Member]) -> None:
        """Carry on with ``incident``, open before a restart."""
        incident = dataclasses.replace(incident, members=members, monitors=Names(members))
        book = self._file(incident, members)
        book.ever = len(members)
        # The local incident's detail is its cause ("this machine cannot open connections:
        # connection refused (20 of 32 hosts at once)"), then the first failure's words.
        book.cause = ": ".join(incident.detail.split(": ")[:2])
        book.paused = sum(1 for m in members.values() if m.paused is not None)
        for name, member in members.items():
            if not incident.is_partial:
                index_in(self._of, name, incident.id)
            route = self.routes.get(name, IncidentRoute())
            opened_to = route.channels_for("incident.opened", incident.kind, incident.id)
            if incident.key == LOCAL:
                if member.alerted:
                    for c in opened_to:
                        book.tell(c, incident.opened)
                self._route_in(incident, name)
            if member.opener and member.alerted:  # its opening page went to its channels
                book.opened_to = opened_to
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
    ) -> IncidentBook:
        """``name`` joins ``incident`` (``why``: for its membership history; ``partial``
        whatever is given when the incident is partial: the status pages tell only the
        stints that were not)."""
        book = self._books[incident.id]
        book.members[name] = member
        self._move(
            incident, Move(name, member.joined, "joined", PARTIAL if incident.is_partial else why)
        )
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
        self._unfile(incident)
        return dataclasses.replace(incident, members={}, monitors=monitors, resolved=now)

    def _rescope(
        self,
        incident: Incident,
        name: str,
        now: float,
        key: str,
        kind: Kind | None,
        detail: str,
        member: Member,
        host: str | None = None,
    ) -> tuple[Incident, Member]:
        """``incident``, of ``name`` alone, changes scope at ``now`` (issue 73 item 9): a
        partial incident whose monitor is down from a quorum now, or a full one whose
        monitor is up for the quorum while some of its locations still fail.  It keeps its
        id, its opening and its timeline, and takes ``key``, ``kind`` and ``detail``; its
        monitor leaves the old scope and joins the new one as ``member`` (two lines of its
        membership history, so a page tells the full stints alone), with a fresh book: no
        reminder, escalation, hold or grouped news of the old scope carries over.  The
        incident as it is now, and the member as it was."""
        was = self._remove(
            incident, name, now, PARTIAL if key.startswith(PARTIAL_PREFIX) else "down"
        )
        for what in ("group", "update"):
            for whom in list(self._books[incident.id].news):
                self._next.pop((incident.id, what, whom), None)
        del self._books[incident.id]
        self._unfile(incident)
        members: dict[str, Member] = {}
        new = dataclasses.replace(
            incident,
            key=key,
            kind=kind,
            detail=detail,
            hint=hint_for(kind, detail) if kind else "Check the monitor's conditions.",
            members=members,
            monitors=Names(members),
        )
        self._file(new, members)
        self._add(new, name, member, host)
        return new, was

    def _file(self, incident: Incident, members: dict[str, Member]) -> IncidentBook:
        """Keep ``incident`` open with a book of ``members``, found by its key (and, of one
        host, by its host)."""
        self._open[incident.id] = incident
        book = self._books[incident.id] = IncidentBook(members)
        index_in(self._by_key, incident.key, incident.id)
        if incident.key.startswith("host:"):
            index_in(self._by_host, host_of_key(incident.key), incident.id)
        return book

    def _unfile(self, incident: Incident) -> None:
        """``incident`` is no longer open: its key (and host) no longer find it."""
        del self._open[incident.id]
        unindex_from(self._by_key, incident.key, incident.id)
        if incident.key.startswith("host:"):
            unindex_from(self._by_host, host_of_key(incident.key), incident.id)

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

    def _schedule_member(self, incident: Incident, name: str) -> None:
        """Put ``name``'s next reminder or escalation step on the heap, if it has one."""
        member = self._books[incident.id].members[name]
        if incident.is_partial or covered(incident, member) or member.paused is not None:
            return
        route = self.routes.get(name, IncidentRoute())
        due: list[float] = []
        if member.escalated < len(route.escalate):
            due.append(member.joined + route.escalate[member.escalated].after)
        if route.remind_every is not None:
            last = member.reminded if member.reminded is not None else member.joined
            due.append(last + route.remind_every)
        if due:
            self._push(incident.id, "member", name, min(due))

    def _route_in(self, incident: Incident, name: str, step: int = 1) -> None:
        """Count ``name``'s route in (or out of) the ``local`` incident's channels,
        reminders and escalation steps."""
        book = self._books[incident.id]
        route = self.routes.get(name, IncidentRoute())
        for c in route.channels_for("incident.opened", incident.kind, incident.id):
            values = book.remind.setdefault(c, Counter())
            values[route.remind_every or 0.0] += step
            if step > 0 and c in book.told:
                self._schedule_remind(incident, c)
        for s in route.escalate:
            book.steps[s] += step
            if step > 0 and s not in book.fired:
                self._push(incident.id, "escalate", "", incident.opened + s.after)

    def _remind_period(self, book: IncidentBook, channel: str) -> float | None:
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
