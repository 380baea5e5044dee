"""Instances sharing one PostgreSQL database: leases on the shards of the monitors, and
one leader, on a simulated clock against a real server.

Each instance is a :class:`PostgresCluster` of its own (its own connection) on one
schema; every round is given the simulated time, so a lease's 8 s pass in an instant
and nothing waits on the real clock.  After every step the invariant is checked: what
an instance believes it holds at that moment is held by it in the database (so no two
hold one shard), and at most one leads.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.postgres_server import PASSWORD, PostgresServer, free_port
from tether._kinds import Kind
from tether.monitor._state import State
from tether.monitor.config import Storage
from tether.monitor.store import (
    LEASE_TTL,
    ClusterError,
    LocationState,
    PostgresCluster,
    PostgresStore,
    Round,
    SoloCluster,
    open_cluster,
)
from tether.monitor.store._cluster import PAST_EXPIRY, RENEWALS
from tether.monitor.store._shares import SHARDS, shard_of

T0 = 1_700_000_000.0
TTL = LEASE_TTL
EVERY = TTL / RENEWALS


class Cluster:
    """Instances at location ``eu`` on one schema, on one simulated clock."""

    def __init__(self, server: PostgresServer, dsn: str) -> None:
        self.server = server
        self.dsn = dsn
        self.schema = dsn.rpartition("%3D")[2]
        self.now = T0
        self.members: dict[str, PostgresCluster] = {}
        self.pending: dict[str, frozenset[int]] = {}
        """What each instance's last round asked it to release, not yet released."""

    def join(self, name: str) -> PostgresCluster:
        member = PostgresCluster(self.dsn, "eu", ttl=TTL, id=name, host="lab", pid=1)
        self.members[name] = member
        return member

    def round(self, name: str, *, release: bool = True) -> Round:
        """One round of ``name``; what it should release it releases at once (as a
        runner does once it has saved the monitors' state), unless told not to."""
        member = self.members[name]
        got = member.round(self.now)
        self.pending[name] = got.release
        if release and got.release:
            self.release(name)
        self.check()
        return got

    def release(self, name: str) -> None:
        self.members[name].release(self.pending.pop(name, frozenset()), self.now)
        self.check()

    def rounds(self, *names: str, times: int = 1) -> None:
        """``times`` rounds of each of ``names``, ``EVERY`` seconds apart."""
        for _ in range(times):
            for name in names:
                self.round(name)
            self.now += EVERY
            self.check()

    def owners(self) -> dict[int, str | None]:
        """Who the database says holds each shard of ``eu``, expired or not."""
        rows = self.server.execute(
            f"SELECT shard, owner FROM {self.schema}.tether_leases WHERE location = 'eu'"
        )
        return {int(shard): owner for shard, owner in rows}

    def check(self) -> None:
        """What each instance holds now, by its own lights, the database says is its;
        at most one instance leads now."""
        owners = self.owners()
        for name, member in self.members.items():
            for shard in member.holds(self.now):
                assert owners[shard] == name, (name, shard, owners[shard])
        leaders = [n for n, m in self.members.items() if m.is_leader(self.now)]
        assert len(leaders) <= 1, leaders

    def sizes(self) -> dict[str, int]:
        return {n: len(m.holds(self.now)) for n, m in self.members.items()}

    def leader(self) -> str | None:
        return next((n for n, m in self.members.items() if m.is_leader(self.now)), None)

    def close(self) -> None:
        for member in self.members.values():
            member.close()


@pytest.fixture
def cluster(postgres_server: PostgresServer, postgres_dsn: str) -> Iterator[Cluster]:
    c = Cluster(postgres_server, postgres_dsn)
    yield c
    c.close()


def test_three_instances_share_the_shards_fairly_and_one_leads(cluster: Cluster) -> None:
    """Three instances joining one after the other settle within a few rounds at 86, 86
    and 84 shards, every shard held once; the first one leads; the list of instances
    says the same."""
    for name in ("a", "b", "c"):
        cluster.join(name)
    first = cluster.round("a")
    assert (len(first.held), first.gained == first.held, first.leader) == (SHARDS, True, True)
    cluster.rounds("a", "b", "c", times=4)
    assert sorted(cluster.sizes().values()) == [84, 86, 86]
    assert set(cluster.owners().values()) == {"a", "b", "c"}
    assert cluster.leader() == "a"
    listed = cluster.members["b"].instances(cluster.now)
    assert (listed[0].id, listed[0].leader, listed[0].alive) == ("a", True, True)
    assert sorted((i.id, i.shards, i.alive) for i in listed) == sorted(
        (n, size, True) for n, size in cluster.sizes().items()
    )


def test_an_instance_that_stops_renewing_loses_its_shards_and_leadership_after_the_ttl(
    cluster: Cluster,
) -> None:
    """The leader stops renewing (killed): for the lease's time its shards stay its own
    and nobody leads in its place; the two others, each running its next round when its
    last one said (:meth:`Round.next_round`), take all its shards the moment its leases
    run out, not up to a round later, and one of them leads.  Back, the old one learns
    what it lost and claims a fair share again as the others release."""
    for name in ("a", "b", "c"):
        cluster.join(name)
    cluster.rounds("a", "b", "c", times=4)
    held_by_a = cluster.members["a"].held()
    last = cluster.now - EVERY  # a's last round; it is killed any time before the next
    rounds = 0
    while True:
        got = [cluster.round("b"), cluster.round("c")]
        rounds += 1
        if cluster.sizes()["b"] + cluster.sizes()["c"] == SHARDS:
            break
        assert cluster.sizes()["b"] + cluster.sizes()["c"] == SHARDS - len(held_by_a)
        assert cluster.leader() is None or cluster.now < last + TTL
        cluster.now += min(r.next_round(cluster.now, EVERY) for r in got)
    # Claimed just after its leases ran out, and no extra round while they had not.
    assert cluster.now - last == pytest.approx(TTL + PAST_EXPIRY)
    assert rounds == RENEWALS + 1
    assert cluster.sizes() == {"a": 0, "b": 128, "c": 128}
    assert cluster.leader() in ("b", "c")
    back = cluster.round("a")
    assert back.lost == held_by_a
    assert not back.leader
    cluster.rounds("a", "b", "c", times=4)
    assert sorted(cluster.sizes().values()) == [84, 86, 86]


def test_a_live_instance_three_rounds_late_keeps_every_shard(cluster: Cluster) -> None:
    """An instance whose rounds stall (a pause, a slow database) for up to three rounds
    keeps its shards and its lead: the others, rounding when their rounds say, claim
    nothing of it, and its late round loses nothing."""
    for name in ("a", "b", "c"):
        cluster.join(name)
    cluster.rounds("a", "b", "c", times=4)
    held_by_a = cluster.members["a"].held()
    last = cluster.now - EVERY
    late = last + (RENEWALS - 1) * EVERY + EVERY * 0.9  # its lease runs out at last + TTL
    while True:
        got = [cluster.round("b"), cluster.round("c")]
        assert cluster.sizes()["b"] + cluster.sizes()["c"] == SHARDS - len(held_by_a)
        step = min(r.next_round(cluster.now, EVERY) for r in got)
        if cluster.now + step > late:
            break
        cluster.now += step
    cluster.now = late
    again = cluster.round("a")
    assert (again.held, again.lost, again.leader) == (held_by_a, frozenset(), True)


def test_a_round_says_when_another_instance_lease_runs_out() -> None:
    """The next round comes after the usual time, or just after another instance's lease
    runs out if that is sooner; never at once over and over for a lease long gone."""
    r = Round(frozenset(), frozenset(), frozenset(), frozenset(), False, T0 + TTL, 2, T0 + 1)
    assert r.next_round(T0, EVERY) == pytest.approx(1 + PAST_EXPIRY)
    assert r.next_round(T0 + 1.5, EVERY) == PAST_EXPIRY
    alone = Round(frozenset(), frozenset(), frozenset(), frozenset(), True, T0 + TTL, 1)
    assert alone.next_round(T0, EVERY) == EVERY


def test_a_joining_instance_gets_its_fair_share_as_the_others_release(
    cluster: Cluster,
) -> None:
    """A fourth instance joins three settled ones: each of the three is told to release
    down to 64; until it does, the shards are still its own and the newcomer cannot
    take them; once released, the newcomer claims them."""
    for name in ("a", "b", "c"):
        cluster.join(name)
    cluster.rounds("a", "b", "c", times=4)
    cluster.join("d")
    assert len(cluster.round("d").held) == 0  # nothing free yet
    told = cluster.round("a", release=False)
    assert len(told.release) == 86 - 64
    assert told.release <= told.held
    assert cluster.members["a"].holds(cluster.now) == told.held  # not released yet
    assert len(cluster.round("d").held) == 0
    cluster.release("a")
    assert len(cluster.members["a"].held()) == 64
    assert len(cluster.round("d").gained) == 86 - 64
    cluster.rounds("a", "b", "c", "d", times=3)
    assert cluster.sizes() == {"a": 64, "b": 64, "c": 64, "d": 64}


def test_a_round_says_which_claimed_shards_came_from_an_expired_lease(
    cluster: Cluster,
) -> None:
    """Shards claimed free (never held, or released to a newcomer by a live holder) are
    not orphaned: their monitors keep their spread schedule; those claimed after their
    holder stopped renewing, or after it left, are, so that their monitors are probed
    soon."""
    cluster.join("a")
    first = cluster.round("a")
    assert len(first.gained) == SHARDS
    assert not first.orphaned
    cluster.join("b")
    cluster.round("b")  # nothing free yet
    cluster.round("a")  # releases half
    joined = cluster.round("b")
    assert len(joined.gained) == SHARDS // 2
    assert not joined.orphaned
    cluster.rounds("a", "b", times=2)
    held_by_a = cluster.members["a"].held()
    cluster.now += TTL + 1  # a was killed: its leases run out
    took = cluster.round("b")
    assert took.gained == held_by_a
    assert took.orphaned == held_by_a
    cluster.join("c")
    cluster.rounds("b", "c", times=2)
    held_by_c = cluster.members["c"].held()
    cluster.members["c"].leave(cluster.now)
    handed = cluster.round("b")
    assert handed.gained == held_by_c
    assert handed.orphaned == held_by_c


def test_an_instance_that_leaves_hands_everything_over_at_once(cluster: Cluster) -> None:
    """A clean stop hands back every shard and the leader's lease: the others take them
    at their next round, without waiting for the lease's time."""
    for name in ("a", "b"):
        cluster.join(name)
    cluster.rounds("a", "b", times=3)
    cluster.members["a"].leave(cluster.now)
    cluster.check()
    cluster.rounds("b")
    assert cluster.sizes() == {"a": 0, "b": SHARDS}
    assert cluster.leader() == "b"
    assert [i.id for i in cluster.members["b"].instances(cluster.now)] == ["b"]


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["round", "round-later", "release", "leave", "wait"]),
        st.integers(0, 3),
        st.sampled_from([0.0, 1.0, EVERY, 7.5, TTL, TTL + 1]),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_no_two_instances_ever_hold_one_shard(
    postgres_server: PostgresServer, steps: list[tuple[str, int, float]]
) -> None:
    """Four instances on a randomized schedule (rounds that release at once or later,
    missed rounds, clean stops, time passing by up to more than a lease): at every
    moment what each believes it holds is its own in the database, so no two hold one
    shard, and at most one leads."""
    c = Cluster(postgres_server, postgres_server.dsn(postgres_server.new_schema()))
    try:
        for n in range(4):
            c.join(f"i{n}")
        for action, n, wait in steps:
            name = f"i{n}"
            if action == "round":
                c.round(name)
            elif action == "round-later":
                c.round(name, release=False)
            elif action == "release":
                c.release(name)
            elif action == "leave":
                c.members[name].leave(c.now)
                c.check()
            c.now += wait
            c.check()
    finally:
        c.close()


def test_an_unreachable_server_fails_the_round_and_leadership_runs_out_on_the_clock(
    own_postgres: PostgresServer,
) -> None:
    """With the server stopped a round raises ClusterError (an outage) and changes
    nothing held; the instance keeps its shards for probing, leads until its leader
    lease runs out on its own clock, then not; back, the next round reconnects and
    renews."""
    member = PostgresCluster(own_postgres.dsn(), "eu", ttl=TTL, id="a")
    try:
        got = member.round(T0)
        assert got.leader
        own_postgres.halt()
        with pytest.raises(ClusterError) as info:
            member.round(T0 + EVERY)
        assert info.value.outage
        assert PASSWORD not in str(info.value)
        assert member.held() == got.held
        # The renew deadline: it stops leading a round before the lease runs out.
        assert member.is_leader(T0 + TTL - EVERY - 0.001)
        assert not member.is_leader(T0 + TTL - EVERY)
        assert member.holds(T0 + TTL) == frozenset()
        own_postgres.resume()
        again = member.round(T0 + TTL + 1)
        assert (again.held, again.lost, again.gained, again.leader) == (
            got.held,
            frozenset(),
            frozenset(),
            True,
        )
    finally:
        member.close()


def test_an_unreachable_server_at_start_is_a_cluster_error_without_the_password() -> None:
    """A refused connection when the cluster opens is a ClusterError naming the server,
    the password masked."""
    pytest.importorskip("psycopg")
    port = free_port()
    with pytest.raises(ClusterError, match=r"tether:\*\*\*@127\.0\.0\.1") as info:
        PostgresCluster(f"postgresql://tether:{PASSWORD}@127.0.0.1:{port}/tether", "eu")
    assert PASSWORD not in str(info.value)
    assert info.value.outage


def test_a_location_state_is_fenced_by_the_cluster_that_probes_it(cluster: Cluster) -> None:
    """The instance holding a monitor's shard writes its state there; once the shard has
    moved to another instance (the first missed its rounds), a write the first held
    through an outage is dropped, and the new owner's stands."""
    a, b = cluster.join("a"), cluster.join("b")
    cluster.rounds("a")
    assert shard_of("api") in a.held()
    down = LocationState("api", "eu", State.DOWN, T0, kind=Kind.CONNECT_REFUSED, detail="x")
    with PostgresStore(cluster.dsn) as at_a, PostgresStore(cluster.dsn) as at_b:
        at_a.record_location_state(down, fence=a.fence("api"))
        at_a.flush()
        assert [row.state.state for row in at_a.location_states()] == [State.DOWN]
        cluster.now += TTL + 1  # a misses its rounds; b takes everything
        cluster.rounds("b")
        assert shard_of("api") in b.held()
        back = LocationState("api", "eu", State.UP, cluster.now)
        at_b.record_location_state(back, fence=b.fence("api"))
        at_b.flush()
        at_a.record_location_state(down, fence=a.fence("api"))  # a's, held, landing late
        at_a.flush()
        assert [row.state.state for row in at_a.location_states()] == [State.UP]


def test_a_lone_instance_holds_everything_and_always_leads(tmp_path: Path) -> None:
    """SoloCluster, for SQLite or a single instance: every shard from the first round
    (gained then, never again), always the leader, no fence; open_cluster picks it
    without PostgreSQL."""
    solo = open_cluster(Storage(path=str(tmp_path / "t.db")), "eu", id="solo")
    assert isinstance(solo, SoloCluster)
    first, second = solo.round(T0), solo.round(T0 + EVERY)
    assert first.held == first.gained == frozenset(range(SHARDS))
    assert (second.gained, second.lost, second.release) == (frozenset(),) * 3
    assert first.leader
    assert first.until == math.inf
    assert solo.is_leader(T0 + 10**6)
    assert solo.fence("api") is None
    (me,) = solo.instances(T0 + EVERY)
    assert (me.id, me.location, me.leader, me.alive, me.shards) == ("solo", "eu", True, True, 256)


def test_open_cluster_uses_postgres_when_the_storage_names_it(postgres_dsn: str) -> None:
    """With storage.postgres, the cluster's leases are in that database."""
    member = open_cluster(Storage(postgres=postgres_dsn), "eu", id="x")
    try:
        assert isinstance(member, PostgresCluster)
        assert member.round(T0).leader
        assert "***" in repr(member)
    finally:
        member.close()


def test_a_location_needs_a_name() -> None:
    """The empty name is the leader's row: no location may take it."""
    with pytest.raises(ValueError, match="location"):
        SoloCluster("")
    with pytest.raises(ValueError, match="location"):
        SoloCluster(" eu")
