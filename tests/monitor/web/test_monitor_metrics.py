"""The monitor's /metrics and /probe, scraped by a real Prometheus server on loopback.

Prometheus (Debian's ``prometheus`` package) runs as a real process on real time with a
1 s scrape interval, so the tests poll its query API with a bound.  The cluster's test
runs two real instances (east and local) on one PostgreSQL schema in this process
(tests/helpers/cluster_harness.py), each serving its own /metrics, with east's probes of ``api``
sent to a refused port: the network between east and api is cut.
"""

from __future__ import annotations

import asyncio
import os
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.cluster_harness import Instances
from tests.helpers.docs_blocks import blocks, run_console, steps
from tests.helpers.ports import free_port
from tests.helpers.prometheus_server import found, needs_prometheus, prometheus
from tests.helpers.tether_processes import monitor, status, wait_for
from tether.lab import Lab
from tether.monitor import Runner, parse_config
from tether.monitor.alerts import Outbox
from tether.monitor.config import parse_config as parse
from tether.monitor.store._shares import shard_of
from tether.monitor.web._web import serve
from tether.monitor.web.scrape._scrape import scrape


def states(port: int) -> dict[str, str]:
    """Each monitor's state from /api/status, or nothing while the port is not open yet."""
    try:
        found: dict[str, str] = status(port)["monitors"]
    except urllib.error.URLError:
        return {}
    return found


def values(result: list[dict[str, Any]], label: str) -> dict[str, str]:
    return {r["metric"][label]: r["value"][1] for r in result}


@needs_prometheus
def test_prometheus_scrapes_metrics_and_probe_with_the_failure_kind(
    tmp_path: Path, runner_for: Callable[..., Runner], lab: Lab
) -> None:
    """A real Prometheus scrapes /metrics (per-monitor success, phases, failures by kind,
    each with the location of the instance that checked: ``local`` for a single one; the
    instance leads) and uses /probe as a blackbox_exporter, getting the kind as a label."""
    config = parse_config(
        f"""
monitors:
  - {{name: web, url: "{lab["healthy"].url}", interval: 30s, timeout: 2s}}
  - {{name: api, url: "{lab["refused"].url}", interval: 30s, timeout: 2s}}
"""
    )
    port = free_port()
    scrapes = f"""
  - job_name: tether
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
  - job_name: blackbox
    metrics_path: /probe
    params: {{module: [http]}}
    static_configs: [{{targets: ["{lab["refused"].url}"]}}]
    relabel_configs:
      - {{source_labels: [__address__], target_label: __param_target}}
      - {{target_label: __address__, replacement: "127.0.0.1:{port}"}}
"""

    runner = runner_for(config)

    async def main(base: str) -> dict[str, list[dict[str, Any]]]:
        await runner.check("web", runner.mono())
        await runner.check("api", runner.mono())
        server = await serve(runner, "127.0.0.1", port)
        try:
            return await found(
                base,
                {
                    "success": ('tether_probe_success{monitor="web"}', 1),
                    "failures": ('tether_probe_failures_total{monitor="api"}', 1),
                    "phase": ('tether_probe_phase_seconds{monitor="web",phase="connect"}', 1),
                    "leader": ('tether_cluster_leader{job="tether"}', 1),
                    "instances": ('tether_cluster_instances{job="tether"}', 1),
                    "blackbox": ('probe_failure_info{job="blackbox"}', 1),
                    "blackbox_success": ('probe_success{job="blackbox"}', 1),
                },
            )
        finally:
            await server.cleanup()

    with prometheus(tmp_path, scrapes) as base:
        got = asyncio.run(main(base))
    assert len(got) == 7, got
    (success,) = got["success"]
    assert (success["metric"]["location"], success["value"][1]) == ("local", "1")
    (failures,) = got["failures"]
    assert (failures["metric"]["kind"], failures["metric"]["location"]) == (
        "connect.refused",
        "local",
    )
    assert float(failures["value"][1]) == 1.0
    assert got["leader"][0]["value"][1] == "1"
    assert values(got["instances"], "location") == {"local": "1"}
    assert got["blackbox"][0]["metric"]["kind"] == "connect.refused"
    assert got["blackbox_success"][0]["value"][1] == "0"


@needs_prometheus
def test_prometheus_tells_the_locations_and_the_instances_of_a_cluster_apart(
    tmp_path: Path, lab: Lab, postgres_dsn: str
) -> None:
    """Two instances, east and local, both scraped: each check's series carry the location
    that made it (api fails from east and passes from local), tether_location_up says what
    each location sees of api (only for monitors of several locations), tether_monitor_up
    stays the cluster's (up: one failing location of two is below the quorum), one of the
    two leads, and once east has left, tether_cluster_instances{location="east"} is 0 and
    east's tether_location_up is gone."""
    refused = lab["refused"].url
    config = parse(
        f"""
locations: [east, local]
defaults: {{interval: 30s, timeout: 2s, failure_threshold: 1}}
monitors:
  - {{name: api, url: "{lab["healthy"].url}"}}
  - {{name: db, url: "{lab["healthy"].url}", locations: [local]}}
"""
    )
    api = config.monitor("api").url
    cluster = Instances(
        postgres_dsn,
        config,
        ("east", "local"),
        route=lambda at, url: refused if (at, url) == ("east", api) else url,
    )
    try:
        cluster.rounds()
        cluster.check("east", "api")
        cluster.check("local", "api", "db")
        cluster.settle()
        ports = {"east": free_port(), "local": free_port()}
        for location, port in ports.items():
            cluster.serve(location, port)
        targets = ", ".join(f'"127.0.0.1:{port}"' for port in ports.values())
        scrapes = f"  - job_name: tether\n    static_configs: [{{targets: [{targets}]}}]\n"
        local = f'instance="127.0.0.1:{ports["local"]}"'
        with prometheus(tmp_path, scrapes) as base:
            got = asyncio.run(
                found(
                    base,
                    {
                        "success": ('tether_probe_success{monitor="api"}', 2),
                        "failures": ('tether_probe_failures_total{monitor="api"}', 1),
                        "places": (f'tether_location_up{{monitor="api",{local}}}', 2),
                        "db": ('tether_location_up{monitor="db"}', 0),
                        "up": (f'tether_monitor_up{{monitor="api",{local}}}', 1),
                        "instances": (f"tether_cluster_instances{{{local}}}", 2),
                        # Each instance's own series, once both are scraped: a sum read
                        # after one scrape of the follower alone was 0.
                        "leaders": ("tether_cluster_leader", 2),
                    },
                )
            )
            cluster.leave("east")
            cluster.rounds(1)
            after = asyncio.run(
                found(
                    base,
                    {
                        "gone": (f'tether_cluster_instances{{location="east",{local}}} == 0', 1),
                        "places": (f'tether_location_up{{monitor="api",{local}}}', 1),
                    },
                )
            )
    finally:
        cluster.close()
    assert len(got) == 7, got
    assert values(got["success"], "location") == {"east": "0", "local": "1"}
    (failures,) = got["failures"]
    assert failures["metric"]["location"] == "east"
    assert values(got["places"], "location") == {"east": "0", "local": "1"}
    assert got["up"][0]["value"][1] == "1"
    assert values(got["instances"], "location") == {"east": "1", "local": "1"}
    assert sorted(r["value"][1] for r in got["leaders"]) == ["0", "1"]  # one of the two leads
    assert len(after) == 2, after
    assert values(after["places"], "location") == {"local": "1"}


@needs_prometheus
def test_prometheus_scrapes_the_summary_and_each_monitor_in_shards_through_the_workers(
    tmp_path: Path, lab: Lab
) -> None:
    """`tether monitor --config` with `workers: 2` and more monitors than
    `server.metrics_monitor_limit`, scraped by a real Prometheus through the workers' port
    as docs/monitor.md configures it: the default job gets the summary (no series of a
    monitor; the fleet's counts; `tether_metrics_scoped` 1), and a job of three shard
    targets gets each monitor's series once, from the shard its name hashes to."""
    names = [f"m{i}" for i in range(8)]
    port = free_port()
    monitors = "".join(
        f"  - {{name: {name}, url: '{lab['refused' if name == 'm0' else 'healthy'].url}'}}\n"
        for name in names
    )
    config = tmp_path / "tether.yaml"
    config.write_text(
        f"workers: 2\nstorage: {{path: '{tmp_path / 'tether.db'}'}}\n"
        f"server: {{listen: '127.0.0.1:{port}', metrics_monitor_limit: 3}}\n"
        "defaults: {interval: 2s, timeout: 1s, failure_threshold: 1}\n"
        f"monitors:\n{monitors}"
    )
    # The docs' own scrape configuration (its first line is the helper's) and examples.
    (documented,) = [b for b in blocks("monitor.md", "yaml") if "tether-monitors" in b]
    scrapes = documented.replace("127.0.0.1:8800", f"127.0.0.1:{port}").split("\n", 1)[1]
    (console,) = [b for b in blocks("monitor.md", "console") if "/metrics?shrad=" in b]
    with monitor(config, tmp_path / "m.log") as proc, prometheus(tmp_path, scrapes) as base:
        wait_for(lambda: states(port).get("m0") == "down", proc, limit=60)
        got = asyncio.run(
            found(
                base,
                {
                    "success": ('tether_probe_success{job="tether-monitors"}', 8),
                    "up": ('tether_monitor_up{job="tether-monitors"}', 8),
                    "monitors": ('tether_monitors{job="tether"} == 8', 1),
                    "down": ('tether_monitors_down{job="tether"} == 1', 1),
                    "scoped": ('tether_metrics_scoped{job="tether"}', 1),
                    "checks": ('tether_checks_total{job="tether"} > 8', 1),
                },
            )
        )
        # Scraped (the summary is there): no series of a monitor in the default job.
        alone = asyncio.run(found(base, {"monitor": ('{job="tether",monitor!=""}', 0)}))
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        for (command, printed), (_, shown) in zip(
            run_console(console, tmp_path, env, port), steps(console), strict=True
        ):
            assert printed == shown, command
    assert len(got) == 6, got
    assert alone == {"monitor": []}
    success = {r["metric"]["monitor"]: r for r in got["success"]}
    assert sorted(success) == names
    for name, series in success.items():
        assert series["metric"]["shard"] == str(shard_of(name, 3))
        assert series["value"][1] == ("0" if name == "m0" else "1")
    assert got["scoped"][0]["value"][1] == "1"


def test_a_removed_monitor_takes_every_series_of_it_along(
    runner_for: Callable[..., Runner], lab: Lab
) -> None:
    """A monitor of two locations (east has no instance: this lone one is at local)
    checked, then removed by a reload: none of its series is left, those of its
    locations included; the other monitor's stay, labelled with this instance's
    location."""
    text = f"""
locations: [east, local]
defaults: {{interval: 30s, timeout: 2s, failure_threshold: 1}}
monitors:
  - {{name: api, url: "{lab["refused"].url}"}}
  - {{name: web, url: "{lab["healthy"].url}", locations: [local]}}
"""
    runner = runner_for(parse(text), location="local")

    async def main() -> tuple[str, str]:
        await runner.check("api", runner.mono())
        await runner.check("web", runner.mono())
        before = (await scrape(runner)).decode()
        runner.reload(parse(text.replace(text.splitlines()[4], "")))
        return before, (await scrape(runner)).decode()

    before, after = asyncio.run(main())
    assert 'tether_location_up{location="local",monitor="api"} 0.0' in before
    assert 'location="east",monitor="api"' not in before  # no instance there
    assert 'tether_probe_success{location="local",monitor="api"} 0.0' in before
    assert 'tether_monitor_up{monitor="api"} 0.0' in before
    assert 'tether_cluster_instances{location="east"} 0.0' in before
    assert 'monitor="api"' not in after
    assert 'tether_probe_success{location="local",monitor="web"} 1.0' in after


def test_checks_of_monitors_moved_to_another_instance_are_left_to_it(
    postgres_dsn: str, lab: Lab
) -> None:
    """Two instances at one location on PostgreSQL: the first holds every shard and
    checks every monitor; once the second has joined and taken its share, each exports
    the checks of the monitors it probes now, and no monitor's twice (summed per monitor
    and location, a stale copy would count twice)."""
    from tether.monitor.store import PostgresCluster, PostgresStore
    from tether.monitor.store._shares import shard_of

    lines = "\n".join(f"  - {{name: m{i}, url: '{lab['healthy'].url}'}}" for i in range(24))
    config = parse(f"defaults: {{interval: 30s, timeout: 2s}}\nmonitors:\n{lines}\n")
    names = [m.name for m in config.monitors]

    async def main() -> dict[str, set[str]]:
        runners = []
        for n in (1, 2):
            store = PostgresStore(postgres_dsn)
            cluster = PostgresCluster(postgres_dsn, "local", ttl=3600, id=f"i{n}")
            runners.append(Runner(config, store, Outbox(store, {}), cluster=cluster))
        first, second = runners
        try:
            await first.renew()
            for name in names:
                await first.check(name, first.mono())
            await second.renew()  # joins: nothing is free yet
            await first.renew()  # hands half back
            await second.renew()  # takes it
            for name in names:
                if shard_of(name, second.cluster.shards) in second.held:
                    await second.check(name, second.mono())
            exported = {}
            for runner in runners:
                text = (await scrape(runner)).decode()
                exported[runner.cluster.id] = {
                    name for name in names if f'location="local",monitor="{name}"}} 1.0' in text
                }
            return exported
        finally:
            for runner in runners:
                runner.store.close()
                runner.cluster.close()

    exported = asyncio.run(main())
    assert exported["i1"]
    assert exported["i2"]
    assert exported["i1"].isdisjoint(exported["i2"])
    assert exported["i1"] | exported["i2"] == set(names)
