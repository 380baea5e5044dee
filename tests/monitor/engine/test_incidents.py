"""The incident engine as a pure function of state changes and a virtual clock: every
monitor gets its own alerts, on each of its channels; holds delay and never drop;
reminders and escalation follow the clock; acknowledgement stops them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest

from tests.helpers.incident_world import HOSTS, T0, World, engine, pause
from tether._kinds import Kind
from tether.monitor._records import Incident, Member, ProbeRecord
from tether.monitor._state import State
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import (
    Escalated,
    Event,
    Held,
    IncidentEscalation,
    IncidentRoute,
    Joined,
    Left,
    Opened,
    Released,
    Reminder,
    Resolved,
    Updated,
)


def alerts(events: Iterable[Event]) -> list[tuple[str, str, str]]:
    """(event, monitor, channel) of every alert the events carry."""
    return [(a.payload.event, a.payload.monitor, a.channel) for e in events for a in e.alerts]


def test_a_monitor_joining_an_open_incident_is_told_in_grouped_updates() -> None:
    """Two monitors down for one cause: one incident, and each one's going down and coming
    back is told; the last one back resolves it, naming the kind it resolves.  (Before
    grouping, bravo's down and alpha's up were alerts of their own: now bravo's down goes
    in the incident's grouped update, and alpha's up, still kept when the incident
    resolves, in the resolution.)"""
    w = World(engine())
    opened = w.fail("alpha", T0)
    joined = w.fail("bravo", T0 + 60)
    # The event's incident is the engine's, kept in place: read at once, as the runner does.
    after_join = tuple(joined[0].incident.monitors)
    update = w.e.tick(T0 + 60)
    left = w.recover("alpha", T0 + 120)
    resolved = w.recover("bravo", T0 + 300)
    assert [type(e) for e in opened + joined + update + left + resolved] == [
        Opened,
        Joined,
        Updated,
        Left,
        Resolved,
    ]
    assert alerts(opened + joined + update + left + resolved) == [
        ("incident.opened", "alpha", "ops"),
        ("incident.updated", "bravo", "ops"),
        ("incident.resolved", "bravo", "ops"),
    ]
    incident = opened[0].incident
    assert joined[0].incident.id == incident.id
    assert after_join == ("alpha", "bravo")
    bravo_down = update[0].alerts[0].payload
    assert bravo_down.text == (
        f"incident #{incident.id} (http.server_error on web.lab.test): "
        "1 more monitor down: bravo (2 in all, on 1 host)"
    )
    end = resolved[0].alerts[0].payload
    assert end.text.endswith("; not told before: 1 monitor back up: alpha")
    assert end.to_json()["resolves"] == "http.server_error"
    assert end.to_json()["kind"] is None
    assert resolved[0].incident.resolved == T0 + 300
    assert w.e.open_incidents() == []


def test_a_different_cause_opens_its_own_incident() -> None:
    """A failure of another kind or on another host is another incident, with its own
    opening alert."""
    w = World(engine())
    a = w.fail("alpha", T0)
    c = w.fail("charlie", T0 + 1, Kind.CONNECT_REFUSED)
    assert isinstance(a[0], Opened)
    assert isinstance(c[0], Opened)
    assert a[0].incident.id != c[0].incident.id
    assert len(w.e.open_incidents()) == 2


def test_every_channel_of_a_monitor_gets_each_alert_with_one_dedup_key() -> None:
    """A monitor with two channels: each alert goes to both, as two queued alerts with the
    same dedup key (the outbox keys them by channel)."""
    w = World(engine(alpha=IncidentRoute(("ops", "chat"))))
    (opened,) = w.fail("alpha", T0)
    assert [a.channel for a in opened.alerts] == ["ops", "chat"]
    assert len({a.dedup for a in opened.alerts}) == 1


def test_a_held_alert_waits_and_goes_out_once_the_hold_lifts() -> None:
    """In maintenance the down alert waits (the timeline says why); when the window ends
    and the monitor is still down, the tick sends it."""
    hold: dict[str, str | None] = {"alpha": "maintenance window nightly"}
    e = engine()
    e.hold = lambda name, now: hold.get(name)
    w = World(e)
    events = w.fail("alpha", T0)
    assert [type(x) for x in events] == [Opened, Held]
    assert alerts(events) == []
    assert events[1].entry is not None
    assert "maintenance window nightly" in events[1].entry.detail
    assert e.tick(T0 + 30) == []
    hold["alpha"] = None
    released = e.tick(T0 + 60)
    assert [type(x) for x in released] == [Released]
    assert alerts(released) == [("incident.opened", "alpha", "ops")]
    assert e.tick(T0 + 61) == []  # once


def test_a_monitor_whose_down_alert_was_held_sends_no_up_alert() -> None:
    """Down and back inside a maintenance window: nothing is sent either way."""
    e = engine()
    e.hold = lambda name, now: "maintenance window nightly"
    w = World(e)
    w.fail("alpha", T0)
    assert alerts(w.recover("alpha", T0 + 60)) == []


def test_reminders_repeat_until_acknowledged() -> None:
    """remind_every 30 min: a reminder at 30 and 60 min of the outage; after an
    acknowledgement, none."""
    w = World(engine(alpha=IncidentRoute(("ops",), remind_every=1800)))
    w.fail("alpha", T0)
    assert w.e.tick(T0 + 1799) == []
    first = w.e.tick(T0 + 1800)
    assert [type(x) for x in first] == [Reminder]
    assert alerts(first) == [("incident.reminder", "alpha", "ops")]
    assert "still down after 30 min 0 s" in first[0].alerts[0].payload.text
    assert w.e.tick(T0 + 3000) == []
    assert len(w.e.tick(T0 + 3600)) == 1
    incident = w.e.open_incidents()[0]
    assert w.e.acknowledge(incident.id, T0 + 3700) is not None
    assert w.e.acknowledge(incident.id, T0 + 3701) is None  # once
    assert w.e.tick(T0 + 9999) == []


def test_an_acknowledgement_does_not_silence_a_monitor_that_joined_after_it() -> None:
    """alpha's incident is acknowledged; bravo joins it later (issue 24: www joined
    old-api's acknowledged incident and got no reminder).  bravo's down alert says the
    incident was acknowledged before it joined, its reminders run, alpha's do not; once
    someone acknowledges again, bravo's stop too."""
    w = World(
        engine(
            alpha=IncidentRoute(("ops",), remind_every=120),
            bravo=IncidentRoute(("ops",), remind_every=120),
        )
    )
    w.fail("alpha", T0)
    incident = w.e.open_incidents()[0]
    assert w.e.acknowledge(incident.id, T0 + 10) is not None
    w.fail("bravo", T0 + 60)
    update = w.e.tick(T0 + 60)  # grouping: bravo's down is in the grouped update
    assert alerts(update) == [("incident.updated", "bravo", "ops")]
    text = update[0].alerts[0].payload.text
    assert "acknowledged at" in text
    assert "before bravo joined" in text
    reminded = w.e.tick(T0 + 180)
    assert alerts(reminded) == [("incident.reminder", "bravo", "ops")]
    assert alerts(w.e.tick(T0 + 300)) == [("incident.reminder", "bravo", "ops")]
    assert w.e.acknowledge(incident.id, T0 + 10) is None  # that one is taken already
    assert w.e.acknowledge(incident.id, T0 + 310) is not None
    assert w.e.tick(T0 + 9999) == []


def test_a_monitor_that_joined_before_the_acknowledgement_is_silenced() -> None:
    """bravo joined, then the incident was acknowledged: the update telling of it
    (grouping: once its own down alert) says nothing of an acknowledgement, and neither it
    nor alpha is reminded."""
    w = World(
        engine(
            alpha=IncidentRoute(("ops",), remind_every=120),
            bravo=IncidentRoute(("ops",), remind_every=120),
        )
    )
    w.fail("alpha", T0)
    w.fail("bravo", T0 + 5)
    assert w.e.acknowledge(w.e.open_incidents()[0].id, T0 + 10) is not None
    # grouping: bravo's down is in the grouped update, and no reminder follows
    (update,) = w.e.tick(T0 + 9999)
    assert alerts([update]) == [("incident.updated", "bravo", "ops")]
    assert "acknowledged" not in update.alerts[0].payload.text
    assert w.e.tick(T0 + 99999) == []


def test_a_pause_is_no_recovery_and_a_resume_still_failing_is_the_same_incident() -> None:
    """Issue 24: pausing a down monitor resolved its incident, and resuming it while it
    still failed opened a new one and paged again.  Now it stays a member, marked paused,
    with no reminders; resumed and down for the same cause, it is back in the same
    incident without a page; resumed and up, it leaves and the incident resolves."""
    w = World(engine(alpha=IncidentRoute(("ops",), remind_every=120)))
    (opened,) = w.fail("alpha", T0)
    incident = opened.incident
    paused = pause(w, "alpha", T0 + 10)
    assert alerts(paused) == []
    assert [e.entry.event for e in paused if e.entry] == ["monitor paused"]
    assert [i.id for i in w.e.open_incidents()] == [incident.id]
    assert w.e.tick(T0 + 1000) == []  # no reminders while paused
    resumed = w.fail("alpha", T0 + 1100)  # resumed, checked, down again: same cause
    assert alerts(resumed) == []
    assert [e.entry.event for e in resumed if e.entry] == ["monitor resumed"]
    assert [i.id for i in w.e.open_incidents()] == [incident.id]
    assert alerts(w.e.tick(T0 + 1220)) == [("incident.reminder", "alpha", "ops")]
    pause(w, "alpha", T0 + 1300)
    back = w.recover("alpha", T0 + 1400, old=State.UNKNOWN)
    assert [type(e) for e in back] == [Resolved]
    assert alerts(back) == [("incident.resolved", "alpha", "ops")]


def test_a_paused_member_keeps_its_incident_open_and_another_cause_is_a_new_one() -> None:
    """bravo recovers while alpha is paused: the incident stays open (alpha's outage is
    not known to be over).  alpha, resumed and failing for another cause, leaves it (it
    resolves) and opens an incident of its own, with its page."""
    w = World(engine())
    w.fail("alpha", T0)
    w.fail("bravo", T0 + 5)
    (incident,) = w.e.open_incidents()
    pause(w, "alpha", T0 + 10)
    w.recover("bravo", T0 + 20)
    assert [i.id for i in w.e.open_incidents()] == [incident.id]
    other = w.fail("alpha", T0 + 100, Kind.CONNECT_REFUSED)
    assert [type(e) for e in other][:2] == [Resolved, Opened]
    # The old incident's channels hear it end, saying why; the new one opens with a page.
    assert alerts(other) == [
        ("incident.resolved", "alpha", "ops"),
        ("incident.opened", "alpha", "ops"),
    ]
    ended = other[0].alerts[0].payload.text
    assert ended.startswith(f"alpha fails for another cause now: incident #{incident.id} (")
    (now_open,) = w.e.open_incidents()
    assert now_open.id != incident.id
    assert now_open.key.endswith(":connect.refused")


def test_later_alerts_name_the_channels_the_opening_went_to() -> None:
    """alpha (to ops) opens the incident, bravo (to mail) joins it: the grouped update
    telling mail of bravo (grouping: once bravo's own alert) says the opening went to ops
    alone, so the mail channel threads it under nothing."""
    w = World(engine(bravo=IncidentRoute(("mail",))))
    (opened,) = w.fail("alpha", T0)
    assert [a.payload.opened_to for a in opened.alerts] == [()]
    w.fail("bravo", T0 + 60)
    update = w.e.tick(T0 + 60)
    assert [(a.channel, a.payload.opened_to) for a in update[0].alerts] == [("mail", ("ops",))]


def test_escalation_adds_channels_in_steps_and_they_hear_the_end() -> None:
    """After 10 min the pager is told (an incident.escalated alert), after 30 min the
    manager; from then on reminders and the resolution reach them too."""
    route = IncidentRoute(
        ("ops",),
        remind_every=3600,
        escalate=(IncidentEscalation(600, ("pager",)), IncidentEscalation(1800, ("ops", "boss"))),
    )
    w = World(engine(alpha=route))
    w.fail("alpha", T0)
    assert w.e.tick(T0 + 599) == []
    step1 = w.e.tick(T0 + 600)
    assert [type(x) for x in step1] == [Escalated]
    assert alerts(step1) == [("incident.escalated", "alpha", "pager")]
    step2 = w.e.tick(T0 + 1800)
    assert alerts(step2) == [("incident.escalated", "alpha", "boss")]  # ops knew already
    reminder = w.e.tick(T0 + 3600)
    assert alerts(reminder) == [
        ("incident.reminder", "alpha", "ops"),
        ("incident.reminder", "alpha", "pager"),
        ("incident.reminder", "alpha", "boss"),
    ]
    assert [c for _, _, c in alerts(w.recover("alpha", T0 + 4000))] == ["ops", "pager", "boss"]


@pytest.mark.parametrize("late", [0.0, 0.5])
def test_a_reminder_due_with_an_escalation_is_not_sent_where_it_escalated(late: float) -> None:
    """Reminders every 5 min and the pager after 10 min fall due together at 10 min, or
    half a second apart when a tick came late; either way the pager hears the
    escalation alone then, and the reminders from 15 min on."""
    route = IncidentRoute(
        ("ops",), remind_every=300, escalate=(IncidentEscalation(600, ("pager",)),)
    )
    w = World(engine(alpha=route))
    joined = T0 + 2.7
    w.fail("alpha", joined)
    assert alerts(w.e.tick(joined + 300 + late)) == [("incident.reminder", "alpha", "ops")]
    at_ten = w.e.tick(joined + 600) + w.e.tick(joined + 600 + late)
    assert sorted(alerts(at_ten)) == [
        ("incident.escalated", "alpha", "pager"),
        ("incident.reminder", "alpha", "ops"),
    ]
    assert alerts(w.e.tick(joined + 900 + late)) == [
        ("incident.reminder", "alpha", "ops"),
        ("incident.reminder", "alpha", "pager"),
    ]


def test_acknowledging_stops_further_escalation() -> None:
    """An acknowledged incident takes no more escalation steps."""
    w = World(
        engine(alpha=IncidentRoute(("ops",), escalate=(IncidentEscalation(600, ("pager",)),)))
    )
    w.fail("alpha", T0)
    w.e.acknowledge(w.e.open_incidents()[0].id, T0 + 10)
    assert w.e.tick(T0 + 4000) == []


def test_flapping_keeps_the_monitor_in_its_incident_without_alerts() -> None:
    """Down, then flapping: the incident stays open with a note; back up from flapping, the
    monitor's up alert goes out."""
    w = World(engine())
    w.fail("alpha", T0)
    flap = StateChanged("alpha", T0 + 100, State.DOWN, State.FLAPPING, "5 changes in 10 min")
    noted = w.e.changed(flap, None, w.down.values(), HOSTS)
    assert alerts(noted) == []
    assert noted[0].entry is not None
    assert noted[0].entry.event == "flapping"
    back = w.recover("alpha", T0 + 900, old=State.FLAPPING)
    assert alerts(back) == [("incident.resolved", "alpha", "ops")]


def test_a_removed_monitor_leaves_and_its_lone_incident_resolves_silently() -> None:
    """Removal from the configuration resolves an incident it was alone in, with no alert."""
    w = World(engine())
    w.fail("alpha", T0)
    (event,) = w.e.forget("alpha", T0 + 5)
    assert isinstance(event, Resolved)
    assert event.alerts == ()
    assert event.entry is not None
    assert "removed from the configuration" in event.entry.detail


def test_open_incidents_carry_on_after_a_restart() -> None:
    """An engine built from the store's open incidents lets a monitor join them, and the
    stored members' reminder times go on from where they were."""
    stored = Incident(
        7,
        "host:web.lab.test:http.server_error",
        Kind.HTTP_SERVER_ERROR,
        "alpha answered 503",
        "",
        T0,
        monitors=("alpha",),
        members={"alpha": Member(T0, alerted=True, reminded=T0 + 1800)},
    )
    e = IncidentEngine(
        {"alpha": IncidentRoute(("ops",), remind_every=1800), "bravo": IncidentRoute(("ops",))},
        itertools.count(8).__next__,
        incidents=[stored],
    )
    w = World(e)
    w.down["alpha"] = Observation("alpha", False, T0, 5.0, Kind.HTTP_SERVER_ERROR, "web.lab.test")
    (joined,) = w.fail("bravo", T0 + 2000)
    assert isinstance(joined, Joined)
    assert joined.incident.id == 7
    # grouping: bravo's down is told in the incident's first grouped update
    assert alerts(e.tick(T0 + 3000)) == [("incident.updated", "bravo", "ops")]
    assert alerts(e.tick(T0 + 3600)) == [("incident.reminder", "alpha", "ops")]


def restarted(told: dict[tuple[int, str], float]) -> IncidentEngine:
    """Incident #7, opened by alpha at T0, joined by bravo at T0 + 10 and charlie at
    T0 + 400, as a restarted engine finds it, with ``told`` (what the outbox says was
    last queued to each channel: ``Store.incident_tellings``)."""
    members = {
        "alpha": Member(T0, alerted=True, opener=True),
        "bravo": Member(T0 + 10, alerted=True),
        "charlie": Member(T0 + 400, alerted=True),
    }
    stored = Incident(
        7,
        "host:web.lab.test:http.server_error",
        Kind.HTTP_SERVER_ERROR,
        "alpha answered 503",
        "",
        T0,
        monitors=tuple(members),
        members=members,
    )
    return IncidentEngine(
        {n: IncidentRoute(("ops",)) for n in members},
        itertools.count(8).__next__,
        incidents=[stored],
        told=told,
    )


def test_a_restart_tells_again_only_the_joins_no_update_told() -> None:
    """The news kept for a grouped update is in memory: a restarted engine makes it again
    from the store.  bravo was told in the update queued at T0 + 30, charlie joined after
    it: the first tick after the restart tells charlie alone, and the channel's rhythm
    goes on from that update (due at T0 + 30 + 300)."""
    e = restarted({(7, "ops"): T0 + 30})
    assert e.tick(T0 + 329) == []
    (update,) = e.tick(T0 + 900)
    assert alerts([update]) == [("incident.updated", "charlie", "ops")]
    assert "1 more monitor down: charlie" in update.alerts[0].payload.text


def test_a_restart_with_nothing_told_tells_every_join() -> None:
    """No update was ever queued (only the opening, at T0): both joins are news."""
    e = restarted({(7, "ops"): T0})
    (update,) = e.tick(T0 + 900)
    assert "2 more monitors down: bravo and charlie" in update.alerts[0].payload.text


def test_a_restart_after_every_join_was_told_says_nothing() -> None:
    e = restarted({(7, "ops"): T0 + 420})
    assert e.tick(T0 + 900) == []


def test_left_is_told_only_of_the_monitor_that_came_back() -> None:
    """Three down, one back: the incident lists two, and its grouped update tells of that
    one alone coming back (grouping: it was a monitor.up alert of its own)."""
    hosts_all = {"a": "h", "b": "h", "c": "h"}
    e = IncidentEngine({n: IncidentRoute(("ops",)) for n in hosts_all}, itertools.count(1).__next__)
    down: dict[str, Observation] = {}
    for i, name in enumerate("abc"):
        down[name] = Observation(name, False, T0 + i, 1.0, Kind.CONNECT_REFUSED, "h")
        change = StateChanged(name, T0 + i, State.UP, State.DOWN, "x")
        e.changed(
            change, ProbeRecord(name, T0 + i, False, Kind.CONNECT_REFUSED), down.values(), hosts_all
        )
    (first,) = e.tick(T0 + 30)
    assert "2 more monitors down: b and c" in first.alerts[0].payload.text
    down.pop("b")
    events = e.changed(
        StateChanged("b", T0 + 50, State.DOWN, State.UP, "y"), None, down.values(), hosts_all
    )
    assert [type(x) for x in events] == [Left]
    assert events[0].incident.monitors == ("a", "c")
    assert e.tick(T0 + 329) == []  # at most every group_interval
    (update,) = e.tick(T0 + 330)
    assert alerts([update]) == [("incident.updated", "b", "ops")]
    assert "1 monitor back up: b (2 still down" in update.alerts[0].payload.text


def test_a_held_opener_still_sends_the_opening_alert_after_others_joined() -> None:
    """bravo opens the incident during its maintenance, alpha joins (and is told, in the
    grouped update: grouping); when bravo's hold lifts, its alert is the incident's
    opening one, not a 'down too'."""
    hold: dict[str, str | None] = {"bravo": "maintenance window nightly"}
    e = engine()
    e.hold = lambda name, now: hold.get(name)
    w = World(e)
    w.fail("bravo", T0)
    assert alerts(w.fail("alpha", T0 + 30)) == []
    hold["bravo"] = None
    assert alerts(e.tick(T0 + 100)) == [
        ("incident.opened", "bravo", "ops"),
        ("incident.updated", "alpha", "ops"),
    ]
