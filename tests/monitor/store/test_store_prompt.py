"""The writer's incident changes in a wave: each change is committed within
``PROMPT_SECONDS`` of the store's clock after the first of its batch, and the changes
queued meanwhile share that commit instead of waking the writer for one each (issue 46
§3: thousands a second in a mass outage).

On a real SQLite file, with the store's clock the test's own: the writer's deadlines go by
it, so nothing here waits on real time but a poll for what the writer did."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tests.helpers.polls import until
from tether.monitor.store import SQLiteStore
from tether.monitor.store._writer import PROMPT_SECONDS


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class CountingStore(SQLiteStore):
    """A real SQLite store that notes how many jobs each of its commits ran."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.commits: list[int] = []
        super().__init__(*args, **kwargs)

    def _apply(self, results: Any, states: Any, changes: Any, locations: Any, jobs: Any) -> Any:
        values = super()._apply(results, states, changes, locations, jobs)
        if jobs:
            self.commits.append(len(jobs))
        return values


def test_changes_queued_within_the_prompt_window_share_one_commit(tmp_path: Path) -> None:
    """A change is taken by the writer; 49 more queued after it, before its prompt window
    closes on the store's clock, are committed with it, once the clock passes the window:
    one commit of 50, not a commit for the first alone (as when a write was committed as
    soon as the queue was empty)."""
    clock = Clock()
    ran: list[int] = []
    with CountingStore(tmp_path / "t.db", batch_seconds=60.0, clock=clock) as store:
        store._queue_write(lambda conn: ran.append(0), "change 0")
        until(lambda: store._queue.qsize() == 0)  # the writer holds it, gathering
        for i in range(1, 50):
            store._queue_write(lambda conn, i=i: ran.append(i), f"change {i}")
        clock.advance(PROMPT_SECONDS)
        until(lambda: len(ran) == 50 and bool(store.commits))  # ran inside the commit
        assert store.commits == [50]
        assert ran == list(range(50))


def test_a_change_alone_is_committed_when_its_window_closes(tmp_path: Path) -> None:
    """One change and nothing after it: committed once the store's clock is
    ``PROMPT_SECONDS`` past it, though the batch's own deadline is a minute away."""
    clock = Clock()
    ran: list[str] = []
    with CountingStore(tmp_path / "t.db", batch_seconds=60.0, clock=clock) as store:
        store._queue_write(lambda conn: ran.append("done"), "a change")
        until(lambda: store._queue.qsize() == 0)
        clock.advance(PROMPT_SECONDS)
        until(lambda: ran == ["done"] and bool(store.commits))
        assert store.commits == [1]
