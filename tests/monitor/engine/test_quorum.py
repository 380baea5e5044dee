"""The quorum aggregator, pure, on a virtual clock: each location's state of a monitor in,
the monitor's state for the cluster out; one location passes the detector's changes
through unchanged; dead, flapping and paused locations follow the documented rules."""

from __future__ import annotations

import pytest

from tests.helpers.detect_feed import Feed
from tether._kinds import Kind
from tether.monitor._records import LocationFact, LocationState, ProbeRecord
from tether.monitor._state import State
from tether.monitor.engine._detect import Detector, StateChanged
from tether.monitor.engine._quorum import (
    MAJORITY,
    LocationsChanged,
    Placement,
    Quorum,
    QuorumEvent,
    Verdict,
    _Monitor,
    location_state,
)

T0 = 1_800_000_000.0
LOCS = ("eu-west", "us-east", "local")
TIMEOUT = Kind.CONNECT_TIMEOUT


class Cluster:
    """One monitor's locations, set by hand as their instances would publish them."""

    def __init__(
        self,
        locations: tuple[str, ...] = LOCS,
        quorum: int | str = "majority",
        live: tuple[str, ...] | None = None,
    ) -> None:
        placement = Placement(locations, quorum)  # type: ignore[arg-type]
        self.q = Quorum({"api": placement}, live=locations if live is None else live)
        self.now = T0

    def set(
        self,
        location: str,
        state: State,
        kind: Kind | None = None,
        after: float = 10.0,
        reason: str = "",
        detail: str | None = None,
    ) -> list[QuorumEvent]:
        self.now += after
        if detail is None and kind is not None:
            detail = f"{location} saw {kind.value}"
        row = LocationState("api", location, state, self.now, reason, kind, detail, "api.lan")
        return self.q.update(row, self.now)

    def all(self, state: State, kind: Kind | None = None) -> list[QuorumEvent]:
        events: list[QuorumEvent] = []
        for loc in self.q.locations("api"):
            events += self.set(loc, state, kind)
        return events

    @property
    def state(self) -> State:
        return self.q.state("api")


def changes(events: list[QuorumEvent]) -> list[StateChanged]:
    return [e for e in events if isinstance(e, StateChanged)]


def pictures(events: list[QuorumEvent]) -> list[LocationsChanged]:
    return [e for e in events if isinstance(e, LocationsChanged)]


def last_picture(events: list[QuorumEvent]) -> LocationsChanged:
    found = pictures(events)
    assert found, events
    return found[-1]


# --- the quorum's size ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quorum", "counted", "needed"),
    [
        ("majority", 1, 1),
        ("majority", 2, 2),
        ("majority", 3, 2),
        ("majority", 4, 3),
        ("majority", 5, 3),
        ("majority", 0, 1),
        (1, 3, 1),
        (2, 3, 2),
        (3, 3, 3),
        (3, 2, 2),  # a dead location lowers a fixed quorum to what is alive
        (3, 1, 1),
        (3, 0, 1),
    ],
)
def test_needed_is_more_than_half_or_the_number_lowered_to_the_live(
    quorum: int | str, counted: int, needed: int
) -> None:
    """majority: more than half of the counted locations; a number: itself, at most the
    counted locations, at least 1."""
    assert Placement(LOCS, quorum).needed(counted) == needed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("locations", "quorum", "message"),
    [
        ((), "majority", "at least one location"),
        (("a", "a"), "majority", "each once"),
        (("a",), 0, "quorum: must be at least 1 or majority, not 0"),
    ],
)
def test_a_placement_refuses_nonsense(
    locations: tuple[str, ...], quorum: int | str, message: str
) -> None:
    """No locations, a location twice, a quorum below 1."""
    with pytest.raises(ValueError, match=message):
        Placement(locations, quorum)  # type: ignore[arg-type]


# --- one location: the detector's changes, unchanged -----------------------------------------


def test_one_location_passes_every_detector_change_through_unchanged() -> None:
    """A single instance's whole life (first pass, outage, recovery, flapping and settling,
    pause and resume): the quorum gives back exactly the detector's StateChanged events,
    and never a LocationsChanged."""
    detector = Detector()
    feed = Feed(detector)
    q = Quorum({"api": Placement(("local",))}, live=("local",))
    seen: list[StateChanged] = []
    made: list[QuorumEvent] = []

    def run(events: list[object]) -> None:
        for event in events:
            if isinstance(event, StateChanged):
                seen.append(event)
                made.extend(q.update(location_state(event, "local"), event.at))

    run(feed.ok())
    for _ in range(3):
        run(feed.fail(Kind.CONNECT_REFUSED))
    for _ in range(2):
        run(feed.ok())
    for _ in range(3):  # down, up, down, up, ...: flapping
        for _ in range(3):
            run(feed.fail(after=5))
        for _ in range(2):
            run(feed.ok(after=5))
    run(feed.ok(after=700))  # settles
    run(detector.pause("api", feed.now + 1))
    run(detector.resume("api", feed.now + 2))
    run(feed.ok(after=3))
    assert {e.new for e in seen} >= {State.UP, State.DOWN, State.FLAPPING, State.PAUSED}
    assert made == seen
    assert q.state("api") is detector.state("api")


def test_one_location_down_with_quorum_1() -> None:
    """quorum 1 of 1 is majority of 1: the location's down is the monitor's down."""
    c = Cluster(("local",), quorum=1)
    c.set("local", State.UP, reason="first check passed")
    (change,) = c.set("local", State.DOWN, TIMEOUT, reason="3 consecutive checks failed")
    assert isinstance(change, StateChanged)
    assert (change.old, change.new, change.reason) == (
        State.UP,
        State.DOWN,
        "3 consecutive checks failed",
    )


# --- three locations ------------------------------------------------------------------------


def test_first_location_up_makes_the_monitor_up() -> None:
    """Locations start unknown; the first one that sees it up makes it up."""
    c = Cluster()
    (change,) = changes(c.set("eu-west", State.UP))
    assert (change.old, change.new, change.reason) == (
        State.UNKNOWN,
        State.UP,
        "up from 1 of 3 locations",
    )


def test_one_of_three_failing_is_partial_and_not_down() -> None:
    """1 of 3 below the majority of 2: the monitor stays up, and the picture says which
    location fails, why, and that it is partial."""
    c = Cluster()
    c.all(State.UP)
    events = c.set("eu-west", State.DOWN, TIMEOUT)
    assert changes(events) == []
    picture = last_picture(events)
    assert picture.partial
    assert (picture.failing, picture.needed, picture.counted) == (("eu-west",), 2, 3)
    assert picture.locations["eu-west"] == LocationFact(
        State.DOWN, TIMEOUT, "eu-west saw connect.timeout", c.now
    )
    assert list(picture.locations) == list(LOCS)
    assert c.state is State.UP


def test_two_of_three_failing_is_down_with_each_locations_kind() -> None:
    """A quorum of locations down: the monitor is down, the reason names each location and
    its kind, and the picture is no longer partial."""
    c = Cluster()
    c.all(State.UP)
    c.set("eu-west", State.DOWN, TIMEOUT)
    events = c.set("us-east", State.DOWN, TIMEOUT)
    (change,) = changes(events)
    assert (change.old, change.new) == (State.UP, State.DOWN)
    assert change.reason == (
        "down from 2 of 3 locations: eu-west (connect.timeout), us-east (connect.timeout)"
    )
    assert change.at == c.now
    assert not last_picture(events).partial
    assert isinstance(events[0], StateChanged)  # the change first, then the picture


def test_recovery_in_any_order() -> None:
    """Down from two; one back: up again, partial from the other; the other back: nothing
    fails."""
    c = Cluster()
    c.all(State.UP)
    c.set("eu-west", State.DOWN, TIMEOUT)
    c.set("us-east", State.DOWN, TIMEOUT)
    events = c.set("eu-west", State.UP)
    (change,) = changes(events)
    assert (change.old, change.new) == (State.DOWN, State.UP)
    assert change.reason == (
        "up from 2 of 3 locations; failing from us-east (connect.timeout), below the quorum of 2"
    )
    assert last_picture(events).failing == ("us-east",)
    assert last_picture(events).partial
    events = c.set("us-east", State.UP)
    assert changes(events) == []
    assert last_picture(events).failing == ()
    assert not last_picture(events).partial


def test_cut_all_is_one_change_to_down() -> None:
    """Every location fails one after the other: one StateChanged (at the second), and the
    third is a new picture only."""
    c = Cluster()
    c.all(State.UP)
    events = c.all(State.DOWN, TIMEOUT)
    assert [(e.old, e.new) for e in changes(events)] == [(State.UP, State.DOWN)]
    assert last_picture(events).failing == LOCS


@pytest.mark.parametrize(
    ("quorum", "down_at"),
    [(1, 1), (2, 2), (3, 3), ("majority", 2)],
)
def test_the_quorum_decides_how_many_failures_are_down(quorum: int | str, down_at: int) -> None:
    """quorum 1: any location down is down; quorum 3 of 3: only all of them."""
    c = Cluster(quorum=quorum)
    c.all(State.UP)
    for n, loc in enumerate(LOCS, start=1):
        c.set(loc, State.DOWN, TIMEOUT)
        assert (c.state is State.DOWN) == (n >= down_at), (n, c.state)


def test_a_kind_that_changes_at_a_failing_location_is_a_new_picture() -> None:
    """The same state with another kind: a LocationsChanged; another detail only (timings,
    an address) is not news."""
    c = Cluster()
    c.all(State.UP)
    c.set("eu-west", State.DOWN, TIMEOUT)
    assert c.set("eu-west", State.DOWN, TIMEOUT, detail="took 10.2 s this time") == []
    events = c.set("eu-west", State.DOWN, Kind.CONNECT_REFUSED)
    assert changes(events) == []
    assert last_picture(events).locations["eu-west"].kind is Kind.CONNECT_REFUSED


def test_the_standing_failure_is_the_most_common_kind() -> None:
    """observation and record stand for the monitor's failure: the most common kind among
    the failing locations, the first location's on a tie; none while nothing fails."""
    c = Cluster(("a", "b", "c", "d"), quorum=1)
    c.all(State.UP)
    assert c.q.observation("api") is None
    assert c.q.record("api") is None
    c.set("a", State.DOWN, Kind.DNS_TIMEOUT)
    c.set("b", State.DOWN, TIMEOUT)
    c.set("c", State.DOWN, TIMEOUT)
    seen = c.q.observation("api")
    assert seen is not None
    assert (seen.kind, seen.host, seen.ok) == (TIMEOUT, "api.lan", False)
    assert c.q.record("api") == ProbeRecord(
        "api", T0 + 60, False, TIMEOUT, None, "b saw connect.timeout"
    )
    assert c.q.down() == [seen]
    c.set("c", State.UP)
    seen = c.q.observation("api")
    assert seen is not None
    assert seen.kind is Kind.DNS_TIMEOUT  # a tie: a comes first


# --- dead locations -------------------------------------------------------------------------


def test_a_dead_location_is_not_counted_and_is_shown_as_such() -> None:
    """local's last instance dies: 2 locations counted, the majority of 2 is 2, so one
    failure is partial and two are down; the reason and the picture say local is not
    counted."""
    c = Cluster()
    c.all(State.UP)
    events = c.q.set_live(("eu-west", "us-east"), c.now)
    assert changes(events) == []
    picture = last_picture(events)
    assert (picture.counted, picture.needed) == (2, 2)
    assert picture.locations["local"].live is False
    assert last_picture(c.set("eu-west", State.DOWN, TIMEOUT)).partial
    (change,) = changes(c.set("us-east", State.DOWN, TIMEOUT))
    assert change.reason == (
        "down from 2 of 2 locations: eu-west (connect.timeout), us-east (connect.timeout); "
        "not counted: local (no live instance)"
    )


def test_a_failing_location_that_dies_stops_counting() -> None:
    """Down from eu-west and us-east; us-east's instance dies: 1 of 2 counted fail, below
    the majority of 2, so the monitor is up again, partial from eu-west."""
    c = Cluster()
    c.all(State.UP)
    c.set("eu-west", State.DOWN, TIMEOUT)
    c.set("us-east", State.DOWN, TIMEOUT)
    events = c.q.set_live(("eu-west", "local"), c.now + 1)
    (change,) = changes(events)
    assert (change.old, change.new) == (State.DOWN, State.UP)
    assert last_picture(events).failing == ("eu-west",)
    assert c.q.set_live(("eu-west", "local"), c.now + 2) == []  # the same: nothing


def test_a_fixed_quorum_falls_to_the_live_locations() -> None:
    """quorum 3 with one location dead: the 2 alive decide, rather than never."""
    c = Cluster(quorum=3, live=("eu-west", "us-east"))
    c.set("eu-west", State.DOWN, TIMEOUT)
    c.set("us-east", State.DOWN, TIMEOUT)
    assert c.state is State.DOWN


def test_no_live_location_is_unknown_and_its_return_is_judged_again() -> None:
    """Nobody probes it: unknown, saying why; the instances back, their states count."""
    c = Cluster()
    c.all(State.UP)
    (change,) = changes(c.q.set_live((), c.now + 1))
    assert (change.new, change.reason) == (
        State.UNKNOWN,
        "no live instance at eu-west, us-east and local: nothing probes it",
    )
    (change,) = changes(c.q.set_live(LOCS, c.now + 2))
    assert (change.old, change.new) == (State.UNKNOWN, State.UP)


# --- flapping, paused, unknown --------------------------------------------------------------


def test_a_flapping_location_that_decides_the_quorum_makes_the_monitor_flap() -> None:
    """eu-west down, us-east flapping: down only if us-east counts as down; flapping, so
    alerts wait as for one flapping monitor.  us-east settling decides."""
    c = Cluster()
    c.all(State.UP)
    c.set("eu-west", State.DOWN, TIMEOUT)
    (change,) = changes(c.set("us-east", State.FLAPPING, TIMEOUT))
    assert (change.old, change.new) == (State.UP, State.FLAPPING)
    assert change.reason == (
        "2 of 3 locations down or flapping (eu-west (connect.timeout), us-east (flapping)), "
        "the quorum is 2: flapping until they settle"
    )
    (change,) = changes(c.set("us-east", State.DOWN, TIMEOUT))
    assert (change.old, change.new) == (State.FLAPPING, State.DOWN)


def test_a_flapping_location_below_the_quorum_is_a_partial_failure() -> None:
    """us-east flapping alone cannot reach 2 of 3: the monitor stays up; us-east is listed
    among the failing locations, as flapping."""
    c = Cluster()
    c.all(State.UP)
    events = c.set("us-east", State.FLAPPING, TIMEOUT)
    assert changes(events) == []
    picture = last_picture(events)
    assert picture.partial
    assert picture.locations["us-east"].why == "flapping"
    events = c.set("us-east", State.UP)
    assert changes(events) == []  # settled up: the monitor was up all along
    assert last_picture(events).failing == ()


def test_flapping_settles_up_from_the_monitor_point_of_view() -> None:
    """Flapping because of us-east; us-east settles up: the monitor is up, partial from
    eu-west."""
    c = Cluster()
    c.all(State.UP)
    c.set("eu-west", State.DOWN, TIMEOUT)
    c.set("us-east", State.FLAPPING, TIMEOUT)
    events = c.set("us-east", State.UP)
    (change,) = changes(events)
    assert (change.old, change.new) == (State.FLAPPING, State.UP)
    assert last_picture(events).failing == ("eu-west",)


def test_degraded_from_a_quorum_of_locations() -> None:
    """Slow from one location of three: up; from two: degraded."""
    c = Cluster()
    c.all(State.UP)
    assert changes(c.set("eu-west", State.DEGRADED)) == []
    (change,) = changes(c.set("us-east", State.DEGRADED))
    assert (change.new, change.reason) == (
        State.DEGRADED,
        "slower than usual from 2 of 3 locations: eu-west and us-east",
    )


def test_paused_everywhere_is_paused_and_a_resume_is_unknown() -> None:
    """Paused at each location: paused once all are; the first resumed location makes it
    unknown (resumed), and its first pass up."""
    c = Cluster()
    c.all(State.UP)
    events = c.all(State.PAUSED)
    assert [(e.old, e.new, e.reason) for e in changes(events)] == [
        (State.UP, State.PAUSED, "paused")
    ]
    (change,) = changes(c.set("eu-west", State.UNKNOWN))
    assert (change.old, change.new, change.reason) == (State.PAUSED, State.UNKNOWN, "resumed")
    (change,) = changes(c.set("eu-west", State.UP))
    assert change.new is State.UP


def test_a_location_paused_alone_is_not_counted() -> None:
    """During a rolling reload one location has it paused already: 2 counted, and two
    failures of those are down."""
    c = Cluster()
    c.all(State.UP)
    c.set("local", State.PAUSED)
    c.set("eu-west", State.DOWN, TIMEOUT)
    assert c.state is State.UP
    c.set("us-east", State.DOWN, TIMEOUT)
    assert c.state is State.DOWN


def test_failures_with_only_unknown_others_wait() -> None:
    """At start, eu-west fails and the others have no result yet: not down (1 of 3), not up
    (nobody sees it up): unknown, partial."""
    c = Cluster()
    events = c.set("eu-west", State.DOWN, TIMEOUT)
    assert changes(events) == []
    assert c.state is State.UNKNOWN
    assert last_picture(events).partial


def test_a_location_without_a_result_keeps_a_decided_state() -> None:
    """Down from eu-west and us-east before local said anything; a reload replaces us-east
    by ap-south, which has no result yet: 1 failure of 3, and nobody sees it up: the
    monitor stays down rather than guessing, until a location decides."""
    c = Cluster(live=(*LOCS, "ap-south"))
    c.set("eu-west", State.DOWN, TIMEOUT)
    c.set("us-east", State.DOWN, TIMEOUT)
    assert c.state is State.DOWN
    events = c.q.configure("api", Placement(("eu-west", "ap-south", "local")), c.now + 1)
    assert changes(events) == []
    assert last_picture(events).failing == ("eu-west",)
    (change,) = changes(c.set("local", State.UP))
    assert (change.old, change.new) == (State.DOWN, State.UP)


# --- reload, forget, restore ----------------------------------------------------------------


def test_reload_dropping_a_failing_location_ends_the_partial_failure() -> None:
    """eu-west fails; the reload probes api from us-east and local only: nothing fails,
    and eu-west's stale state is dropped (it would not count if it came back)."""
    c = Cluster()
    c.all(State.UP)
    c.set("eu-west", State.DOWN, TIMEOUT)
    events = c.q.configure("api", Placement(("us-east", "local")), c.now + 1)
    picture = last_picture(events)
    assert (picture.failing, list(picture.locations)) == ((), ["us-east", "local"])
    events = c.q.configure("api", Placement(LOCS), c.now + 2)
    assert last_picture(events).locations["eu-west"].state is State.UNKNOWN


def test_reload_lowering_the_quorum_can_make_it_down() -> None:
    """One location down of three is partial under majority, down under quorum 1."""
    c = Cluster()
    c.all(State.UP)
    c.set("eu-west", State.DOWN, TIMEOUT)
    (change,) = changes(c.q.configure("api", Placement(LOCS, 1), c.now + 1))
    assert (change.new, change.reason) == (
        State.DOWN,
        "down from 1 of 3 locations: eu-west (connect.timeout)",
    )


def test_a_new_monitor_a_forgotten_one_and_rows_for_unknown_places() -> None:
    """configure adds a monitor (unknown, a first picture); rows for a location it is not
    probed from, or a monitor not configured, are ignored; forget drops it."""
    q = Quorum(live=LOCS)
    events = q.configure("api", Placement(("eu-west", "us-east")), T0)
    assert changes(events) == []
    assert last_picture(events).state is State.UNKNOWN
    assert q.update(LocationState("api", "local", State.DOWN, T0), T0) == []
    assert q.update(LocationState("db", "eu-west", State.DOWN, T0), T0) == []
    q.forget("api")
    assert q.state("api") is State.UNKNOWN
    assert q.states() == {}


def test_restore_decides_nothing_then_changes_pass() -> None:
    """A single instance restarting with its saved states: no events, the states are
    known, and the next change is a change from them."""
    q = Quorum({"api": Placement(("local",))}, live=("local",))
    q.restore([LocationState("api", "local", State.DOWN, T0, kind=TIMEOUT)])
    assert q.state("api") is State.DOWN
    change = StateChanged("api", T0 + 60, State.DOWN, State.UP, "2 consecutive checks passed")
    assert q.update(location_state(change, "local"), T0 + 60) == [change]


def test_a_snapshot_gives_each_multi_location_monitor_its_picture() -> None:
    """What a new leader hands the engine after the published states."""
    q = Quorum(
        {"api": Placement(LOCS), "db": Placement(("local",))},
        live=LOCS,
    )
    q.update(LocationState("api", "eu-west", State.DOWN, T0, kind=TIMEOUT), T0)
    (picture,) = q.snapshot(T0 + 1)
    assert (picture.monitor, picture.failing, picture.at) == ("api", ("eu-west",), T0 + 1)


def test_location_state_is_what_an_instance_publishes() -> None:
    """The detector's change with the check behind it: the new state, when, why, the kind
    and detail of a failure, the host and the latency."""
    change = StateChanged("api", T0, State.UP, State.DOWN, "3 consecutive checks failed")
    record = ProbeRecord("api", T0, False, TIMEOUT, 10_000.0, "203.0.113.7:443 timed out")
    assert location_state(change, "eu-west", record, "api.lan") == LocationState(
        "api",
        "eu-west",
        State.DOWN,
        T0,
        "3 consecutive checks failed",
        TIMEOUT,
        "203.0.113.7:443 timed out",
        "api.lan",
        10_000.0,
    )
    paused = StateChanged("api", T0, State.UP, State.PAUSED, "paused")
    assert location_state(paused, "eu-west").kind is None


def test_reprs_are_short() -> None:
    """The picture's repr says who fails, of how many, against which quorum."""
    c = Cluster()
    c.all(State.UP)
    picture = last_picture(c.set("eu-west", State.DOWN, TIMEOUT))
    assert repr(picture) == "<LocationsChanged api up failing=eu-west (1 of 3, quorum 2)>"


@pytest.mark.parametrize("quorum", [MAJORITY, 1, 2, 3])
@pytest.mark.parametrize("live", [True, False])
def test_one_location_is_judged_as_the_general_rule_judges_it(
    quorum: int | str, live: bool
) -> None:
    """The short way for a monitor of one location (once per change of a mass outage)
    gives the verdict the tallies of several give, for every state the location may
    have, none, and every verdict before."""
    for seen in [*State, None]:
        for before in [*State, None]:
            q = Quorum(live=["here"] if live else [])
            entry = _Monitor(Placement(("here",), quorum))
            if seen is not None:
                entry.rows["here"] = LocationState("m", "here", seen, 0.0, "")
            entry.verdict = None if before is None else Verdict(before, (), 1, (), ())
            assert q._judge_one(entry) == q._judge_many(entry), (seen, before)
