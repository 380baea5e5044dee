"""Retention (issue 44 §7): what only grows is deleted past its retention, on SQLite and on
a real PostgreSQL, and never what is still needed: an alert not delivered, an open
incident's rows, a burning objective's page, a silence or maintenance window not over,
the newest id of each table.  Times are passed in (the prune's ``now``), never read."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from tests.helpers.alert_payloads import opened, resolved
from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.monitor._records import (
    AlertPayload,
    AuditEntry,
    Incident,
    Member,
    Move,
    TimelineEntry,
)
from tether.monitor.engine.incidents._words import dedup_key
from tether.monitor.engine.objectives._budget import BurnRule
from tether.monitor.engine.objectives._words import objective_dedup
from tether.monitor.store import Pruned, Retention, Store

T0 = 1_700_000_000.0
DAY = 86400.0
MONTH = Retention(alerts=30 * DAY, silences=30 * DAY, incidents=30 * DAY, audit=30 * DAY)
"""Every retention of the history a month, so a test reads its own cut-off plainly."""
LATER = T0 + 400 * DAY
"""Long past every retention of :data:`MONTH` for what happened around T0."""
RULE = BurnRule("page", 14.4, 3600.0, 300.0)


def by(action: str, at: float, target: str = "") -> AuditEntry:
    return AuditEntry(at, "ana", "token", action, target, {})


def incident(store: Store, opened_at: float, *, folded_into: int | None = None) -> Incident:
    """A `local` incident of two members opened at ``opened_at``, with its opening alert
    queued (as the engine keys it) and delivered a second later, and its membership."""
    members = {m: Member(opened_at, alerted=True) for m in ("api", "web")}
    made = Incident(
        store.new_incident_id(),
        "local",
        Kind.CONNECT_REFUSED,
        "refused",
        "start it",
        opened_at,
        monitors=tuple(members),
        timeline=(TimelineEntry(opened_at, "opened", "refused"),),
        members=members,
        folded_into=folded_into,
    )
    moves = [Move(m, opened_at, "joined", "down") for m in members]
    store.commit_incident(made, [], opened_at, opened=True, moves=moves)
    store.flush()
    dedup = dedup_key(made, "ops", "incident.opened", opened_at)
    store.enqueue_alert("ops", dedup, opened(incident=made.id, at=opened_at), opened_at)
    deliver(store, dedup, opened_at + 1)
    return made


def resolve(store: Store, made: Incident, at: float) -> None:
    """Resolve ``made`` at ``at``, its members leaving, its resolution delivered."""
    entry = TimelineEntry(at, "resolved", "back")
    done = dataclasses.replace(made, resolved=at, members={})
    moves = [Move(m, at, "left", "up") for m in made.monitors]
    store.commit_incident(done, [], at, entry=entry, moves=moves)
    store.flush()
    dedup = dedup_key(made, "ops", "incident.resolved", at)
    store.enqueue_alert("ops", dedup, resolved(incident=made.id, at=at), at)
    deliver(store, dedup, at + 1)


def deliver(store: Store, dedup: str, at: float) -> None:
    """Mark the alert queued under ``dedup`` delivered at ``at``."""
    (alert,) = [a for a in store.claim_alerts("me", at, 60.0, "ops") if a.dedup == dedup]
    store.mark_delivered(alert.id, at, claimer="me")


def queue_delivered(
    store: Store, dedup: str, at: float, payload: AlertPayload | None = None
) -> None:
    store.enqueue_alert("ops", dedup, payload or opened(at=at), at)
    deliver(store, dedup, at + 1)


def dedups(store: Store) -> list[str]:
    """Every alert of the outbox's ``ops`` channel, by its text, oldest first."""
    return [payload.text for payload, _ in store.channel_alerts("ops", 0.0)]


def tagged(text: str, at: float) -> AlertPayload:
    return opened(text=text, at=at, incident=None)


def test_alerts_are_deleted_a_retention_after_their_delivery_and_never_before(target: str) -> None:
    """A delivered or suppressed alert goes once it is older than the retention; one not
    delivered (failing, or claimed by a live instance) stays whatever its age, and so does
    one delivered within the retention."""
    with open_target(target, retention=MONTH) as store:
        store.enqueue_alert("ops", "a", tagged("delivered long ago", T0), T0)
        deliver(store, "a", T0)
        store.enqueue_alert("ops", "b", tagged("suppressed long ago", T0), T0)
        (b,) = store.claim_alerts("me", T0, 60.0)
        store.mark_suppressed(b.id, "silenced by #1", T0, claimer="me")
        store.enqueue_alert("mail", "c", tagged("never delivered", T0), T0)
        (c,) = store.claim_alerts("me", T0, 60.0, "mail")
        store.mark_failed(c.id, "connect.refused", T0 + 60, claimer="me")
        store.enqueue_alert("pager", "d", tagged("claimed, in delivery", T0), T0)
        store.claim_alerts("me", LATER, 60.0, "pager")
        store.enqueue_alert("ops", "e", tagged("delivered lately", LATER - DAY), LATER - DAY)
        deliver(store, "e", LATER - DAY)

        pruned = store.prune(LATER)

        assert pruned.alerts == 2
        assert dedups(store) == ["delivered lately"]
        assert store.suppressed_alerts() == []
        assert set(store.backlog()) == {"mail", "pager"}
        assert [a.dedup for a in store.alert_heads()] == ["c", "d"]


def test_an_open_incidents_alerts_are_kept_however_old(target: str) -> None:
    """The alerts of an incident still open stay past the retention (a restarted leader
    reads them to tell only the news), with its rows; a resolved one's go with it."""
    with open_target(target, retention=MONTH) as store:
        still = incident(store, T0)
        over = incident(store, T0 + 10)
        resolve(store, over, T0 + 100)
        incident(store, LATER - DAY)  # the newest incident: kept whatever its age anyway

        pruned = store.prune(LATER)

        assert (pruned.incidents, pruned.alerts) == (1, 2)
        # Its two timeline entries and four moves (a resolved incident has no members).
        assert pruned.incident_rows == 2 + 4
        told = store.incident_tellings(T0)
        assert (still.id, "ops") in told
        assert (over.id, "ops") not in told
        assert [i.id for i in store.incidents(open_only=True)][-1] == still.id
        assert store.incident(over.id) is None
        assert store.membership([over.id]) == {}
        assert {m.monitor for m in store.membership([still.id])[still.id]} == {"api", "web"}
        assert store.down_since() == {"api": T0, "web": T0}


def test_a_burning_objectives_page_stays_until_its_resolution_is_stored(target: str) -> None:
    """An objective's firing alert is what keeps a restart from paging it again: it stays
    while no resolution of the same firing is stored, and both go once one is."""
    since = T0
    burning = objective_dedup("checkout", RULE, since, "objective.burning")
    with open_target(target, retention=MONTH) as store:
        queue_delivered(store, burning, T0, tagged("burning", T0))
        queue_delivered(store, "newest", LATER, tagged("newest", LATER))
        assert store.prune(LATER).alerts == 0
        assert dedups(store) == ["burning", "newest"]

        over = objective_dedup("checkout", RULE, since, "objective.resolved")
        queue_delivered(store, over, T0 + DAY, tagged("resolved", T0 + DAY))
        queue_delivered(store, "newer", LATER, tagged("newer", LATER))
        assert store.prune(LATER + 31 * DAY).alerts == 3  # burning, resolved, newest
        assert dedups(store) == ["newer"]


def test_silences_go_a_retention_after_they_end_and_never_while_in_force(target: str) -> None:
    """Expired or ended longer ago than the retention: deleted.  Active, pending, or
    over more recently: kept, and those in force read the same as before."""
    with open_target(target, retention=MONTH) as store:
        ended = store.add_silence(['team="a"'], T0, T0 + 60, "ended", by("silence.add", T0))
        expired = store.add_silence(['team="b"'], T0, LATER + DAY, "x", by("silence.add", T0))
        store.expire_silence(expired.id, by("silence.expire", T0 + 10))
        active = store.add_silence(['team="c"'], T0, LATER + DAY, "on", by("silence.add", T0))
        pending = store.add_silence(['team="d"'], LATER + DAY, LATER + 2 * DAY, "soon", by("x", T0))
        lately = store.add_silence(['team="e"'], T0, LATER - DAY, "lately", by("x", T0))
        in_force = store.silences_in_force(LATER)

        assert store.prune(LATER).silences == 2

        assert {s.id for s in store.silences()} == {active.id, pending.id, lately.id}
        assert store.silences_in_force(LATER) == in_force
        assert ended.id not in {s.id for s in in_force}


def test_maintenance_windows_go_with_the_incidents_retention(target: str) -> None:
    """A window closed or over longer ago than the incidents' retention is deleted; one
    in force, or over lately, stays."""
    with open_target(target, retention=MONTH) as store:
        over = store.open_window(["api"], T0, T0 + 3600, "old", by("maintenance.open", T0))
        closed = store.open_window([], T0, LATER + DAY, "shut", by("maintenance.open", T0))
        store.close_window(closed.id, by("maintenance.close", T0 + 60))
        on = store.open_window(["web"], LATER - 60, LATER + 60, "now", by("maintenance.open", T0))
        lately = store.open_window([], T0, LATER - DAY, "x", by("maintenance.open", T0))

        assert store.prune(LATER).windows == 2

        assert {w.id for w in store.windows()} == {on.id, lately.id}
        assert [w.id for w in store.controls(LATER).windows] == [on.id]
        assert over.id not in {w.id for w in store.windows()}


def test_the_audit_log_keeps_its_retention_and_its_newest_entry(target: str) -> None:
    """Entries older than the retention go; the newest stays whatever its age (SQLite
    would give its id to the next entry)."""
    with open_target(target, retention=MONTH) as store:
        for i in range(3):
            store.request_check("api", by("check", T0 + i, "monitor:api"))
        assert store.prune(LATER).audit == 2
        (kept,) = store.audit()
        assert kept.at == T0 + 2
        store.request_check("api", by("check", LATER, "monitor:api"))
        newest = store.audit()[0]
        assert (newest.id or 0) > (kept.id or 0) > 0


def test_an_incident_folded_into_an_open_one_is_kept_with_it(target: str) -> None:
    """A resolved incident folded into the `local` one stays while that one is open: its
    timeline names it."""
    with open_target(target, retention=MONTH) as store:
        local = incident(store, T0)
        folded = incident(store, T0, folded_into=local.id)
        resolve(store, folded, T0 + 1)
        incident(store, LATER)
        assert store.prune(LATER).incidents == 0
        assert store.incident(folded.id) is not None


def test_ids_are_never_handed_out_twice_after_a_prune(target: str) -> None:
    """The newest incident is kept whatever its age, so a restart counts ids on past it:
    an alert, a link or an audit entry naming an old id never meets a new incident."""
    with open_target(target, retention=MONTH) as store:
        for _ in range(3):
            resolve(store, made := incident(store, T0), T0 + 1)
        assert store.prune(LATER).incidents == 2
    with open_target(target, retention=MONTH) as store:
        assert store.new_incident_id() > made.id
        assert [i.id for i in store.incidents()] == [made.id]


def test_a_prune_deletes_in_chunks_until_nothing_old_is_left(target: str) -> None:
    """Deletes go a chunk a transaction (the writer takes other writes between them), and
    carry on until every row past its retention is gone."""
    with open_target(target, retention=MONTH) as store:
        store.prune_chunk = 10  # type: ignore[attr-defined]  # both stores have it
        for i in range(25):
            store.request_check("api", by("check", T0 + i, "monitor:api"))
            queue_delivered(store, f"alert {i}", T0 + i)
        for _ in range(3):
            resolve(store, made := incident(store, T0), T0 + 1)
        pruned = store.prune(LATER)
        assert (pruned.audit, pruned.incidents) == (24, 2)
        assert pruned.alerts == 25 + 3 * 2 - 1  # all but the newest, the last resolution
        assert [i.id for i in store.incidents()] == [made.id]


def test_what_a_restart_reads_is_the_same_after_a_prune(target: str) -> None:
    """Open incidents, their tellings, silences and windows in force, the alerts waiting
    and detector states read the same after a prune and a reopen as before: the prune
    takes nothing the lifecycle (restart, kill -9, takeover) reads back."""
    with open_target(target, retention=MONTH) as store:
        still = incident(store, T0)
        resolve(store, incident(store, T0), T0 + 1)
        store.add_silence(['team="a"'], T0, LATER + DAY, "long", by("silence.add", T0))
        store.open_window(["api"], T0, LATER + DAY, "long", by("maintenance.open", T0))
        store.enqueue_alert("mail", "waiting", tagged("waiting", T0), T0)
        store.save_state("detector@here:api", {"state": "down"})
        store.flush()
        before = restart_reads(store)
        assert store.prune(LATER).total > 0
    with open_target(target, retention=MONTH) as store:
        assert restart_reads(store) == before
        assert still.id in {i.id for i in store.incidents(open_only=True)}


def restart_reads(store: Store) -> tuple[Any, ...]:
    """What a starting runner or a new leader reads back (runtime/_runner.py,
    cluster/_membership.py, alerts/_outbox.py)."""
    opened_now = store.incidents(open_only=True, limit=100_000)
    since = min(i.opened for i in opened_now)
    still = {i.id for i in opened_now}
    # Of what was told, the engine and the Alertmanager channel use the open incidents'
    # (and the last 10 minutes', which a month's retention never reaches).
    told = store.channel_alerts("ops", since)
    return (
        opened_now,
        {key: at for key, at in store.incident_tellings(since).items() if key[0] in still},
        [(p, delivered) for p, delivered in told if p.incident in still],
        store.silences_in_force(LATER),
        store.controls(LATER),
        store.backlog(),
        store.load_state(),
        store.down_since(),
        store.acknowledgements(),
    )


def test_the_prune_says_what_it_deleted(target: str, caplog: pytest.LogCaptureFixture) -> None:
    """One log line counts what went, by kind; a prune that deletes nothing says nothing."""
    with open_target(target, retention=MONTH) as store:
        store.request_check("api", by("check", T0, "monitor:api"))
        store.request_check("api", by("check", LATER, "monitor:api"))
        with caplog.at_level(logging.INFO, logger="tether.monitor"):
            assert store.prune(LATER) == Pruned(audit=1)
            assert store.prune(LATER) == Pruned()
    lines = [r for r in caplog.records if getattr(r, "event", None) == "store.pruned"]
    assert [r.getMessage() for r in lines] == [
        "store: deleted what was past its retention: 1 audit entry"
    ]


def test_the_default_retention_keeps_a_month_of_alerts_and_a_year_of_incidents(
    target: str,
) -> None:
    """With the defaults (alerts and silences 30 days, incidents and audit 365 days), a
    year-old resolved incident and month-old alerts go, younger ones stay."""
    with open_target(target) as store:
        old = incident(store, T0)
        resolve(store, old, T0 + 1)
        young = incident(store, T0 + 200 * DAY)
        resolve(store, young, T0 + 200 * DAY + 1)
        incident(store, T0 + 366 * DAY)
        pruned = store.prune(T0 + 366 * DAY + 10)
        assert pruned.incidents == 1
        assert pruned.alerts == 4
        assert sorted(i.id for i in store.incidents()) == [young.id, young.id + 1]
