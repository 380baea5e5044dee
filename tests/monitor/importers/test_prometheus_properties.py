"""``import_prometheus`` held to a property over random blackbox jobs: whatever the
targets, labels, intervals and modules, the printed configuration is one tether loads,
and every target is a monitor or a LeftOut naming its job and target."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.monitor.config import parse_config
from tether.monitor.config._yaml import TooLarge, read_plain
from tether.monitor.importers import ImportFailed, to_yaml
from tether.monitor.importers._values import shown
from tether.monitor.importers.prometheus._import import import_prometheus

TARGETS = st.one_of(
    st.sampled_from(
        (
            "http://127.0.0.1:9/",
            "https://127.0.0.1:9/health",
            "127.0.0.1:9",
            "[::1]:9",
            "localhost",
            "http://user:pw@127.0.0.1:9/",
        )
    ),
    st.text(min_size=1, max_size=12),
)
DURATIONS = st.sampled_from(("1s", "5s", "10s", "15s", "30s", "1m", "2m", "1h", "10ms"))
RELABEL = [
    {"source_labels": ["__address__"], "target_label": "__param_target"},
    {"source_labels": ["__param_target"], "target_label": "instance"},
    {"target_label": "__address__", "replacement": "127.0.0.1:9115"},
]
job = st.fixed_dictionaries(
    {
        "job_name": st.text(min_size=1, max_size=8),
        "metrics_path": st.just("/probe"),
        "params": st.fixed_dictionaries(
            {
                "module": st.lists(
                    st.sampled_from(("http_2xx", "http_post_2xx", "tcp_connect", "icmp", "nope")),
                    min_size=1,
                    max_size=1,
                )
            }
        ),
        "static_configs": st.lists(
            st.fixed_dictionaries(
                {"targets": st.lists(TARGETS, min_size=1, max_size=3)},
                optional={
                    "labels": st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=2)
                },
            ),
            min_size=1,
            max_size=2,
        ),
        "relabel_configs": st.just(RELABEL),
    },
    optional={"scrape_interval": DURATIONS, "scrape_timeout": DURATIONS},
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(job, min_size=1, max_size=3), DURATIONS, DURATIONS)
def test_any_blackbox_job_imports_to_a_configuration_tether_loads(
    jobs: list[dict[str, Any]], every: str, cut: str
) -> None:
    """Every target accounted for; the printed configuration loads."""
    data = {"global": {"scrape_interval": every, "scrape_timeout": cut}, "scrape_configs": jobs}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prometheus.yml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        try:
            jobs = read_plain(path.read_text(encoding="utf-8"))["scrape_configs"]  # type: ignore[index]
        except TooLarge:  # a text the one gate refuses (a control character): one line
            with pytest.raises(ImportFailed, match=" holds a "):
                import_prometheus(str(path))
            return
        refused = ""
        try:
            result = import_prometheus(str(path))
        except ImportFailed as exc:  # no target could be carried: said in the one line
            refused = str(exc)
    if refused:
        assert "has no scrape job of the blackbox_exporter pattern" in refused
        return
    parse_config(to_yaml(result), env={})
    whats = {item.what for item in result.left_out}
    targets = 0
    for index, one in enumerate(jobs):
        what = f"scrape_configs[{index}] ({shown(one['job_name'])})"
        if what in whats:  # the whole job (its module) left out
            continue
        for group in one["static_configs"]:
            for target in group["targets"]:
                targets += f"{what}: {shown(target)}" not in whats
    assert len(result.config["monitors"]) == targets
