"""``/metrics``' per-monitor families are written out by tether, not by prometheus_client:
the text stays what prometheus_client's ``generate_latest`` writes for the same families,
byte for byte, and the series it could not write are left out and counted the same, for
random values and hostile labels (quotes, backslashes, newlines, other scripts, lone
surrogates, names that are not text, NaN, infinities, numbers no float holds).

The reference below builds the families with prometheus_client's ``GaugeMetricFamily``,
``CounterMetricFamily`` and ``Gauge``, as tether did before it wrote them itself, and
renders each with the per-series accounting every other family still goes through."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Container, Mapping
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from prometheus_client import Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from tether._kinds import Kind
from tether.monitor._records import LocationFact, ProbeRecord
from tether.monitor._state import State
from tether.monitor.cluster._view import ClusterView, LocationsView
from tether.monitor.metrics._exposition import One as _One
from tether.monitor.metrics._exposition import family_text as _family_text
from tether.monitor.metrics._exposition import go_value as _go_value
from tether.monitor.metrics._metrics import MonitorMetrics

HOSTILE = st.text(
    st.characters(exclude_categories=()) | st.sampled_from(['"', "\\", "\n", "é", "監", "\ud800"]),
    max_size=6,
)
"""Label text, lone surrogates included (UTF-8 cannot write them: left out)."""
NAME = HOSTILE | st.integers(-3, 3) | st.none() | st.binary(max_size=2)
"""What a label might be handed: text, or what is not text."""
VALUE = (
    st.floats()
    | st.integers(-(2**1100), 2**1100)
    | st.sampled_from([0, 1, True, -0.0, 1e6, 999999.9999, 1e16, 1e21, 5e-324, "1.5", "x", None])
)
"""A sample's value: any float, ints past what a float holds, text, nothing."""


def reference(
    metrics: MonitorMetrics,
    checked: list[bool],
    ups: list[tuple[Any, bool]],
    forgotten: list[Any],
    cluster: ClusterView,
    locations: Mapping[Any, LocationsView],
    probed: Container[Any] | None,
) -> tuple[bytes, int]:
    """The scrape as prometheus_client writes it, and how many series it leaves out."""
    up = Gauge("tether_monitor_up", "1 while the monitor is up", ["monitor"], registry=None)
    for monitor, is_up in ups:
        up.labels(monitor).set(1 if is_up else 0)
    for monitor in forgotten:
        with contextlib.suppress(KeyError):  # never set
            up.remove(monitor)
    families: list[Metric] = [*summary(checked, ups, forgotten, cluster), *up.collect()]
    for collector in metrics.collectors:
        families.extend(collector.collect())
    here = cluster.here
    labels = ["monitor", "location"]
    success = GaugeMetricFamily("tether_probe_success", "1 if the last check passed", labels=labels)
    duration = GaugeMetricFamily(
        "tether_probe_duration_seconds", "Duration of the last check", labels=labels
    )
    phase = GaugeMetricFamily(
        "tether_probe_phase_seconds",
        "Duration of each phase of the last check (blackbox_exporter's phase names)",
        labels=[*labels, "phase"],
    )
    failures = CounterMetricFamily(
        "tether_probe_failures", "Failed checks by failure kind", labels=[*labels, "kind"]
    )
    expiry = GaugeMetricFamily(
        "tether_certificate_expiry_seconds",
        "Seconds until the leaf certificate expires",
        labels=labels,
    )
    for monitor, last in metrics.checks.items():
        if probed is not None and monitor not in probed:
            continue
        at = [monitor, here]
        success.add_metric(at, last.success)
        duration.add_metric(at, last.duration)
        for name, seconds in last.phases.items():
            phase.add_metric([*at, name], seconds)
        for kind, (n, created) in last.failures.items():
            failures.add_metric([*at, kind], n, created=created)
        if last.expiry is not None:
            expiry.add_metric(at, last.expiry)
    families.extend((success, duration, phase, failures, expiry))
    location_up = GaugeMetricFamily(
        "tether_location_up",
        "What each location of a monitor of several sees: 1 up, 0 down (as "
        "tether_monitor_up); absent while it has no result there, has it paused, or "
        "has no live instance",
        labels=["monitor", "location"],
    )
    for monitor, view in locations.items():
        for location, fact in view.facts.items():
            if fact.live and fact.state not in (State.UNKNOWN, State.PAUSED):
                location_up.add_metric([monitor, location], int(fact.state is not State.DOWN))
    families.append(location_up)
    families.append(
        GaugeMetricFamily(
            "tether_cluster_leader",
            "1 on the instance that leads the cluster (runs the incidents), else 0",
            int(cluster.leading),
        )
    )
    parts, lost = [], 0
    for family in families:
        text, left_out = _family_text(family)
        parts.append(text)
        lost += left_out
    errors = CounterMetricFamily(
        "tether_metrics_render_errors",
        "Series (or sources of series) left out of a scrape: they could not be rendered",
        lost,
    )
    parts.append(generate_latest(_One(errors)))
    return b"".join(parts), lost


def summary(
    checked: list[bool], ups: list[tuple[Any, bool]], forgotten: list[Any], cluster: ClusterView
) -> list[Metric]:
    """The summary's families, from what the test did: the checks (``checked``: whether
    each passed; a failed one is ``connect.refused``), and the states set and forgotten."""
    down: set[str] = set()
    for monitor, is_up in ups:
        (down.discard if is_up else down.add)(str(monitor))
    down -= {str(monitor) for monitor in forgotten}
    checks = CounterMetricFamily(
        "tether_checks", "Checks made at this instance", labels=["location"]
    )
    checks.add_metric([cluster.here], len(checked))
    failures = CounterMetricFamily(
        "tether_check_failures",
        "Failed checks made at this instance, by failure kind: tether_probe_failures_total "
        "summed over the monitors",
        labels=["kind", "location"],
    )
    failed = checked.count(False)
    if failed:
        failures.add_metric(["connect.refused", cluster.here], failed)
    return [
        GaugeMetricFamily(
            "tether_monitors", "Monitors in the configuration, discovered ones too", 0
        ),
        GaugeMetricFamily(
            "tether_monitors_down",
            "Monitors down for the cluster: those whose tether_monitor_up is 0",
            len(down),
        ),
        checks,
        failures,
        GaugeMetricFamily(
            "tether_metrics_scoped",
            "1 when this scrape leaves each monitor's series to scoped scrapes "
            "(/metrics?shard=I&shards=N): more monitors than server.metrics_monitor_limit",
            0,
        ),
    ]


CHECK = st.fixed_dictionaries(
    {
        "ok": st.booleans(),
        "success": VALUE,
        "duration": VALUE,
        "phases": st.dictionaries(NAME, VALUE, max_size=3),
        "failures": st.dictionaries(
            NAME, st.tuples(VALUE, VALUE | st.none()).map(list), max_size=2
        ),
        "expiry": VALUE,
    }
)


@settings(max_examples=300, deadline=None)
@given(
    checks=st.dictionaries(NAME, CHECK, max_size=6),
    ups=st.lists(st.tuples(NAME, st.booleans()), max_size=6),
    forgotten=st.lists(NAME, max_size=2),
    here=HOSTILE | st.none(),
    leading=st.booleans(),
    locations=st.dictionaries(
        NAME,
        st.dictionaries(
            NAME, st.tuples(st.sampled_from(list(State)), st.booleans()), min_size=1, max_size=3
        ),
        max_size=3,
    ),
    probed=st.none() | st.frozensets(NAME, max_size=4),
)
@example(  # every value of the edges, on ordinary labels
    checks={
        "web": {
            "ok": False,
            "success": 1,
            "duration": math.nan,
            "phases": {"connect": math.inf, "tls": -math.inf, "resolve": 1e-300},
            "failures": {"connect.refused": [10**400, 1.7e9], "condition": [3.0, None]},
            "expiry": 2592000.0,
        }
    },
    ups=[("web", True), ("api", False)],
    forgotten=["api"],
    here="local",
    leading=True,
    locations={},
    probed=None,
)
def test_written_families_are_what_prometheus_client_writes(
    checks: dict[Any, dict[str, Any]],
    ups: list[tuple[Any, bool]],
    forgotten: list[Any],
    here: Any,
    leading: bool,
    locations: dict[Any, dict[Any, tuple[State, bool]]],
    probed: frozenset[Any] | None,
) -> None:
    """The scrape is byte for byte the one prometheus_client writes for the same
    families, and ``tether_metrics_render_errors_total`` counts the series it leaves out."""
    metrics = MonitorMetrics(wall=lambda: 1.5e9)
    for monitor, check in checks.items():
        record = ProbeRecord(monitor=monitor, ts=0.0, ok=check["ok"], kind=Kind.CONNECT_REFUSED)
        metrics.observe(record, {}, None)
        last = metrics.checks[monitor]
        last.success = check["success"]
        last.duration = check["duration"]
        last.phases = check["phases"]
        last.failures = check["failures"]
        last.expiry = check["expiry"]
    for monitor, is_up in ups:
        metrics.state(monitor, is_up)
    for monitor in forgotten:
        metrics.forget(monitor)
    cluster = ClusterView("c", here, leading, ("local",))
    views = {
        monitor: LocationsView(
            {place: LocationFact(state, live=live) for place, (state, live) in facts.items()},
            1,
            (),
            len(facts),
        )
        for monitor, facts in locations.items()
    }
    checked = [check["ok"] for check in checks.values()]
    expected, lost = reference(metrics, checked, ups, forgotten, cluster, views, probed)
    assert metrics.render(cluster, views, probed) == expected
    assert f"tether_metrics_render_errors_total {float(lost)!r}\n".encode() in expected


@settings(max_examples=2000, deadline=None)
@given(
    st.floats()
    | st.integers(-(2**1030), 2**1030)
    | st.floats(1e5, 1e17)
    | st.floats(-1e17, 1e17).map(round)
)
def test_a_value_is_written_as_float_to_go_string_writes_it(value: float) -> None:
    """Each value is written as prometheus_client's ``floatToGoString`` writes it (Go's
    exponent from a million on, +Inf, NaN), and what it cannot write raises alike."""
    try:
        expected = floatToGoString(value)  # type: ignore[no-untyped-call]
    except OverflowError:
        try:
            _go_value(value)
        except OverflowError:
            return
        raise AssertionError(f"{value} was written") from None
    assert _go_value(value) == expected
