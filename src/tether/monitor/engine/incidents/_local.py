"""The ``local`` incident (this machine is the cause): a page per channel, not per
monitor.  It opens folding in the incidents of its hosts, tells its channels once, then
in grouped updates at most every minute; its reminders and escalation go by channel."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping

from tether._catalogue import CATALOGUE
from tether._durations import human_duration
from tether._plural import and_more, joined
from tether.monitor._records import (
    Alert,
    AlertPayload,
    Incident,
    LocationFact,
    Member,
    Move,
    TimelineEntry,
)
from tether.monitor.engine._correlate import Failures, IncidentGroup
from tether.monitor.engine.incidents._alerts import IncidentAlerts
from tether.monitor.engine.incidents._books import (
    GROUPED_EVERY,
    LOCAL,
    NAMES_SHOWN,
    TIMELINE,
    IncidentBook,
    News,
    index_in,
    unindex_from,
)
from tether.monitor.engine.incidents._events import (
    Escalated,
    Event,
    Folded,
    IncidentRoute,
    Joined,
    Left,
    Opened,
    Reminder,
    Resolved,
    Updated,
)
from tether.monitor.engine.incidents._words import cause_of, dedup_key, many

__all__ = ["LocalIncidents"]


class LocalIncidents(IncidentAlerts):
    """The engine's rules for the ``local`` incident."""

    __slots__ = ()

    def _down_local(
        self,
        name: str,
        group: IncidentGroup,
        check_detail: str | None,
        now: float,
        facts: Mapping[str, LocationFact],
        failures: Failures,
    ) -> list[Event]:
        """``name`` is down for this machine's cause (``group``); ``check_detail`` is what
        its check said, the detail of the incident it opens."""
        held = self.hold(name, now)
        existing = self._keyed(LOCAL)
        member = Member(now, alerted=held is None, opener=existing is None, locations=facts)
        host = failures.host_of(name)
        if existing is None:
            detail = f"{group.cause}: {check_detail}" if check_detail else group.cause
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
                for c in self._local_channels(incident, w):
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
        self._unfile(incident)  # one of a host, as every incident it folds
        closed = dataclasses.replace(
            incident, members={}, monitors=names, resolved=now, folded_into=local.id
        )
        said = f"folded into incident #{local.id}: {local.detail}"
        return Folded(closed, "", TimelineEntry(now, "folded", said))

    def _local_channels(self, incident: Incident, name: str) -> tuple[str, ...]:
        """The channels ``name``'s alerts of the ``local`` incident go to: those its
        opening page goes to (the route tree's, by the monitor's labels)."""
        route = self.routes.get(name, IncidentRoute())
        return route.channels_for("incident.opened", incident.kind, incident.id)

    def _untold(self, incident: Incident, names: Iterable[str]) -> list[str]:
        """The channels of ``names`` (those whose page does not wait on a hold) that have
        not heard of the ``local`` incident yet: its opening page goes to each."""
        book = self._books[incident.id]
        out: dict[str, None] = {}
        for name in names:
            if book.members[name].alerted:
                for c in self._local_channels(incident, name):
                    if c not in book.told:
                        out[c] = None
        return list(out)

    def _tell_local(self, incident: Incident, name: str, now: float) -> tuple[Alert, ...]:
        """``name`` is down in the ``local`` incident and may be told: a channel of it
        that has not heard of the incident gets the opening page now, the others hear of
        it in the next grouped update."""
        book = self._books[incident.id]
        alerts: list[Alert] = []
        for c in self._local_channels(incident, name):
            if c in book.told:
                self._news(incident, c, name, now, back=False)
            else:
                alerts.append(self._opening(incident, c, now))
        return tuple(alerts)

    def _opening(self, incident: Incident, channel: str, now: float) -> Alert:
        """The ``local`` incident's one page to ``channel``; its reminders follow."""
        book = self._books[incident.id]
        book.tell(channel, now)
        book.last.setdefault(TIMELINE, now)
        self._schedule_remind(incident, channel)
        first = next(iter(book.members))
        text = f"{book.cause}: {self._down_now(book, incident)}"
        payload = self._local_payload(incident, first, "incident.opened", text, now)
        return Alert(channel, dedup_key(incident, LOCAL, "incident.opened", now), payload)

    def _down_now(self, book: IncidentBook, incident: Incident) -> str:
        """``1,200 monitors down on 20 hosts (incident #7): m0, m1 and 1,198 more``."""
        n = len(book.members)
        where = f" on {many(len(book.hosts), 'host')}" if book.hosts else ""
        names = list(itertools.islice(book.members, NAMES_SHOWN))
        return f"{many(n, 'monitor')} down{where} (incident #{incident.id}): {and_more(names, n)}"

    def _local_payload(
        self, incident: Incident, name: str, event: str, text: str, now: float
    ) -> AlertPayload:
        """An alert of the ``local`` incident: about all of it, the first names and counts."""
        book = self._books.get(incident.id)
        members = book.members if book is not None else {}
        shown = tuple(itertools.islice(members, NAMES_SHOWN))
        return AlertPayload(
            event,
            name,
            text,
            now,
            incident=incident.id,
            monitors=shown,
            kind=incident.kind,
            detail=incident.detail,
            hint=incident.hint,
            since=incident.opened,
            monitor_count=len(members),
            host_count=len(book.hosts) if book is not None else None,
            opened_to=() if event == "incident.opened" else self._opened_to(incident),
            labels=self._common_labels(shown or (name,)),
        )

    def _common_labels(self, names: tuple[str, ...]) -> dict[str, str]:
        """The labels every one of ``names`` has, with the same value."""
        routes = [self.routes.get(n, IncidentRoute()).labels for n in names]
        first, rest = routes[0], routes[1:]
        return {k: v for k, v in first.items() if all(r.get(k) == v for r in rest)}

    def _news(self, incident: Incident, whom: str, name: str, now: float, *, back: bool) -> None:
        """Keep ``name``'s news for ``whom`` (a channel, or the timeline) until its next
        grouped update, due a minute after the last one."""
        book = self._books[incident.id]
        news = book.news.get(whom)
        if news is None:  # not made per call: a wave tells one News thousands of names
            news = book.news[whom] = News()
        news.add(name, back=back)
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

    def _said(self, book: IncidentBook, news: News) -> str:
        """``312 more monitors down (1,815 in all, on 30 hosts): a, b, c and 309 more``;
        ``12 monitors back up (1,803 still down, on 30 hosts): x, y and 10 more``."""
        n = len(book.members)
        on = f", on {many(len(book.hosts), 'host')}" if book.hosts else ""
        parts = []
        if news.down_n:
            more = many(news.down_n, "more monitor")
            parts.append(f"{more} down: {and_more(news.down, news.down_n)}")
        if news.up_n:
            parts.append(f"{many(news.up_n, 'monitor')} back up: {and_more(news.up, news.up_n)}")
        state = f"{n:,} in all{on}" if not news.up_n else f"{n:,} still down{on}"
        return f"{'; '.join(parts)} ({state})"

    def _leave_local(
        self, incident: Incident, name: str, member: Member, now: float, why: str
    ) -> list[Event]:
        book = self._books[incident.id]
        if book.members:
            if member.alerted and why == "up":
                for c in self._local_channels(incident, name):
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
                    labels=self.routes.get(name, IncidentRoute()).labels,
                ),
            )
            for c in told
        )
        entry = TimelineEntry(now, "resolved", f"{ending}; down for {lasted}")
        return [Resolved(closed, name, entry, alerts)]

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
                book.tell(c, now)
                self._schedule_remind(incident, c)
            entry = TimelineEntry(
                now, "escalated", f"down for {lasted}, told " + ", ".join(s.alerts)
            )
            events.append(Escalated(incident, first, entry, tuple(alerts), touched=()))
        if later:
            self._push(incident.id, "escalate", "", min(later))
        return events
