"""An incident as rows (issue 25: the store's protocol by concern): how a stored incident
becomes a value, how a list reads one, and the rows an incident change writes, merged
when several follow one another.  Both backends write and read them the same way, each
in its SQL."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tether._frozen import quick_init
from tether.monitor._records import Incident, Member, Move, TimelineEntry, kind_from_text, kind_text
from tether.monitor.store._values import Decode

INCIDENT_COLUMNS: Final = (
    "id, key, kind, detail, hint, opened, resolved, monitors, acknowledged, folded_into"
)
"""An incident's header row; its members and its timeline have tables of their own
(``incident_members``: one row a member; ``incident_timeline``: one row an entry, in
the order written), so that a change writes what changed, not the whole incident."""


def incident_record(
    row: Sequence[Any],
    decode: Decode,
    members: Mapping[str, Any] | None = None,
    timeline: Sequence[Any] = (),
) -> Incident:
    """An incident read back: its header in :data:`INCIDENT_COLUMNS` order (its JSON read
    with ``decode``), its members (name to member, decoded) and its timeline's entries
    (decoded), in order.

    An open incident's monitors are its members' names (the ``monitors`` column is not
    rewritten at every join and leave: that was O(members) a change); a resolved one's, or
    an open one stored before members were kept, are as the column has them."""
    incident_id, key, kind, detail, hint, opened, resolved, monitors, acknowledged, folded = row
    kept = {m: Member.from_json(v, opened) for m, v in (members or {}).items()}
    names = tuple(sorted(kept)) if resolved is None and kept else tuple(decode(monitors))
    header = (incident_id, key, kind, detail, hint, opened, resolved, acknowledged, folded)
    return _stored(header, names, timeline, dict(sorted(kept.items())))


def _stored(
    header: Sequence[Any],
    names: tuple[str, ...],
    entries: Iterable[Any],
    members: dict[str, Member],
) -> Incident:
    """An incident from its stored header (id, key, kind, detail, hint, opened, resolved,
    acknowledged, folded_into), its monitors, its timeline's entries (decoded) and its
    members."""
    incident_id, key, kind, detail, hint, opened, resolved, acknowledged, folded = header
    return Incident(
        int(incident_id),
        key,
        kind_from_text(kind),
        detail,
        hint,
        float(opened),
        resolved,
        names,
        tuple(TimelineEntry.from_json(e) for e in entries),
        acknowledged,
        members,
        None if folded is None else int(folded),
    )


@dataclass(frozen=True, slots=True)
class Listed:
    """An incident as a list shows it (:meth:`Store.incident_list`): ``incident`` names
    only the first monitors by name and has only its first timeline entry and the newest
    ones, within the caps asked for, and no members' records; how many monitors and
    timeline entries it has in all are ``monitors_count`` and ``timeline_count``."""

    incident: Incident
    monitors_count: int
    timeline_count: int
    current: bool = False
    """The monitors named are down in it now (it is open and has its members)."""


LISTED_COLUMNS: Final = (
    "i.id, i.key, i.kind, i.detail, i.hint, i.opened, i.resolved, i.acknowledged"
)
"""An incident's header as :func:`listed_record` reads it (no ``monitors``: a resolved
incident's may name thousands)."""

MEMBERS_KEPT: Final = (
    "(i.resolved IS NULL AND EXISTS (SELECT 1 FROM incident_members WHERE incident = i.id))"
)
"""An incident whose monitors are its members' names (see :func:`incident_record`);
the others' are its ``monitors`` column."""


def listed_record(row: Sequence[Any], decode: Decode) -> Listed:
    """An incident read for a list: :data:`LISTED_COLUMNS`, then ``folded_into``,
    whether its monitors are its members (:data:`MEMBERS_KEPT`), the number of its
    monitors, the first of them by name (a JSON array), the number of its timeline
    entries and the entries shown (a JSON array of [seq, entry])."""
    current, count, names, entries, shown = row[9:]
    pairs = sorted(decode(shown) or (), key=_seq)
    return Listed(
        _stored(row[:9], tuple(sorted(decode(names) or ())), (e for _, e in pairs), {}),
        int(count or 0),
        int(entries or 0),
        bool(current),
    )


def _seq(pair: Sequence[Any]) -> Any:
    return pair[0]


FIRST_READ: Final = 4
"""How many join lines per monitor asked for a list's first monitors (:func:`first_names`)
are read at most: a monitor that joined more often than that takes a place of another."""


def first_names(joined: Iterable[str], n: int) -> list[str]:
    """The first ``n`` monitors of ``joined`` (the names of an incident's join lines, in
    order), each once."""
    out: dict[str, None] = {}
    for name in joined:
        out.setdefault(name)
        if len(out) >= n:
            break
    return list(out)


def first_members(
    incidents: Collection[int],
    first: int,
    joined: Callable[[int, int], Iterable[str]],
    moves: Callable[[int, list[str]], Iterable[Sequence[Any]]],
) -> dict[int, tuple[Move, ...]]:
    """``Store.membership(..., first=N)`` over a backend's two reads: ``joined(incident,
    n)``, the names of its first ``n`` join lines; ``moves(incident, names)``, the rows
    of those monitors' moves in order.  Two indexed reads an incident, whatever its size."""
    out: dict[int, tuple[Move, ...]] = {}
    for incident in sorted(set(incidents)):
        names = first_names(joined(incident, first * FIRST_READ), first)
        if names:
            out.update(moves_of(moves(incident, names)))
    return out


def moves_of(rows: Iterable[Sequence[Any]]) -> dict[int, tuple[Move, ...]]:
    """Membership history by incident from rows of (incident, monitor, at, event, why),
    in the order written."""
    out: dict[int, list[Move]] = {}
    for incident, monitor, at, event, why in rows:
        out.setdefault(int(incident), []).append(Move(monitor, float(at), event, why or ""))
    return {i: tuple(m) for i, m in out.items()}


def earliest(rows: Iterable[Sequence[Any]]) -> dict[str, float]:
    """Each monitor and the earliest time rows of (monitor, opened) give it."""
    out: dict[str, float] = {}
    for name, opened in rows:
        at = float(opened)
        known = out.get(name)
        if known is None or at < known:
            out[name] = at
    return out


@quick_init
@dataclass(frozen=True, slots=True)
class IncidentWrite:
    """One incident change as the rows it writes, encoded when it was made (the engine
    goes on changing its incidents afterwards): constant work for a change of a member,
    whatever the incident's size.  Both backends write it the same way, each in its SQL.
    """

    id: int
    new: tuple[Any, ...] | None
    """A new incident's header, in :data:`INCIDENT_COLUMNS` order (None: a change)."""
    header: tuple[Any, ...]
    """For a change: (kind, detail, hint, resolved, acknowledged, folded_into, monitors,
    key), each None to keep what is stored (``resolved`` and ``acknowledged`` are never
    cleared; ``monitors`` is encoded).  ``key`` changes when a partial incident becomes a
    full one or the other way round (issue 73 item 9)."""
    entries: tuple[str, ...]
    """Timeline entries to append, encoded, in order."""
    every: bool
    """Every member is in ``upserts``: the others are deleted first."""
    upserts: tuple[tuple[str, str], ...]
    """(monitor, member encoded) to write."""
    deletes: tuple[str, ...]
    """Members no longer in the incident."""
    moves: tuple[tuple[str, float, str, str], ...] = ()
    """(monitor, at, event, why) to append to its membership history, in order."""

    @property
    def resolves(self) -> bool:
        """It writes the incident resolved: its monitors are then everyone its history
        holds (the engine knows only those in it at the end)."""
        return (self.new[6] if self.new is not None else self.header[3]) is not None


def incident_write(
    incident: Incident,
    encode: Callable[[Any], str],
    *,
    opened: bool = False,
    entries: Sequence[TimelineEntry] = (),
    touched: Collection[str] | None = None,
    monitors: Sequence[str] | None = None,
    moves: Sequence[Move] = (),
) -> IncidentWrite:
    """The rows of an incident change: ``incident`` new (``opened``: with its timeline and
    members), or ``entries`` appended to its timeline, its header as ``incident`` has it
    and the ``touched`` members (None: every one) written as it has them, or deleted.
    ``monitors`` is written as the incident's monitors when given; else a resolved
    incident's are (what readers show once it is over), an open one's are its members'.
    ``moves`` are appended to its membership history."""
    members = incident.members
    if opened and not moves:  # opened whole (``open_incident``): its members joined
        moves = [Move(m, member.joined, "joined", "down") for m, member in members.items()]
    if opened:
        # An open incident's monitors are its members: kept out of its row, which every
        # change rewrites (a list of thousands there made each change O(members)).
        derived = incident.resolved is None and bool(members)
        new = (
            incident.id,
            incident.key,
            kind_text(incident.kind),
            incident.detail,
            incident.hint,
            incident.opened,
            incident.resolved,
            encode([] if derived else list(incident.monitors)),
            incident.acknowledged,
            incident.folded_into,
        )
        entries = incident.timeline
    else:
        new = None
    if monitors is None and not opened and incident.resolved is not None:
        monitors = incident.monitors
    header = (
        kind_text(incident.kind),
        incident.detail,
        incident.hint,
        incident.resolved,
        incident.acknowledged,
        incident.folded_into,
        None if monitors is None else encode(sorted(monitors)),
        incident.key,
    )
    every = touched is None
    names = sorted(members) if touched is None else sorted(set(touched))
    upserts = tuple((m, encode(members[m].to_json())) for m in names if m in members)
    deletes = tuple(m for m in names if m not in members)
    return IncidentWrite(
        incident.id,
        new,
        header,
        tuple(encode(e.to_json()) for e in entries),
        every and not opened,
        upserts,
        deletes,
        tuple((m.monitor, m.at, m.event, m.why) for m in moves),
    )


def merged_writes(changes: Iterable[IncidentWrite]) -> list[IncidentWrite]:
    """``changes``, in order, as fewer writes that leave the same rows: each incident's
    changes that follow one another merged into one (a new incident's row stays a write
    of its own, the changes after it merged into the next).  A mass outage's incident
    gains thousands of members a few at a time, and a batch of their changes is then a
    few statements, not three a member.

    The header follows the SQL each backend writes it with: each column keeps the last
    value given, ``acknowledged`` the first (a stored one wins over both); timeline
    entries are appended in order; members end as the last change said."""
    runs: list[list[IncidentWrite]] = []
    mergeable: dict[int, int] = {}  # an incident's run in ``runs`` a change may join
    for change in changes:
        at = mergeable.get(change.id)
        if change.new is not None or at is None:
            if change.new is None:
                mergeable[change.id] = len(runs)
            else:
                mergeable.pop(change.id, None)
            runs.append([change])
        else:
            runs[at].append(change)
    return [run[0] if len(run) == 1 else _merged(run) for run in runs]


def _merged(run: list[IncidentWrite]) -> IncidentWrite:
    """One incident's changes, in order, as one write, built in one pass over them (not
    change by change: that copied what the earlier ones said once per change, and a wave
    of thousands of changes to one incident took seconds to merge)."""
    header = list(run[0].header)
    members: dict[str, str | None] = {}
    every = False
    for change in run:
        for i, value in enumerate(change.header):
            if value is not None and (i != _ACKNOWLEDGED or header[i] is None):
                header[i] = value
        if change.every:
            members.clear()
            every = True
        members.update(dict.fromkeys(change.deletes))
        members.update(change.upserts)
    return IncidentWrite(
        run[0].id,
        None,
        tuple(header),
        tuple(entry for change in run for entry in change.entries),
        every,
        tuple((m, v) for m, v in members.items() if v is not None),
        tuple(m for m, v in members.items() if v is None),
        tuple(move for change in run for move in change.moves),
    )


_ACKNOWLEDGED: Final = 4
"""Where ``acknowledged`` stands in :attr:`IncidentWrite.header`."""


def note_write(
    incident_id: int,
    entry: TimelineEntry,
    encode: Callable[[Any], str],
    *,
    resolved: float | None = None,
    monitors: Sequence[str] | None = None,
    members: Mapping[str, Member] | None = None,
) -> IncidentWrite:
    """The rows of :meth:`Store.note_incident`: ``entry`` appended, ``resolved`` set when
    given, ``monitors`` and ``members`` (all of them) replaced when given."""
    header = (None, None, None, resolved, None, None)
    return IncidentWrite(
        incident_id,
        None,
        (*header, None if monitors is None else encode(sorted(monitors)), None),
        (encode(entry.to_json()),),
        members is not None,
        tuple((m, encode(v.to_json())) for m, v in sorted((members or {}).items())),
        (),
    )
