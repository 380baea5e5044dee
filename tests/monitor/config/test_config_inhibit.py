"""``inhibit_rules:`` in the configuration: what it accepts, each mistake said once at
its key path, and the holds a loaded file makes of it with ``depends_on``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.config_text import URL, dump, errors_of
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.engine._holds import Holds

FLEET = (
    {"name": "gw-a", "url": URL, "labels": {"role": "gateway", "site": "a"}},
    {"name": "gw-b", "url": URL, "labels": {"role": "gateway", "site": "b"}},
    {"name": "be-a", "url": URL, "labels": {"role": "backend", "site": "a"}},
    {"name": "be-b", "url": URL, "labels": {"role": "backend", "site": "b"}, "depends_on": ["db"]},
    {"name": "db", "url": URL},
)
RULE = {"source_matchers": {"role": "gateway"}, "target_matchers": {"role": "backend"}}


def inhibited(*rules: Any) -> str:
    return dump(*FLEET, inhibit_rules=list(rules))


def test_rules_load_with_matchers_in_any_form() -> None:
    """A map, a list of matcher strings and one braced string all load; ``equal`` is a
    list or one name; null is no rule."""
    config = parse_config(
        inhibited(
            {**RULE, "equal": ["site"]},
            {
                "source_matchers": ['role="gateway"', 'kind=~"connect.*"'],
                "target_matchers": '{role=~"back.*", site!="c"}',
                "equal": "site",
            },
        )
    )
    first, second = config.inhibit_rules
    assert [str(m) for m in first.source_matchers] == ['role="gateway"']
    assert first.equal == ("site",)
    assert [str(m) for m in second.source_matchers] == ['role="gateway"', 'kind=~"connect.*"']
    assert [str(m) for m in second.target_matchers] == ['role=~"back.*"', 'site!="c"']
    assert second.equal == ("site",)
    assert parse_config(dump(*FLEET, inhibit_rules=None)).inhibit_rules == ()
    assert parse_config(dump(*FLEET)).inhibit_rules == ()


def test_the_holds_of_a_loaded_file_ask_the_rules_and_depends_on() -> None:
    """gw-a down holds be-a (its site) by the rule; db down holds be-b by depends_on."""
    holds = Holds().configure(parse_config(inhibited({**RULE, "equal": ["site"]})))
    down = {"gw-a": State.DOWN, "db": State.DOWN}
    assert holds.why("be-a", 0.0, down) == "inhibited by gw-a (down): inhibit_rules[0]"
    assert holds.why("be-b", 0.0, down) == "db, which it depends on, is down"
    assert holds.why("be-b", 0.0, {"gw-a": State.DOWN}) is None


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        (
            {"source_matchers": {}, "target_matchers": {"role": "backend"}},
            "inhibit_rules[0].source_matchers: is empty: a rule needs at least one matcher on "
            "each side, as {role: gateway}; to select every monitor write 'monitor=~\".+\"'",
        ),
        (
            {"source_matchers": {"role": "gateway"}},
            "inhibit_rules[0].target_matchers: is required",
        ),
        (
            {**RULE, "target_matchers": ['event="monitor.down"']},
            'inhibit_rules[0].target_matchers: event="monitor.down": "event" is an alert\'s '
            "label, not a monitor's: a rule sees a monitor's labels, monitor and kind",
        ),
        (
            {**RULE, "equal": ["monitor"]},
            "inhibit_rules[0].equal: 'monitor' is each monitor's own name: source and target "
            "would be the same monitor, which never holds itself",
        ),
        (
            {**RULE, "equal": ["site", "site"]},
            'inhibit_rules[0].equal: "site" is listed twice (at [0] and [1])',
        ),
        (
            {**RULE, "equal": ["9site"]},
            'inhibit_rules[0].equal: "9site" is not a label name: begin with a letter or _, '
            "then letters, digits and _ (as Prometheus's)",
        ),
        (
            {**RULE, "target_matchers": ['role=~"("']},
            'inhibit_rules[0].target_matchers: role=~"(": not a regular expression RE2 can run',
        ),
        (
            {**RULE, "source": {"role": "gateway"}},
            "inhibit_rules[0].source: unknown key",
        ),
        (
            {**RULE, "source_matchers": {"role": "gatewya"}},
            "inhibit_rules[0].source_matchers: selects no monitor: check the labels and values",
        ),
        (
            {"source_matchers": {"monitor": "db"}, "target_matchers": '{monitor="db"}'},
            'inhibit_rules[0]: selects "db" alone on both sides: a monitor never holds '
            "itself, so this rule would hold nothing",
        ),
    ],
)
def test_each_mistake_is_one_line_at_its_key_path(rule: dict[str, Any], error: str) -> None:
    """Empty sides, an alert's label, ``equal`` on the monitor's name, twice or not a
    label name, a bad regular expression, an unknown key, a side that selects nothing,
    and a rule that could only hold a monitor by itself: one line each."""
    (got,) = errors_of(inhibited(rule))
    assert got.startswith(error), got


def test_kind_matchers_do_not_count_against_selecting_a_monitor() -> None:
    """``kind`` is a failure's: a source side of gateways and a kind still selects."""
    rule = {**RULE, "source_matchers": {"role": "gateway", "kind": "connect.refused"}}
    assert len(parse_config(inhibited(rule)).inhibit_rules) == 1
