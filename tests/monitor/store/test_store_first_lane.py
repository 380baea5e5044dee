"""The writer's first lane (issue 46 §3): in a wave the store's queue holds seconds of
results, and a page waited for them at each of its steps (the claim, the mark of its
delivery), as a silence made in the outage waited for them before it was answered.  The
outbox's bookkeeping and the silences go on the first lane: run before what is queued
and not yet taken, in order among themselves, never before a write they depend on.

On a real SQLite file and a real PostgreSQL.  The backlog is a job of the test's own
queued on the writer (``_submit``, the store's private hook) that waits for the test's
cue: no real peer holds a writer's queue for as long as a test needs and then lets it go."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tests.helpers.alert_payloads import opened
from tests.helpers.polls import until
from tests.helpers.stores import open_target
from tether.monitor._records import AuditEntry

T0 = 1_700_000_000.0


class Backlog:
    """Two jobs queued on the writer: the first holds it until ``go``, the second (the
    backlog behind it) until ``drain``; the second reads ``sql`` as it begins (``seen``):
    what the database held before it, whichever thread finished first."""

    def __init__(self, store: Any, sql: str = "SELECT 1") -> None:
        self.go, self.drain, self.ran = threading.Event(), threading.Event(), threading.Event()
        self.seen: list[Any] = []

        def behind(conn: object) -> None:
            self.seen = [tuple(r) for r in store._execute(conn, sql, ()).fetchall()]
            self.ran.set()
            self.drain.wait(30)

        self.front: Future[Any] = store._submit(lambda conn: self.go.wait(30))
        self.back: Future[Any] = store._submit(behind)

    def release(self) -> None:
        self.go.set()
        self.drain.set()


def test_a_claim_is_answered_before_the_writes_queued_ahead_of_it(target: str) -> None:
    """With the writer busy and a job queued behind it, a claim of the outbox's heads
    is run as soon as the busy job ends, before the queued job begins (it waited for
    the whole queue before)."""
    with open_target(target) as store, ThreadPoolExecutor(1) as pool:
        store.enqueue_alert("ops", "a", opened(), T0)
        backlog = Backlog(store, "SELECT claimed_by FROM outbox")
        try:
            claim = pool.submit(store.claim_alerts, "me", T0 + 1, 60.0)
            until(lambda: len(store._first) == 1)  # type: ignore[attr-defined]
            backlog.go.set()
            (alert,) = claim.result(30)
            assert alert.dedup == "a"
            until(backlog.ran.is_set)
            assert backlog.seen == [("me",)]  # the claim was written before the backlog ran
        finally:
            backlog.release()
        backlog.back.result(30)


def test_a_delivery_marked_on_the_first_lane_is_never_read_as_due(target: str) -> None:
    """The first lane keeps its own order: a delivery marked and then the heads read,
    both ahead of a backlog, read the alert as delivered."""
    with open_target(target) as store, ThreadPoolExecutor(2) as pool:
        store.enqueue_alert("ops", "a", opened(), T0)
        store.enqueue_alert("ops", "b", opened(text="second"), T0)
        (head,) = store.claim_alerts("me", T0 + 1, 60.0)
        backlog = Backlog(store, "SELECT dedup FROM outbox WHERE delivered IS NULL")
        try:
            marked = pool.submit(store.mark_delivered, head.id, T0 + 2, claimer="me")
            until(lambda: len(store._first) == 1)  # type: ignore[attr-defined]
            heads = pool.submit(lambda: [a.dedup for a in store.alert_heads()])
            until(lambda: len(store._first) == 2)  # type: ignore[attr-defined]
            backlog.go.set()
            assert heads.result(30) == ["b"]  # the mark was written before the heads read
            marked.result(30)  # (its caller's thread may wake after the reader's)
            until(backlog.ran.is_set)
            assert backlog.seen == [("b",)]
        finally:
            backlog.release()


def test_a_silence_is_made_before_the_backlog_is_written(target: str) -> None:
    """A silence made while the writer has a backlog is stored and answered first, as a
    silence made in an outage must be."""
    audit = AuditEntry(T0, "alice", "token", "silence.create", "", {})
    with open_target(target) as store, ThreadPoolExecutor(1) as pool:
        backlog = Backlog(store, "SELECT comment FROM tether_silences")
        try:
            made = pool.submit(store.add_silence, ["monitor=api"], T0, T0 + 3600, "deploy", audit)
            until(lambda: len(store._first) == 1)  # type: ignore[attr-defined]
            backlog.go.set()
            assert made.result(30).comment == "deploy"
            until(backlog.ran.is_set)
            assert backlog.seen == [("deploy",)]
        finally:
            backlog.release()
        assert [s.comment for s in store.silences()] == ["deploy"]


def test_a_call_on_the_first_lane_before_close_is_answered(target: str) -> None:
    """A first-lane call made before the store closes, while the writer is busy, is
    answered before the writer stops, not left waiting."""
    store = open_target(target)
    store.enqueue_alert("ops", "a", opened(), T0)
    backlog = Backlog(store)
    backlog.go.set()
    until(backlog.ran.is_set)
    with ThreadPoolExecutor(2) as pool:
        claim = pool.submit(store.claim_alerts, "me", T0 + 1, 60.0)
        until(lambda: bool(store._first))  # type: ignore[attr-defined]
        closing = pool.submit(store.close)
        backlog.drain.set()
        (alert,) = claim.result(30)
        closing.result(30)
    assert alert.dedup == "a"
