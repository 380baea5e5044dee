"""The incidents a status page tells, in its words (``_statuspage.build_page``): which
incidents touched the page's monitors, each monitor's own time in them (its stints, from
the membership history: issue 24), the page's notes, and the team's updates.  A monitor's
partial time (some of its locations failed, fewer than its quorum) is not told: an
incident is told from its first time down for the quorum until it resolves (issue 73
item 9).  What a page's incident says is the public's: how long and in which plain
words (``trouble``), never which failure or where."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final, NotRequired, TypedDict

from tether._catalogue import CATALOGUE
from tether._kinds import Kind, Layer
from tether._plural import count
from tether.monitor._records import PARTIAL, Stint, stints
from tether.monitor._state import State
from tether.monitor.reports._documents import iso
from tether.monitor.web.status._status_news import PageUpdate, page_updates, planned_only

if TYPE_CHECKING:
    from tether.monitor._records import Incident
    from tether.monitor.config import IncidentNote, StatusPage
    from tether.monitor.store import Store
    from tether.monitor.store._base import Listed

__all__ = [
    "FAILING",
    "INCIDENTS_READ",
    "Outage",
    "PageIncident",
    "Told",
    "down_time",
    "page_incidents",
    "plain_duration",
    "told_stints",
    "trouble",
]

DAY: Final = 86400.0
INCIDENTS_READ: Final = 1000
"""The newest incidents read to find those of a page."""
FAILING: Final = frozenset({State.DOWN, State.FLAPPING})
"""The states a page counts as down."""


def down_time(changes: Sequence[tuple[float, State]], since: float, until: float) -> float:
    """Seconds from ``since`` to ``until`` spent down or flapping."""
    total = 0.0
    for i, (at, state) in enumerate(changes):
        if state not in FAILING:
            continue
        end = min(changes[i + 1][0] if i + 1 < len(changes) else until, until)
        total += max(0.0, end - max(at, since))
    return total


def plain_duration(seconds: float) -> str:
    """``less than a minute``, ``12 minutes``, ``1 hour 5 minutes``, ``2 days 3 hours``:
    a length of time for the public, to the minute at most."""
    minutes = int(seconds // 60 + (1 if seconds % 60 >= 30 else 0))
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return count(minutes, "minute")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return count(hours, "hour") + (f" {count(minutes, 'minute')}" if minutes else "")
    days, hours = divmod(hours, 24)
    return count(days, "day") + (f" {count(hours, 'hour')}" if hours else "")


_UNREACHABLE: Final = frozenset({Layer.URL, Layer.PROXY, Layer.DNS, Layer.CONNECT, Layer.TLS})
_SILENT: Final = frozenset({Kind.READ_TIMEOUT, Kind.WRITE_TIMEOUT, Kind.DEADLINE_EXCEEDED})


def trouble(kind: Kind | None) -> str:
    """What a failure did, in the fewest and plainest words, and nothing of which
    failure it was: ``unreachable`` (it could not be reached), ``not responding`` (it did
    not answer in time) or ``returning errors`` (it answered wrongly, or a condition
    failed); a push monitor whose job did not push is ``not reporting``."""
    if kind is Kind.HEARTBEAT_MISSED:
        return "not reporting"
    if kind in _SILENT:
        return "not responding"
    if kind is not None and CATALOGUE[kind].layer in _UNREACHABLE:
        return "unreachable"
    return "returning errors"


class Told(TypedDict):
    """One of the page's monitors in an incident, with its own time down (``down_s``:
    ``None`` in a note of no incident)."""

    name: str
    down_s: int | None
    text: str


class Outage(TypedDict):
    """A span in which some of the page's monitors in an incident were down."""

    start: str
    end: str | None


class PageIncident(TypedDict):
    """An incident as the page tells it (``id`` ``None``: a note no incident met);
    ``kind`` and ``meaning`` where the page shows kinds."""

    id: int | None
    open: bool
    opened: str
    resolved: str | None
    text: str
    monitors: list[Told]
    notes: list[str]
    updates: NotRequired[list[PageUpdate]]
    """The team's updates, newest first, as docs/status-pages.md says (issue 48, 73 §7)."""
    outages: NotRequired[list[Outage]]
    """When the page's monitors in it were down, oldest first: more than one when they
    came back for the quorum and went down again while some location still failed
    (issue 73 item 9)."""
    kind: NotRequired[str]
    meaning: NotRequired[str]


def _meets(
    note: IncidentNote, incident: Incident, now: float, names: Collection[str] | None = None
) -> bool:
    """Whether ``note`` is of ``incident``: by its id, or of a monitor that was in it
    (``names``; else its monitors) over a span that meets the incident's."""
    if note.incident is not None:
        return note.incident == incident.id
    if note.monitor not in (incident.monitors if names is None else names):
        return False
    start, stop = note.span()
    end = incident.resolved if incident.resolved is not None else now
    return start <= end and (stop is None or incident.opened <= stop)


def _incident_json(
    page: StatusPage,
    listed: Listed,
    shown: Mapping[str, str],
    changes: Mapping[str, Sequence[tuple[float, State]]],
    now: float,
    own: Mapping[str, Sequence[Stint]],
    planned: Collection[str] = (),
    every: Mapping[str, Sequence[Stint]] | None = None,
) -> PageIncident:
    """One incident as the page tells it: each of the page's monitors that was in it
    with its own time (``own``: its stints down for the cluster, from the membership
    history), not the incident's: a monitor that joined late, or left while others stay
    down, shows its own outage, for as long as the page shows that day (issue 24).  A
    monitor of ``planned`` was down under maintenance alone: it is not told.

    ``every``: its stints partial ones included (issue 73 item 9).  An incident whose
    monitor is up for the quorum while some of its locations still fail goes on as a
    partial one: the page keeps it open ("Checkout was unreachable for 2 minutes, and
    still is from some locations") until the incident resolves, so that its opening and
    its resolution are each told once however often its scope changes."""
    incident = listed.incident
    every = own if every is None else every
    until = incident.resolved if incident.resolved is not None else now
    words = trouble(incident.kind)
    monitors: list[Told] = []
    names = sorted(own) if own else sorted(m for m in incident.monitors if m in shown)
    names = [n for n in names if n not in planned]
    for name in (n for n in names if n in shown):
        spans = own.get(name)
        partly = False
        if spans:
            down = sum(
                down_time(changes.get(name, ()), s.start, until if s.end is None else s.end)
                or s.down_s(until)
                for s in spans
            )
            still = incident.is_open and spans[-1].end is None
            partly = incident.is_open and not still and _in(every.get(name, ()))
        else:
            down = (
                down_time(changes.get(name, ()), incident.opened, until) or until - incident.opened
            )
            still = listed.current
        if still:
            text = f"{shown[name]} is {words}, for {plain_duration(down)} so far"
        elif partly:
            text = (
                f"{shown[name]} was {words} for {plain_duration(down)}, and still is from "
                "some locations"
            )
        else:
            text = f"{shown[name]} was {words} for {plain_duration(down)}"
        monitors.append({"name": shown[name], "down_s": round(down), "text": text})
    # The page's own outage: from its first monitor's start to its last one's end.
    mine = [s for name in names if name in shown for s in own.get(name, ())]
    ours = [s for name in names if name in shown for s in every.get(name, ())]
    opened, resolved, is_open = incident.opened, incident.resolved, incident.is_open
    if mine:
        opened = min(s.start for s in mine)
        is_open = incident.is_open and _in(ours)
        ends = [s.end for s in ours if s.end is not None]
        resolved = None if is_open else max(ends, default=incident.resolved)
    out: PageIncident = {
        "id": incident.id,
        "open": is_open,
        "opened": iso(opened),
        "resolved": iso(resolved),
        "text": "; ".join(m["text"] for m in monitors) + ".",
        "monitors": monitors,
        "notes": [note.text for note in page.notes if _meets(note, incident, now, own or None)],
    }
    if mine:
        out["outages"] = [
            {"start": iso(a), "end": None if b is None else iso(b)} for a, b in _spans(mine)
        ]
    if page.show_kinds:
        kind = incident.kind
        out["kind"] = "condition" if kind is None else kind.value
        out["meaning"] = (
            "A condition of the check was not met." if kind is None else CATALOGUE[kind].meaning
        )
    return out


def _in(spans: Iterable[Stint]) -> bool:
    """Whether one of ``spans`` goes on."""
    return any(s.end is None for s in spans)


def _spans(spans: Iterable[Stint]) -> list[tuple[float, float | None]]:
    """``spans`` merged where they meet or overlap, oldest first (None: goes on)."""
    out: list[tuple[float, float | None]] = []
    for s in sorted(spans, key=lambda s: s.start):
        if out and (out[-1][1] is None or s.start <= out[-1][1]):
            a, b = out[-1]
            out[-1] = (a, None if b is None or s.end is None else max(b, s.end))
        else:
            out.append((s.start, s.end))
    return out


def told_stints(every: Mapping[str, Sequence[Stint]]) -> dict[str, tuple[Stint, ...]]:
    """Of each monitor's stints in an incident, those a status page tells: not those of
    its partial times (``partial``: some of its locations failed, fewer than its quorum).
    A monitor with none is left out."""
    out = {}
    for name, spans in every.items():
        told = tuple(s for s in spans if s.why != PARTIAL)
        if told:
            out[name] = told
    return out


def _lone_note(note: IncidentNote, shown: Mapping[str, str], now: float) -> PageIncident:
    """A note of a monitor's time that no incident of it met: shown on its own."""
    start, end = note.span()
    assert note.monitor is not None
    return {
        "id": None,
        "open": end is None or end > now,
        "opened": iso(start),
        "resolved": None if end is None or end > now else iso(end),
        "text": f"{shown[note.monitor]}.",
        "monitors": [{"name": shown[note.monitor], "down_s": None, "text": shown[note.monitor]}],
        "notes": [note.text],
    }


def page_incidents(
    store: Store,
    page: StatusPage,
    changes: Mapping[str, Sequence[tuple[float, State]]],
    planned_at: Callable[[str, float], bool],
    now: float,
) -> list[PageIncident]:
    """The incidents ``page`` tells at ``now``, newest first, with its lone notes and the
    team's updates (``changes``: its monitors' state changes; ``planned_at``: whether a
    monitor was under maintenance at a moment).  Reads the store."""
    shown = {e.monitor: e.shown for e in page.entries()}
    names = list(shown)
    window = now - page.incident_days * DAY
    # Each incident's monitors as far as the page's and its notes' go: not the
    # thousands a mass outage's incident holds (issue 23).
    among = {*names, *(n.monitor for n in page.notes if n.monitor is not None)}
    # An incident folded into the local one is told by that one (its members' times
    # went with them); a monitor that was in an incident is found by its history.
    near = [
        i
        for i in store.incident_list(limit=INCIDENTS_READ, shown=(len(among), 1), among=among)
        if i.incident.folded_into is None
        and (
            i.incident.is_open
            or (i.incident.resolved is not None and i.incident.resolved >= window)
        )
    ]
    moves = store.membership([i.incident.id for i in near], among)
    every = {i: stints(m) for i, m in moves.items()}
    own = {i: full for i, spans in every.items() if (full := told_stints(spans))}
    # A partial incident is told once one of its monitors was down for the cluster in it
    # (its scope changed: issue 73 item 9), and from then until it resolves.
    near = [i for i in near if not i.incident.is_partial or i.incident.id in own]

    hushed = {
        i.incident.id: planned_only(i, own.get(i.incident.id) or {}, shown, planned_at, now)
        for i in near
    }
    listed = [
        i
        for i in near
        if any(
            m in shown and m not in hushed[i.incident.id]
            for m in own.get(i.incident.id) or i.incident.monitors
        )
    ]
    told = [
        _incident_json(
            page,
            i,
            shown,
            changes,
            now,
            own.get(i.incident.id, {}),
            hushed[i.incident.id],
            every.get(i.incident.id, {}),
        )
        for i in listed
    ]
    for note in page.notes:
        if note.incident is not None or note.monitor not in shown:
            continue
        start, end = note.span()
        met = any(_meets(note, i.incident, now, own.get(i.incident.id) or None) for i in listed)
        if not met and start <= now and (end is None or end >= window):
            told.append(_lone_note(note, shown, now))
    told.sort(key=lambda i: i["opened"] or "", reverse=True)
    ups = page_updates(store, [i["id"] for i in told if i["id"] is not None])
    for i in told:
        if i["id"] is not None:
            i["updates"] = ups.get(i["id"], [])[::-1]  # newest first, as the docs say
    return told
