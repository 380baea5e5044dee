"""One "Resolved" message per incident (issue 73, item 5), end to end on loopback
(tests/helpers/telling.py).  The story: an incident is resolved when the page's monitors
are back, and that is told once, "Resolved: Checkout was unreachable for 2 minutes.".  A
team's ``resolved`` update is the team's word on it, told as an update of its own,
"Update (resolved): ...", whether it comes before the monitors are back or after.
Before, both were "Resolved: ..." with the same subject."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.telling import Told, told
from tether.lab import Lab


@pytest.fixture
def t(tmp_path: Path, lab: Lab) -> Iterator[Told]:
    yield from told(tmp_path, lab)


def _outage(t: Told) -> int:
    t.subscribe()
    t.checks()
    t.now += 30
    t.down.add("checkout")
    t.checks()
    return int(t.page()["incidents"][0]["id"])


@pytest.mark.parametrize("team_first", [False, True], ids=["monitors first", "team first"])
def test_one_resolved_message_whoever_says_it_first(t: Told, team_first: bool) -> None:
    """The monitors come back and the team posts ``resolved``, in either order: the
    subscriber and the feed get one "Resolved: ..." (the monitors'), and the team's words
    as an update with a subject of their own."""
    number = _outage(t)

    def team() -> None:
        t.now += 20
        status, _ = t.post(
            f"/api/incidents/{number}/updates", {"state": "resolved", "text": "Fixed for good."}
        )
        assert status == 201
        t.tell()

    def monitors() -> None:
        t.now += 60
        t.down.clear()
        t.checks()

    for step in (team, monitors) if team_first else (monitors, team):
        step()
    subjects = [n["subject"] for n in t.news()]
    resolved = [s for s in subjects if s.startswith("Resolved")]
    assert len(resolved) == 1, subjects
    assert resolved[0].startswith("Resolved: Checkout was unreachable for ")
    (update,) = [n for n in t.news() if n["event"] == "incident.update"]
    assert update["subject"].startswith("Update (resolved): Checkout ")
    assert (update["state"], update["text"]) == ("resolved", "Fixed for good.")
    titles = [e.title for e in t.read_feed()]
    assert sum(title.startswith("Resolved") for title in titles) == 1, titles
    assert len(set(subjects)) == len(subjects)
