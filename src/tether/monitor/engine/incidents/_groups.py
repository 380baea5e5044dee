"""The grouped news of an incident of one service (docs/routing.md, "Grouping"): its
opening page goes at once, but the monitors that join it and leave it while it goes on
are not each paged.  Their news is kept per channel (and per group of the route's
``group_by`` labels) and goes as one ``incident.updated``: first ``group_wait`` after the
opening, then at most every ``group_interval``.  The resolution goes at once and carries
whatever news was still kept.

This is Alertmanager's grouping with tether's incident as the group: the correlation
that made the incident already decided that its monitors fail for one cause, so a group
never spans two incidents.  The ``local`` incident keeps its own rhythm
(``incidents/_local.py``); reminders and escalation stay per monitor."""

from __future__ import annotations

import dataclasses

from tether._plural import and_more, joined
from tether.monitor._records import Alert, Incident, Member, covered
from tether.monitor.engine.incidents._books import LOCAL, News
from tether.monitor.engine.incidents._events import Event, IncidentRoute, Sending, Updated
from tether.monitor.engine.incidents._local import LocalIncidents
from tether.monitor.engine.incidents._words import cause_of, dedup_key, iso, many

__all__ = ["GroupedIncidents", "news_words"]


def news_words(news: News) -> str:
    """``2 more monitors down: a and b; 1 monitor back up: c``."""
    parts = []
    if news.down_n:
        parts.append(
            f"{many(news.down_n, 'more monitor')} down: {and_more(news.down, news.down_n)}"
        )
    if news.up_n:
        parts.append(f"{many(news.up_n, 'monitor')} back up: {and_more(news.up, news.up_n)}")
    return "; ".join(parts)


class GroupedIncidents(LocalIncidents):
    """The engine's grouped news for incidents of one service."""

    __slots__ = ()

    def _restore(self, incident: Incident, members: dict[str, Member]) -> None:
        """Carry on with ``incident`` after a restart (or on a new leader).  The news kept
        for a grouped update lives in memory, so it is made again from what is stored:
        each monitor that joined after the last opening or update queued to a channel
        (``told``: :meth:`Store.incident_tellings`) is news for that channel again, and
        the channel's rhythm goes on from that update.  News of a monitor that left
        before the restart is not restated: the resolution says the incident is over."""
        super()._restore(incident, members)
        if incident.key == LOCAL or incident.is_partial:
            return
        carried, book = self._open[incident.id], self._books[incident.id]
        for name, member in members.items():
            joiner = not member.opener and member.joined > incident.opened
            if not (joiner and member.alerted and member.paused is None):
                continue
            route = self.routes.get(name, IncidentRoute())
            for s in self._sendings(route, member, "monitor.down", carried):
                told = max(
                    self.told.get((incident.id, s.whom), 0.0),
                    self.told.get((incident.id, s.channel), 0.0),
                )
                if told:
                    book.last.setdefault(s.whom, told)
                if member.joined > told:
                    self._group_news(carried, name, member, "monitor.down", incident.opened, only=s)

    def _sendings(
        self, route: IncidentRoute, member: Member, event: str, incident: Incident
    ) -> tuple[Sending, ...]:
        """Where ``event``'s news of a member goes: its routes' channels with their
        grouping, and the escalation steps' channels it has reached (grouped by default)."""
        out = list(route.sending(event, incident.kind, incident.id))
        have = {s.channel for s in out}
        for step in route.escalate[: member.escalated]:
            for c in step.alerts:
                if c not in have:
                    have.add(c)
                    out.append(Sending(c))
        return tuple(out)

    def _group_news(
        self,
        incident: Incident,
        name: str,
        member: Member,
        event: str,
        now: float,
        both: str | None = None,
        *,
        only: Sending | None = None,
    ) -> None:
        """Keep ``name``'s news (``monitor.down``: it joined; ``monitor.up``: it is back
        while the incident goes on) for each of its channels until the channel's next
        grouped update: ``group_wait`` after the opening, then ``group_interval`` after
        the last one (at once when that is past)."""
        book = self._books[incident.id]
        route = self.routes.get(name, IncidentRoute())
        for s in (only,) if only is not None else self._sendings(route, member, event, incident):
            if s.channel in route.ungrouped:
                continue
            whom = s.whom
            book.news.setdefault(whom, News()).add(name, back=event == "monitor.up")
            if both is not None:
                book.both[whom] = both
            book.channel_of.setdefault(whom, s.channel)
            wait, every = book.grouping.setdefault(whom, (s.group_wait, s.group_interval))
            last = book.last.get(whom)
            due = incident.opened + wait if last is None else last + every
            self._push(incident.id, "group", whom, max(now, due))

    def _alone(self, name: str, alerts: tuple[Alert, ...]) -> tuple[Alert, ...]:
        """Of ``alerts`` about ``name`` joining or leaving, those to channels told of
        each monitor on its own (``IncidentRoute.ungrouped``): the others go in grouped news."""
        ungrouped = self.routes.get(name, IncidentRoute()).ungrouped
        return tuple(a for a in alerts if a.channel in ungrouped) if ungrouped else ()

    def _group_update(self, incident: Incident, whom: str, now: float) -> list[Event]:
        """The grouped update of ``incident`` to ``whom``, if it has news."""
        book = self._books[incident.id]
        news = book.news.pop(whom, None)
        if news is None or not (news.down_n or news.up_n):
            return []
        book.last[whom] = now
        first = (news.down or news.up)[0]
        text = f"incident #{incident.id} ({cause_of(incident)}): {self._said(book, news)}"
        late = [
            n for n in news.down if n in book.members and not covered(incident, book.members[n])
        ]
        both = book.both.pop(whom, None)
        if both is not None:
            text += f"; {both}"
        if incident.acknowledged is not None and late:
            text += (
                f"; the incident was acknowledged at {iso(incident.acknowledged)}, before "
                f"{joined(late)} joined: their reminders run until someone acknowledges again"
            )
        payload = dataclasses.replace(
            self._local_payload(incident, first, "incident.updated", text, now),
            labels=self._common_labels(tuple(news.down + news.up)),
        )
        alert = Alert(
            book.channel_of[whom], dedup_key(incident, whom, "incident.updated", now), payload
        )
        return [Updated(incident, first, None, (alert,), touched=())]

    def _pending(self, incident: Incident) -> dict[str, str]:
        """The news of ``incident`` no channel has been told yet, by channel, in words:
        its resolution carries them (read before the incident closes)."""
        book = self._books[incident.id]
        out: dict[str, list[str]] = {}
        for whom, news in book.news.items():
            if news.down_n or news.up_n:
                out.setdefault(book.channel_of[whom], []).append(news_words(news))
        return {c: "; ".join(words) for c, words in out.items()}

    def _with_pending(
        self,
        closed: Incident,
        name: str,
        member: Member,
        now: float,
        alerts: tuple[Alert, ...],
        pending: dict[str, str],
    ) -> tuple[Alert, ...]:
        """The resolution ``alerts``, each saying the news its channel was not told yet;
        a channel with such news and no resolution of its own gets one."""
        if not pending:
            return alerts

        def told(alert: Alert, news: str) -> Alert:
            text = f"{alert.payload.text}; not told before: {news}"
            return dataclasses.replace(alert, payload=dataclasses.replace(alert.payload, text=text))

        out = [told(a, pending[a.channel]) if a.channel in pending else a for a in alerts]
        have = {a.channel for a in alerts}
        missing = [c for c in pending if c not in have]
        if missing:
            route = self.routes.get(name, IncidentRoute())
            payload = self._payload(closed, name, "incident.resolved", now, member, route)
            dedup = dedup_key(closed, name, "incident.resolved", now)
            out += [told(Alert(c, dedup, payload), pending[c]) for c in missing]
        return tuple(out)
