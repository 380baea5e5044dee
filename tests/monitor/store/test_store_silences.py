"""Silences in the store: made and expired with their audit entries, listed newest first,
those in force read by every instance, and the alerts they kept read back; the same on
SQLite and on a real PostgreSQL.  Times are passed in, never read."""

from __future__ import annotations

from tests.helpers.alert_payloads import opened
from tests.helpers.stores import open_target
from tether.monitor._records import AuditEntry
from tether.monitor.config.labels._labels import Matcher

T0 = 1_700_000_000.0


def by(action: str, target: str, at: float = T0, who: str = "ana") -> AuditEntry:
    return AuditEntry(at, who, "token", action, target, {})


def test_a_silence_is_kept_with_its_matchers_and_logged(target: str) -> None:
    """A silence reads back as made (its matchers parsed again, quotes and regexes kept),
    survives a reopen, and its audit entry names it."""
    with open_target(target) as store:
        made = store.add_silence(
            ['service="check\\"out"', 'tier=~"1|2"'],
            T0,
            T0 + 3600,
            "deploy",
            by("silence.add", "silence"),
        )
    assert made.matchers == (
        Matcher.of("service", "=", 'check"out'),
        Matcher.of("tier", "=~", "1|2"),
    )
    assert (made.starts, made.ends, made.comment, made.created_by) == (
        T0,
        T0 + 3600,
        "deploy",
        "ana",
    )
    assert made.state(T0 - 1) == "pending"
    assert made.state(T0) == "active"
    assert made.state(T0 + 3600) == "expired"
    with open_target(target) as store:
        (again,) = store.silences()
        assert again == made
        assert again.matchers[1].matches({"tier": "2"})
        (entry,) = store.audit()
    assert (entry.action, entry.target, entry.who) == ("silence.add", f"silence:{made.id}", "ana")


def test_expiring_ends_it_once_and_in_force_leaves_it_out(target: str) -> None:
    """Expiring a silence ends it at that moment, once (again: unchanged, not logged);
    an unknown id is None; in force are those not over, oldest first, and counted so."""
    with open_target(target) as store:
        one = store.add_silence(['team="db"'], T0, T0 + 600, "a", by("silence.add", ""))
        two = store.add_silence(['team="web"'], T0 + 60, T0 + 600, "b", by("silence.add", ""))
        gone = store.add_silence(['team="x"'], T0, T0 + 10, "c", by("silence.add", ""))
        assert [s.id for s in store.silences_in_force(T0 + 20)] == [one.id, two.id]
        assert [s.id for s in store.silences()] == [gone.id, two.id, one.id]
        done, changed = store.expire_silence(
            one.id, by("silence.expire", f"silence:{one.id}", T0 + 30, "bo")
        )
        assert changed
        assert done is not None
        assert (done.expired, done.expired_by, done.state(T0 + 30)) == (T0 + 30, "bo", "expired")
        assert done.active(T0 + 29)
        assert not done.active(T0 + 30)
        again, changed = store.expire_silence(one.id, by("silence.expire", "x", T0 + 40))
        assert not changed
        assert again == done
        over, changed = store.expire_silence(gone.id, by("silence.expire", "x", T0 + 40))
        assert not changed
        assert over is not None
        assert over.expired is None
        assert store.expire_silence(999, by("silence.expire", "x", T0 + 40)) == (None, False)
        assert [s.id for s in store.silences_in_force(T0 + 31)] == [two.id]
        assert store.count_silences_in_force(T0 + 31) == 1
        assert store.count_silences_in_force(T0 + 600) == 0
        assert [e.action for e in store.audit()] == ["silence.expire"] + ["silence.add"] * 3


def test_the_alerts_kept_are_read_back_newest_first(target: str) -> None:
    """An alert marked suppressed is read back with its channel, event, monitor, incident,
    when and why; one delivered is not among them."""
    with open_target(target) as store:
        store.enqueue_alert("ops", "a", opened(), T0)
        store.enqueue_alert("pager", "b", opened(monitor="web", incident=None), T0)
        store.enqueue_alert("mail", "c", opened(), T0)
        heads = {a.channel: a.id for a in store.alert_heads()}
        store.mark_suppressed(heads["ops"], "silenced by #1 (deploy, by ana)", T0 + 5)
        store.mark_suppressed(heads["pager"], "silenced by #2 (db, by bo)", T0 + 6)
        store.mark_delivered(heads["mail"], T0 + 7)
        kept = store.suppressed_alerts()
    assert [(k.channel, k.event, k.monitor, k.incident, k.at, k.why) for k in kept] == [
        ("pager", "incident.opened", "web", None, T0 + 6, "silenced by #2 (db, by bo)"),
        ("ops", "incident.opened", "api", 7, T0 + 5, "silenced by #1 (deploy, by ana)"),
    ]
