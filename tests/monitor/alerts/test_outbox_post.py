"""An alert the monitor's loop queues is posted, not waited for (issue 46 §3): in a wave the
store's writer has thousands of results queued, and an alert that waited for its own
commit held the event loop behind all of them (9.7 s at 120,000 monitors).  A posted
alert returns at once, is committed in order with what is queued after it (so the state
that says it was sent never lands without it), leaves out a key its channel has, and is
held, not lost, while the database cannot be written.

On a real SQLite file and a real PostgreSQL.  The writer is kept busy by a job of the
test's own (``_submit``, the store's private hook): no real peer makes a writer busy for
as long as a test needs and then lets it go on cue."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.helpers.alert_payloads import opened
from tests.helpers.monitor_harness import Harness, monitors
from tests.helpers.polls import until
from tests.helpers.stores import open_target
from tether.monitor.alerts import Outbox
from tether.monitor.engine._baseline import Expected
from tether.monitor.engine._detect import Degraded
from tether.monitor.runtime._decided import act_on_detection

T0 = 1_700_000_000.0


class Quiet:
    name = "ops"

    def deliver(self, payload: object, key: str) -> None:
        raise AssertionError("nothing is delivered here")


def test_a_posted_alert_returns_while_the_writer_is_busy_and_lands_after(target: str) -> None:
    """With the writer held by a long job, ``post`` returns at once; once the writer is
    free the alert is in its channel's queue, and a second post of its key is left out."""
    release = threading.Event()
    with open_target(target) as store:
        outbox = Outbox(store, {"ops": Quiet()})
        held = store._submit(lambda conn: release.wait(30))  # type: ignore[attr-defined]
        outbox.post("ops", "1:api:opened", opened(), T0)
        outbox.post("ops", "1:api:opened", opened(text="again"), T0 + 1)
        assert not held.done()  # the posts did not wait for the writer
        assert store.backlog() == {}
        release.set()
        store.flush()
        assert store.backlog() == {"ops": (1, T0)}
        (head,) = store.alert_heads()
        assert head.payload.text == opened().text


def test_what_is_queued_after_a_posted_alert_finds_it_committed(target: str) -> None:
    """A write queued after ``post`` (the detector state that says the alert was sent)
    runs after the alert is written, in its transaction or a later one: a crash can
    lose both, never the alert alone."""
    seen: list[int] = []
    with open_target(target) as store:
        outbox = Outbox(store, {"ops": Quiet()})
        outbox.post("ops", "a", opened(), T0)

        def count(conn: object) -> None:
            cur = store._execute(conn, "SELECT count(*) FROM outbox", ())  # type: ignore[attr-defined]
            seen.append(int(cur.fetchone()[0]))

        store._queue_write(count, "the count")  # type: ignore[attr-defined]
        store.flush()
        assert seen == [1]


def test_a_post_to_a_channel_that_is_gone_is_refused_as_queue_refuses_it(target: str) -> None:
    """``post`` names a channel the outbox does not have, as ``queue`` does."""
    with open_target(target) as store:
        outbox = Outbox(store, {"ops": Quiet()})
        with pytest.raises(KeyError, match="pager"):
            outbox.post("pager", "a", opened(), T0)


def test_a_latency_notice_does_not_hold_the_loop_on_the_writer(tmp_path: Path) -> None:
    """The runner's latency notice (``act_on_detection``, on the event loop) returns while
    the store's writer is busy, and its alert is queued once the writer is free; before,
    it waited for the writer's whole backlog."""
    h = Harness(tmp_path, monitors("{name: api, url: 'http://127.0.0.1:9/', alerts: [ops]}"))
    try:
        release = threading.Event()
        held = h.store._submit(lambda conn: release.wait(30))
        expected = Expected("global", 1.0, 0.1, 3.0)
        done = threading.Event()

        def notice() -> None:
            act_on_detection(h.runner, Degraded("api", T0, 300.0, expected), None, T0)
            done.set()

        thread = threading.Thread(target=notice)
        thread.start()
        until(done.is_set)
        assert not held.done()
        release.set()
        thread.join()
        h.store.flush()
        (head,) = h.store.alert_heads()
        assert head.payload.event == "monitor.degraded"
        assert head.channel == "ops"
    finally:
        release.set()
        h.close()
