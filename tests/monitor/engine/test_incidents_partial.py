"""Partial incidents, and full incidents of monitors probed from several locations: the
quorum aggregator feeding the incident engine, both pure, on a virtual clock.  One
location cut: a partial incident and no down alert; all cut: down, one alert."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers.partial_world import DETAIL, HOSTS, LOCS, T0, TIMEOUT, World, alerts, kinds
from tether._kinds import Kind
from tether.monitor._records import Incident, LocationFact, LocationState, Member, ProbeRecord
from tether.monitor._state import State
from tether.monitor.alerts import body, subject
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine._quorum import Placement, Quorum
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import (
    Event,
    Held,
    IncidentEscalation,
    IncidentRoute,
    Noted,
    Opened,
    Released,
    Widened,
)

# --- the partial incident -------------------------------------------------------------------


def test_one_location_cut_opens_a_partial_incident_and_pages_nobody() -> None:
    """1 of 3 locations fails: a partial incident keyed partial:api, with the seeds'
    network partition named, and no alert (partial_alerts is off by default)."""
    w = World()
    events = w.cut("eu-west")
    assert kinds(events) == ["Opened"]
    incident = events[0].incident
    assert incident.key == "partial:api"
    assert incident.is_partial
    assert incident.detail == (
        "api unreachable from eu-west (connect.timeout), up from us-east and local"
    )
    assert incident.kind is TIMEOUT
    assert incident.timeline[0].event == "opened"
    assert alerts(events) == []
    assert w.e.incident_of("api") is None  # not down: no full incident
    assert w.e.partial_of("api") == incident
    assert incident.locations("api")["eu-west"] == LocationFact(State.DOWN, TIMEOUT, DETAIL, w.now)


def test_with_partial_alerts_the_partial_incident_pages_and_says_so() -> None:
    """partial_alerts: true sends incident.partial to the monitor's channels, in the
    existing subject style, with each location in the body and the webhook's JSON."""
    w = World(partial_alerts=True, channels=("ops", "chat"))
    events = w.cut("eu-west")
    assert alerts(events) == [("incident.partial", "ops"), ("incident.partial", "chat")]
    payload = events[0].alerts[0].payload
    assert (
        subject(payload) == "[tether] PARTIAL api: unreachable from eu-west (connection timed out)"
    )
    assert payload.text == (
        "api unreachable from eu-west (connect.timeout), up from us-east and local (incident #1)"
    )
    text = body(payload)
    assert "Locations:\n  eu-west: down (connect.timeout): 203.0.113.7:443" in text
    assert "  us-east: up\n  local: up\n" in text
    assert payload.to_json()["locations"]["eu-west"]["kind"] == "connect.timeout"


def test_the_partial_incident_follows_the_locations_without_paging() -> None:
    """5 locations, quorum 3: a second location failing changes the partial incident's
    detail and timeline (Noted), a location coming back too; no alert either way, even
    with partial_alerts (only its opening and its end page)."""
    locs = ("a", "b", "c", "d", "e")
    w = World(locs, partial_alerts=True)
    w.cut("a")
    second = w.cut("b", Kind.DNS_TIMEOUT)
    assert kinds(second) == ["Noted"]
    assert second[0].entry is not None
    assert second[0].entry.event == "locations"
    assert second[0].incident.detail == (
        "api unreachable from a (connect.timeout) and b (dns.timeout), up from c, d and e"
    )
    assert alerts(second) == []
    back = w.mend("a")
    assert kinds(back) == ["Noted"]
    assert back[0].incident.detail == "api unreachable from b (dns.timeout), up from a, c, d and e"
    assert w.mend("c") == []  # an up location's news is not a timeline line


def test_all_locations_back_resolves_the_partial_incident() -> None:
    """The last failing location back: resolved, with the words and (partial_alerts) one
    incident.partial_resolved alert showing each location up."""
    w = World(partial_alerts=True)
    w.cut("eu-west")
    events = w.mend("eu-west", after=100)
    assert kinds(events) == ["Resolved"]
    assert events[0].entry is not None
    assert events[0].entry.detail == "api is reachable from every location again after 1 min 40 s"
    (alert,) = events[0].alerts
    assert subject(alert.payload) == (
        "[tether] RESOLVED api: reachable from every location again after 1 min 40 s"
    )
    assert alert.payload.to_json()["resolves"] == "connect.timeout"
    assert all(f.state is State.UP for f in alert.payload.locations.values())
    assert "Incident: 1 (resolved)" in body(alert.payload)
    assert w.e.open_incidents() == []


def test_without_partial_alerts_the_end_of_a_partial_incident_is_silent() -> None:
    """It never paged, so it does not page its end."""
    w = World()
    w.cut("eu-west")
    events = w.mend("eu-west")
    assert kinds(events) == ["Resolved"]
    assert alerts(events) == []


# --- from partial to down and back ----------------------------------------------------------


def test_a_quorum_cut_is_down_with_one_alert_in_the_same_incident() -> None:
    """1 then 2 of 3 cut: the partial incident becomes the full one (issue 73 item 9),
    paged with its usual alert (one); the third location cut is a timeline line, not a
    second alert."""
    w = World()
    (partial,) = w.cut("eu-west")
    events = w.cut("us-east")
    assert kinds(events) == ["Widened"]
    full = events[0].incident
    assert full.id == partial.incident.id
    assert not full.is_partial
    assert full.opened == partial.incident.opened
    assert events[0].entry is not None
    assert events[0].entry.detail == "api is down from a quorum of its locations now"
    assert alerts(events) == [("incident.opened", "ops")]
    third = w.cut("local")
    assert kinds(third) == ["Noted"]
    assert alerts(third) == []
    assert third[0].entry is not None
    assert third[0].entry.detail == (
        "api: down from eu-west (connect.timeout), us-east (connect.timeout) and local "
        "(connect.timeout)"
    )
    assert alerts(w.events) == [("incident.opened", "ops")]


def test_a_full_incident_of_several_locations_names_them_and_their_kinds() -> None:
    """The down monitor's incident detail, alert and stored member name each location."""
    w = World()
    w.cut("eu-west")
    opened = w.cut("us-east")[0]
    assert isinstance(opened, Widened)
    assert opened.incident.detail == (
        f"connection timed out on api.example.com: {DETAIL}; down from eu-west "
        "(connect.timeout) and us-east (connect.timeout), up from local"
    )
    payload = opened.alerts[0].payload
    assert subject(payload) == "[tether] DOWN api: connection timed out"
    assert list(payload.locations) == list(LOCS)
    assert opened.incident.locations("api")["us-east"].kind is TIMEOUT


def test_with_partial_alerts_going_down_also_closes_the_partial_page() -> None:
    """A receiver that was told of the partial incident is told it ended, and where the
    story goes on; the down alert comes first."""
    w = World(partial_alerts=True)
    w.cut("eu-west")
    events = w.cut("us-east")
    assert alerts(events) == [("incident.opened", "ops"), ("incident.partial_resolved", "ops")]
    closing = events[0].alerts[1].payload
    assert subject(closing) == (
        "[tether] RESOLVED api: down from a quorum of its locations now (incident #1)"
    )


def test_recovery_from_down_goes_back_through_partial() -> None:
    """Down from eu-west and us-east; us-east back: the monitor is up for the quorum, its
    channels hear so (monitor.up) and the same incident goes on as a partial one
    (silent); eu-west back: it resolves, silently too."""
    w = World()
    w.cut("eu-west")
    w.cut("us-east")
    events = w.mend("us-east", after=120)
    assert kinds(events) == ["Narrowed"]
    assert alerts(events) == [("monitor.up", "ops")]
    assert events[0].alerts[0].payload.locations["eu-west"].state is State.DOWN
    assert events[0].incident.key == "partial:api"
    last = w.mend("eu-west")
    assert kinds(last) == ["Resolved"]
    assert alerts(last) == []
    assert w.e.open_incidents() == []
    assert len({e.incident.id for e in w.events}) == 1


@pytest.mark.parametrize("order", [("eu-west", "us-east"), ("us-east", "eu-west")])
def test_recovery_order_does_not_matter(order: tuple[str, str]) -> None:
    """Whichever location comes back first, one down alert and one up in all."""
    w = World()
    w.cut("eu-west")
    w.cut("us-east")
    for loc in order:
        w.mend(loc)
    assert alerts(w.events) == [("incident.opened", "ops"), ("monitor.up", "ops")]
    assert w.e.open_incidents() == []


# --- holds, reminders, pause, removal, restart ----------------------------------------------


def test_a_held_partial_alert_waits_and_goes_out_if_still_partial() -> None:
    """In maintenance the partial alert waits (Held); after the window, still partial:
    Released with incident.partial; it is never reminded nor escalated."""
    hold: dict[str, str | None] = {"api": "maintenance window nightly"}
    w = World(
        partial_alerts=True,
        remind_every=60.0,
        escalate=(IncidentEscalation(60.0, ("pager",)),),
    )
    w.e.hold = lambda name, now: hold.get(name)
    events = w.cut("eu-west")
    assert [type(e) for e in events] == [Opened, Held]
    assert alerts(events) == []
    hold["api"] = None
    released = w.e.tick(w.now + 30)
    assert [type(e) for e in released] == [Released]
    assert alerts(released) == [("incident.partial", "ops")]
    assert w.e.tick(w.now + 3600) == []


def test_no_reminder_or_escalation_for_a_silent_partial_incident() -> None:
    """partial_alerts off: the tick never pages about a partial incident."""
    w = World(remind_every=60.0, escalate=(IncidentEscalation(60.0, ("pager",)),))
    w.cut("eu-west")
    assert w.e.tick(w.now + 7200) == []


def test_pausing_or_removing_the_monitor_resolves_its_partial_incident_silently() -> None:
    """Paused (or removed from the file): the partial incident resolves, no alert."""
    w = World(partial_alerts=True)
    w.cut("eu-west")
    pause = StateChanged("api", w.now + 1, State.UP, State.PAUSED, "paused")
    events = w.e.changed(pause, None, [], HOSTS)
    assert kinds(events) == ["Resolved"]
    assert alerts(events) == []
    w2 = World()
    w2.cut("eu-west")
    events = w2.e.forget("api", w2.now + 1)
    assert kinds(events) == ["Resolved"]
    assert events[0].entry is not None
    assert "removed from the configuration" in events[0].entry.detail


def test_a_stored_partial_incident_is_squared_with_the_locations_by_a_new_leader() -> None:
    """After a restart (or a new leader) the engine holds the stored partial incident; the
    locations are all up now: the snapshot resolves it."""
    facts = {"eu-west": LocationFact(State.DOWN, TIMEOUT, DETAIL, T0)}
    stored = Incident(
        4,
        "partial:api",
        TIMEOUT,
        "api unreachable from eu-west (connect.timeout), up from us-east and local",
        "",
        T0,
        monitors=("api",),
        members={"api": Member(T0, alerted=False, opener=True, locations=facts)},
    )
    e = IncidentEngine(
        {"api": IncidentRoute(("ops",))}, itertools.count(5).__next__, incidents=[stored]
    )
    assert e.partial_of("api") == stored
    q = Quorum({"api": Placement(LOCS)}, live=LOCS)
    for loc in LOCS:
        q.update(LocationState("api", loc, State.UP, T0 + 100), T0 + 100)
    events = [x for picture in q.snapshot(T0 + 101) for x in e.locations(picture)]
    assert kinds(events) == ["Resolved"]
    assert e.open_incidents() == []


def test_up_after_nobody_could_see_it_resolves_the_incident() -> None:
    """Down, then every location's instance dies (unknown: the incident stays open), then
    they come back and see it up: the incident resolves."""
    w = World()
    w.cut("eu-west")
    w.cut("us-east")
    (blind,) = w.feed(w.q.set_live((), w.now + 1))
    assert isinstance(blind, Noted)
    assert blind.entry is not None
    assert blind.entry.detail == ("api: not counted: eu-west, us-east and local (no live instance)")
    assert w.e.incident_of("api") is not None
    w.mend("eu-west")
    w.mend("us-east")
    back = w.feed(w.q.set_live(LOCS, w.now + 1))
    assert kinds(back) == ["Resolved"]
    assert alerts(back) == [("incident.resolved", "ops")]


def test_a_flapping_location_deciding_the_quorum_holds_the_monitor_in_flapping() -> None:
    """eu-west down, us-east flapping: the monitor flaps; it opens no full incident; the
    partial incident lists both."""
    w = World()
    w.cut("eu-west")
    events = w.set("us-east", State.FLAPPING, TIMEOUT)
    assert w.q.state("api") is State.FLAPPING
    assert kinds(events) == ["Noted"]
    assert events[0].incident.detail == (
        "api unreachable from eu-west (connect.timeout) and us-east (flapping), up from local"
    )
    assert w.e.incident_of("api") is None


# --- one location: as before ----------------------------------------------------------------


def _single(through_quorum: bool) -> list[tuple[str, str, str]]:
    """A single instance's outage and recovery, with or without the quorum in between."""
    e = IncidentEngine({"api": IncidentRoute(("ops",))}, itertools.count(1).__next__)
    q = Quorum({"api": Placement(("local",))}, live=("local",))
    seen: list[tuple[str, str, str]] = []
    steps = [
        (State.UNKNOWN, State.UP, "first check passed", None),
        (
            State.UP,
            State.DOWN,
            "3 consecutive checks failed (connect.refused)",
            Kind.CONNECT_REFUSED,
        ),
        (State.DOWN, State.UP, "2 consecutive checks passed", None),
    ]
    for n, (old, new, reason, kind) in enumerate(steps):
        at = T0 + 60 * n
        change = StateChanged("api", at, old, new, reason)
        record = ProbeRecord("api", at, kind is None, kind, 5.0, "refused" if kind else None)
        down = [Observation("api", False, at, 5.0, kind, "db.lan")] if kind else []
        if through_quorum:
            row = LocationState("api", "local", new, at, reason, kind, record.detail, "db.lan", 5.0)
            events: list[Event] = []
            for out in q.update(row, at):
                assert isinstance(out, StateChanged)
                events += e.changed(out, q.record("api"), q.down(), HOSTS, q.locations("api"))
        else:
            events = e.changed(change, record, down, HOSTS)
        for event in events:
            seen += [(a.payload.event, a.payload.text, a.payload.detail) for a in event.alerts]
            assert not event.alerts or not event.alerts[0].payload.locations
    return seen


def test_a_single_location_gives_the_same_incidents_and_alerts_as_before() -> None:
    """The quorum in between changes nothing for one location: same alerts, same words,
    no locations in the payload."""
    assert _single(True) == _single(False)
    assert [event for event, _, _ in _single(True)] == ["incident.opened", "incident.resolved"]


def test_a_reload_that_drops_the_failing_location_resolves_the_partial_incident() -> None:
    """eu-west fails; the reload probes api from us-east and local only: the partial
    incident resolves (silently), and eu-west's stale state is not kept."""
    w = World()
    w.cut("eu-west")
    events = w.feed(w.q.configure("api", Placement(("us-east", "local")), w.now + 5))
    assert kinds(events) == ["Resolved"]
    assert w.e.open_incidents() == []


def test_a_reload_that_raises_the_quorum_turns_down_into_partial() -> None:
    """Down from 2 of 3 under majority; quorum 3: up again, with its usual up alert, and
    the same incident goes on as a partial one for the two locations still failing."""
    w = World()
    w.cut("eu-west")
    w.cut("us-east")
    events = w.feed(w.q.configure("api", Placement(LOCS, 3), w.now + 5))
    assert kinds(events) == ["Narrowed"]
    assert alerts(events) == [("monitor.up", "ops")]
    assert events[0].incident.detail == (
        "api unreachable from eu-west (connect.timeout) and us-east (connect.timeout), up from "
        "local"
    )


def test_a_dead_location_is_named_in_the_partial_incident() -> None:
    """local's instance is gone: the partial incident says it is not counted."""
    w = World()
    w.feed(w.q.set_live(("eu-west", "us-east"), w.now))
    (opened,) = w.cut("eu-west")
    assert opened.incident.detail == (
        "api unreachable from eu-west (connect.timeout), up from us-east; not counted: local "
        "(no live instance)"
    )


def test_a_reload_down_to_one_location_closes_the_partial_incident() -> None:
    """From three locations to local alone while eu-west fails: a last picture closes the
    partial incident; from then on local's changes pass through alone."""
    w = World()
    w.cut("eu-west")
    events = w.feed(w.q.configure("api", Placement(("local",)), w.now + 5))
    assert kinds(events) == ["Resolved"]
    assert w.e.open_incidents() == []
    changed = w.q.update(
        LocationState("api", "local", State.DOWN, w.now + 9, "3 failed"), w.now + 9
    )
    assert [type(e).__name__ for e in changed] == ["StateChanged"]
    assert isinstance(changed[0], StateChanged)
    assert changed[0].reason == "3 failed"
