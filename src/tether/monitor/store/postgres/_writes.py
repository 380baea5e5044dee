"""What the PostgreSQL store's writer sends for a batch: each kind of row in one statement
for the whole batch, its values as arrays the server unnests.

Why this shape: a mass outage on two instances is tens of thousands of rows a minute
(each change's state, detector state and location state; on the leader its incident's
members, membership history and timeline).  Sent a statement a row (``executemany``,
even pipelined), each row cost the instance about 20 µs of psycopg's Python and the
server a statement's parse, bind and executor start; as arrays it is a few µs a row on
both sides.  The arrays go in binary (``%b``): psycopg dumps a list of text or numbers
that way at a fraction of a µs an element, where text format quoted each one in Python.

- Rows that land on a unique key are written once per statement (the last one given
  wins, as a statement a row would leave it: ``ON CONFLICT DO UPDATE`` may not touch a
  row twice in one statement), in key order, so two instances writing the same rows
  lock them in one order and never deadlock.
- Rows whose order matters (an incident's timeline and membership history, numbered by
  an identity column) are inserted ``ORDER BY`` their place in the batch.
- An incident's changes in a batch (:func:`write_incidents`) are written in layers: the
  first change of each incident, then the second, and so on (``merged_writes`` leaves one
  an incident, or one on each side of its opening), each layer a few statements
  for all its incidents, in the order a change's own statements ran.  Incidents do not
  read one another's rows, so only each incident's own order has to be kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Self

from tether.monitor._records import LocationState
from tether.monitor.store._results import LOCATION_COLUMNS, location_values
from tether.monitor.store._values import Fence
from tether.monitor.store.incidents._rows import INCIDENT_COLUMNS, IncidentWrite

if TYPE_CHECKING:
    from psycopg import Connection, Cursor
    from psycopg.rows import TupleRow

    Conn = Connection[TupleRow]

__all__ = [
    "write_changes",
    "write_incidents",
    "write_locations",
    "write_states",
]


def _floats(values: Iterable[Any]) -> list[float | None]:
    """``values`` as floats (a binary array takes one type; an int among floats would not
    go in a ``float8[]``)."""
    return [None if v is None else float(v) for v in values]


@dataclass(frozen=True, slots=True)
class _Rows:
    """One statement in two forms: for a row (``VALUES``, as a statement a row always was:
    a batch outside a wave is mostly single rows) and for many (the arrays unnested).
    ``template`` names the rows' source ``{rows}``; ``types`` are the columns' types."""

    one: str
    many: str

    @classmethod
    def of(cls, template: str, types: Sequence[str], alias: str, *, numbered: bool = False) -> Self:
        """With ``numbered``, the source has one more column, the row's place (``ORDER BY``
        it keeps an identity column in the batch's order)."""
        values = ", ".join(f"%s::{t}" for t in types) + (", 1" if numbered else "")
        arrays = ", ".join(f"%b::{t}[]" for t in types)
        ordinality = " WITH ORDINALITY" if numbered else ""
        return cls(
            template.format(rows=f"(VALUES ({values})) {alias}"),
            template.format(rows=f"unnest({arrays}){ordinality} {alias}"),
        )

    def send(self, conn: Conn, columns: Sequence[list[Any]]) -> Cursor[Any]:
        """Write the rows given as ``columns`` (one list a column, all of one length)."""
        if len(columns[0]) == 1:
            return conn.execute(self.one, [column[0] for column in columns])
        return conn.execute(self.many, columns)


_CHANGES: Final = _Rows.of(
    "INSERT INTO state_changes (monitor, at, state) SELECT * FROM {rows} "
    "ON CONFLICT (monitor, at) DO UPDATE SET state = excluded.state",
    ("text", "float8", "text"),
    "c (m, a, s)",
)


def write_changes(conn: Conn, changes: Sequence[tuple[str, float, Any]]) -> None:
    """State changes, the last one given for a monitor and time winning."""
    rows = {(monitor, float(at)): str(state) for monitor, at, state in changes}
    keys = sorted(rows)
    _CHANGES.send(conn, ([m for m, _ in keys], [a for _, a in keys], [rows[k] for k in keys]))


_STATES: Final = _Rows.of(
    "INSERT INTO monitor_state (monitor, data) SELECT m, d::jsonb FROM {rows} "
    "ON CONFLICT (monitor) DO UPDATE SET data = excluded.data",
    ("text", "text"),
    "s (m, d)",
)


def write_states(conn: Conn, states: dict[str, str]) -> None:
    """Detector state, each ``monitor: data`` with its data encoded as JSON."""
    names = sorted(states)
    _STATES.send(conn, (names, [states[n] for n in names]))


_LOCATION_NAMES: Final = [c.strip() for c in LOCATION_COLUMNS.split(",")]
_LOCATIONS: Final = _Rows.of(
    # A row is written only while the fence's owner holds the monitor's shard at that
    # location (or without a fence).
    f"INSERT INTO tether_location_states ({LOCATION_COLUMNS}, updated) "
    f"SELECT {LOCATION_COLUMNS}, extract(epoch FROM clock_timestamp())::float8 "
    "FROM {rows} WHERE u.owner IS NULL OR EXISTS (SELECT 1 FROM tether_leases l "
    "WHERE l.location = u.location AND l.shard = u.shard AND l.owner = u.owner) "
    "ON CONFLICT (monitor, location) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in [*_LOCATION_NAMES[2:], "updated"]),
    ("text", "text", "text", "float8", "text", "text", "text", "text", "float8", "text", "int4"),
    f"u ({LOCATION_COLUMNS}, owner, shard)",
)


def write_locations(conn: Conn, located: Sequence[tuple[LocationState, Fence | None]]) -> None:
    """Location states (one per monitor and location), each only if its fence holds,
    stamped with the database's clock."""
    rows = sorted(
        ((location_values(state), fence) for state, fence in located),
        key=lambda row: (row[0][0], row[0][1]),  # (monitor, location): the key order
    )
    columns: list[list[Any]] = [list(c) for c in zip(*(v for v, _ in rows), strict=True)]
    columns[3] = _floats(columns[3])
    columns[8] = _floats(columns[8])
    owners = [None if f is None else f.owner for _, f in rows]
    shards = [None if f is None else f.shard for _, f in rows]
    _LOCATIONS.send(conn, (*columns, owners, shards))


_NEW_INCIDENTS: Final = _Rows.of(
    f"INSERT INTO incidents ({INCIDENT_COLUMNS}) "
    "SELECT id, key, kind, detail, hint, opened, resolved, monitors::jsonb, acknowledged, "
    "folded_into FROM {rows} ORDER BY id ON CONFLICT (id) DO NOTHING RETURNING id",
    ("int8", "text", "text", "text", "text", "float8", "float8", "text", "float8", "int8"),
    f"n ({INCIDENT_COLUMNS})",
)
_HEADERS: Final = _Rows(
    # A row's own statement, without the VALUES list: the SQL goes with each statement
    # until psycopg has prepared it, and a change outside a wave is one header.
    "UPDATE incidents SET kind = coalesce(%s, kind), detail = coalesce(%s, detail), "
    "hint = coalesce(%s, hint), resolved = coalesce(%s, resolved), "
    "acknowledged = coalesce(acknowledged, %s), folded_into = coalesce(%s, folded_into), "
    "monitors = coalesce(%s::jsonb, monitors), key = coalesce(%s, key) WHERE id = %s",
    "UPDATE incidents i SET kind = coalesce(h.k, kind), detail = coalesce(h.d, detail), "
    "hint = coalesce(h.t, hint), resolved = coalesce(h.r, resolved), "
    "acknowledged = coalesce(acknowledged, h.a), folded_into = coalesce(h.f, folded_into), "
    "monitors = coalesce(h.m::jsonb, monitors), key = coalesce(h.y, key) "
    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::float8[], %b::float8[], "
    "%b::int8[], %b::text[], %b::text[], %b::int8[]) "
    "h (k, d, t, r, a, f, m, y, id) WHERE i.id = h.id",
)
_TIMELINE: Final = _Rows.of(
    "INSERT INTO incident_timeline (incident, entry) SELECT i, e::jsonb FROM {rows} ORDER BY n",
    ("int8", "text"),
    "t (i, e, n)",
    numbered=True,
)
_EVERY: Final = "DELETE FROM incident_members WHERE incident = ANY(%b::int8[])"
_DELETES: Final = _Rows.of(
    # Each member found by its key (LIMIT 1 keeps the subquery a lookup by the primary
    # key, whatever the planner makes of a join), then deleted by where it is: a join of
    # the arrays with the members was planned as a pass over a big incident's every one.
    "DELETE FROM incident_members WHERE ctid = ANY(ARRAY(SELECT f.ctid FROM {rows} "
    "CROSS JOIN LATERAL (SELECT ctid FROM incident_members m WHERE m.incident = d.i "
    "AND m.monitor = d.m LIMIT 1) f))",
    ("int8", "text"),
    "d (i, m)",
)
_UPSERTS: Final = _Rows.of(
    "INSERT INTO incident_members (incident, monitor, member) SELECT i, m, j::jsonb "
    "FROM {rows} ORDER BY i, m "
    "ON CONFLICT (incident, monitor) DO UPDATE SET member = excluded.member",
    ("int8", "text", "text"),
    "u (i, m, j)",
)
_MOVES: Final = _Rows.of(
    "INSERT INTO incident_membership (incident, monitor, at, event, why) "
    "SELECT i, m, a, e, w FROM {rows} ORDER BY n",
    ("int8", "text", "float8", "text", "text"),
    "u (i, m, a, e, w, n)",
    numbered=True,
)
EVERYONE: Final = (
    'UPDATE incidents SET monitors = (SELECT jsonb_agg(m ORDER BY m COLLATE "C") FROM '
    "(SELECT jsonb_array_elements_text(monitors) AS m FROM incidents WHERE id = %(id)s "
    "UNION SELECT monitor FROM incident_membership WHERE incident = %(id)s) s) "
    "WHERE id = %(id)s AND EXISTS (SELECT 1 FROM incident_membership WHERE incident = %(id)s)"
)
"""A resolved incident's monitors: those it was written with and everyone its membership
history holds (see the SQLite store's)."""


def write_incidents(conn: Conn, changes: Sequence[IncidentWrite]) -> None:
    """Incident changes, in order, as each one alone would leave the rows (see
    :class:`IncidentWrite`): a new incident's row (and nothing else of that change if
    its id is taken), or its header; its timeline's new entries; its members; its
    membership history; a resolved one's monitors."""
    for layer in _layers(changes):
        _write_layer(conn, layer)


def _layers(changes: Sequence[IncidentWrite]) -> list[list[IncidentWrite]]:
    """``changes`` as layers in which each incident appears once: an incident's n-th
    change in the n-th layer."""
    layers: list[list[IncidentWrite]] = []
    seen: dict[int, int] = {}
    for change in changes:
        n = seen.get(change.id, 0)
        seen[change.id] = n + 1
        if n == len(layers):
            layers.append([])
        layers[n].append(change)
    return layers


def _columns(rows: Sequence[tuple[Any, ...]], floats: Iterable[int] = ()) -> list[list[Any]]:
    """``rows`` as columns, those at ``floats`` as floats."""
    columns = [list(c) for c in zip(*rows, strict=True)]
    for i in floats:
        columns[i] = _floats(columns[i])
    return columns


def _write_layer(conn: Conn, layer: list[IncidentWrite]) -> None:
    """One change each of distinct incidents."""
    new = [c.new for c in layer if c.new is not None]
    if new:
        cur = _NEW_INCIDENTS.send(conn, _columns(new, (5, 6, 8)))  # the times
        taken = {row[0] for row in cur.fetchall()}
        # A new incident whose id was taken already: nothing more of that change.
        layer = [c for c in layer if c.new is None or c.id in taken]
    headers = [(*c.header, c.id) for c in layer if c.new is None]
    if headers:
        _HEADERS.send(conn, _columns(headers, (3, 4)))
    entries = [(c.id, entry) for c in layer for entry in c.entries]
    if entries:
        _TIMELINE.send(conn, _columns(entries))
    every = [c.id for c in layer if c.every]
    if every:
        conn.execute(_EVERY, (every,))
    deletes = [(c.id, monitor) for c in layer for monitor in c.deletes]
    if deletes:
        _DELETES.send(conn, _columns(deletes))
    upserts = {(c.id, monitor): member for c in layer for monitor, member in c.upserts}
    if upserts:
        _UPSERTS.send(conn, _columns([(*key, member) for key, member in upserts.items()]))
    moves = [(c.id, *move) for c in layer for move in c.moves]
    if moves:
        _MOVES.send(conn, _columns(moves, (2,)))
    for change in layer:
        if change.resolves:
            conn.execute(EVERYONE, {"id": change.id})
