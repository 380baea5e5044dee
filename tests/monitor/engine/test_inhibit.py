"""Inhibition as a pure index (``engine/_inhibit.py``): the rules' source and target
matchers, ``equal`` labels, ``kind``, ``depends_on`` as rules of its own, the words of a
hold, what a check reads at scale, and a property against a brute force over random
labels, rules and states."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor._state import State
from tether.monitor.config.labels._labels import Matcher, parse_matchers
from tether.monitor.engine._detect import Observation
from tether.monitor.engine._holds import Holds, hold_of
from tether.monitor.engine._inhibit import Inhibition, Rule

GATEWAY_TO_BACKEND = Rule(
    parse_matchers('role="gateway"'),
    parse_matchers('role="backend"'),
    ("site",),
    "inhibit_rules[0]",
)
LABELS = {
    "gw-a": {"role": "gateway", "site": "a"},
    "gw-b": {"role": "gateway", "site": "b"},
    "be-a": {"role": "backend", "site": "a"},
    "be-b": {"role": "backend", "site": "b"},
    "be-x": {"role": "backend"},
    "gw-x": {"role": "gateway"},
}
SITES = Inhibition.build(LABELS, [GATEWAY_TO_BACKEND])


def test_a_source_down_holds_the_targets_that_share_its_equal_labels() -> None:
    """gw-a down holds be-a, not be-b; the words name the source and the rule."""
    states = {"gw-a": State.DOWN}
    assert SITES.why("be-a", states) == "inhibited by gw-a (down): inhibit_rules[0]"
    assert SITES.why("be-b", states) is None
    assert SITES.why("gw-b", states) is None


def test_a_label_neither_has_agrees_and_one_only_one_has_does_not() -> None:
    """As in Alertmanager: be-x and gw-x have no site, so they agree; be-a has one."""
    assert SITES.why("be-x", {"gw-x": State.DOWN}) == "inhibited by gw-x (down): inhibit_rules[0]"
    assert SITES.why("be-a", {"gw-x": State.DOWN}) is None
    assert SITES.why("be-x", {"gw-a": State.DOWN}) is None


@pytest.mark.parametrize(
    "state", [State.UP, State.DEGRADED, State.FLAPPING, State.UNKNOWN, State.PAUSED]
)
def test_only_a_source_that_is_down_holds(state: State) -> None:
    """A source failing but not down (flapping, degraded), paused or unknown holds nothing."""
    assert SITES.why("be-a", {"gw-a": state}) is None


def test_regular_expressions_select_sources_and_targets() -> None:
    """``=~`` and ``!~`` on either side, anchored at both ends."""
    rule = Rule(
        parse_matchers('role=~"gate.*"'), parse_matchers('tier!~"0|1"'), (), "inhibit_rules[2]"
    )
    labels = {
        "edge": {"role": "gateways"},
        "api": {"tier": "2"},
        "core": {"tier": "1"},
        "mid": {"role": "agate"},
    }
    inhibition = Inhibition.build(labels, [rule])
    held = inhibition.why("api", {"edge": State.DOWN})
    assert held == "inhibited by edge (down): inhibit_rules[2]"
    assert inhibition.why("core", {"edge": State.DOWN}) is None
    assert inhibition.why("api", {"mid": State.DOWN}) is None  # anchored: "agate" is not


def test_a_monitor_never_holds_itself() -> None:
    """A rule selecting gateways on both sides: gw-a down holds the other gateways,
    never itself."""
    rule = Rule(parse_matchers('role="gateway"'), parse_matchers('role="gateway"'), (), "r")
    inhibition = Inhibition.build(LABELS, [rule])
    states = {"gw-a": State.DOWN}
    assert inhibition.why("gw-a", states) is None
    assert inhibition.why("gw-b", states) == "inhibited by gw-a (down): r"


def test_depends_on_is_a_rule_asked_first_with_its_own_words() -> None:
    """A parent down holds its child in today's words, before any configured rule; the
    chain router <- db <- api holds api by db only once db is down itself."""
    labels = {"router": {}, "db": {"role": "gateway"}, "api": {"role": "backend"}}
    inhibition = Inhibition.build(
        labels,
        [Rule(parse_matchers('role="gateway"'), parse_matchers('role="backend"'), (), "r")],
        {"db": ["router"], "api": ["db"]},
    )
    assert inhibition.why("api", {"router": State.DOWN}) is None
    assert inhibition.why("db", {"router": State.DOWN}) == "router, which it depends on, is down"
    down = {"router": State.DOWN, "db": State.DOWN}
    assert inhibition.why("api", down) == "db, which it depends on, is down"
    assert [r.name for r in inhibition.rules] == ["", "", "r"]


def test_kind_matchers_read_the_source_s_failure_of_the_moment() -> None:
    """``kind="connect.refused"`` on the source holds only while the source fails so;
    without a kind to read, it reads the empty text and holds nothing."""
    rule = Rule(
        parse_matchers('role="gateway", kind="connect.refused"'),
        parse_matchers('role="backend"'),
        (),
        "inhibit_rules[1]",
    )
    inhibition = Inhibition.build(LABELS, [rule])
    states = {"gw-b": State.DOWN}
    kinds = {"gw-b": "connect.refused"}
    assert inhibition.why("be-a", states, kinds.get) == "inhibited by gw-b (down): inhibit_rules[1]"
    assert inhibition.why("be-a", states, {"gw-b": "tls.expired"}.get) is None
    assert inhibition.why("be-a", states) is None


def test_equal_kind_asks_both_failures() -> None:
    """``equal: [kind]``: the source and the target must fail with the same kind."""
    rule = Rule(parse_matchers('role="gateway"'), parse_matchers('role="backend"'), ("kind",), "r")
    inhibition = Inhibition.build(LABELS, [rule])
    states = {"gw-a": State.DOWN}
    same = {"gw-a": "dns.timeout", "be-b": "dns.timeout"}
    assert inhibition.why("be-b", states, same.get) == "inhibited by gw-a (down): r"
    assert inhibition.why("be-b", states, {**same, "be-b": "connect.refused"}.get) is None


def test_hold_of_asks_inhibition_after_flapping_and_before_windows() -> None:
    """The holds' order: flapping, then a monitor that holds it, then a window."""

    class Always:
        name = "nightly"

        def covers(self, monitor: str) -> bool:
            return True

        def active(self, at: object) -> bool:
            return True

    states = {"gw-a": State.DOWN, "be-a": State.DOWN}
    assert hold_of("be-a", 0.0, states, SITES, [Always()]) == (
        "inhibited by gw-a (down): inhibit_rules[0]"
    )
    assert hold_of("be-b", 0.0, states, SITES, [Always()]) == "maintenance window nightly"
    flapping = {**states, "be-a": State.FLAPPING}
    assert hold_of("be-a", 0.0, flapping, SITES, [Always()]) == "it is flapping"


class _Counting(Mapping[str, State]):
    """States that count how many are read: what a hold check costs."""

    def __init__(self, states: dict[str, State]) -> None:
        self.states, self.reads = states, 0

    def __getitem__(self, key: str) -> State:
        self.reads += 1
        return self.states[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.states)

    def __len__(self) -> int:
        return len(self.states)


def test_a_check_among_twenty_thousand_monitors_reads_its_candidates_alone() -> None:
    """20,000 backends over 1,000 sites, a gateway per site, and 20,000 depends_on edges:
    a backend's hold reads its site's gateway and its parent, not the fleet."""
    labels: dict[str, dict[str, str]] = {}
    for site in range(1000):
        labels[f"gw-{site}"] = {"role": "gateway", "site": str(site)}
        for n in range(20):
            labels[f"be-{site}-{n}"] = {"role": "backend", "site": str(site)}
    depends_on = {f"be-{s}-{n}": [f"gw-{(s + 1) % 1000}"] for s in range(1000) for n in range(20)}
    inhibition = Inhibition.build(labels, [GATEWAY_TO_BACKEND], depends_on)
    states = _Counting(dict.fromkeys(labels, State.UP))
    assert inhibition.why("be-7-3", states) is None
    assert states.reads <= 2
    states.states["gw-7"] = State.DOWN
    assert inhibition.why("be-7-3", states) == "inhibited by gw-7 (down): inhibit_rules[0]"
    assert inhibition.why("be-6-3", states) == "gw-7, which it depends on, is down"


# -- against a brute force ---------------------------------------------------------------

NAMES = ("a", "b", "c", "d", "e")
_LABELS = st.fixed_dictionaries(
    {},
    optional={"role": st.sampled_from(["gw", "be", "db"]), "site": st.sampled_from(["1", "2"])},
)
_VALUES = {
    "role": ["gw", "be", "db", "g.*", ".+"],
    "site": ["1", "2", "", ".*"],
    "monitor": ["a", "b", "c", "a|b"],
    "kind": ["connect.refused", "", "conn.*"],
}
_MATCHER = st.sampled_from(sorted(_VALUES)).flatmap(
    lambda name: st.builds(
        Matcher.of,
        st.just(name),
        st.sampled_from(["=", "=", "=~", "!=", "!~"]),
        st.sampled_from(_VALUES[name]),
    )
)
_RULE = st.builds(
    Rule,
    st.lists(_MATCHER, min_size=1, max_size=2).map(tuple),
    st.lists(_MATCHER, min_size=1, max_size=2).map(tuple),
    st.lists(st.sampled_from(["site", "role", "kind", "zone"]), max_size=2, unique=True).map(tuple),
    st.sampled_from(["r0", "r1"]),
)


def brute_force(
    monitor: str,
    labels: Mapping[str, Mapping[str, str]],
    rules: list[Rule],
    depends_on: Mapping[str, list[str]],
    states: Mapping[str, State],
    kinds: Mapping[str, str],
) -> str | None:
    """The hold, worked out from the definition over every monitor and rule."""
    for parent in sorted(depends_on.get(monitor, ())):
        if parent != monitor and states.get(parent) is State.DOWN:
            return f"{parent}, which it depends on, is down"

    def seen(name: str) -> dict[str, str]:
        return {**labels[name], "monitor": name, "kind": kinds.get(name, "")}

    for rule in rules:
        if monitor not in labels or not all(m.matches(seen(monitor)) for m in rule.target):
            continue
        for source in sorted(labels):
            if source == monitor or states.get(source) is not State.DOWN:
                continue
            if not all(m.matches(seen(source)) for m in rule.source):
                continue
            if all(seen(source).get(e, "") == seen(monitor).get(e, "") for e in rule.equal):
                return f"inhibited by {source} (down): {rule.name}"
    return None


@settings(max_examples=300, deadline=None)
@given(
    labels=st.dictionaries(st.sampled_from(NAMES), _LABELS, min_size=1),
    rules=st.lists(_RULE, max_size=3),
    depends_on=st.dictionaries(st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES))),
    states=st.dictionaries(st.sampled_from(NAMES), st.sampled_from([State.DOWN, *State])),
    kinds=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(["connect.refused", "x"])),
    monitor=st.sampled_from(NAMES),
)
def test_the_index_answers_as_a_brute_force_over_every_monitor_and_rule(
    labels: dict[str, dict[str, str]],
    rules: list[Rule],
    depends_on: dict[str, list[str]],
    states: dict[str, State],
    kinds: dict[str, str],
    monitor: str,
) -> None:
    """Whatever the labels, rules, parents, states and kinds: the index holds a monitor
    exactly when some other monitor down holds it by definition, and names the same one."""
    inhibition = Inhibition.build(labels, rules, depends_on)
    expected = brute_force(monitor, labels, rules, depends_on, states, kinds)
    assert inhibition.why(monitor, states, kinds.get) == expected


def test_holds_read_kinds_from_the_failures_the_runner_gives() -> None:
    """The runner hands the quorum's ``observation``: a rule's ``kind`` reads the source's
    failure there (its Kind as its code), and no failure reads as no kind."""
    rule = Rule(
        parse_matchers('role="gateway", kind="connect.refused"'),
        parse_matchers('role="backend"'),
        (),
        "inhibit_rules[0]",
    )
    holds = Holds(Inhibition.build(LABELS, [rule]))
    failures = {"gw-a": Observation("gw-a", False, 0.0, kind=Kind.CONNECT_REFUSED)}
    states = {"gw-a": State.DOWN}
    assert (
        holds.why("be-b", 0.0, states, failures.get) == "inhibited by gw-a (down): inhibit_rules[0]"
    )
    assert holds.why("be-b", 0.0, states, {}.get) is None
    timeout = {"gw-a": Observation("gw-a", False, 0.0, kind=Kind.CONNECT_TIMEOUT)}
    assert holds.why("be-b", 0.0, states, timeout.get) is None


@settings(max_examples=300, deadline=None)
@given(
    first=st.dictionaries(st.sampled_from(NAMES), _LABELS),
    labels=st.dictionaries(st.sampled_from(NAMES), _LABELS, min_size=1),
    rules=st.lists(_RULE, max_size=3),
    depends_on=st.dictionaries(st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES))),
    states=st.dictionaries(st.sampled_from(NAMES), st.sampled_from([State.DOWN, *State])),
    kinds=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(["connect.refused", "x"])),
)
def test_an_index_changed_in_place_answers_as_one_built_anew(
    first: dict[str, dict[str, str]],
    labels: dict[str, dict[str, str]],
    rules: list[Rule],
    depends_on: dict[str, list[str]],
    states: dict[str, State],
    kinds: dict[str, str],
) -> None:
    """An index built over one set of monitors, then changed to another (monitors added,
    relabelled, their parents changed, removed: a discovery change), holds each monitor
    as the brute force over the second set does."""
    parents = {n: p for n, p in depends_on.items() if n in labels}
    inhibition = Inhibition.build(first, rules, {n: ["a"] for n in first})
    inhibition.change(
        {n: (own, parents.get(n, [])) for n, own in labels.items()}, first.keys() - labels
    )
    for monitor in NAMES:
        expected = brute_force(monitor, labels, rules, parents, states, kinds)
        assert inhibition.why(monitor, states, kinds.get) == expected
