"""The monitors' labels in ``/metrics``: one info series per labelled monitor,
``tether_monitor_labels{monitor="api",team="payments"} 1``, written out by tether as
prometheus_client's ``generate_latest`` writes it (hostile values included), changed by a
reload, and scraped by a real Prometheus on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily

from tests.helpers.ports import free_port
from tests.helpers.prometheus_server import found, needs_prometheus, prometheus
from tether.monitor import Runner, parse_config
from tether.monitor.cluster._view import ClusterView
from tether.monitor.metrics._exposition import One as _One
from tether.monitor.metrics._metrics import MonitorMetrics
from tether.monitor.web._web import serve

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda n: n != "monitor")
VALUES = st.text(
    st.characters(exclude_categories=("Cs",)) | st.sampled_from(['"', "\\", "\n"]), max_size=8
)
HERE = ClusterView("c", "local", True, ("local",))
HOSTILE = 'say "hi"\\ then\nmore <b>'


def family(text: bytes) -> bytes:
    """The ``tether_monitor_labels`` family of a scrape's text."""
    # Split on newlines alone: a carriage return in a value is written as it is.
    lines = [line + b"\n" for line in text.split(b"\n")]
    return b"".join(line for line in lines if b"tether_monitor_labels" in line)


@given(
    st.dictionaries(
        st.text('abcdé"\\\n', min_size=1, max_size=4),
        st.dictionaries(NAMES, VALUES, max_size=4),
        max_size=4,
    )
)
def test_the_info_series_is_what_prometheus_client_writes(
    monitors: dict[str, dict[str, str]],
) -> None:
    """For random monitors and label values (quotes, backslashes, newlines, any script),
    the family is byte for byte ``generate_latest``'s for the same samples; a monitor
    without labels has no line."""
    metrics = MonitorMetrics()
    metrics.labels(monitors)
    reference = GaugeMetricFamily(
        "tether_monitor_labels",
        "1 for each monitor with labels: its labels, to join on the monitor label",
    )
    for name, labels in monitors.items():
        if labels:
            reference.add_sample("tether_monitor_labels", {"monitor": name, **labels}, 1)
    expected = generate_latest(_One(reference)) if reference.samples else b""
    assert family(metrics.render(HERE)) == expected


def test_a_value_no_text_format_can_write_is_left_out_and_counted() -> None:
    """A lone surrogate cannot be written as UTF-8: that monitor's line is left out, the
    others stay, and the render errors count it."""
    metrics = MonitorMetrics()
    metrics.labels({"api": {"team": "a\ud800"}, "web": {"team": "web"}})
    text = metrics.render(HERE).decode()
    assert 'tether_monitor_labels{monitor="web",team="web"} 1.0\n' in text
    assert 'monitor="api"' not in text
    assert "tether_metrics_render_errors_total 1.0" in text


def test_a_reload_changes_the_info_series(runner_for: Callable[..., Runner]) -> None:
    """A label changed, a monitor's labels removed, a monitor removed: the next scrape
    says what the new configuration says."""
    first = parse_config(
        """
defaults: {labels: {team: payments}}
monitors:
  - {name: api, url: "http://127.0.0.1:9/", labels: {tier: "1"}}
  - {name: web, url: "http://127.0.0.1:9/"}
  - {name: db, url: "tcp://127.0.0.1:9"}
"""
    )
    runner = runner_for(first)
    before = family(runner.metrics.render(HERE)).decode()
    assert 'tether_monitor_labels{monitor="api",team="payments",tier="1"} 1.0\n' in before
    assert before.count("\ntether_monitor_labels{") == 3
    runner.reload(
        parse_config(
            """
monitors:
  - {name: api, url: "http://127.0.0.1:9/", labels: {tier: "2"}}
  - {name: web, url: "http://127.0.0.1:9/"}
"""
        )
    )
    after = family(runner.metrics.render(HERE)).decode()
    assert after.endswith('\ntether_monitor_labels{monitor="api",tier="2"} 1.0\n')
    assert after.count("\ntether_monitor_labels{") == 1


@needs_prometheus
def test_prometheus_scrapes_the_labels_of_each_monitor(
    tmp_path: Path, runner_for: Callable[..., Runner]
) -> None:
    """A real Prometheus reads the info series back, a value with a quote, a backslash and
    a newline as it was configured; a monitor without labels has no series."""
    labels = {"team": "payments", "tier": "1", "note": HOSTILE}
    config = parse_config(
        f"""
monitors:
  - {{name: api, url: "http://127.0.0.1:9/", labels: {json.dumps(labels)}}}
  - {{name: web, url: "http://127.0.0.1:9/"}}
"""
    )
    assert config.monitors[0].labels["note"] == HOSTILE
    runner = runner_for(config)
    port = free_port()
    scrapes = f"""
  - job_name: tether
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
"""

    async def main(base: str) -> dict[str, list[dict[str, Any]]]:
        server = await serve(runner, "127.0.0.1", port)
        try:
            return await found(base, {"labels": ('tether_monitor_labels{job="tether"}', 1)})
        finally:
            await server.cleanup()

    with prometheus(tmp_path, scrapes) as base:
        got = asyncio.run(main(base))
    (series,) = got["labels"]
    labels = {k: v for k, v in series["metric"].items() if k not in ("job", "instance")}
    assert labels == {
        "__name__": "tether_monitor_labels",
        "monitor": "api",
        "team": "payments",
        "tier": "1",
        "note": HOSTILE,
    }
    assert series["value"][1] == "1"
