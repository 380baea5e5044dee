"""Status page subscribers, their news, their outbox and incident updates in the store
(issue 48), the same on SQLite and on a real PostgreSQL (``[sqlite]``, ``[postgres]``: see
tests/monitor/store/test_store.py).  Times are passed in, never read."""

from __future__ import annotations

from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.monitor._records import AuditEntry, Incident, TimelineEntry
from tether.monitor.store._subscribers import IncidentUpdate, Subscriber

T0 = 1_700_000_000.0
CONFIRM = {"event": "subscription.confirm", "page": "public", "title": "Shop"}


def _new(address: str, token: str, kind: str = "email") -> Subscriber:
    return Subscriber(0, "public", kind, address, token, None, T0, None)


def test_news_reaches_confirmed_subscribers_once_and_outlives_a_reopen(target: str) -> None:
    """An unconfirmed subscriber is queued its confirmation alone; news told is queued once
    per subscriber confirmed by its time, and telling it again queues nothing, after a
    reopen too; a claim holds a delivery from another owner until it runs out."""
    with open_target(target) as store:
        ann = store.subscribe(_new("ann@lab.test", "a" * 43), CONFIRM, T0)
        bob = store.subscribe(_new("bob@lab.test", "b" * 43), CONFIRM, T0)
        again = store.subscribe(_new("ann@lab.test", "c" * 43), CONFIRM, T0 + 1)
        assert again.id == ann.id
        assert again.token == "a" * 43
        claimed = store.claim_deliveries("one", T0 + 2, 60)
        assert sorted(d.subscriber.address for d in claimed) == [
            "ann@lab.test",
            "ann@lab.test",
            "bob@lab.test",
        ]
        assert store.claim_deliveries("two", T0 + 3, 60) == []
        for d in claimed:
            store.delivered(d.id, T0 + 3)
        assert store.confirm_subscriber("a" * 43, T0 + 10) is not None
        assert store.tell("public", "incident:1:opened", T0 + 5, {"x": 1}, T0 + 20) == 0
        assert store.tell("public", "incident:1:update:1", T0 + 20, {"x": 2}, T0 + 20) == 1
        assert store.tell("public", "incident:1:update:1", T0 + 20, {"x": 2}, T0 + 21) == 0
    with open_target(target) as store:
        assert store.news_told("public") == {"incident:1:opened", "incident:1:update:1"}
        assert store.tell("public", "incident:1:update:1", T0 + 20, {"x": 2}, T0 + 30) == 0
        (due,) = store.claim_deliveries("two", T0 + 30, 60)
        assert (due.key, due.body, due.subscriber.address) == (
            "incident:1:update:1",
            {"x": 2},
            "ann@lab.test",
        )
        store.delivery_failed(due.id, "refused", T0 + 100)
        assert store.claim_deliveries("two", T0 + 50, 60) == []
        (retried,) = store.claim_deliveries("two", T0 + 100, 60)
        assert retried.attempts == 1
        assert store.unsubscribe("a" * 43) is not None
        assert store.pending_deliveries() == 0
        assert [s.address for s in store.subscribers()] == ["bob@lab.test"]
        assert bob.confirmed is None


def test_an_address_never_confirmed_is_forgotten(target: str) -> None:
    """An address that asked before the cut and never confirmed is deleted with its
    unsent confirmation; one confirmed, or one that asked after the cut, stays."""
    with open_target(target) as store:
        store.subscribe(_new("old@lab.test", "e" * 43), CONFIRM, T0)
        store.subscribe(_new("kept@lab.test", "f" * 43), CONFIRM, T0)
        assert store.confirm_subscriber("f" * 43, T0 + 5) is not None
        late = Subscriber(0, "public", "email", "new@lab.test", "g" * 43, None, T0 + 100, None)
        store.subscribe(late, CONFIRM, T0 + 100)
        assert store.forget_unconfirmed(T0 + 50) == 1
        assert store.forget_unconfirmed(T0 + 50) == 0
        assert sorted(s.address for s in store.subscribers()) == [
            "kept@lab.test",
            "new@lab.test",
        ]
        pending = store.claim_deliveries("one", T0 + 200, 60)
        assert "old@lab.test" not in {d.subscriber.address for d in pending}


def test_an_export_imports_once(target: str) -> None:
    """Subscribers imported are added once; an address a page has is left as it is."""
    with open_target(target) as store:
        carol = _new("carol@lab.test", "d" * 43)
        added = store.import_subscribers([carol, carol])
        assert added == 1
        assert store.import_subscribers([carol]) == 0
        (found,) = store.subscribers("public")
        assert (found.address, found.token) == ("carol@lab.test", "d" * 43)
        assert store.subscribers("other") == []


def test_an_update_is_stored_with_its_audit_entry_and_timeline_line(target: str) -> None:
    """An update is stored with its incident's timeline line and its audit entry in one
    transaction; one of no incident is None and logs nothing."""
    with open_target(target) as store:
        incident = Incident(
            store.new_incident_id(),
            "api",
            Kind.CONNECT_REFUSED,
            "refused",
            "start it",
            T0,
            monitors=("api",),
            timeline=(TimelineEntry(T0, "opened", "refused"),),
        )
        store.open_incident(incident)
        audit = AuditEntry(T0 + 5, "alice", "token", "incident.update", f"incident:{incident.id}")
        update = IncidentUpdate(0, incident.id, T0 + 5, "identified", "A bad deploy.", "alice")
        stored = store.add_incident_update(update, audit)
        assert stored is not None
        assert stored.id > 0
        missing = IncidentUpdate(0, incident.id + 100, T0 + 6, "identified", "x", "alice")
        assert store.add_incident_update(missing, audit) is None
        assert store.incident_updates([incident.id]) == {incident.id: [stored]}
        assert [e.action for e in store.audit()] == ["incident.update"]
        read = store.incident(incident.id)
        assert read is not None
        assert read.timeline[-1].detail == "alice: Identified: A bad deploy."


def test_what_was_told_reads_back_as_it_was_told_newest_first(target: str) -> None:
    """Issue 73, item 4: the news told keeps its words (the feed reads them back), the
    first telling's words whatever a later telling of the same key brings, newest first,
    after a reopen too."""
    with open_target(target) as store:
        store.tell("public", "incident:1:opened", T0, {"text": "is down"}, T0)
        store.tell("public", "incident:1:resolved", T0 + 60, {"text": "was down"}, T0 + 60)
        store.tell("public", "incident:1:opened", T0, {"text": "was down"}, T0 + 61)
        store.tell("other", "incident:2:opened", T0 + 5, {"text": "elsewhere"}, T0 + 5)
    with open_target(target) as store:
        assert store.news("public", 50) == [{"text": "was down"}, {"text": "is down"}]
        assert store.news("public", 1) == [{"text": "was down"}]


def test_a_claim_skips_what_is_under_way_and_unconfirmed_are_counted(target: str) -> None:
    """``claim_deliveries(skip=...)`` leaves out the deliveries its owner is sending (its
    own claims would be handed back otherwise, and a batch of hanging ones claimed again
    and again); ``unconfirmed`` counts a page's subscribers not confirmed (issue 72)."""
    with open_target(target) as store:
        for n in range(4):
            store.subscribe(_new(f"s{n}@lab.test", f"{n}" * 43), CONFIRM, T0)
        first = store.claim_deliveries("one", T0 + 1, 60, limit=2)
        assert len(first) == 2
        again = store.claim_deliveries("one", T0 + 1, 60, limit=2, skip=[d.id for d in first])
        assert len(again) == 2
        assert not {d.id for d in first} & {d.id for d in again}
        assert store.unconfirmed("public") == 4
        store.confirm_subscriber("0" * 43, T0 + 2)
        assert store.unconfirmed("public") == 3
        assert store.unconfirmed("another") == 0
