"""The write API's part of the store: pauses, checks asked for, maintenance windows, notes
and the audit log, the same on SQLite and on a real PostgreSQL (``[sqlite]``,
``[postgres]``: see tests/monitor/store/test_store.py).  Times are passed in, never read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.helpers.stores import open_target
from tether._kinds import Kind
from tether.monitor._records import AuditEntry, Controls, Incident, OpenedWindow, TimelineEntry
from tether.monitor.store import SQLiteStore
from tether.monitor.store.sqlite._store import MIGRATIONS, migrate

T0 = 1_700_000_000.0


def by(action: str, target: str, at: float = T0, **params: object) -> AuditEntry:
    return AuditEntry(at, "alice", "session", action, target, params)


def test_pausing_is_kept_once_and_logged_once(target: str) -> None:
    """A pause is kept with when and by whom, read back by every reopen; pausing a paused
    monitor changes nothing and logs nothing; resuming clears it and is logged."""
    with open_target(target) as store:
        assert store.set_paused("api", True, by("pause", "monitor:api"))
        assert not store.set_paused("api", True, by("pause", "monitor:api", T0 + 1))
    with open_target(target) as store:
        assert store.controls(T0).paused == {"api": (T0, "alice")}
        assert store.set_paused("api", False, by("resume", "monitor:api", T0 + 2))
        assert not store.set_paused("api", False, by("resume", "monitor:api", T0 + 3))
        assert store.controls(T0).paused == {}
        log = store.audit()
    assert [(e.action, e.at, e.who, e.via) for e in log] == [
        ("resume", T0 + 2, "alice", "session"),
        ("pause", T0, "alice", "session"),
    ]
    assert (log[0].id or 0) > (log[1].id or 0) > 0


def test_a_check_asked_for_is_read_with_its_time(target: str) -> None:
    """A check asked for is read back with when it was asked, the latest one winning, and
    a paused monitor's check is kept beside its pause."""
    with open_target(target) as store:
        store.request_check("api", by("check", "monitor:api"))
        store.request_check("api", by("check", "monitor:api", T0 + 5))
        store.set_paused("web", True, by("pause", "monitor:web"))
        store.request_check("web", by("check", "monitor:web", T0 + 6))
        controls = store.controls(T0)
        assert [e.action for e in store.audit()] == ["check", "pause", "check", "check"]
    assert controls.checks == {"api": T0 + 5, "web": T0 + 6}
    assert controls.paused == {"web": (T0, "alice")}


def test_windows_open_close_and_run_out(target: str) -> None:
    """An opened window is among the controls until it ends or is closed; closing it twice
    changes it once; an unknown id is None; the log names each window by its id."""
    with open_target(target) as store:
        some = store.open_window(("api", "web"), T0, T0 + 600, "deploy", by("maintenance.open", ""))
        every = store.open_window((), T0, T0 + 60, "switch", by("maintenance.open", ""))
        assert store.controls(T0 + 30).windows == (some, every)
        assert store.controls(T0 + 60).windows == (some,)  # every ran out
        closed, changed = store.close_window(some.id, by("maintenance.close", "x", T0 + 90))
        again, changed_again = store.close_window(some.id, by("maintenance.close", "x", T0 + 95))
        over, changed_over = store.close_window(every.id, by("maintenance.close", "x", T0 + 99))
        assert store.close_window(some.id + every.id + 10, by("x", "y")) == (None, False)
        assert store.controls(T0 + 90).windows == ()
        listed = store.windows()
        log = [(e.action, e.target) for e in store.audit()]
    assert some == OpenedWindow(some.id, ("api", "web"), T0, T0 + 600, "deploy", "alice")
    assert every.monitors == ()
    assert every.id != some.id
    assert (changed, changed_again, changed_over) == (True, False, False)
    assert closed is not None
    assert closed == again
    assert (closed.closed, closed.closed_by) == (T0 + 90, "alice")
    assert over == every  # over already: left as it was
    assert [w.id for w in listed] == [every.id, some.id]
    assert log == [
        ("maintenance.close", "x"),
        ("maintenance.open", f"maintenance:{every.id}"),
        ("maintenance.open", f"maintenance:{some.id}"),
    ]


def test_notes_and_acknowledgements_reach_the_timeline_and_the_log(target: str) -> None:
    """A note is added to an incident's timeline (open or resolved) and logged with its
    parameters; an acknowledgement with an audit entry logs it; an unknown incident is
    False and logs nothing."""
    with open_target(target) as store:
        opened = TimelineEntry(T0, "opened", "refused")
        incident = Incident(
            store.new_incident_id(),
            "api",
            Kind.CONNECT_REFUSED,
            "refused",
            "start it",
            T0,
            monitors=("api",),
            timeline=(opened,),
        )
        store.open_incident(incident)
        note = TimelineEntry(T0 + 5, "note", "alice: restarting the pool")
        noted = by("note", f"incident:{incident.id}", T0 + 5, text="restarting the pool")
        assert store.add_note(incident.id, note, noted)
        ack = TimelineEntry(T0 + 6, "acknowledged", "by alice")
        assert store.acknowledge_incident(
            incident.id, ack, audit=by("acknowledge", f"incident:{incident.id}", T0 + 6)
        )
        assert not store.add_note(incident.id + 100, note, by("note", "incident:none"))
        read = store.incident(incident.id)
        log = store.audit(limit=10)
    assert read is not None
    assert read.timeline == (opened, note, ack)
    assert [(e.action, dict(e.params)) for e in log] == [
        ("acknowledge", {}),
        ("note", {"text": "restarting the pool"}),
    ]


def test_changes_to_monitors_are_said_on_the_timelines_of_their_open_incidents(
    target: str,
) -> None:
    """A pause, a resume and a check now land on the timeline of each open incident of
    their monitor, naming who; a window for some monitors on those that hold one of them,
    a window for all on every open incident, and its close too; nothing reaches a
    resolved incident or one of other monitors."""

    def incident(monitors: tuple[str, ...], resolved: float | None = None) -> Incident:
        made = Incident(
            store.new_incident_id(),
            f"k:{monitors}",
            Kind.CONNECT_REFUSED,
            "refused",
            "start it",
            T0,
            monitors=monitors,
            timeline=(TimelineEntry(T0, "opened", "refused"),),
        )
        store.open_incident(made)
        if resolved is not None:
            store.note_incident(
                made.id, TimelineEntry(resolved, "resolved", "up"), resolved=resolved
            )
            store.flush()
        return made

    with open_target(target) as store:
        api, both, other = incident(("api",)), incident(("api", "web")), incident(("db",))
        old = incident(("api",), resolved=T0 + 1)
        store.set_paused("web", True, by("pause", "monitor:web", T0 + 2, reason="deploy"))
        store.set_paused("web", False, by("resume", "monitor:web", T0 + 3))
        store.request_check("api", by("check", "monitor:api", T0 + 4))
        some = store.open_window(
            ("web",), T0 + 5, T0 + 605, "deploy", by("maintenance.open", "", T0 + 5, end="E")
        )
        every = store.open_window(
            (), T0 + 6, T0 + 66, "switch", by("maintenance.open", "", T0 + 6, end="F")
        )
        store.close_window(some.id, by("maintenance.close", f"maintenance:{some.id}", T0 + 7))
        read = {i.id: store.incident(i.id) for i in (api, both, other, old)}

    def said(made: Incident) -> list[tuple[float, str, str]]:
        found = read[made.id]
        assert found is not None
        return [(e.at, e.event, e.detail) for e in found.timeline[1:]]

    held_all = (
        T0 + 6,
        "maintenance",
        f"maintenance window #{every.id} opened by alice until F, alerts held",
    )
    assert said(api) == [(T0 + 4, "check", "a check of api now, asked by alice"), held_all]
    assert said(both) == [
        (T0 + 2, "pause", "web paused by alice: deploy"),
        (T0 + 3, "resume", "web resumed by alice"),
        (T0 + 4, "check", "a check of api now, asked by alice"),
        (
            T0 + 5,
            "maintenance",
            f"maintenance window #{some.id} opened by alice until E, alerts held",
        ),
        held_all,
        (T0 + 7, "maintenance", f"maintenance window #{some.id} closed by alice"),
    ]
    assert said(other) == [held_all]
    assert said(old) == [(T0 + 1, "resolved", "up")]


def test_the_audit_log_reads_the_newest_first_up_to_the_limit(target: str) -> None:
    """``audit(limit=N)`` gives the N newest entries, newest first, params as given."""
    with open_target(target) as store:
        for i in range(5):
            store.request_check(f"m{i}", by("check", f"monitor:m{i}", T0 + i, n=i))
        log = store.audit(limit=3)
    assert [(e.target, e.params) for e in log] == [
        ("monitor:m4", {"n": 4}),
        ("monitor:m3", {"n": 3}),
        ("monitor:m2", {"n": 2}),
    ]


def test_sqlite_schema_4_comes_on_top_of_a_version_3_file(tmp_path: Path) -> None:
    """A file at schema 3 (before the write API) is migrated to 4 with its rows kept, and
    the new tables start empty."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:3], start=1):
        for statement in (s.strip() for s in script.split(";")):
            if statement:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute("INSERT INTO monitor_state (monitor, data) VALUES ('detector:a', '{}')")
    assert migrate(conn) == len(MIGRATIONS)
    conn.close()
    with SQLiteStore(path) as store:
        assert store.load_state() == {"detector:a": {}}
        assert store.controls(T0) == Controls()
        assert store.audit() == []
