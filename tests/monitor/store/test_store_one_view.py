"""What the store keeps so that ``tether status`` reads what ``/api/status`` shows (issue 44,
"one view"): the instances (a lone instance's heartbeat on SQLite; PostgreSQL's as the
cluster writes them), each monitor's certificate expiry, each monitor's newest result
from whichever location took it, and the state a monitor is in however long ago it
changed.  Once per backend (``[sqlite]``, ``[postgres]``), on real databases; times are
passed in, never read.
"""

from __future__ import annotations

import math
from pathlib import Path

from tests.helpers.stores import open_target
from tether.monitor._state import State
from tether.monitor.store import Instance, ProbeRecord, SQLiteStore
from tether.monitor.store._retention import Retention

T0 = 1_700_000_000.0
DAY = 86400.0
TTL = 8.0


def instance(name: str, beat: float, location: str = "local") -> Instance:
    return Instance(name, location, "host", 1, T0 - 100, beat, True, 256, True, "1.0")


def test_instances_are_alive_within_the_lease_and_leave_on_a_clean_stop(target: str) -> None:
    """An instance whose heartbeat is within the lease is alive, one older is not; a
    clean stop removes its row at once, and the rows of those dead before a cut-off are
    forgotten."""
    with open_target(target) as store:
        store.save_instance(instance("now", T0 - 1))
        store.save_instance(instance("killed", T0 - 60, "east"))
        store.flush()
        found = {i.id: i for i in store.instances(T0, TTL)}
        assert {i: (f.location, f.alive) for i, f in found.items()} == {
            "now": ("local", True),
            "killed": ("east", False),
        }
        store.save_instance(instance("now", T0 + 2))  # the next heartbeat
        store.flush()
        assert [(i.id, i.heartbeat) for i in store.instances(T0 + 2, TTL) if i.alive] == [
            ("now", T0 + 2)
        ]
        store.forget_instances(T0 - TTL)
        store.flush()
        assert [i.id for i in store.instances(T0, TTL)] == ["now"]
        store.remove_instance("now")
        assert store.instances(T0, TTL) == []


def test_a_lone_instance_leads_while_it_is_alive(tmp_path: Path) -> None:
    """On SQLite (no leases) the row's leader is believed while its heartbeat is within
    the lease: a killed lone instance leads nothing."""
    with SQLiteStore(tmp_path / "t.db") as store:
        store.save_instance(instance("me", T0))
        store.flush()
        assert [i.leader for i in store.instances(T0 + 1, TTL)] == [True]
        assert [i.leader for i in store.instances(T0 + TTL + 1, TTL)] == [False]


def test_the_newest_result_of_each_monitor_from_any_location(target: str) -> None:
    """One read gives each monitor's newest result, whichever location or instance wrote
    it and in whatever order they were written; a monitor with none is left out."""
    with open_target(target) as store:
        store.record(ProbeRecord("api", T0 + 5, False, latency_ms=3.0, detail="agent's"))
        store.record(ProbeRecord("api", T0 + 2, True, latency_ms=1.0))
        store.record(ProbeRecord("web", T0, True, latency_ms=2.0))
        store.flush()
        newest = store.latest_results(["api", "web", "none"])
    assert {name: (r.ts, r.ok, r.detail) for name, r in newest.items()} == {
        "api": (T0 + 5, False, "agent's"),
        "web": (T0, True, None),
    }


def test_a_certificate_is_kept_while_its_monitor_has_results(target: str) -> None:
    """A renewal replaces the expiry; a read of some monitors gives theirs; pruning keeps
    a monitor's certificate while its results are kept and drops it with the last."""
    with open_target(target, retention=Retention(raw=7 * DAY)) as store:
        store.record(ProbeRecord("api", T0, True))
        store.record(ProbeRecord("gone", T0 - 10 * DAY, True))
        store.save_certificate("api", T0 + 30 * DAY)
        store.save_certificate("api", T0 + 90 * DAY)
        store.save_certificate("gone", T0 + 5 * DAY)
        store.flush()
        assert store.certificates(["api", "web"]) == {"api": T0 + 90 * DAY}
        store.prune(T0)
        assert store.certificates() == {"api": T0 + 90 * DAY}


def test_the_state_a_monitor_is_in_outlives_the_retention(target: str) -> None:
    """Pruning old state changes keeps each monitor's last one, however old: what it is
    in, and since when, as ``tether status`` reads them (``state_changes_of`` with no
    lower bound)."""
    with open_target(target, retention=Retention(rollups=100 * DAY)) as store:
        store.record_state("steady", T0 - 400 * DAY, State.DOWN)
        store.record_state("steady", T0 - 300 * DAY, State.UP)
        store.record_state("busy", T0 - 300 * DAY, State.UP)
        store.record_state("busy", T0 - DAY, State.DOWN)
        store.flush()
        store.prune(T0)
        last = store.state_changes_of(["steady", "busy", "new"], math.inf)
    assert last == {
        "steady": [(T0 - 300 * DAY, State.UP)],
        "busy": [(T0 - DAY, State.DOWN)],
        "new": [],
    }
