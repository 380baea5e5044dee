"""An objective's ledger as a cache of the store (issue 44 §2), held to properties over
random histories (hypothesis): counts loaded bucket by bucket are the counts of the same
checks fed one by one; a share taken away again leaves what was there; checks kept aside
while the store is read, and counted when the read lands, count once; the burn-down's
buckets add up to the figure; a new configuration keeps what its definition keeps."""

from __future__ import annotations

import math
from collections.abc import Iterable

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor.config import parse_config
from tether.monitor.engine.objectives._book import ObjectiveBook
from tether.monitor.engine.objectives._budget import (
    BudgetLedger,
    Objective,
    Sample,
    little_data,
)

NOW = 1_800_000_000.0
DAY = 86400.0
OBJECTIVE = Objective(0.999, 30 * DAY)

samples = st.lists(
    st.tuples(st.floats(0, 4 * DAY, allow_nan=False), st.booleans()).map(
        lambda t: Sample(NOW - t[0], t[1], None if t[1] else "connect.refused")
    ),
    max_size=300,
)


def bucketed(found: Iterable[Sample], width: float) -> dict[int, tuple[int, int]]:
    """What the store gives back for ``width``: each bucket's (good, total)."""
    out: dict[int, list[int]] = {}
    for s in found:
        bucket = out.setdefault(math.floor(s.at / width), [0, 0])
        bucket[0] += int(s.passed)
        bucket[1] += 1
    return {i: (g, t) for i, (g, t) in out.items()}


def loaded(found: list[Sample], now: float = NOW) -> BudgetLedger:
    ledger = BudgetLedger(OBJECTIVE)
    for width in ledger.widths:
        ledger.load(width, bucketed(found, width))
    return ledger


@given(samples, st.floats(0, DAY))
def test_loading_the_buckets_counts_as_feeding_the_checks(
    found: list[Sample], later: float
) -> None:
    """A ledger loaded with each bucket's counts (a seed from the store) says what one fed
    the same checks says, now and later: every window, every burn rate."""
    fed = BudgetLedger(OBJECTIVE)
    fed.add_all(found)
    seeded = loaded(found)
    for at in (NOW, NOW + later):
        assert seeded.status(at) == fed.status(at)


@given(samples, samples)
def test_a_share_taken_away_leaves_what_was_there(mine: list[Sample], theirs: list[Sample]) -> None:
    """Another monitor's share added and taken away again (a discovered target that came
    and went): the ledger counts what it counted before."""
    ledger = loaded(mine)
    before = ledger.status(NOW)
    for width in ledger.widths:
        ledger.load(width, bucketed(theirs, width))
    for width in ledger.widths:
        ledger.load(width, bucketed(theirs, width), -1)
    assert ledger.status(NOW) == before


@given(samples)
def test_the_burn_down_buckets_add_up_to_the_figure(found: list[Sample]) -> None:
    """The buckets the window reads (the chart's) add up to its good and total; the first
    is the one the window's start falls in."""
    ledger = loaded(found)
    status = ledger.status(NOW)
    steps = ledger.steps(NOW)
    assert (sum(g for _, g, _ in steps), sum(t for _, _, t in steps)) == status.counts
    width = ledger.window_width
    assert steps[0][0] == math.floor((NOW - OBJECTIVE.window) / width) * width
    assert status.little_data == little_data((1 - OBJECTIVE.target) * status.counts.total)
    first = next((a for a, _, t in steps if t), None)
    assert status.since == first


CONFIG = """\
monitors:
  - {name: api, url: "http://127.0.0.1:9/"}
objectives:
  - {name: front, monitors: [api], target: 99.9%, window: 30d}
"""


@settings(max_examples=60, deadline=None)
@given(samples, st.floats(-DAY, 0))
def test_checks_kept_aside_while_the_store_is_read_count_once(
    found: list[Sample], cut: float
) -> None:
    """The store is read up to a moment while checks keep coming, in any order: those
    before the moment are the read's, those after it are kept aside and counted when the
    read lands.  The ledger then counts every check once, as one fed them all."""
    moment = NOW + cut
    records = [
        ProbeRecord("api", s.at, s.passed, None if s.passed else Kind.CONNECT_REFUSED)
        for s in found
    ]
    everything, seeded = ObjectiveBook(parse_config(CONFIG)), ObjectiveBook(parse_config(CONFIG))
    for r in records:
        everything.observe(r)
    seeded.hold("front", moment)
    for r in records:
        seeded.observe(r)  # the live count, meanwhile
    ledger = seeded.ledgers["front"]
    read = [s for s in found if s.at < moment]
    for width in ledger.widths:
        ledger.load(width, bucketed(read, width))
    seeded.release("front")
    assert seeded.status("front", NOW) == everything.status("front", NOW)


MONITORS = [
    {"name": "api", "url": "http://127.0.0.1:9/", "labels": {"svc": "shop"}},
    {"name": "pod", "url": "http://127.0.0.1:9/", "labels": {"svc": "shop"}},
    {"name": "other", "url": "http://127.0.0.1:9/"},
]
objectives = st.fixed_dictionaries(
    {
        "target": st.sampled_from(["99%", "99.9%"]),
        "match": st.sampled_from([{"svc": "shop"}, {"monitor": "api"}, {"monitor": "pod"}]),
        "rules": st.sampled_from(["default", "one"]),
    }
)
ONE_RULE = [{"severity": "page", "burn": 14.4, "long": "1h", "short": "5m"}]


def config_of(spec: dict[str, object] | None) -> str:
    """``keep`` over ``other`` always, and ``o`` as ``spec`` says (None: none)."""
    found: list[dict[str, object]] = [{"name": "keep", "monitors": ["other"], "target": "99%"}]
    if spec is not None:
        o = {"name": "o", "match": spec["match"], "target": spec["target"]}
        if spec["rules"] == "one":
            o["burn_rates"] = ONE_RULE
        found.append(o)
    return yaml.safe_dump({"monitors": MONITORS, "objectives": found})


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.none(), objectives), st.one_of(st.none(), objectives))
def test_a_new_configuration_keeps_what_its_definition_keeps(
    before: dict[str, object] | None, after: dict[str, object] | None
) -> None:
    """From any configuration to any other: an objective defined as before keeps its very
    ledger (its monitors may change: their shares move, nothing else); one whose
    definition changed starts a fresh ledger carrying the firing rules it still has; every
    firing rule that no longer exists is dropped, to be resolved, and no other."""
    old = ObjectiveBook(parse_config(config_of(before)))
    for ledger in old.ledgers.values():
        ledger.firing = dict.fromkeys(ledger.objective.rules[:2], NOW)
    new = ObjectiveBook(parse_config(config_of(after)))
    moved, dropped = new.take(old)
    assert new.ledgers["keep"] is old.ledgers["keep"]
    gone = {(d.objective, d.rule) for d in dropped}
    if "o" in old.ledgers:
        was = old.ledgers["o"]
        if "o" not in new.ledgers:
            assert gone == {("o", r) for r in was.firing}
        elif new.ledgers["o"] is was:
            assert before is not None
            assert after is not None
            assert (before["target"], before["rules"]) == (after["target"], after["rules"])
            assert gone == set()
        else:
            kept = {r for r in was.firing if r in new.ledgers["o"].objective.rules}
            assert set(new.ledgers["o"].firing) == kept
            assert gone == {("o", r) for r in was.firing if r not in kept}
            assert any(m.name == "o" and m.fresh for m in moved)
    else:
        assert gone == set()
