"""The writer's incident changes in a wave: each change is committed within
``PROMPT_SECONDS`` of the store's clock after the first of its batch, and the changes
queued meanwhile share that commit instead of waking the writer for one each (issue 46
§3: thousands a second in a mass outage); a member's join or leave alone waits for the
batch, as a result does.

On a real SQLite file, with the store's clock the test's own: the writer's deadlines go by
it, so nothing here waits on real time but a poll for what the writer did."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.helpers.incident_rows import one_member
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


class _Set:
    """An event always set: the writer's gathering loop then never waits on real time."""

    def wait(self, timeout: float | None = None) -> bool:
        return True

    def set(self) -> None:
        pass

    def clear(self) -> None:
        pass

    def is_set(self) -> bool:
        return True


class Ticking:
    """A store's clock that moves a millisecond each time it is read."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def _gathered_for(kind: str, tmp_path: Path) -> float:
    """How long, on the store's clock, the writer gathers a batch whose first item is a
    job queued as ``kind``: ``_gather`` called here, on a store whose own writer waits on
    an empty queue, its wake-up event always set and its clock moving with each read."""
    clock = Ticking()
    with CountingStore(tmp_path / f"{kind}.db", batch_seconds=0.5, clock=clock) as store:
        store._urgent = _Set()  # type: ignore[assignment]
        start = clock.now
        batch, stop = store._gather((kind, (lambda conn: None, "a job"), None))
        assert (len(batch), stop) == (1, False)
        return clock.now - start


def test_a_member_only_write_waits_for_the_batch_an_incident_change_does_not(
    tmp_path: Path,
) -> None:
    """A write queued with ``prompt=False`` (``later``: a member joining or leaving an open
    incident) is gathered for the batch's whole ``batch_seconds``, as a result is; a
    prompt one (``write``: an opening, a timeline's line, an alert) for ``PROMPT_SECONDS``
    alone.  In a wave each member's write closed its batch within 20 ms, and the store's
    writer committed the same pages ten times as often (bench_change.md section 6)."""
    assert 0.5 <= _gathered_for("later", tmp_path) < 0.6
    assert PROMPT_SECONDS <= _gathered_for("write", tmp_path) < 2 * PROMPT_SECONDS


class KindsStore(SQLiteStore):
    """A real SQLite store that notes whether each write it queues is prompt."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.prompts: list[bool] = []
        self.later: list[str] = []
        super().__init__(*args, **kwargs)

    def _queue_write(self, job: Any, about: str, *, prompt: bool = True) -> None:
        self.prompts.append(prompt)
        super()._queue_write(job, about, prompt=prompt)

    def _queue_row(self, item: Any) -> None:
        if item[0] == "later":
            self.later.append(item[1][1])
        super()._queue_row(item)


def test_only_a_members_join_or_leave_is_queued_for_the_batch(tmp_path: Path) -> None:
    """``commit_incident`` queues an opening, a line of the timeline, a resolution and
    any change with alerts as prompt writes, and a change that only touches members (the
    wave's thousands) for the batch; each lands all the same, in order."""
    from tests.helpers.alert_payloads import opened
    from tether.monitor._records import Alert, Member, TimelineEntry

    t0 = 1_700_000_000.0
    with KindsStore(tmp_path / "t.db") as store:
        first = one_member(store, t0)
        store.commit_incident(first, [], t0, opened=True)
        web = Member(t0 + 1, alerted=False, opener=False)
        joined = replace(first, monitors=("api", "web"), members={**first.members, "web": web})
        store.commit_incident(joined, [], t0 + 1, touched=("web",))
        paged = [Alert("ops", f"{first.id}:web", opened())]
        store.commit_incident(joined, paged, t0 + 2, touched=("web",))
        line = TimelineEntry(t0 + 3, "note", "web joined")
        noted = replace(joined, timeline=(*first.timeline, line))
        store.commit_incident(noted, [], t0 + 3, entry=line)
        back = TimelineEntry(t0 + 4, "resolved", "every member is back")
        done = replace(noted, resolved=t0 + 4, timeline=(*noted.timeline, back), members={})
        # A resolution with no line of its own (the engine writes one; the store must
        # not count on it): prompt all the same.
        store.commit_incident(done, [], t0 + 4, touched=("api", "web"))
        store.flush()
        assert store.prompts == [True, False, True, True, True]
        assert store.later == [f"a change of incident #{first.id}"]  # queued as a row is
        stored = store.incident(first.id)
        assert stored is not None
        assert (stored.resolved, stored.members, stored.timeline) == (t0 + 4, {}, noted.timeline)
