"""docs/routing.md as written: its worked example loads to the tree it describes, each
failing example of its tables gives the message shown, its console blocks print what
they show when run against the example, and its grouping example sends what its table
shows, step by step."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.docs_blocks import ROOT, blocks, run_console, steps
from tether._kinds import Kind
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.alerts import TreePick
from tether.monitor.alerts._routes import route_tree
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.engine._correlate import Failures
from tether.monitor.engine._detect import Observation, StateChanged
from tether.monitor.engine.incidents._engine import IncidentEngine
from tether.monitor.engine.incidents._events import Event, IncidentRoute

DOC = (ROOT / "docs" / "routing.md").read_text()
EXAMPLE = blocks("routing.md", "yaml")[0]


def rows(heading: str) -> list[list[str]]:
    """The rows of the table under ``## heading``, each split into its cells (a `\\|`
    inside a cell kept as `|`)."""
    section = DOC.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
            out.append([c.strip().replace("\\|", "|") for c in cells])
    return out


def failing(cell: str) -> tuple[str, str] | None:
    """A cell's `` `written` → `said` `` pair, or None when it shows no message."""
    found = re.fullmatch(r"`(.+?)` → `(.+)`", cell)
    return None if found is None else (found.group(1), found.group(2))


def errors(document: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        parse_config(yaml.safe_dump(document))
    return refused.value.errors


def test_the_worked_example_loads_as_the_text_reads_it() -> None:
    """The example is valid, and its tree sends as the paragraph under it says."""
    tree = route_tree(parse_config(EXAMPLE))

    def sends(**labels: str) -> list[str]:
        return [c for m in tree.match(labels) for c in m.sends_to]

    assert sends(kind="tls.expired", team="db") == ["certs"]
    assert sends(team="db", tier="2") == ["db-chat", "db-oncall"]
    assert sends(team="db") == ["db-chat"]
    assert sends(event="incident.reminder") == ["ops"]
    assert sends(event="monitor.down") == ["ops"]


def test_each_routes_failing_example_says_what_the_table_shows() -> None:
    """Every `routes: {...}` → message of the settings table, put in place of the
    example's routes, gives that message alone."""
    base = yaml.safe_load(EXAMPLE)
    checked = 0
    for row in rows("Grouping settings"):
        pair = failing(row[-1])
        assert pair is not None, row
        written, said = pair
        assert errors({**base, **yaml.safe_load(written)}) == [said], written
        checked += 1
    assert checked == 10


def test_each_time_interval_failing_example_says_what_the_table_shows() -> None:
    """Every failing spec of the time intervals table gives its message at its key."""
    base = {k: v for k, v in yaml.safe_load(EXAMPLE).items() if k != "routes"}
    checked = 0
    for row in rows("Time intervals"):
        key, pair = row[0].strip("`"), failing(row[-1])
        if pair is None:  # a time zone's message is the one the whole file shares
            continue
        written, said = pair
        fragment = yaml.safe_load(written)
        spec = {"times": [fragment]} if key == "times" else fragment
        document = {**base, "time_intervals": [{"name": "t", "time_intervals": [spec]}]}
        where = f"time_intervals[0].time_intervals[0].{key}" + ("[0]" if key == "times" else "")
        assert errors(document) == [f"{where}: {said}"], written
        checked += 1
    assert checked == 5


def test_the_console_examples_run_as_written(tmp_path: Path) -> None:
    """Each `tether routes test` of the doc, run in a shell against the worked example
    as tether.yaml, prints what the doc shows, exit codes included."""
    (tmp_path / "tether.yaml").write_text(EXAMPLE)
    # The tree under test, wherever the `tether` on PATH was installed from.
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT / "src")}
    routes_part = DOC.split("\n## Silences\n", 1)[0]  # silences need a running monitor
    for block in blocks("routing.md", "console"):
        if block not in routes_part:
            continue
        for (command, printed), (_, shown) in zip(
            run_console(block, tmp_path, env), steps(block), strict=True
        ):
            assert printed == shown, command


def test_the_grouping_example_sends_what_its_table_shows() -> None:
    """The "Grouping" example's monitors go down and come back at the table's times (the
    incident engine with the example's tree): at each row the channel receives what the
    row says, in its words, and nothing where it says nothing."""
    config = parse_config(blocks("routing.md", "yaml")[1])
    tree = route_tree(config)
    routes = {
        m.name: IncidentRoute(tuple(m.alerts), pick=TreePick(tree, m.name, m.labels))
        for m in config.monitors
    }
    engine = IncidentEngine(routes, itertools.count(1).__next__)
    hosts = {m.name: "127.0.0.1" for m in config.monitors}
    failures = Failures(hosts)
    day = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    table = rows("Grouping")
    assert len(table) == 7
    for at, happens, shown in table:
        clock = dt.time.fromisoformat(at.strip("`"))
        now = dt.datetime.combine(day, clock).timestamp()
        events: list[Event] = engine.tick(now)
        name = happens.split(" ")[0]
        if " is down" in happens:
            seen = Observation(name, False, now, 1.0, Kind.CONNECT_REFUSED, "127.0.0.1:8080")
            failures.set(name, seen)
            record = ProbeRecord(name, now, False, Kind.CONNECT_REFUSED, 1.0, "refused")
            change = StateChanged(name, now, State.UP, State.DOWN, "3 failed checks")
            events += engine.changed(change, record, failures, hosts)
        elif " is back" in happens:
            failures.set(name, None)
            change = StateChanged(name, now, State.DOWN, State.UP, "2 passed checks")
            events += engine.changed(change, None, failures, hosts)
        got = [(a.channel, a.payload) for e in events for a in e.alerts]
        if shown.startswith("nothing"):
            assert got == [], at
            continue
        ((channel, payload),) = got
        assert channel == "ops"
        assert payload.event == shown.split("`")[1], at
        words = re.search(r'"(.+)"', shown) or re.search(r"`: (.+)$", shown)
        assert words is not None
        if payload.event != "incident.opened":  # its time and cause are written loosely
            assert words.group(1) in payload.text, (at, payload.text)
