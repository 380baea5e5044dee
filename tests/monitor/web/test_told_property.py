"""One story per event, held as a property (issue 73, "What it must do"; STYLE.md, "One
story per event"): for any sequence of monitors going down and coming back (at the
runner's location, at an agent's, or both: an outage whose scope changes), updates by
the team, maintenance windows opened and time passing, on a real running monitor
(tests/helpers/telling.py), after every step each piece of news is told once to the
subscriber and in the feed, what the subscriber and the feed were told agrees with the
page's document at the moment it was told, the feed and the subscriber say the same, and
no feed entry is ever rewritten."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.telling import SITE, TWO_LOCATIONS, Told, told
from tether.lab import Lab
from tether.monitor.engine._status_news import update_subject
from tether.monitor.web.status._statuspage import Sight, build_page

MONITORS = ("checkout", "cart")
STATES = ("investigating", "identified", "monitoring", "resolved")


steps = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["down", "up", "maintenance", "branch down", "branch up"]),
            st.sampled_from(MONITORS),
        ),
        st.tuples(st.just("update"), st.sampled_from(STATES)),
        st.tuples(st.just("wait"), st.sampled_from(["10", "40", "200"])),
    ),
    min_size=1,
    max_size=8,
)


async def _sight(t: Told) -> Sight:
    return Sight.of(t.runner)


def _do(t: Told, step: tuple[str, str]) -> None:
    what, arg = step
    t.now += 5
    if what == "down":
        t.down.add(arg)
        t.checks()
    elif what == "up":
        t.down.discard(arg)
        t.checks()
    elif what.startswith("branch"):  # what branch-1's agent finds, as the intake takes it
        found = t.down_at.setdefault("branch-1", set())
        (found.add if what == "branch down" else found.discard)(arg)
        t.agent()
    elif what == "maintenance":
        body = {"monitors": [arg], "for": "3m", "reason": "planned"}
        assert t.post("/api/maintenance", body)[0] == 201
        t.checks()
    elif what == "update":
        incidents = t.json("/api/incidents")["incidents"]
        if incidents:
            update = {"state": arg, "text": f"The team says {arg}."}
            path = f"/api/incidents/{incidents[0]['id']}/updates"
            assert t.post(path, update)[0] == 201
        t.tell()
    else:
        t.now += float(arg)
        t.checks()


def _agrees(news: dict[str, Any], doc: Any) -> None:
    """A piece of news told now says what the page's document says now."""
    if news["event"].startswith("maintenance."):
        (m,) = [m for m in doc["maintenance"] if news["key"].startswith(f"maintenance:{m['key']}:")]
        assert news["text"].startswith(f"{m['text']}, from ")
        return
    (incident,) = [i for i in doc["incidents"] if i["id"] == news["incident"]]
    if ":again:" in news["key"]:  # down for the quorum again, in the same incident
        assert news["subject"] == update_subject("investigating", incident["text"])
        assert news["text"] == f"Down again: {incident['text']}"
        assert incident["open"] is True
        assert len(incident["outages"]) > int(news["key"].rpartition(":")[2])
    elif news["event"] == "incident.update":
        (update,) = [u for u in incident["updates"] if news["key"].endswith(f":{u['id']}")]
        assert news["subject"] == update_subject(update["state"], incident["text"])
        assert news["text"] == update["text"]
    else:
        assert news["text"] == incident["text"]
        assert incident["open"] is (news["event"] == "incident.opened")


@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps)
def test_every_surface_tells_each_event_once_as_the_page_says_it(
    lab: Lab, sequence: list[tuple[str, str]]
) -> None:
    """After each step: no key told twice to the subscriber or in the feed; each piece
    told in the step agrees with the page's document then; the feed's entries are the
    subscriber's news word for word; no feed entry rewritten."""
    with tempfile.TemporaryDirectory() as tmp:
        for t in told(Path(tmp), lab, **TWO_LOCATIONS):
            t.subscribe()
            t.checks()
            t.agent()
            seen: set[str] = set()
            for step in sequence:
                _do(t, step)
                page = t.runner.config.status_page("public")
                assert page is not None
                doc = build_page(t.call(_sight(t)), page)
                news = t.news()
                keys = [n["key"] for n in news]
                assert len(keys) == len(set(keys)), keys
                for n in news:
                    if n["key"] not in seen:
                        _agrees(n, doc)
                seen = set(keys)
                entries = t.read_feed()
                assert len({e.id for e in entries}) == len(entries)
                by_key = {n["key"]: n for n in news}
                for e in entries:
                    key = unquote(e.id.removeprefix(f"{SITE}/status/public#"))
                    assert (e.title, e.text) == (by_key[key]["subject"], by_key[key]["text"])
                assert t.rewritten == []
