"""A list of incidents reads what it shows: at most 50 monitors of each (the first by
name) and its first and newest timeline entries, with how many it has of each, counted
in SQL; on SQLite and PostgreSQL (issue 23).

Before, ``/api/status`` read every open incident whole, decoding each member's record:
an open incident of 20,000 members cost 0.15 s of CPU a request, polled once a second.
The work is counted here, not timed: the rows the database hands back to the read (the
row each incident comes as, seen by wrapping the function that decodes it: a spy, the
database itself is real), the records decoded, and on SQLite the statements the read
connection runs (its trace callback).  What a list shows is compared with what
:func:`~tether.monitor.web.documents._dashboard.incident_brief` shows of the same incident
read whole.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from tests.helpers.incident_rows import T0, big, fields_of, joined
from tests.helpers.stores import open_target
from tether.monitor._records import Incident, Member, TimelineEntry
from tether.monitor.store import Store
from tether.monitor.store._base import Listed
from tether.monitor.store.postgres import _store as pg
from tether.monitor.store.sqlite import _store as sqlite_store
from tether.monitor.web.documents._dashboard import (
    SHOWN,
    incident_brief,
    listed_brief,
    opened_since,
)

NOW = T0 + 3600


@contextmanager
def fetched(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Sequence[Any]]]:
    """The rows the database returns to list reads, as each backend hands them over."""
    rows: list[Sequence[Any]] = []
    for module in (sqlite_store, pg):
        real: Callable[..., Listed] = module.listed_record

        def spy(row: Sequence[Any], decode: Any, real: Callable[..., Listed] = real) -> Listed:
            rows.append(row)
            return real(row, decode)

        monkeypatch.setattr(module, "listed_record", spy)
    yield rows
    monkeypatch.undo()


@contextmanager
def decoded(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """How many members' records and timeline entries are decoded meanwhile."""
    counts = {"members": 0, "entries": 0}
    member, entry = Member.from_json, TimelineEntry.from_json

    def count_member(data: Any, opened: float) -> Member:
        counts["members"] += 1
        return member(data, opened)

    def count_entry(data: Any) -> TimelineEntry:
        counts["entries"] += 1
        return entry(data)

    monkeypatch.setattr(Member, "from_json", staticmethod(count_member))
    monkeypatch.setattr(TimelineEntry, "from_json", staticmethod(count_entry))
    yield counts
    monkeypatch.undo()


def grow(store: Store, incident: Incident, entries: int) -> None:
    """``entries`` timeline entries appended to ``incident`` (no member changed)."""
    for n in range(entries):
        entry = TimelineEntry(T0 + 1 + n, "note", f"entry {n}")
        store.commit_incident(incident, [], T0 + 1 + n, entry=entry, touched=())
    store.flush()


def test_a_list_reads_50_of_5000_members_and_100_entries_of_its_timeline(
    target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An open incident of 5,000 members and 301 timeline entries comes to a list as 50
    names and 100 entries, with the counts 5,000 and 301: the row the database returns
    holds no more, no member's record is decoded, and the document is the one the whole
    incident makes.  The whole read (``incident``) still has every member."""
    with open_target(target) as store:
        made = big(store, 5000)
        grow(store, made, 300)
        with fetched(monkeypatch) as rows, decoded(monkeypatch) as counts:
            listed = store.incident_list(open_only=True, limit=1000, shown=SHOWN)
        assert len(listed) == len(rows) == 1
        (row,) = rows
        assert len(json.dumps(row, default=str)) < 20_000
        assert counts == {"members": 0, "entries": 100}
        (one,) = listed
        assert (len(one.incident.monitors), one.monitors_count) == (50, 5000)
        assert (len(one.incident.timeline), one.timeline_count) == (100, 301)
        whole = store.incident(made.id)
        assert whole is not None
        assert len(whole.members) == 5000
        assert listed_brief(one, NOW) == incident_brief(whole, NOW)
        assert len(store.incidents(open_only=True, limit=100_000)[0].members) == 5000


def test_sqlite_list_reads_stop_at_their_caps(tmp_path: Any) -> None:
    """On SQLite the list read is one statement, whose member and timeline reads are
    each cut by a LIMIT, and its member read never names the member's record."""
    path = str(tmp_path / "t.db")
    with open_target(path) as store:
        big(store, 200)
        conn: sqlite3.Connection = store._read()  # type: ignore[attr-defined]
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        store.incident_list(open_only=True, shown=SHOWN)
        conn.set_trace_callback(None)
    (statement,) = statements
    assert "member)" not in statement
    assert "member," not in statement
    assert statement.count("LIMIT") >= 5  # members (twice), the timeline's two ends, all


def test_lists_show_what_whole_incidents_show(target: str) -> None:
    """Open and resolved incidents, small and past the caps, a monitor's own: each list
    read makes the documents the whole incidents made, in the same order, and
    ``down_since`` is what :func:`opened_since` makes of them whole."""
    with open_target(target) as store:
        first = big(store, 120)
        grow(store, first, 120)
        small = big(store, 3)
        gone = big(store, 80)
        done = Incident(
            **{
                **fields_of(gone),
                "members": {},
                "resolved": T0 + 9,
                "monitors": tuple(f"z{i:03d}" for i in range(79, -1, -1)),
            }
        )
        store.commit_incident(done, [], T0 + 9, entry=TimelineEntry(T0 + 9, "resolved", "up"))
        store.flush()

        def whole(open_only: bool, monitor: str | None = None) -> list[dict[str, Any]]:
            found = store.incidents(open_only=open_only, limit=1000)
            if monitor is not None:
                found = [i for i in found if monitor in i.monitors]
            return [incident_brief(i, NOW) for i in found]

        def listed(open_only: bool, monitor: str | None = None) -> list[dict[str, Any]]:
            found = store.incident_list(
                open_only=open_only, limit=1000, monitor=monitor, shown=SHOWN
            )
            return [listed_brief(i, NOW) for i in found]

        for open_only in (True, False):
            assert listed(open_only) == whole(open_only)
        for monitor in ("m00000", "m00100", "z050", "nobody"):
            assert listed(False, monitor) == whole(False, monitor)
        # ``gone`` opened with m00000-m00079 and was resolved naming z000-z079: its
        # monitors are both, since its membership history holds the first.
        assert [d["id"] for d in listed(False, "m00001")] == [gone.id, small.id, first.id]
        assert [d["id"] for d in listed(False, "z000")] == [gone.id]
        assert store.incident_list(limit=1, shown=SHOWN)[0].incident.id == gone.id
        assert store.down_since() == opened_since(store.incidents(open_only=True))
        assert store.down_since()["m00001"] == T0
        assert "z000" not in store.down_since()


def test_down_since_is_each_members_own_start(target: str) -> None:
    """A monitor that joined an open incident a minute after it opened is down since it
    joined, not since the incident opened (issue 24: a page dated www's outage from
    old-api's start)."""
    with open_target(target) as store:
        made = big(store, 1)
        later, entry = joined(made, "www", T0 + 60)
        store.commit_incident(later, [], T0 + 60, entry=entry, touched=("www",))
        store.flush()
        assert store.down_since() == {"m00000": T0, "www": T0 + 60}
        assert store.down_since() == opened_since(store.incidents(open_only=True))


def test_a_status_page_reads_its_own_monitors_of_an_incident(target: str) -> None:
    """With ``among`` (a status page's monitors), each incident names every one of them
    it has, whatever the cap, and no other; ``current`` says whether they are down in
    it now (an open incident with its members), as the whole incident's members say."""
    with open_target(target) as store:
        first = big(store, 5000)
        gone = big(store, 2)
        done = Incident(
            **{**fields_of(gone), "members": {}, "resolved": T0 + 9, "monitors": ("m00001", "x")}
        )
        store.commit_incident(done, [], T0 + 9, entry=TimelineEntry(T0 + 9, "resolved", "up"))
        store.flush()
        among = {"m04999", "m00001", "m00777", "elsewhere"}
        listed = store.incident_list(limit=10, shown=(len(among), 1), among=among)
        got = {i.incident.id: (i.incident.monitors, i.monitors_count, i.current) for i in listed}
        assert got == {
            first.id: (("m00001", "m00777", "m04999"), 5000, True),
            gone.id: (("m00001",), 3, False),  # m00000 and m00001 joined it; x named at the end
        }
        for one in listed:
            whole = store.incident(one.incident.id)
            assert whole is not None
            assert one.current == all(m in whole.members for m in one.incident.monitors)
