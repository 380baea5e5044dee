"""Incidents of one service (a monitor, or a host and kind).  A monitor down opens or
joins its cause's incident, held or waiting for a ``local`` incident that may be
forming; back up, paused or removed, it leaves it.  The opening and the resolution are
paged at once; who joined and left in between goes in grouped updates per channel
(``incidents/_groups.py``); each monitor's reminders and escalation steps come due one by
one."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from tether._durations import human_duration
from tether._kinds import Kind
from tether._plural import joined
from tether.monitor._records import (
    PARTIAL_PREFIX,
    Alert,
    Incident,
    LocationFact,
    Member,
    Move,
    ProbeRecord,
    TimelineEntry,
    covered,
)
from tether.monitor.engine._correlate import Correlation, Failures, IncidentGroup, where_of_key
from tether.monitor.engine.incidents._books import LOCAL, IncidentBook
from tether.monitor.engine.incidents._events import (
    Escalated,
    Event,
    Held,
    IncidentRoute,
    Joined,
    Left,
    Narrowed,
    Noted,
    Opened,
    Released,
    Reminder,
    Resolved,
    Widened,
)
from tether.monitor.engine.incidents._groups import GroupedIncidents
from tether.monitor.engine.incidents._words import (
    alerts_to,
    cause_of,
    dedup_key,
    failing_of,
    is_passive,
    kind_of,
    reworded,
    where_from,
)

__all__ = ["ServiceIncidents"]


class ServiceIncidents(GroupedIncidents):
    """The engine's rules for a monitor down, back or paused (and ``local`` when the
    incident it leaves is that one)."""

    __slots__ = ()

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
            partial = self.partial_of(name)
            if partial is not None:
                events = [self._widen(partial, group.key, kind, detail, name, member, now, host)]
                incident = events[0].incident
            else:
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
            alerts = ()
            if not held:  # told in the incident's next grouped update, not on its own
                self._group_news(incident, name, member, "monitor.down", now, both)
                alerts = self._alone(name, self._say(incident, name, "monitor.down", now))
            if both is not None:  # the alert names the monitor, as the timeline does
                alerts = reworded(alerts, f"{too} (incident #{incident.id})", both)
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

    def _widen(
        self,
        partial: Incident,
        key: str,
        kind: Kind | None,
        detail: str,
        name: str,
        member: Member,
        now: float,
        host: str | None,
    ) -> Widened:
        """``name``, in its partial incident, is down from a quorum of its locations now
        and no incident of its cause is open: its partial incident becomes that incident
        (issue 73 item 9), paged as an opening is (``incident.opened``, unless
        ``member`` is held).  Channels told of the partial outage hear that it is over
        (``incident.partial_resolved``) after the page."""
        incident, was = self._rescope(partial, name, now, key, kind, detail, member, host)
        entry = TimelineEntry(now, "down", f"{name} is down from a quorum of its locations now")
        alerts = self._say(incident, name, "incident.opened", now) if member.alerted else ()
        if was.alerted:
            was = dataclasses.replace(was, locations=member.locations)
            alerts += self._say(incident, name, "incident.partial_resolved", now, was, incident)
        return Widened(incident, name, entry, alerts)

    def _narrow(
        self, incident: Incident, name: str, now: float, facts: Mapping[str, LocationFact]
    ) -> list[Event]:
        """``name``, the last monitor of ``incident``, is up for the quorum while some of
        its locations still fail: the incident goes on as its partial incident (issue 73
        item 9).  Channels told of its outage hear it is back (``monitor.up``, with any
        grouped news not told yet); with ``partial_alerts``, of the partial outage too."""
        book = self._books[incident.id]
        was = dataclasses.replace(book.members[name], locations=facts)
        down_for = human_duration(now - was.joined)
        detail = f"{name} {where_from(facts, 'unreachable')}"
        said = (
            f"{name} is back up from a quorum of its locations after {down_for}; incident "
            f"#{incident.id} goes on as a partial outage: {detail}"
        )
        alerts: tuple[Alert, ...] = ()
        if was.alerted:
            pending = self._pending(incident)
            alerts = self._say(incident, name, "monitor.up", now, was)
            alerts = reworded(alerts, said, f"back up after {down_for}")
            have = {a.channel for a in alerts}
            pending = {c: words for c, words in pending.items() if c in have}
            alerts = self._with_pending(incident, name, was, now, alerts, pending)
        route = self.routes.get(name, IncidentRoute())
        held = self.hold(name, now) if route.partial_alerts else None
        member = Member(
            now, alerted=route.partial_alerts and held is None, opener=True, locations=dict(facts)
        )
        partial, _ = self._rescope(
            incident, name, now, PARTIAL_PREFIX + name, kind_of(facts), detail, member
        )
        if member.alerted:
            alerts += self._say(partial, name, "incident.partial", now)
        events: list[Event] = [Narrowed(partial, name, TimelineEntry(now, "partial", said), alerts)]
        if held:
            self._held[(partial.id, name)] = None
            entry = TimelineEntry(now, "alert held", f"{name}: {held}")
            events.append(Held(partial, name, entry, touched=()))
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

    def _both(self, book: IncidentBook, group: IncidentGroup) -> str | None:
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
            if (
                why == "up"
                and facts
                and failing_of(facts)
                and incident.key != LOCAL
                and list(self._books[incident.id].members) == [name]
            ):
                events += self._narrow(incident, name, now, facts)
                continue
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
                pending = self._pending(incident)
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
                    alerts = reworded(
                        self._say(closed, name, "incident.resolved", now, member), said, gone
                    )
                alerts = self._with_pending(closed, name, member, now, alerts, pending)
                events.append(Resolved(closed, name, entry, alerts))
            else:
                entry = TimelineEntry(now, f"monitor {why}", gone)
                alerts = ()
                if told:  # in the incident's next grouped update
                    self._group_news(incident, name, member, "monitor.up", now)
                    alerts = self._alone(name, self._say(incident, name, "monitor.up", now, member))
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
        self._schedule_member(incident, name)
        if event == "monitor.down":  # a member joining: told in the next grouped update
            self._group_news(incident, name, member, event, now)
            said = f"{name}: no longer held, told in the next grouped update"
            alone = self._alone(name, self._say(incident, name, event, now))
            entry = TimelineEntry(now, "alert sent", said)
            return [Released(incident, name, entry, alone, touched=(name,))]
        entry = TimelineEntry(now, "alert sent", f"{name}: no longer held")
        alerts = self._say(incident, name, event, now)
        return [Released(incident, name, entry, alerts, touched=(name,))]

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
        route = self.routes.get(name, IncidentRoute())
        events: list[Event] = []
        last = member.reminded if member.reminded is not None else member.joined
        steps = route.escalate[member.escalated :]
        for step in steps:
            if now - member.joined < step.after:
                break
            told = set(self._channels(route, member, "incident.escalated", incident))
            member = dataclasses.replace(member, escalated=member.escalated + 1)
            book.members[name] = member
            new = tuple(c for c in step.alerts if c not in told)
            payload = self._payload(incident, name, "incident.escalated", now, member, route)
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
            payload = self._payload(incident, name, "incident.reminder", now, member, route)
            alerts = alerts_to(
                self._channels(
                    route,
                    dataclasses.replace(member, escalated=heard),
                    "incident.reminder",
                    incident,
                ),
                dedup_key(incident, name, "incident.reminder", now),
                payload,
            )
            events.append(Reminder(incident, name, entry, alerts, touched=(name,)))
        self._schedule_member(incident, name)
        return events
