"""docs/routing.md's "Inhibition and depends_on" as written: its example loads, the story
under it is what the incident engine sends with the holds that file makes, and each
failing example of its table gives the message shown."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
import yaml

from tests.helpers.docs_blocks import ROOT
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine._holds import Holds
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import Event, IncidentRoute

SECTION = (ROOT / "docs" / "routing.md").read_text().split("\n## Inhibition and depends_on\n")[1]
(EXAMPLE,) = re.findall(r"```yaml\n(.*?)```", SECTION, re.S)
T0 = 1_800_000_000.0


def test_the_example_loads_with_its_rule() -> None:
    """One rule, gateways over backends of the same site; orders-lyon depends on db."""
    config = parse_config(EXAMPLE)
    (rule,) = config.inhibit_rules
    assert [str(m) for m in rule.source_matchers] == ['role="gateway"']
    assert rule.equal == ("site",)
    assert config.monitor("orders-lyon").depends_on == ("db",)


def test_the_story_is_what_the_engine_sends() -> None:
    """gw-paris down is paged; its site's backends wait (the timeline says why), lyon's
    is paged; stock-paris back says nothing; gw-paris back sends its recovery and
    orders-paris's page; orders-paris back sends its recovery.  db down holds
    orders-lyon in depends_on's words."""
    config = parse_config(EXAMPLE)
    holds = Holds().configure(config)
    states = {m.name: State.UP for m in config.monitors}
    engine = IncidentEngine(
        # Told per monitor, as the story is (and an alertmanager channel hears it): the
        # holds, not grouping, are what it shows.
        {m.name: IncidentRoute(("ops",), ungrouped=frozenset({"ops"})) for m in config.monitors},
        itertools.count(1).__next__,
        hold=lambda name, now: holds.why(name, now, states),
    )
    hosts = {m.name: "127.0.0.1" for m in config.monitors}
    down: dict[str, Observation] = {}
    sent: list[tuple[str, str]] = []
    held: list[str] = []
    now = T0

    def change(name: str, new: State) -> None:
        nonlocal now
        now += 30
        old, states[name] = states[name], new
        if new is State.DOWN:
            down[name] = Observation(name, False, now, 5.0, Kind.HTTP_SERVER_ERROR, "127.0.0.1")
            record = ProbeRecord(name, now, False, Kind.HTTP_SERVER_ERROR, 5.0, "503")
        else:
            down.pop(name)
            record = ProbeRecord(name, now, True)
        events: list[Event] = engine.changed(
            StateChanged(name, now, old, new, "changed"), record, down.values(), hosts
        )
        events += engine.tick(now)
        sent.extend((a.payload.event, a.payload.monitor) for e in events for a in e.alerts)
        held.extend(e.entry.detail for e in events if e.entry and e.entry.event == "alert held")

    change("gw-paris", State.DOWN)
    change("orders-paris", State.DOWN)
    change("stock-paris", State.DOWN)
    change("orders-lyon", State.DOWN)
    assert sent == [("incident.opened", "gw-paris"), ("monitor.down", "orders-lyon")]
    assert held == [
        "orders-paris: inhibited by gw-paris (down): inhibit_rules[0]",
        "stock-paris: inhibited by gw-paris (down): inhibit_rules[0]",
    ]
    change("stock-paris", State.UP)
    change("gw-paris", State.UP)
    change("orders-paris", State.UP)
    assert sent[2:] == [
        ("monitor.up", "gw-paris"),
        ("monitor.down", "orders-paris"),
        ("monitor.up", "orders-paris"),
    ]
    assert holds.why("orders-lyon", now, {"db": State.DOWN}) == ("db, which it depends on, is down")


def _rows() -> list[tuple[str, str]]:
    out = []
    for line in SECTION.splitlines():
        found = re.fullmatch(r"\| .+ \| `(\{.+\})` → `(.+)` \|", line)
        if found is not None:
            out.append((found.group(1), found.group(2)))
    return out


@pytest.mark.parametrize(("written", "said"), _rows())
def test_each_failing_example_says_what_the_table_shows(written: str, said: str) -> None:
    """The rule put in place of the example's gives that message alone."""
    document: dict[str, Any] = yaml.safe_load(EXAMPLE)
    document["inhibit_rules"] = [yaml.safe_load(written)]
    with pytest.raises(ConfigError) as refused:
        parse_config(yaml.safe_dump(document))
    assert refused.value.errors == [said]


def test_the_table_has_its_four_rows() -> None:
    """Every row of the table has a failing example this test reads."""
    assert len(_rows()) == 4
