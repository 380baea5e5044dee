"""The agents' tables on both backends (``target``: SQLite and PostgreSQL, tests/conftest.py):
a batch id taken once, committed with the results queued before it, pruned by age; an
agent location's row upserted and read back, and kept across a reopen."""

from __future__ import annotations

from tests.helpers.stores import open_target
from tether.monitor._records import ProbeRecord
from tether.monitor.store import AgentRow

T0 = 1_800_000_000.0
BATCH = "0123456789abcdef0123456789abcdef"


def test_a_batch_id_is_taken_once(target: str) -> None:
    """The first take is True, the same id again False; batch_taken says which."""
    with open_target(target) as store:
        assert not store.batch_taken(BATCH)
        assert store.take_batch(BATCH, "branch-1", T0)
        assert store.batch_taken(BATCH)
        assert not store.take_batch(BATCH, "branch-1", T0 + 5)


def test_the_results_queued_before_a_batch_id_are_committed_with_it(target: str) -> None:
    """Results queued (batched, not yet committed) then the batch's id taken: when the
    take returns, a reader sees the results, with no flush between."""
    with open_target(target, batch_seconds=3600.0) as store:
        for i in range(3):
            store.record(ProbeRecord("api", T0 + i, True, latency_ms=1.0))
        assert store.take_batch(BATCH, "branch-1", T0)
        assert len(store.results("api", T0 - 1, T0 + 10)) == 3


def test_old_batch_ids_are_pruned(target: str) -> None:
    """Ids taken before the bound are forgotten; newer ones kept."""
    with open_target(target) as store:
        store.take_batch(BATCH, "branch-1", T0)
        store.take_batch("f" * 32, "branch-1", T0 + 100)
        assert store.prune_agent_batches(T0 + 50) == 1
        assert not store.batch_taken(BATCH)
        assert store.batch_taken("f" * 32)


def test_an_agents_row_is_upserted_and_kept_across_a_reopen(target: str) -> None:
    """The last row saved per location wins, and a reopened store reads it back."""
    first = AgentRow("branch-1", "a1", "1.0", T0, 0.5, 10, 1, 0)
    later = AgentRow("branch-1", "a1", "1.1", T0 + 5, -7.25, 12, 1, 3)
    other = AgentRow("branch-2", "a2", "1.1", T0 + 1, 0.0)
    with open_target(target) as store:
        store.save_agent(first)
        store.save_agent(later)
        store.save_agent(other)
        store.flush()
        assert store.agent_rows() == [later, other]
    with open_target(target) as store:
        assert store.agent_rows() == [later, other]
