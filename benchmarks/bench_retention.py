"""How large a busy year makes the store, with the retention and without (issue 44 §7).

Run: python benchmarks/bench_retention.py [--quick] [--days 21] [--no-postgres]
     [--write benchmarks/history/bench_retention.md]

About two minutes on this project's 2-core machine (``--quick``: a few seconds, a smoke
test with too few days to mean anything).

The busy year (:class:`Busy`, printed with the figures; ``--monitors`` changes the fleet):
1,000 monitors at 60 s; 24 outages a day, each taking 5 monitors down for 10 minutes,
paged to 2 channels (the opening, each other monitor down and back up, the resolution:
20 alerts); a mass outage once a week, every monitor down for 5 minutes in the ``local``
incident (its opening, a grouped update a minute and its resolution to each channel,
and a join and a leave line for each monitor in its membership history); 20 silences a
day (half expired early), 2 maintenance windows a day (each closed early), and 100 other
changes through the API a day (checks asked for, pauses), each with its audit entry.

1. The sample.  ``--days`` simulated days of that history are written at the full rate,
   through the store's own API (``commit_incident`` with its alerts and membership moves,
   the outbox's claims and deliveries, ``add_silence``, ``open_window``, ...), to a real
   SQLiteStore that is never pruned; and the results of 20 monitors for one day (shaped
   as the runner stores an HTTPS check: ``bench_monitor.py``'s), with Uptime Kuma's
   heartbeat row for the same checks beside them (its schema, in SQLite, as
   ``bench_monitor.py`` writes it).  Each table's bytes per row are then measured (SQLite's
   ``dbstat``, indexes included, after ``VACUUM``).  With PostgreSQL's binaries at hand
   (Debian's ``postgresql``; ``tests/helpers/postgres_server.py`` starts one, ``--no-postgres``
   skips it), the same history (4 days at most) and results go to a PostgresStore and are
   measured with ``pg_total_relation_size`` after ``VACUUM FULL``.
2. The prune at work.  The same days written to a second SQLiteStore whose retention is
   scaled down (alerts and silences a day, incidents, windows and audit 3 days), pruned at
   the end of each simulated day as the monitor prunes: the history's bytes day by day
   beside the unpruned store's, and what each prune took.  The history repeats weekly (the
   mass outage), so the last day is held to the same day a week before.  Then one prune
   of the unpruned store deleting all but its last day (what the first prune after an
   upgrade meets).
3. A year, projected.  Rows a day per table (the sample's, counted; results and roll-ups
   from the fleet), times the days each is kept, times the bytes per row measured in 1:
   the store a year in with the default retention, without the history's retention (the
   outbox, silences, windows, incidents and audit never pruned, as before issue 44), and
   with none at all.  Not measured: multiplied out.

Target: with the defaults the store stops growing once its longest retention (a year) has
filled: it grows by at most 1% in its second year, where without the history's retention
it grows by a year of history every year.  Peer: Uptime Kuma's default (its heartbeats
kept 180 days, ``keepDataPeriodDays``) at the same checks, measured in the same run.
Alertmanager keeps silences and its notification log ``--data.retention`` (120 h);
Prometheus its samples ``--storage.tsdb.retention.time`` (15 days).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/helpers: payloads shaped as the engine makes them

from _report import Section, commit, met, table, write_part  # noqa: E402
from bench_mass import postgres_server  # noqa: E402
from bench_monitor import (  # noqa: E402
    KUMA_INSERT,
    KUMA_SCHEMA,
    PeerDB,
    db_size,
    kuma_row,
    week_of_results,
)

from tests.helpers import alert_payloads as said  # noqa: E402
from tether._kinds import Kind  # noqa: E402
from tether.monitor._records import (  # noqa: E402
    Alert,
    AlertPayload,
    AuditEntry,
    Incident,
    Member,
    Move,
    TimelineEntry,
)
from tether.monitor._state import State  # noqa: E402
from tether.monitor.engine.incidents._words import dedup_key  # noqa: E402
from tether.monitor.store import PostgresStore, Retention, SQLiteStore, Store  # noqa: E402

DAY = 86400.0
EPOCH = 1_800_000_000.0 - 1_800_000_000.0 % DAY
HEADING = "# Benchmark results: retention, a busy year's store"
FLAT = 1.10
"""The most the pruned history may grow in a week once its retention has filled (pages
freed by a prune are reused, not always to the last byte)."""
GROWTH_TARGET = 0.01
"""The most the store may grow in its second year with the default retention."""

HISTORY = (
    "outbox",
    "incidents",
    "incident_members",
    "incident_timeline",
    "incident_membership",
    "state_changes",
    "tether_silences",
    "tether_maintenance",
    "tether_audit",
)
"""The tables the history writer fills (results and roll-ups are measured apart)."""
NEW = frozenset(HISTORY) - {"state_changes"}
"""The tables issue 44 gave a retention (state changes had one before, with the roll-ups)."""


@dataclass(frozen=True)
class Busy:
    """The busy year's assumptions (the module's docstring says them in words)."""

    monitors: int = 1000
    interval: float = 60.0
    outages: int = 24
    outage_monitors: int = 5
    outage_minutes: int = 10
    channels: tuple[str, ...] = ("ops", "chat")
    mass_every_days: int = 7
    mass_minutes: int = 5
    silences: int = 20
    windows: int = 2
    audit: int = 100

    def words(self) -> str:
        return (
            f"{self.monitors:,} monitors at {self.interval:g} s; {self.outages} outages a day "
            f"of {self.outage_monitors} monitors for {self.outage_minutes} min, paged to "
            f"{len(self.channels)} channels; a mass outage of every monitor for "
            f"{self.mass_minutes} min every {self.mass_every_days} days; {self.silences} "
            f"silences, {self.windows} maintenance windows and {self.audit} other changes "
            "through the API a day"
        )


class History:
    """Writes a busy day's history through a store's own API, on a clock it is given."""

    def __init__(self, store: Store, busy: Busy, seed: int = 7) -> None:
        self.store, self.busy = store, busy
        self.rng = random.Random(seed)
        self.names = [f"service-{i:04d}" for i in range(busy.monitors)]

    def day(self, n: int) -> None:
        start = EPOCH + n * DAY
        b = self.busy
        for k in range(b.outages):
            at = start + (k + self.rng.random() * 0.5) * DAY / b.outages
            self.outage(at, self.rng.sample(self.names, b.outage_monitors))
        if n % b.mass_every_days == 0:
            self.mass(start + DAY / 2 + 600)
        for k in range(b.silences):
            at = start + k * DAY / b.silences
            s = self.store.add_silence(
                [f'service="{self.rng.choice(self.names)}"', 'team="payments"'],
                at,
                at + 3600,
                "deploying the payments service, expected back in an hour",
                audit(at, "silence.add", "silence"),
            )
            if k % 2:
                self.store.expire_silence(
                    s.id, audit(at + 600, "silence.expire", f"silence:{s.id}")
                )
        for k in range(b.windows):
            at = start + (k + 0.25) * DAY / b.windows
            w = self.store.open_window(
                self.rng.sample(self.names, 3),
                at,
                at + 7200,
                "database upgrade",
                audit(at, "maintenance.open", "maintenance"),
            )
            self.store.close_window(
                w.id, audit(at + 3600, "maintenance.close", f"maintenance:{w.id}")
            )
        for k in range(b.audit):
            at = start + (k + 0.5) * DAY / b.audit
            name = self.rng.choice(self.names)
            self.store.request_check(name, audit(at, "check", f"monitor:{name}"))
        self.store.flush()

    def outage(self, at: float, names: list[str]) -> None:
        """Monitors of one host down one after another, back one after another."""
        b, store = self.busy, self.store
        made = Incident(
            store.new_incident_id(),
            f"host:{names[0]}.internal",
            Kind.CONNECT_REFUSED,
            said.DETAIL,
            said.HINT,
            at,
            timeline=(TimelineEntry(at, "opened", said.DETAIL),),
            members={names[0]: Member(at, alerted=True)},
        )
        first = said.opened(incident=made.id, monitor=names[0], at=at, since=at)
        store.commit_incident(
            made,
            self.alerts(made, names[0], first),
            at,
            opened=True,
            moves=[Move(names[0], at, "joined", "down")],
        )
        members = dict(made.members)
        for j, name in enumerate(names[1:], start=1):
            when = at + j * 20
            members[name] = Member(when, alerted=True)
            entry = TimelineEntry(when, "monitor down", f"{name} is down too")
            now = dataclasses.replace(made, members=dict(members))
            payload = said.down_too(incident=made.id, monitor=name, at=when, since=when)
            store.commit_incident(
                now,
                self.alerts(made, name, payload),
                when,
                entry=entry,
                touched=(name,),
                moves=[Move(name, when, "joined", "down")],
            )
        end = at + b.outage_minutes * 60
        for j, name in enumerate(names):
            when = end + j * 20
            del members[name]
            last = not members
            entry = TimelineEntry(when, "resolved" if last else "monitor up", f"{name} is back up")
            now = dataclasses.replace(made, members=dict(members), resolved=when if last else None)
            payload = (said.resolved if last else said.up)(incident=made.id, monitor=name, at=when)
            store.commit_incident(
                now,
                self.alerts(made, name, payload),
                when,
                entry=entry,
                touched=(name,),
                moves=[Move(name, when, "left", "up")],
            )
        for name in names:
            store.record_state(name, at, State.DOWN)
            store.record_state(name, end, State.UP)
        self.deliver(end + 60)

    def mass(self, at: float) -> None:
        """Every monitor down at once, in the ``local`` incident: one opening, a grouped
        update a minute and one resolution per channel."""
        store, b = self.store, self.busy
        members = {name: Member(at, alerted=True) for name in self.names}
        made = Incident(
            store.new_incident_id(),
            "local",
            Kind.CONNECT_REFUSED,
            said.DETAIL,
            said.HINT,
            at,
            timeline=(TimelineEntry(at, "opened", "every monitor is down: this machine"),),
            members=members,
        )
        joined = [Move(name, at, "joined", "down") for name in self.names]
        text = said.opened(
            incident=made.id, monitor="local", at=at, monitors=tuple(self.names[:10])
        )
        store.commit_incident(made, self.alerts(made, "local", text), at, opened=True, moves=joined)
        for minute in range(1, b.mass_minutes):
            when = at + minute * 60
            entry = TimelineEntry(when, "update", f"{b.monitors} monitors still down")
            update = dataclasses.replace(text, event="incident.updated", at=when)
            store.commit_incident(
                made, self.alerts(made, "local", update), when, entry=entry, touched=()
            )
        end = at + b.mass_minutes * 60
        closed = dataclasses.replace(made, members={}, resolved=end)
        left = [Move(name, end, "left", "up") for name in self.names]
        done = dataclasses.replace(text, event="incident.resolved", at=end)
        store.commit_incident(
            closed,
            self.alerts(made, "local", done),
            end,
            entry=TimelineEntry(end, "resolved", "every monitor is back"),
            moves=left,
        )
        for name in self.names:
            store.record_state(name, at, State.DOWN)
            store.record_state(name, end, State.UP)
        self.deliver(end + 60)

    def alerts(self, made: Incident, name: str, payload: AlertPayload) -> list[Alert]:
        dedup = dedup_key(made, name, payload.event, payload.at)
        return [Alert(channel, dedup, payload) for channel in self.busy.channels]

    def deliver(self, now: float) -> None:
        """Every alert queued, delivered (each channel's head claimed, then marked)."""
        self.store.flush()
        while claimed := self.store.claim_alerts("bench", now, 60.0):
            for alert in claimed:
                self.store.mark_delivered(alert.id, now, claimer="bench")


def audit(at: float, action: str, target: str) -> AuditEntry:
    return AuditEntry(at, "ana", "token", action, target, {"reason": "planned work"})


# -- measuring -----------------------------------------------------------------------------


def sqlite_bytes(path: Path) -> dict[str, tuple[int, int]]:
    """(rows, bytes) of each table of an SQLite store, indexes included, after VACUUM."""
    _, by_table = db_size(path)
    conn = sqlite3.connect(path)
    try:
        return {
            t: (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0], size)
            for t, size in by_table.items()
            if not t.startswith("sqlite_")
        }
    finally:
        conn.close()


def history_bytes(path: Path) -> int:
    """Bytes of the tables issue 44 gave a retention, now (no VACUUM: pages freed by a
    prune are reused).  State changes are left out: kept 90 days at least, they grow
    through a sample of weeks whatever its retention."""
    conn = sqlite3.connect(path)
    try:
        owners = dict(conn.execute("SELECT name, tbl_name FROM sqlite_schema"))
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    finally:
        conn.close()
    return sum(size for name, size in rows if owners.get(name, name) in NEW)


def postgres_bytes(dsn: str) -> dict[str, tuple[int, int]]:
    """(rows, bytes) of each of the store's tables, indexes and TOAST included."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).fetchall()
        ]
        out = {}
        for t in tables:
            conn.execute(f"VACUUM FULL {t}")
            rows = conn.execute(f"SELECT count(*) FROM {t}").fetchone()
            size = conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()
            out[t] = (int(rows[0]) if rows else 0, int(size[0]) if size else 0)
        return out


def write_results(store: Store, peer: PeerDB | None, monitors: int) -> int:
    """One day of results of ``monitors`` monitors (and Kuma's heartbeats for them)."""
    last: dict[str, bool] = {}
    n = 0
    for batch in week_of_results(monitors, 1):
        for r in batch:
            store.record(r)
        if peer is not None:
            peer.add([kuma_row(r, last.get(r.monitor)) for r in batch])
            last.update((r.monitor, r.ok) for r in batch)
        n += len(batch)
    store.flush()
    return n


@contextmanager
def postgres(enabled: bool) -> Iterator[Callable[[], str] | None]:
    """A function making a fresh schema's URL on a server of this run's own, or None."""
    if not enabled:
        yield None
        return
    try:
        server = postgres_server()
    except Exception as exc:  # no binaries, no psycopg: said in the notes
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        yield None
        return
    try:
        yield lambda: str(server.dsn(server.new_schema()))
    finally:
        server.stop()


# -- the sections ----------------------------------------------------------------------------


@dataclass
class Sample:
    days: int
    result_monitors: int
    sqlite: dict[str, tuple[int, int]]
    postgres: dict[str, tuple[int, int]] | None
    postgres_days: int
    kuma: tuple[int, int]
    results: int
    curve: list[tuple[int, int, int, float, int]]
    """Each day: (day, pruned store's history bytes, unpruned's, prune seconds, rows)."""
    catch_up: tuple[int, float]
    """The unpruned store's prune to its last day: rows deleted, seconds."""


def take_sample(
    busy: Busy, days: int, result_monitors: int, pg: Callable[[], str] | None
) -> Sample:
    scaled = Retention(alerts=DAY, silences=DAY, incidents=3 * DAY, audit=3 * DAY)
    with tempfile.TemporaryDirectory() as tmp:
        kept_path, pruned_path = Path(tmp) / "kept.db", Path(tmp) / "pruned.db"
        kuma_path = Path(tmp) / "kuma.db"
        curve = []
        with SQLiteStore(kept_path) as kept, SQLiteStore(pruned_path, retention=scaled) as pruned:
            writers = History(kept, busy), History(pruned, busy)
            for n in range(days):
                for writer in writers:
                    writer.day(n)
                started = time.perf_counter()
                done = pruned.prune(EPOCH + (n + 1) * DAY)
                took = time.perf_counter() - started
                pruned.flush()
                curve.append(
                    (n + 1, history_bytes(pruned_path), history_bytes(kept_path), took, done.total)
                )
            peer = PeerDB(kuma_path, KUMA_SCHEMA, KUMA_INSERT)
            results = write_results(kept, peer, result_monitors)
            peer.close()
        measured = sqlite_bytes(kept_path)
        _, kuma_tables = db_size(kuma_path)
        kuma = (results, sum(kuma_tables.values()))
        # What the first prune after an upgrade meets: all the sample's history but its
        # last day past its retention.
        short = dataclasses.replace(scaled, incidents=DAY, audit=DAY)
        with SQLiteStore(kept_path, retention=short) as kept:
            started = time.perf_counter()
            caught = kept.prune(EPOCH + days * DAY)
            catch_up = (
                caught.total - caught.results - caught.rollups,
                time.perf_counter() - started,
            )
    on_pg: dict[str, tuple[int, int]] | None = None
    pg_days = min(days, 4)
    if pg is not None:
        dsn = pg()
        with PostgresStore(dsn) as store:
            history = History(store, busy)
            for n in range(pg_days):
                history.day(n)
            write_results(store, None, result_monitors)
        on_pg = postgres_bytes(dsn)
    return Sample(days, result_monitors, measured, on_pg, pg_days, kuma, results, curve, catch_up)


def per_row(measured: dict[str, tuple[int, int]], table_name: str) -> float:
    rows, size = measured.get(table_name, (0, 0))
    return size / rows if rows else 0.0


def yearly(
    busy: Busy, counted: dict[str, tuple[int, int]], days: int, measured: dict[str, tuple[int, int]]
) -> list[tuple[str, float, float, float]]:
    """Each table's (name, rows a day, days kept with the defaults, bytes a row): rows a
    day from ``counted`` over ``days`` (the longest sample's), bytes from ``measured``."""
    checks = busy.monitors * DAY / busy.interval
    defaults = Retention()
    kept = {
        "outbox": defaults.alerts / DAY,
        "tether_silences": defaults.silences / DAY,
        "tether_maintenance": defaults.incidents / DAY,
        "incidents": defaults.incidents / DAY,
        "incident_members": defaults.incidents / DAY,
        "incident_timeline": defaults.incidents / DAY,
        "incident_membership": defaults.incidents / DAY,
        "tether_audit": defaults.audit / DAY,
        "state_changes": max(defaults.rollups, 90 * DAY) / DAY,
    }
    rows = [
        ("results", checks, defaults.raw / DAY, per_row(measured, "results")),
    ]
    rollups, rollup_bytes = measured.get("rollups", (0, 0))
    if rollups:
        # The sample's roll-ups of one day: a minute row per check, an hour row per
        # monitor-hour, a day row per monitor-day; bytes shared alike.
        b = rollup_bytes / rollups
        rows += [
            ("rollups (minute)", checks, defaults.raw / DAY, b),
            ("rollups (hour and day)", busy.monitors * 25.0, defaults.rollups / DAY, b),
        ]
    for t in HISTORY:
        n, _ = counted.get(t, (0, 0))
        rows.append((t, n / days, kept[t], per_row(measured, t)))
    return rows


def section_sample(sample: Sample, busy: Busy) -> Section:
    s = Section("1. The sample in real stores: bytes a row, and the prune at work")
    s.notes.append(
        f"The workload: {busy.words()}.  {sample.days} simulated days of its history written "
        f"through the store's API to SQLite ({sample.postgres_days} to PostgreSQL), and one day "
        f"of results of {sample.result_monitors} monitors; Uptime Kuma's heartbeat table for the "
        "same checks."
    )
    rows = []
    for name in ("results", "rollups", *HISTORY):
        n, size = sample.sqlite.get(name, (0, 0))
        pg = sample.postgres.get(name, (0, 0)) if sample.postgres else None
        rows.append(
            (
                name,
                f"{n:,}",
                f"{size / n:,.0f}" if n else "-",
                f"{pg[0]:,}" if pg else "-",
                f"{pg[1] / pg[0]:,.0f}" if pg and pg[0] else "-",
            )
        )
    kuma_rows, kuma_size = sample.kuma
    rows.append(
        (
            "Uptime Kuma heartbeat (peer)",
            f"{kuma_rows:,}",
            f"{kuma_size / kuma_rows:,.0f}",
            "-",
            "-",
        )
    )
    s.tables.append(
        table(
            "Rows written and bytes a row, indexes included "
            "(SQLite after VACUUM, PostgreSQL after VACUUM FULL)",
            ("table", "SQLite rows", "SQLite bytes/row", "PostgreSQL rows", "PostgreSQL bytes/row"),
            rows,
        )
    )
    per_check = per_row(sample.sqlite, "results") + per_row(sample.sqlite, "rollups")
    s.notes.append(
        f"A check stored: {per_check:,.0f} bytes (its result and its minute roll-up), "
        f"Uptime Kuma's heartbeat {kuma_size / kuma_rows:,.0f}."
    )
    s.notes.append(
        "Two SQLite stores given the same days; one pruned at the end of each simulated day "
        "with a retention scaled down so that the plateau shows within the sample (alerts "
        "and silences 1 day; incidents, windows and audit 3 days), the other never.  Bytes of "
        "the tables given a retention by issue 44 (outbox, silences, windows, incidents and "
        "their rows, audit): pages in use; a prune's freed pages are reused, the file does "
        "not shrink."
    )
    rows = [
        (str(day), f"{pruned / 1e6:,.2f}", f"{kept / 1e6:,.2f}", f"{took * 1000:,.0f}", f"{n:,}")
        for day, pruned, kept, took, n in sample.curve
    ]
    s.tables.append(
        table(
            "History MB at the end of each day, and the day's prune",
            ("day", "pruned daily", "never pruned", "prune ms", "rows deleted"),
            rows,
        )
    )
    # The history's week repeats (a mass outage a week): the last day is held to the same
    # day a week before, once the retention has filled.
    week = busy.mass_every_days
    last = sample.curve[-1]
    half = sample.curve[max(len(sample.curve) - 1 - week, 0)]
    flat = last[1] / half[1] if half[1] else float("inf")
    grew = last[2] / half[2] if half[2] else float("inf")
    steady = [took for day, _, _, took, _ in sample.curve if day > 3] or [0.0]
    n, secs = sample.catch_up
    s.notes.append(
        f"A catch-up prune of the unpruned store to its last day deleted {n:,} rows in "
        f"{secs:,.2f} s ({secs / max(n, 1) * 1e6:,.0f} µs a row), in chunks of 5,000."
    )
    s.verdicts.append(
        f"the pruned history's bytes from day {half[0]} to day {last[0]} (a week on, past "
        f"its retention): x{flat:.2f}, the unpruned x{grew:.2f}; a daily prune took "
        f"{statistics.median(steady) * 1000:,.0f} ms (median) (target <= {FLAT}): "
        f"{met(flat <= FLAT)}"
    )
    return s


def section_year(sample: Sample, busy: Busy) -> Section:
    s = Section("2. A year, projected from the bytes measured")
    s.notes.append(
        f"The workload: {busy.words()}.  Rows a day: the SQLite sample's history counted over "
        f"its {sample.days} days (for both stores); results and roll-ups from the fleet.  "
        'Kept: the default retention (docs/monitor.md, "Retention").  Not measured: rows a '
        "day x days kept x bytes a row measured in section 1."
    )
    out = []
    totals: dict[str, dict[str, float]] = {}
    for backend, measured in (("SQLite", sample.sqlite), ("PostgreSQL", sample.postgres)):
        if measured is None:
            continue
        t = totals.setdefault(
            backend, {"with": 0.0, "history_kept": 0.0, "history_year": 0.0, "none": 0.0}
        )
        for name, per_day, kept, size in yearly(busy, sample.sqlite, sample.days, measured):
            held = per_day * min(kept, 365) * size
            year = per_day * 365 * size
            t["with"] += held
            t["none"] += year
            if name in NEW:
                t["history_kept"] += held
                t["history_year"] += year
            out.append(
                (
                    backend,
                    name,
                    f"{per_day:,.0f}",
                    f"{kept:g}",
                    f"{size:,.0f}",
                    f"{held / 1e6:,.1f}",
                    f"{year / 1e6:,.1f}",
                )
            )
    s.tables.append(
        table(
            "Each table a year in (MB)",
            (
                "store",
                "table",
                "rows a day",
                "days kept",
                "bytes a row",
                "with the retention",
                "never pruned",
            ),
            out,
        )
    )
    kuma_rows, kuma_size = sample.kuma
    kuma_year = busy.monitors * DAY / busy.interval * 180 * kuma_size / kuma_rows
    summary = []
    for backend, t in totals.items():
        without = t["with"] - t["history_kept"] + t["history_year"]
        summary.append(
            (
                backend,
                f"{t['with'] / 1e9:,.2f}",
                "0%",
                f"{without / 1e9:,.2f}",
                f"{t['history_year'] / 1e6:,.0f} MB ({t['history_year'] / without:.0%})",
                f"{t['none'] / 1e9:,.1f}",
            )
        )
    summary.append(
        ("Uptime Kuma, its default 180 days (peer)", f"{kuma_year / 1e9:,.2f}", "0%", "-", "-", "-")
    )
    s.tables.append(
        table(
            "The whole store a year in (GB)",
            (
                "store",
                "with the retention",
                "growth in year 2",
                "without the history's retention",
                "its growth every year",
                "nothing pruned",
            ),
            summary,
        )
    )
    sqlite = totals["SQLite"]
    growth = 0.0  # every retention is a year or less: year 2 deletes what it writes
    s.verdicts.append(
        f"a busy year with the default retention: {sqlite['with'] / 1e9:,.2f} GB on SQLite, "
        f"growing {growth:.0%} in its second year (every retention is a year at most, and "
        f"section 1 measured the prune holding the history flat), where without the history's "
        f"retention it grows {sqlite['history_year'] / 1e6:,.0f} MB every year "
        f"(target <= {GROWTH_TARGET:.0%}): {met(growth <= GROWTH_TARGET)}"
    )
    s.verdicts.append(
        f"the same year beside Uptime Kuma's default (180 days of heartbeats) at the same "
        f"checks, {kuma_year / 1e9:,.2f} GB: x{sqlite['with'] / kuma_year:.2f} "
        f"(target <= 1.0): {met(sqlite['with'] <= kuma_year)}"
    )
    return s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: 3 days, 100 monitors")
    parser.add_argument("--days", type=int, default=21, help="simulated days of history written")
    parser.add_argument("--monitors", type=int, default=1000, help="the fleet")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite alone")
    parser.add_argument("--write", metavar="FILE", help="write the results into FILE")
    args = parser.parse_args()
    busy = Busy(monitors=100 if args.quick else args.monitors)
    days = 3 if args.quick else args.days
    began = time.monotonic()
    with postgres(not args.no_postgres and not args.quick) as pg:
        sample = take_sample(busy, days, 2 if args.quick else 20, pg)
    sections = []
    for make in (section_sample, section_year):
        started = time.monotonic()
        section = make(sample, busy)
        section.seconds = time.monotonic() - started
        section.show()
        sections.append(section)
    if args.write:
        write_part(
            args.write,
            HEADING,
            "python benchmarks/bench_retention.py --write benchmarks/history/bench_retention.md",
            sections,
            time.monotonic() - began,
            f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
            f"tether (commit {commit()})",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
