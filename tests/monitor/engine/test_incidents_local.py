"""The ``local`` incident in a mass outage (issue 23), on a virtual clock: the incidents of
its hosts folded into it, one page per channel, grouped updates at most one a minute, one
resolution, reminders and escalation by the incident; incidents of one service keep their
page per monitor."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.engine._correlate import LEADER_LAG, Correlation, Failures, leader_rules
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine.incidents._books import GROUPED_EVERY, NAMES_SHOWN
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import (
    Event,
    Folded,
    Held,
    IncidentEscalation,
    IncidentRoute,
    Joined,
    Opened,
    Released,
    Updated,
)

T0 = 1_800_000_000.0
REFUSED = Kind.CONNECT_REFUSED


class World:
    """The engine, the failures it correlates on, and the hosts, played by hand."""

    def __init__(
        self,
        hosts: dict[str, str],
        routes: dict[str, IncidentRoute] | None = None,
        rules: Correlation | None = None,
    ) -> None:
        self.hosts = hosts
        self.routes = routes or {m: IncidentRoute(("ops",)) for m in hosts}
        self.holds: dict[str, str] = {}
        self.e = IncidentEngine(
            self.routes,
            itertools.count(1).__next__,
            hold=lambda name, now: self.holds.get(name),
            correlation=rules,
        )
        self.failures = Failures(hosts)
        self.events: list[Event] = []

    def fail(self, name: str, at: float, kind: Kind = REFUSED) -> list[Event]:
        self.failures.set(name, Observation(name, False, at, 1.0, kind, self.hosts[name]))
        record = ProbeRecord(name, at, False, kind, 1.0, f"{name}: refused")
        change = StateChanged(name, at, State.UP, State.DOWN, "3 failed checks")
        return self._keep(self.e.changed(change, record, self.failures, self.hosts))

    def passed(self, at: float, *names: str) -> None:
        """A passing check of each of ``names`` (all monitors if none), as the runner tells."""
        for name in names or self.hosts:
            self.failures.passed(name, at)

    def recover(self, name: str, at: float) -> list[Event]:
        self.failures.set(name, None)
        change = StateChanged(name, at, State.DOWN, State.UP, "passed")
        return self._keep(self.e.changed(change, None, self.failures, self.hosts))

    def tick(self, at: float) -> list[Event]:
        return self._keep(self.e.tick(at))

    def _keep(self, events: list[Event]) -> list[Event]:
        self.events += events
        return events


def alerts(events: Iterable[Event]) -> list[tuple[str, str]]:
    """(event, channel) of every alert the events carry."""
    return [(a.payload.event, a.channel) for e in events for a in e.alerts]


def grid(hosts: int, per_host: int) -> dict[str, str]:
    """``per_host`` monitors on each of ``hosts`` hosts: ``h0m1`` is on ``h0``."""
    return {f"h{h}m{m}": f"h{h}" for h in range(hosts) for m in range(per_host)}


def test_host_incidents_are_folded_into_the_local_incident_when_it_opens() -> None:
    """Two hosts of four refuse first (two incidents of one host, a page per monitor); a
    third makes it this machine's fault: the local incident opens, takes in both, each of
    them closes saying where it went, and their members keep when they joined and that
    they were told."""
    w = World(grid(4, 2))
    w.fail("h0m0", T0)
    w.fail("h0m1", T0 + 1)
    w.fail("h1m0", T0 + 2)
    w.fail("h1m1", T0 + 3)
    assert [i.key for i in w.e.open_incidents()] == ["host:h0:connect.refused"] * 1 + [
        "host:h1:connect.refused"
    ]
    w.fail("h2m0", T0 + 4)
    events = w.fail("h2m1", T0 + 5)  # h2 down: 3 of 4 hosts, 75%
    (local,) = w.e.open_incidents()
    assert local.key == "local"
    assert [type(e) for e in events] == [Opened, Folded, Folded, Folded, Folded]
    first, second, third = (e.incident for e in events[1:4])
    assert [(i.folded_into, i.resolved) for i in (first, second, third)] == [(local.id, T0 + 5)] * 3
    assert all(
        e.entry is not None and "folded into incident" in e.entry.detail for e in events[1:4]
    )
    took = events[4]
    assert took.incident.id == local.id
    assert took.entry is not None
    assert took.entry.detail.startswith(f"took in incidents #{first.id}, #{second.id} and")
    assert set(took.touched or ()) == {"h0m0", "h0m1", "h1m0", "h1m1", "h2m0"}
    members = local.members
    assert members["h0m0"].joined == T0
    assert members["h0m0"].alerted
    assert len(local.monitors) == 6
    for name in members:
        assert w.e.incident_of(name) is local


def test_hosts_failing_with_another_kind_keep_their_incident() -> None:
    """Three hosts refuse, the fourth times out: the local incident takes the three; the
    timeouts' incident stays open, on its own, with its own pages."""
    w = World(grid(4, 1))
    w.fail("h3m0", T0, Kind.CONNECT_TIMEOUT)
    for i in range(3):
        w.fail(f"h{i}m0", T0 + 1 + i)
    keys = sorted(i.key for i in w.e.open_incidents())
    assert keys == ["host:h3:connect.timeout", "local"]
    assert w.e.incident_of("h3m0").key == "host:h3:connect.timeout"  # type: ignore[union-attr]


def test_the_local_incident_pages_once_per_channel_and_groups_the_rest() -> None:
    """The opening page goes once to each channel of its monitors, with counts, the first
    names, the kind and the fix; monitors that join later send nothing of their own but a
    grouped update per channel, at most one a minute, and one timeline line each."""
    singles = {f"s{i}": f"s{i}" for i in range(13)}
    hosts = grid(3, 20) | singles
    routes = {m: IncidentRoute(("ops", "dev") if m.endswith("m0") else ("ops",)) for m in hosts}
    # 3 hosts of 16 failing is enough here: the single hosts then join one by one.
    w = World(hosts, routes, Correlation(local_fraction=0.15))
    at = T0
    for m in range(20):
        for h in range(3):
            at += 0.1
            w.fail(f"h{h}m{m}", at)
    (event,) = [e for e in w.events if isinstance(e, Opened) and e.incident.key == "local"]
    assert sorted(alerts([event])) == [("incident.opened", "dev"), ("incident.opened", "ops")]
    payload = event.alerts[0].payload
    assert payload.monitor_count == 60
    assert payload.host_count == 3
    assert len(payload.monitors) == NAMES_SHOWN
    assert payload.kind is REFUSED
    assert payload.hint
    assert "60 monitors down on 3 hosts" in payload.text
    assert payload.to_json()["monitor_count"] == 60
    opened = event.incident.opened
    joins: list[Event] = []
    for i in range(12):
        joins += w.fail(f"s{i}", opened + 1 + i)
    assert all(isinstance(e, Joined) and not e.alerts and e.entry is None for e in joins)
    assert alerts(w.tick(opened + 30)) == []  # less than a minute since the opening
    update = w.tick(opened + GROUPED_EVERY)
    assert alerts(update) == [("incident.updated", "ops")]
    said = next(e for e in update if e.alerts).alerts[0].payload.text
    assert "12 more monitors down: s0, s1, s2" in said
    assert "and 2 more" in said
    assert "(72 in all, on 15 hosts)" in said
    assert [e.entry.detail for e in update if e.entry is not None] == [said.partition("): ")[2]]
    # One more: the next update waits a minute after the last one.
    w.fail("s12", opened + GROUPED_EVERY + 1)
    assert alerts(w.tick(opened + GROUPED_EVERY + 30)) == []
    assert alerts(w.tick(opened + 2 * GROUPED_EVERY)) == [("incident.updated", "ops")]


def test_a_late_channel_gets_its_opening_page_when_its_first_monitor_joins() -> None:
    """A monitor routed to a channel nobody else uses joins the open local incident: that
    channel gets the opening page at once; the others hear of it in the grouped update."""
    hosts = grid(3, 2)
    routes = {m: IncidentRoute(("ops",)) for m in hosts}
    routes["h2m1"] = IncidentRoute(("ops", "db-team"))
    w = World(hosts, routes)
    for i, name in enumerate(["h0m0", "h0m1", "h1m0", "h1m1", "h2m0"]):
        w.fail(name, T0 + i)
    assert w.e.incident_of("h0m0").key == "host:h0:connect.refused"  # type: ignore[union-attr]
    events = w.fail("h2m1", T0 + 10)
    assert alerts(e for e in events if isinstance(e, Opened)) == [
        ("incident.opened", "ops"),
        ("incident.opened", "db-team"),
    ]


def test_one_resolution_per_channel_and_grouped_comebacks() -> None:
    """Monitors coming back while others are down are grouped ("back up"); the last one
    back resolves the incident with one message per channel."""
    w = World(grid(3, 5))
    names = list(w.hosts)
    for i, name in enumerate(names):
        w.fail(name, T0 + i)
    (local,) = w.e.open_incidents()
    back: list[Event] = []
    for i, name in enumerate(names[:-1]):
        back += w.recover(name, T0 + 100 + i)
    assert alerts(back) == []
    update = w.tick(T0 + 200)
    (text,) = [a.payload.text for e in update for a in e.alerts]
    assert "14 monitors back up" in text
    assert "1 still down" in text
    done = w.recover(names[-1], T0 + 300)
    assert alerts(done) == [("incident.resolved", "ops")]
    payload = done[0].alerts[0].payload
    assert payload.text.startswith(f"incident #{local.id} resolved after")
    assert payload.text.endswith("all 15 monitors back up")
    assert payload.to_json()["resolves"] == "connect.refused"
    assert w.e.open_incidents() == []
    assert w.tick(T0 + 1000) == []


def test_reminders_and_escalation_go_by_the_incident_and_stop_on_acknowledgement() -> None:
    """The local incident is reminded per channel at the shortest remind_every among its
    members there, escalates once per step measured from its opening, and both stop once
    it is acknowledged."""
    hosts = grid(3, 4)
    step = IncidentEscalation(600, ("boss",))
    routes = {
        m: IncidentRoute(("ops",), remind_every=300 if m == "h0m0" else 900, escalate=(step,))
        for m in hosts
    }
    w = World(hosts, routes)
    for i, name in enumerate(hosts):
        w.fail(name, T0 + i)
    (local,) = w.e.open_incidents()
    opened = local.opened
    seen: list[tuple[float, str, str]] = []
    for t in range(1, 1300):
        for e in w.tick(opened + t):
            seen += [(t, a.payload.event, a.channel) for a in e.alerts]
        if t == 1000:
            assert w.e.acknowledge(local.id, opened + t) is not None
    assert seen == [
        (300, "incident.reminder", "ops"),
        (600, "incident.escalated", "boss"),
        (600, "incident.reminder", "ops"),
        (900, "incident.reminder", "boss"),
        (900, "incident.reminder", "ops"),
    ]


def test_held_members_are_released_into_the_local_incident() -> None:
    """A monitor in maintenance joins the local incident silently; when its window ends
    and it is still down, it is told: its own channel's opening page, or the grouped
    update of a channel told already."""
    hosts = grid(3, 2)
    routes = {m: IncidentRoute(("ops",)) for m in hosts}
    routes["h2m1"] = IncidentRoute(("ops", "db-team"))
    w = World(hosts, routes)
    w.holds["h2m1"] = "maintenance window nightly"
    for i, name in enumerate(hosts):
        w.fail(name, T0 + i)
    assert ("incident.opened", "db-team") not in alerts(w.events)
    assert alerts(w.tick(T0 + 20)) == []
    del w.holds["h2m1"]
    assert alerts(w.tick(T0 + 21)) == [("incident.opened", "db-team")]
    assert alerts(w.tick(T0 + 80)) == [("incident.updated", "ops")]


def test_incidents_of_one_service_tell_each_monitors_down_and_up() -> None:
    """Too few hosts for the local rule: each monitor's going down and coming back is still
    told.  (Before grouping, a page of its own each; now the joins and leaves that no
    grouped update told yet are in the resolution.)"""
    w = World(grid(5, 3))
    for i in range(3):
        w.fail(f"h0m{i}", T0 + i)
    for i in range(3):
        w.recover(f"h0m{i}", T0 + 10 + i)
    assert alerts(w.events) == [("incident.opened", "ops"), ("incident.resolved", "ops")]
    (end,) = [a.payload for e in w.events for a in e.alerts if a.payload.event.endswith("lved")]
    assert end.text.endswith(
        "; not told before: 2 more monitors down: h0m1 and h0m2; 2 monitors back up: h0m0 and h0m1"
    )


def test_updates_name_members_touched_alone() -> None:
    """Every event of a change names the members it touched (the store writes those
    alone): a join or a leave names its monitor, a grouped update none."""
    w = World(grid(3, 3))
    for i, name in enumerate(w.hosts):
        w.fail(name, T0 + i)
    w.recover("h0m0", T0 + 20)
    for e in w.events:
        if isinstance(e, Joined):
            assert e.touched == (e.monitor,)
    assert all(e.touched == () for e in w.tick(T0 + 100) if isinstance(e, Updated))


def test_a_local_incident_carries_on_after_a_restart() -> None:
    """An open local incident read back from the store (members as written): its channels
    are not paged again, a monitor back is grouped, and the last one resolves it once."""
    w = World(grid(3, 2))
    for i, name in enumerate(w.hosts):
        w.fail(name, T0 + i)
    (local,) = w.e.open_incidents()
    stored = dataclasses.replace(local, members=dict(local.members), monitors=tuple(local.monitors))
    again = IncidentEngine(w.routes, itertools.count(100).__next__, incidents=[stored])
    names = list(stored.members)
    events: list[Event] = []
    for i, name in enumerate(names):
        w.failures.set(name, None)
        change = StateChanged(name, T0 + 100 + i, State.DOWN, State.UP, "passed")
        events += again.changed(change, None, w.failures, w.hosts)
    events += again.tick(T0 + 400)
    assert alerts(events) == [("incident.resolved", "ops")]
    assert again.open_incidents() == []


def test_reminders_follow_routes_replaced_by_a_reload() -> None:
    """A reload that gives down monitors a remind_every starts their reminders, in an
    incident of one service and in the local incident alike."""
    w = World(grid(5, 1))
    w.fail("h0m0", T0)  # one host of five: an incident of one service
    assert alerts(w.tick(T0 + 4000)) == []
    w.e.routes = {m: IncidentRoute(("ops",), remind_every=600) for m in w.hosts}
    assert alerts(w.tick(T0 + 4001)) == [("incident.reminder", "ops")]
    assert alerts(w.tick(T0 + 4300)) == []
    assert alerts(w.tick(T0 + 4601)) == [("incident.reminder", "ops")]
    for i in (1, 2, 3):
        w.fail(f"h{i}m0", T0 + 5000 + i)
    (local,) = w.e.open_incidents()
    assert local.key == "local"
    w.e.routes = {m: IncidentRoute(("ops",), remind_every=300) for m in w.hosts}
    assert alerts(w.tick(local.opened + 60)) == [("incident.updated", "ops")]  # h3 joined
    assert alerts(w.tick(local.opened + 299)) == []
    assert alerts(w.tick(local.opened + 300)) == [("incident.reminder", "ops")]


# --- a host failing early, and a wait while the local incident may be forming -------------

PAGES = ("incident.opened", "monitor.down")


def test_a_host_counts_as_down_from_its_first_failure_when_nothing_on_it_passed_since() -> None:
    """Every monitor passed a check; then one monitor on each of three hosts of five fails:
    those hosts count as down at once (the others on them not checked since), so the
    local group forms.  A passing check on one of them after its failure began takes that
    host out; a pass told late (older than the failure) does not.  Without passes seen
    (a cluster's leader), a host counts only once every monitor on it fails."""
    rules = Correlation(local_min_hosts=3, local_fraction=0.6)
    hosts = grid(5, 3)
    unseen = Failures(hosts)
    w = World(hosts, rules=rules)
    w.passed(T0)
    for i in range(3):
        o = Observation(f"h{i}m0", False, T0 + 5 + i, 1.0, REFUSED, f"h{i}")
        w.failures.set(o.monitor, o)
        unseen.set(o.monitor, o)
    assert w.failures.local_hosts(rules) == {"h0", "h1", "h2"}
    assert unseen.local_hosts(rules) == frozenset()
    w.passed(T0 + 4, "h0m1")  # checked before the failure, told after it
    assert w.failures.local_hosts(rules) == {"h0", "h1", "h2"}
    w.passed(T0 + 9, "h0m1")  # h0 answers: its failure is its own
    assert w.failures.local_hosts(rules) == frozenset()
    assert w.failures.group_of("h0m0", rules).key == "host:h0:connect.refused"  # type: ignore[union-attr]


def test_a_single_service_outage_is_never_delayed() -> None:
    """Two hosts of ten failing (fewer than local_min_hosts): each page goes at once."""
    w = World(grid(10, 2))
    w.passed(T0)
    assert alerts(w.fail("h0m0", T0 + 1)) == [("incident.opened", "ops")]
    assert alerts(w.fail("h0m1", T0 + 2)) == []  # grouping: in the grouped update
    assert alerts(w.fail("h1m0", T0 + 3)) == [("incident.opened", "ops")]
    assert not [e for e in w.events if isinstance(e, Held)]
    assert alerts(w.tick(T0 + 31)) == [("incident.updated", "ops")]


def test_pages_wait_while_the_local_incident_forms_and_are_never_sent_once_it_opens() -> None:
    """Six hosts: two fail (paged at once); a third makes three hosts, not yet 60%: its
    incident's page waits, saying why; a fourth host opens the local incident, which takes
    in all four: the waiting page never goes, the local incident's one page covers it."""
    w = World(grid(6, 2))
    w.passed(T0)
    w.fail("h0m0", T0 + 1)
    w.fail("h1m0", T0 + 2)
    events = w.fail("h2m0", T0 + 3)
    assert alerts(events) == []
    (held,) = [e for e in events if isinstance(e, Held)]
    assert held.entry is not None
    assert held.entry.event == "alert held"
    assert held.entry.detail == (
        "h2m0: 3 hosts fail at the connect layer at once: waiting up to 30 s to see whether "
        "this machine is the cause"
    )
    events = w.fail("h2m1", T0 + 4)  # its incident waits: so does it
    assert alerts(events) == []
    assert any(isinstance(e, Held) for e in events)
    events = w.fail("h3m0", T0 + 5)  # 4 of 6 hosts
    (local,) = w.e.open_incidents()
    assert local.key == "local"
    assert alerts(events) == [("incident.opened", "ops")]
    assert local.members["h2m0"].alerted  # told by the local incident's page
    later = w.tick(T0 + 60) + w.tick(T0 + 120)
    assert [a for a in alerts(later) if a[0] in PAGES] == []
    paged = [(e.incident.key, a.payload.monitor) for e in w.events for a in e.alerts]
    assert paged == [
        ("host:h0:connect.refused", "h0m0"),
        ("host:h1:connect.refused", "h1m0"),
        ("local", "h0m0"),  # named first: down first
    ]


def test_a_wait_that_runs_out_sends_the_held_pages_with_their_words() -> None:
    """Three hosts of six fail and no more: the third host's pages wait 30 s, then go out
    as they would have (its incident's opening, and the monitor down too in the grouped
    update that follows at once: grouping); one that came back meanwhile sends nothing."""
    w = World(grid(6, 3))
    w.passed(T0)
    w.fail("h0m0", T0 + 1)
    w.fail("h1m0", T0 + 2)
    w.fail("h2m0", T0 + 3)
    w.fail("h2m1", T0 + 10)
    w.fail("h2m2", T0 + 11)
    w.recover("h2m2", T0 + 12)
    assert alerts(w.tick(T0 + 32)) == []
    events = w.tick(T0 + 33)
    assert [type(e) for e in events] == [Released, Released, Updated]
    assert events[1].alerts == ()
    opened, down = (events[i].alerts[0].payload for i in (0, 2))
    assert (opened.event, opened.monitor) == ("incident.opened", "h2m0")
    assert opened.text.startswith("h2m0 is down since ")
    assert opened.text.endswith(": connection refused on h2: h2m0: refused")
    assert (down.event, down.monitor) == ("incident.updated", "h2m1")
    assert "1 more monitor down: h2m1 (" in down.text
    assert alerts(w.tick(T0 + 100)) == []


def test_a_pause_in_the_local_incident_is_no_recovery() -> None:
    """Issue 24: a monitor paused while down in the local incident left it (a pause read
    as a recovery, in its grouped news).  Now it stays in it, marked paused, with a line
    on the timeline and no alert; resumed and still failing alike it is back without a
    page; reminders go out while a member is not paused, and stop while every member is.
    The last member, resumed and failing for another cause, ends the incident in words
    that say so, not "back up"."""
    hosts = grid(3, 1)
    w = World(hosts, {m: IncidentRoute(("ops",), remind_every=300) for m in hosts})
    for i, name in enumerate(hosts):
        w.fail(name, T0 + i)
    (local,) = w.e.open_incidents()
    assert local.key == "local"

    def pause(name: str, at: float) -> list[Event]:
        w.failures.set(name, None)
        change = StateChanged(name, at, State.DOWN, State.PAUSED, "paused")
        return w._keep(w.e.changed(change, None, w.failures, w.hosts))

    def back(name: str, at: float) -> list[Event]:
        w.failures.set(name, None)
        change = StateChanged(name, at, State.PAUSED, State.UP, "passed")
        return w._keep(w.e.changed(change, None, w.failures, w.hosts))

    paused = pause("h0m0", T0 + 10)
    assert alerts(paused) == []
    assert [e.entry.event for e in paused if e.entry] == ["monitor paused"]
    within = w.e.incident_of("h0m0")
    assert within is not None
    assert within.id == local.id
    assert [m.event for e in paused for m in e.moves] == ["paused"]
    resumed = w.fail("h0m0", T0 + 20)
    assert alerts(resumed) == []
    assert [e.entry.event for e in resumed if e.entry] == ["monitor resumed"]
    pause("h0m0", T0 + 30)
    pause("h1m0", T0 + 30)
    assert alerts(w.tick(local.opened + 300)) == [("incident.reminder", "ops")]  # h2m0 is not
    pause("h2m0", T0 + 400)
    assert alerts(w.tick(local.opened + 600)) == []  # every member paused: no reminder
    back("h0m0", T0 + 700)
    back("h2m0", T0 + 700)
    ended = w.fail("h1m0", T0 + 800, Kind.HTTP_SERVER_ERROR)
    resolved = [
        a.payload.text for e in ended for a in e.alerts if a.payload.event == "incident.resolved"
    ]
    lasted = "13 min 18 s"  # from its opening (T0 + 2) to T0 + 800
    assert resolved == [
        f"incident #{local.id} resolved after {lasted}: "
        "h1m0, the last in it, fails for another cause now"
    ]


def _cluster_wave(world: World, hosts: int, per_host: int, interval: float) -> None:
    """Every target refusing at once, as a cluster's leader sees it: the monitors go down
    one after another over one interval (each host's in turn), the engine ticked each
    second as the runner ticks it."""
    order = [f"h{h}m{m}" for m in range(per_host) for h in range(hosts)]
    step = interval / len(order)
    ticked = T0
    for i, name in enumerate(order):
        at = T0 + 2 + i * step  # down after its confirmations
        while ticked + 1 <= at:
            ticked += 1
            world.tick(ticked)
        world.fail(name, at)
    for second in range(int(interval) + 120):
        world.tick(ticked + 1 + second)


def test_a_cluster_leader_pages_a_mass_outage_once() -> None:
    """A cluster's leader sees state changes and no passing check, so a host counts for
    the ``local`` group only once every monitor on it fails, one interval into a wave.
    With its rules (:func:`leader_rules`: the wait lasts until a whole host can be seen
    failing) and every host failing with the kind counted for the wait, a wave of 32
    hosts pages the first two hosts' incidents and the ``local`` incident, and nothing
    else; with the rules of one process, most hosts' incidents paged one by one."""
    hosts, per_host, interval = 32, 20, 30.0
    rules = leader_rules([(interval, 10.0, 3)])
    assert rules.local_wait == interval + 2 * (1.0 + 10.0) + LEADER_LAG
    leader = World(grid(hosts, per_host), rules=rules)
    leader.failures.sees_passes = False
    _cluster_wave(leader, hosts, per_host, interval)
    pages = [(a.payload.event, e.incident.key) for e in leader.events for a in e.alerts]
    opened = [key for event, key in pages if event == "incident.opened"]
    assert opened == ["host:h0:connect.refused", "host:h1:connect.refused", "local"]
    assert [p for p in pages if p[0] == "monitor.down"] == []
    (local,) = leader.e.open_incidents()
    assert (local.key, len(local.members)) == ("local", hosts * per_host)
    # What a leader did before: the rules of one process, only whole hosts counted.
    before = World(grid(hosts, per_host))
    _cluster_wave(before, hosts, per_host, interval)
    opens = [a for e in before.events for a in e.alerts if a.payload.event == "incident.opened"]
    assert len(opens) > hosts / 2


def test_a_leaders_wait_is_long_enough_for_its_slowest_host() -> None:
    """The leader's wait is the longest interval plus its confirmations' re-probes and
    timeouts, plus the leader's lag; never shorter than the rules' own."""
    assert leader_rules([]).local_wait == 30.0
    assert leader_rules([(10.0, 1.0, 3), (60.0, 5.0, 2)]).local_wait == 60 + 6 + LEADER_LAG
    assert leader_rules([(5.0, 1.0, 1)]).local_wait == 30.0
