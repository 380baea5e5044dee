"""The feed never rewrites history (issue 73, item 4), end to end on loopback
(tests/helpers/telling.py): each Atom entry says what was told when it was told, for good;
a change is a new entry, with its own id and ``<updated>``.  Before, the feed was made
again from the page's words of the moment, so the "opened" entry came to read "Checkout
was unreachable for 2 minutes", keeping its id and ``<updated>``: a feed reader never
saw the change, and the record of what was said was gone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.telling import Told, told
from tether.lab import Lab


@pytest.fixture
def t(tmp_path: Path, lab: Lab) -> Iterator[Told]:
    yield from told(tmp_path, lab)


def test_an_entry_once_published_keeps_its_words(t: Told) -> None:
    """An outage opened, an update, the monitors back: three entries, each as it was
    first published (the opening still in the present tense), each with its own id and
    moment; the subscriber was told the same words."""
    t.subscribe()
    t.checks()
    t.now += 30
    t.down.add("checkout")
    t.checks()
    (opened,) = t.read_feed()
    assert opened.title.startswith("Incident: Checkout is unreachable")
    number = t.page()["incidents"][0]["id"]
    t.now += 30
    t.post(f"/api/incidents/{number}/updates", {"state": "investigating", "text": "Looking."})
    t.checks()
    t.now += 90
    t.down.clear()
    t.checks()
    t.now += 60
    t.checks()
    entries = t.read_feed()
    assert t.rewritten == []
    assert [e.title.split(":")[0] for e in entries] == ["Resolved", "Investigating", "Incident"]
    assert entries[-1] == opened  # word for word, same id, same moment
    assert entries[1].title.startswith("Investigating: Checkout is unreachable")
    assert entries[0].title.startswith("Resolved: Checkout was unreachable for ")
    assert len({e.id for e in entries}) == len({e.updated for e in entries}) == 3
    said = [(n["subject"], n["text"]) for n in t.news()]
    assert said == [(e.title, e.text) for e in reversed(entries)]
