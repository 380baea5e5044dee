"""The agents' intake held to properties over random schedules (hypothesis): whatever the
checks, however an agent cuts them into batches, shuffles them within one and sends some
again, each check is stored once, and the alerts alternate (an incident opened, then
resolved, never opened twice).  A real SQLite store per example, an injected clock."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.agent_world import T0, World, agent_config, batch, check
from tether.monitor._agent_wire import AgentCheck, Batch

API = (
    "  - {name: api, url: 'http://127.0.0.1:9/', interval: 60s, locations: [branch-1],"
    " alerts: [ops]}\n"
)


@st.composite
def schedules(draw: st.DrawFn) -> tuple[list[bool], list[int], list[bool], int]:
    """Check outcomes a minute apart, the batch sizes they are cut into, which batches
    are sent twice, and a seed to shuffle each batch by."""
    outcomes = draw(st.lists(st.booleans(), min_size=1, max_size=30))
    sizes = draw(st.lists(st.integers(1, 6), min_size=len(outcomes), max_size=len(outcomes)))
    again = draw(st.lists(st.booleans(), min_size=len(outcomes), max_size=len(outcomes)))
    return outcomes, sizes, again, draw(st.integers(0, 2**16))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules())
def test_each_check_is_stored_once_and_alerts_alternate(
    schedule: tuple[list[bool], list[int], list[bool], int],
) -> None:
    """Stored once per check, duplicates answered as such, and the incident events
    alternate opened/resolved from an opening."""
    outcomes, sizes, again, seed = schedule
    rng = random.Random(seed)
    checks = [check("api", T0 + 60 * i, ok) for i, ok in enumerate(outcomes)]
    batches: list[Batch] = []
    i = 0
    for size in sizes:
        if i >= len(checks):
            break
        part: list[AgentCheck] = checks[i : i + size]
        rng.shuffle(part)
        i += size
        sent_at = part and max(c.record.ts for c in part) + 1
        batches.append(batch("branch-1", float(sent_at), *part))
    with tempfile.TemporaryDirectory() as tmp:
        world = World(Path(tmp), agent_config(API))
        try:
            duplicates = 0
            for n, b in enumerate(batches):
                world.clock.now = b.sent_at
                world.send(b)
                if again[n]:
                    duplicates += world.send(b).duplicate
            stored = world.store.results("api", T0 - 1, T0 + 60 * len(outcomes) + 10)
            assert len(stored) == len(checks)
            assert duplicates == sum(again[: len(batches)])
            events = [e for e in world.events() if e in ("incident.opened", "incident.resolved")]
            assert events == ["incident.opened", "incident.resolved"] * (len(events) // 2) + (
                ["incident.opened"] if len(events) % 2 else []
            )
        finally:
            world.close()
