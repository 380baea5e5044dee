"""Several instances on one PostgreSQL database: what each one probes, which one leads,
and what the leader reads of the others' findings.

Why this shape (the whole design is in docs/deployment.md, "How instances share the
work"):

- **Leases on shards.**  The monitors of a location are split into 256 shards
  (``_shares.shard_of``); ``tether_leases`` has a row per (location, shard) with its
  ``owner`` and when the lease ``expires``.  An instance probes the monitors of the
  shards it holds.  Every ``ttl / 4`` seconds it runs a round (:meth:`Cluster.round`):
  heartbeat, renew what it holds, count the live instances of its location, and
  release what is beyond its fair share or claim up to it (the decision is
  ``_shares.plan_share``, pure).  A claim takes rows nobody holds or whose lease has
  expired, ``FOR UPDATE SKIP LOCKED``, so two instances claiming at once get different
  shards and never wait on each other.
- **Timings** (Kubernetes' leader election has the same three: a lease duration, a
  renew deadline, a retry period).  A lease lasts ``ttl`` (8 s by default); its
  holder renews it every ``ttl / 4``, so a live instance keeps its shards through
  three failed or late rounds in a row (a GC pause, a slow database: up to
  ``3 * ttl / 4``, 6 s).  An instance that dies renews nothing: its leases run out at
  most ``ttl`` after its death.  A round reports when the first lease of another
  instance runs out (:attr:`Round.expiry`), and the caller runs its next round then
  rather than at its usual time (:meth:`Round.next_round`), so the others claim a dead
  instance's shards as soon as its leases run out, not up to a round later; they probe
  its monitors within ``ttl / 8`` more (``Membership._move`` spreads their first probes
  over that at most).  The leader stops leading a round before its lease runs out on
  its own clock (:meth:`is_leader`), the margin Kubernetes' renew deadline keeps, so
  that an old leader and a new one do not overlap while the clocks agree to within a
  round.
- **Two steps to give shards up.**  :meth:`round` only says which shards to release;
  the caller stops probing their monitors and saves their state, then calls
  :meth:`release`, so the next owner starts from the saved state.
- **One leader.**  One more row (location ``''``, shard -1) is the leader's lease: its
  holder runs the incident engine for the whole cluster.  Renewed like the others;
  claimed, when free or expired, by whoever comes first.
- **Time is given, never read.**  Every call takes ``now`` (the caller's wall clock),
  stored in the leases and heartbeats and compared with the other instances' clocks:
  they must agree (NTP) to well under the lease's time.  Tests run on a simulated
  clock.
- **Its own connection.**  Renewing must never wait behind a batch of results in the
  store's writer, so the cluster has a connection of its own, short transactions (one
  per round) and a lock timeout under the round's period.  When PostgreSQL cannot be
  reached, a round raises :class:`ClusterError` and changes nothing held here: the
  caller keeps probing what it holds (its writes are held by the store meanwhile), and
  stops acting as leader once its leader lease has expired on its own clock
  (:meth:`is_leader`).
- **One code path.**  :class:`SoloCluster` (SQLite, or one instance) holds every shard
  and always leads, behind the same interface.

:class:`LocationFeed` is what the leader keeps of every monitor's state at every
location, brought up to date from the rows the probing instances wrote since its last
read (:meth:`Store.location_states`).
"""

from __future__ import annotations

import math
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol, Self, TypeVar

from tether.monitor._records import LocationState
from tether.monitor.store._instances import LEADER, LEADING_INSTANCES, Instance, instance_of
from tether.monitor.store._shares import SHARDS, plan_share, shard_of
from tether.monitor.store._values import Fence, LocationRow, StoreError, instance_id
from tether.monitor.store.postgres._store import Link, migrate

if TYPE_CHECKING:
    from tether.monitor.config import Storage
    from tether.monitor.store.postgres._store import Conn

__all__ = [
    "FEED_OVERLAP",
    "LEADER",
    "LEASE_TTL",
    "PAST_EXPIRY",
    "RENEWALS",
    "Cluster",
    "ClusterError",
    "Instance",
    "LocationFeed",
    "PostgresCluster",
    "Round",
    "SoloCluster",
    "open_cluster",
]

T = TypeVar("T")

LEASE_TTL: Final = 8.0
"""Seconds a lease lasts unless renewed; rounds run every :data:`RENEWALS`-th of it, so
a lease survives three missed rounds, and a killed instance's monitors are probed
again by the others within ``ttl + ttl / 8`` (9 s) of its death, plus the time a round
and a probe take."""
RENEWALS: Final = 4
"""Rounds per lease: a live instance renews its leases this many times before they run
out, so it keeps them through ``RENEWALS - 1`` rounds in a row that fail or come late."""
FORGET_AFTER: Final = 3600.0
"""Seconds after its last heartbeat an instance's row is deleted (by the leader): until
then it shows as gone in the cluster's list."""


class ClusterError(StoreError):
    """A round, a release or a read of the cluster failed; nothing held here changed.
    ``outage`` when the database could not be reached (the usual case)."""


@dataclass(frozen=True, slots=True)
class Round:
    """What a renewal round found and decided, for the caller to act on."""

    held: frozenset[int]
    """Shards held now (``release`` included, until :meth:`Cluster.release`)."""
    gained: frozenset[int]
    """Claimed in this round: start probing their monitors (from their saved state)."""
    lost: frozenset[int]
    """Held before, not renewed: the lease expired and another instance took the shard
    (this one missed its rounds).  Stop probing them at once."""
    release: frozenset[int]
    """Held beyond the fair share: stop probing their monitors, save their state, then
    call :meth:`Cluster.release` with them."""
    leader: bool
    """This instance holds the leader's lease: it runs the incident engine."""
    until: float
    """When the leases renewed or claimed in this round expire, unless renewed."""
    live: int
    """Instances of this location alive (heartbeat within the lease's time), this one
    included."""
    expiry: float = math.inf
    """When the first lease held by another instance (a shard of this location, or the
    leader's) runs out unless renewed: if that instance is dead, the shard is free
    then, and a round at that moment claims it (:meth:`next_round`)."""
    orphaned: frozenset[int] = frozenset()
    """Of ``gained``, the shards whose last holder is gone: its lease ran out (it died,
    or could not reach the database) or it left (a clean stop).  Their monitors may
    have gone unprobed for a lease, or their holder's probes end now, so they are probed
    soon.  The others were free (never held, or released to a newcomer by a live holder,
    which probed them until then): their monitors keep a first run spread over their
    interval, not all of them probed at once, in step, every interval after."""

    def next_round(self, now: float, every: float) -> float:
        """Seconds from ``now`` to the next round: ``every``, or sooner if another
        instance's lease runs out before that (just after it runs out, so that the claim
        finds it expired).  A live instance renews its leases long before they run out,
        so this costs no extra round while every instance is alive."""
        return max(min(every, self.expiry - now + PAST_EXPIRY), PAST_EXPIRY)


PAST_EXPIRY: Final = 0.05
"""Seconds after another instance's lease runs out that a round looks again: past it on
this clock, whatever the rounding of the stored value."""


class Cluster(Protocol):
    """This instance's part in the cluster: the shards it probes and whether it leads.

    Every method takes the caller's wall clock; the PostgreSQL one blocks on the
    database (run it off the event loop) and raises :class:`ClusterError` when it
    cannot reach it.
    """

    id: str
    location: str
    shards: int
    ttl: float

    @property
    def every(self) -> float:
        """Seconds between rounds: a :data:`RENEWALS`-th of the lease's time."""

    def round(self, now: float) -> Round:
        """Heartbeat, renew, then release or claim toward the fair share; the leader's
        lease too."""

    def release(self, shards: Iterable[int], now: float) -> None:
        """Hand back ``shards`` (a round's ``release``, once their monitors stopped and
        their state is saved): other instances may claim them at once."""

    def held(self) -> frozenset[int]:
        """The shards the last successful round left held (what to probe)."""

    def holds(self, now: float) -> frozenset[int]:
        """The shards whose lease is still valid at ``now`` on this clock."""

    def is_leader(self, now: float) -> bool:
        """Whether this instance leads at ``now``: it held the leader's lease at its last
        successful round, and that lease does not run out within a round on this clock
        (the renew deadline: a round of margin for the clocks' disagreement)."""

    def fence(self, monitor: str) -> Fence | None:
        """The fence for ``monitor``'s location state writes (None: none needed)."""

    def instances(self, now: float) -> list[Instance]:
        """Every instance of every location the database knows, leader first."""

    def leave(self, now: float) -> None:
        """Stopping: hand back every shard and the leader's lease, and leave the list, so
        the others take over at their next round rather than after the lease's time."""

    def close(self) -> None:
        """Release the connection (without leaving: a killed instance's way)."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


def _checked_location(location: str) -> str:
    if not location or location != location.strip():
        raise ValueError(f"a location needs a name without surrounding spaces: {location!r}")
    return location


class SoloCluster:
    """The cluster of one: every shard, always the leader (SQLite, or one instance)."""

    def __init__(
        self,
        location: str,
        *,
        shards: int = SHARDS,
        ttl: float = LEASE_TTL,
        id: str | None = None,
    ) -> None:
        self.location = _checked_location(location)
        self.shards = shards
        self.ttl = ttl
        self.id = id or instance_id()
        self._all = frozenset(range(shards))
        self._started: float | None = None
        self._last = 0.0

    def __repr__(self) -> str:
        return f"<SoloCluster {self.id} at {self.location}>"

    @property
    def every(self) -> float:
        return self.ttl / RENEWALS

    def round(self, now: float) -> Round:
        first = self._started is None
        if first:
            self._started = now
        self._last = now
        gained = self._all if first else frozenset()
        return Round(self._all, gained, frozenset(), frozenset(), True, math.inf, 1)

    def release(self, shards: Iterable[int], now: float) -> None:
        """Nothing to hand back to: a round never asks a lone instance to release."""

    def held(self) -> frozenset[int]:
        return self._all

    def holds(self, now: float) -> frozenset[int]:
        return self._all

    def is_leader(self, now: float) -> bool:
        return True

    def fence(self, monitor: str) -> Fence | None:
        return None

    def instances(self, now: float) -> list[Instance]:
        host, pid = socket.gethostname(), os.getpid()
        started = self._started if self._started is not None else now
        beat = self._last or now
        me = Instance(
            self.id, self.location, host, pid, started, beat, True, self.shards, True, _version()
        )
        return [me]

    def leave(self, now: float) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresCluster:
    """This instance's leases in a PostgreSQL database (the schema the store migrates;
    migrated here too, so either may open first).  Thread-safe: one call at a time on
    its own connection."""

    def __init__(
        self,
        dsn: str,
        location: str,
        *,
        shards: int = SHARDS,
        ttl: float = LEASE_TTL,
        id: str | None = None,
        host: str | None = None,
        pid: int | None = None,
    ) -> None:
        self.location = _checked_location(location)
        self.shards = shards
        self.ttl = ttl
        self.id = id or instance_id()
        self._host = host or socket.gethostname()
        self._pid = os.getpid() if pid is None else pid
        self._link = Link(dsn)
        self.url = self._link.url
        self._lock = threading.Lock()
        self._conn: Conn | None = None
        self._started: float | None = None
        self._rows_made = False
        self._held: frozenset[int] = frozenset()
        self._until = -math.inf
        self._leader_until = -math.inf
        try:
            first = self._link.connect()
        except StoreError as exc:
            raise ClusterError(str(exc), outage=exc.outage) from None
        try:
            self._guarded("cannot migrate the schema", lambda: migrate(first))
        finally:
            first.close()

    def __repr__(self) -> str:
        return f"<PostgresCluster {self.id} at {self.location} on {self.url}>"

    @property
    def every(self) -> float:
        return self.ttl / RENEWALS

    # -- the round -------------------------------------------------------------------

    def round(self, now: float) -> Round:
        until = now + self.ttl
        with self._lock:
            before = self._held
            started = self._started if self._started is not None else now

            def work(
                conn: Conn,
            ) -> tuple[frozenset[int], frozenset[int], frozenset[int], bool, int, float]:
                with conn.transaction():
                    if not self._rows_made:
                        self._make_rows(conn)
                    conn.execute(
                        "INSERT INTO tether_instances (id, location, host, pid, started, "
                        "heartbeat, version) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat",
                        (self.id, self.location, self._host, self._pid, started, now, _version()),
                    )
                    renewed = conn.execute(
                        "UPDATE tether_leases SET expires = %s WHERE owner = %s "
                        "RETURNING location, shard",
                        (until, self.id),
                    ).fetchall()
                    held = frozenset(s for loc, s in renewed if loc == self.location)
                    leader = any((loc, s) == LEADER for loc, s in renewed)
                    row = conn.execute(
                        "SELECT count(*) FROM tether_instances "
                        "WHERE location = %s AND heartbeat >= %s",
                        (self.location, now - self.ttl),
                    ).fetchone()
                    live = int(row[0]) if row else 1
                    share = plan_share(held, live, self.shards)
                    gained: frozenset[int] = frozenset()
                    orphaned: frozenset[int] = frozenset()
                    if share.claim:
                        gained, orphaned = self._claim(conn, share.claim, now, until)
                    if not leader:
                        leader = self._claim_leader(conn, now, until)
                    if leader:
                        conn.execute(
                            "DELETE FROM tether_instances WHERE id IN (SELECT id FROM "
                            "tether_instances WHERE heartbeat < %s FOR UPDATE SKIP LOCKED)",
                            (now - FORGET_AFTER,),
                        )
                        # An alert claimed by an instance that died waits no longer than
                        # the lease: another instance delivers it at its next poll.
                        conn.execute(
                            "UPDATE outbox SET claimed_by = NULL, claim_until = NULL "
                            "WHERE delivered IS NULL AND claimed_by IS NOT NULL "
                            "AND claimed_by NOT IN (SELECT id FROM tether_instances "
                            "WHERE heartbeat >= %s)",
                            (now - self.ttl,),
                        )
                    conn.execute(
                        "UPDATE tether_instances SET leader = %s, shards = %s WHERE id = %s",
                        (leader, len(held | gained), self.id),
                    )
                    # When the next lease of another instance runs out: the next round
                    # comes then if that is sooner, to claim it at once if it is dead.
                    row = conn.execute(
                        "SELECT min(expires) FROM tether_leases "
                        "WHERE ((location = %s AND shard >= 0) OR (location = %s AND shard = %s)) "
                        "AND owner <> %s AND expires >= %s",
                        (self.location, *LEADER, self.id, now),
                    ).fetchone()
                    expiry = math.inf if row is None or row[0] is None else float(row[0])
                return held | gained, orphaned, share.release, leader, live, expiry

            held, orphaned, release, leader, live, expiry = self._run(
                "cannot renew the leases", work
            )
            self._started = started
            self._rows_made = True
            self._held, self._until = held, until
            # Kubernetes' renew deadline: stop leading a round before the lease runs out,
            # so that a new leader, which claims it once it has run out on its own clock,
            # never overlaps this one while the clocks agree to within a round.
            self._leader_until = until - self.every if leader else -math.inf
        return Round(
            held, held - before, before - held, release, leader, until, live, expiry, orphaned
        )

    def _make_rows(self, conn: Conn) -> None:
        """The location's lease rows and the leader's, made by whoever comes first."""
        conn.execute(
            "INSERT INTO tether_leases (location, shard) SELECT %s, s "
            "FROM generate_series(0, %s - 1) s ON CONFLICT DO NOTHING",
            (self.location, self.shards),
        )
        conn.execute(
            "INSERT INTO tether_leases (location, shard) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            LEADER,
        )

    def _claim(
        self, conn: Conn, count: int, now: float, until: float
    ) -> tuple[frozenset[int], frozenset[int]]:
        """Up to ``count`` of the location's free or expired shards, lowest first, and
        which of them were expired (:attr:`Round.orphaned`); rows another instance is
        claiming or renewing now are skipped, not waited for."""
        rows = conn.execute(
            "WITH free AS (SELECT location, shard, "
            "(expires IS NOT NULL) AS orphaned FROM tether_leases "
            "WHERE location = %(location)s AND shard >= 0 "
            "AND (owner IS NULL OR expires IS NULL OR expires < %(now)s) "
            "ORDER BY shard LIMIT %(count)s FOR UPDATE SKIP LOCKED) "
            "UPDATE tether_leases t SET owner = %(me)s, expires = %(until)s FROM free "
            "WHERE t.location = free.location AND t.shard = free.shard "
            "RETURNING t.shard, free.orphaned",
            {"me": self.id, "until": until, "location": self.location, "now": now, "count": count},
        ).fetchall()
        return frozenset(int(r[0]) for r in rows), frozenset(int(r[0]) for r in rows if r[1])

    def _claim_leader(self, conn: Conn, now: float, until: float) -> bool:
        row = conn.execute(
            "UPDATE tether_leases SET owner = %(me)s, expires = %(until)s "
            "WHERE (location, shard) IN (SELECT location, shard FROM tether_leases "
            "WHERE location = %(location)s AND shard = %(shard)s "
            "AND (owner IS NULL OR expires IS NULL OR expires < %(now)s) "
            "FOR UPDATE SKIP LOCKED) RETURNING shard",
            {"me": self.id, "until": until, "location": LEADER[0], "shard": LEADER[1], "now": now},
        ).fetchone()
        return row is not None

    # -- giving back -----------------------------------------------------------------

    def release(self, shards: Iterable[int], now: float) -> None:
        giving = sorted(set(shards))
        if not giving:
            return
        with self._lock:
            keeping = self._held - frozenset(giving)

            def give(conn: Conn) -> None:
                with conn.transaction():
                    conn.execute(
                        "UPDATE tether_leases SET owner = NULL, expires = NULL "
                        "WHERE location = %s AND shard = ANY(%s) AND owner = %s",
                        (self.location, giving, self.id),
                    )
                    conn.execute(
                        "UPDATE tether_instances SET shards = %s WHERE id = %s",
                        (len(keeping), self.id),
                    )

            self._run("cannot release the leases", give)
            self._held = keeping

    def leave(self, now: float) -> None:
        with self._lock:

            def leave(conn: Conn) -> None:
                with conn.transaction():
                    # Free now, and marked as a holder's last (``expires`` kept, the
                    # owner gone): whoever claims them probes their monitors soon, as
                    # after a death (:attr:`Round.orphaned`), the shards of a rebalance
                    # (``expires`` NULL) keeping their spread schedule.
                    conn.execute(
                        "UPDATE tether_leases SET owner = NULL, expires = %s WHERE owner = %s",
                        (now, self.id),
                    )
                    conn.execute(
                        "UPDATE outbox SET claimed_by = NULL, claim_until = NULL "
                        "WHERE claimed_by = %s AND delivered IS NULL",
                        (self.id,),
                    )
                    conn.execute("DELETE FROM tether_instances WHERE id = %s", (self.id,))

            self._run("cannot leave the cluster", leave)
            self._held, self._until, self._leader_until = frozenset(), -math.inf, -math.inf

    # -- what is held ----------------------------------------------------------------

    def held(self) -> frozenset[int]:
        return self._held

    def holds(self, now: float) -> frozenset[int]:
        return self._held if now < self._until else frozenset()

    def is_leader(self, now: float) -> bool:
        return now < self._leader_until

    def fence(self, monitor: str) -> Fence:
        return Fence(self.id, shard_of(monitor, self.shards))

    def instances(self, now: float) -> list[Instance]:
        def read(conn: Conn) -> list[tuple[Any, ...]]:
            return conn.execute(LEADING_INSTANCES, {"now": now}).fetchall()

        with self._lock:
            rows = self._run("cannot read the instances", read)
        return [instance_of(row, now, self.ttl) for row in rows]

    # -- the connection --------------------------------------------------------------

    def _run(self, doing: str, call: Callable[[Conn], T]) -> T:
        """``call`` on the cluster's connection (opened anew if the server dropped it),
        errors as ClusterError.  Under the lock."""
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            try:
                conn = self._link.connect()
            except StoreError as exc:
                raise ClusterError(str(exc), outage=exc.outage) from None
            # A lock or a server that stalls must not hold a round past the next one's
            # time: it fails, and the next round tries again.
            limit = max(int(self.every * 1000), 1)
            self._guarded(
                "cannot connect",
                lambda: conn.execute(
                    f"SET lock_timeout = {limit}; SET statement_timeout = {limit}"
                ),
            )
            self._conn = conn
        return self._guarded(doing, lambda: call(conn), broken=lambda: conn.broken)

    def _guarded(
        self, doing: str, call: Callable[[], T], *, broken: Callable[[], bool] | None = None
    ) -> T:
        try:
            return self._link.guarded(doing, call, broken=broken)
        except StoreError as exc:
            raise ClusterError(str(exc), outage=exc.outage) from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_cluster(
    storage: Storage,
    location: str,
    *,
    ttl: float = LEASE_TTL,
    id: str | None = None,
) -> Cluster:
    """This instance's cluster for ``storage``: leases in PostgreSQL when ``postgres`` is
    set, else the cluster of one.  ClusterError when PostgreSQL cannot be reached."""
    if storage.postgres:
        return PostgresCluster(storage.postgres, location, ttl=ttl, id=id)
    return SoloCluster(location, ttl=ttl, id=id)


def _version() -> str:
    from tether._version import __version__

    return __version__


# -- the leader's view of the locations ---------------------------------------------------

FEED_OVERLAP: Final = 30.0
"""Seconds each read of changed location states goes back before the newest row seen.

A row is stamped with the database's clock when its statement runs, and becomes
visible when its transaction commits, a moment later: rows become visible in another
order than their stamps.  Reading from the newest stamp alone would miss a row stamped
just before it and committed just after the read.  A writer's transaction lasts well
under a second (a batch of results); 30 s leaves room for a slow one."""


@dataclass(slots=True)
class LocationFeed:
    """What the leader knows of each monitor's state at each location, and where its next
    read starts.  The leader owns it; it reads nothing itself.

    Reading again is harmless: every read goes :attr:`overlap` seconds back, so rows come
    more than once, and :meth:`take` reports a state only when it differs from the one
    it holds for that monitor and location (a row is the whole state there, so taking
    the same one twice changes nothing).  A row whose transaction took longer than
    ``overlap`` to commit would still be missed: :meth:`reset` makes the next read a full
    one (do it when leadership is gained, and now and then, every few minutes).

    The cursor is a value of the database's own clock (the rows' ``updated``), never
    tether's: no clock skew between instances and the database moves it.
    """

    overlap: float = FEED_OVERLAP
    states: dict[tuple[str, str], LocationState] = field(default_factory=dict)
    """Each (monitor, location)'s latest state."""
    newest: float | None = None
    """The latest ``updated`` taken, or None: the next read is a full one."""
    horizon: int | None = None
    """The last read's horizon (:class:`LocationRead`), where the store keeps one: the
    next read takes only rows written from it on, within :meth:`since` still."""

    def since(self) -> float | None:
        """Where the next read starts (``Store.location_states(since=...)``); None for all."""
        return None if self.newest is None else self.newest - self.overlap

    def take(self, rows: Iterable[LocationRow], horizon: int | None = None) -> list[LocationState]:
        """Take the rows of a read and its ``horizon``; the states that are news (new, or
        unlike the one held), for the quorum.  A horizon before the last one means
        another database (restored, or a new server): the next read is a full one."""
        back = horizon is not None and self.horizon is not None and horizon < self.horizon
        self.horizon = horizon
        news: list[LocationState] = []
        for row in rows:
            state = row.state
            key = (state.monitor, state.location)
            if self.states.get(key) != state:
                news.append(state)
                self.states[key] = state
            if self.newest is None or row.updated > self.newest:
                self.newest = row.updated
        if back:
            self.reset()
        return news

    def reset(self) -> None:
        """Make the next read a full one (what is held stays, so only news is reported)."""
        self.newest = None
        self.horizon = None
