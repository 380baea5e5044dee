"""Scoped scrapes (issue 46 §4): ``/metrics?shard=I&shards=N`` and ``?monitor=NAME`` carry
the series of their monitors only, the shards of any count split every monitor's series
exactly once, and the default scrape stays every series up to
``server.metrics_monitor_limit`` monitors and is the summary above it.  What a scoped
scrape writes follows its own monitors, not the fleet."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections import Counter
from collections.abc import Callable

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.ports import free_port
from tether._kinds import Kind
from tether.lab import Lab
from tether.monitor import Runner
from tether.monitor._records import ProbeRecord
from tether.monitor.cluster._view import ClusterView
from tether.monitor.config import parse_config
from tether.monitor.metrics._metrics import MonitorMetrics, Scope
from tether.monitor.store._shares import shard_of
from tether.monitor.web._web import serve
from tether.monitor.web.scrape._scrape import accepts_gzip

HERE = ClusterView("c", "local", True, ("local",))
NAMES = st.text(
    st.characters(exclude_categories=("Cs",)) | st.sampled_from(['"', "\\", "\n", "é"]),
    min_size=1,
    max_size=5,
)
_MONITOR = re.compile(r'monitor="((?:[^"\\]|\\.)*)"')


def per_monitor(text: bytes) -> list[str]:
    """The sample lines of ``text`` that carry a ``monitor`` label."""
    return [
        line
        for line in text.decode().split("\n")
        if not line.startswith("#") and _MONITOR.search(line)
    ]


def monitor_of(line: str) -> str:
    found = _MONITOR.search(line)
    assert found is not None
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), found.group(1))


def fed(names: list[str], failing: set[str], labelled: set[str]) -> MonitorMetrics:
    """Metrics that saw one check and a state of each of ``names``."""
    metrics = MonitorMetrics(wall=lambda: 1.8e9)
    metrics.labels({n: {"team": "a"} if n in labelled else {} for n in names})
    for name in names:
        ok = name not in failing
        record = ProbeRecord(name, 1.0, ok, None if ok else Kind.CONNECT_REFUSED, 12.0)
        metrics.observe(record, {"connect": 0.01, "processing": 0.002}, 30)
        metrics.state(name, ok)
    return metrics


@settings(max_examples=150, deadline=None)
@given(
    names=st.lists(NAMES, min_size=1, max_size=30, unique=True),
    shards=st.integers(1, 7),
    data=st.data(),
)
def test_the_shards_split_every_monitors_series_exactly_once(
    names: list[str], shards: int, data: st.DataObject
) -> None:
    """For any monitors and any shard count, each monitor's series (every line with a
    ``monitor`` label of the default scrape) are in exactly one shard's scrape, the one
    its name hashes to, and nothing else is: monitors added and removed after the first
    scoped scrape included (the partition is kept, not rebuilt)."""
    failing = set(data.draw(st.lists(st.sampled_from(names), max_size=5)))
    labelled = set(data.draw(st.lists(st.sampled_from(names), max_size=5)))
    later = data.draw(st.lists(NAMES.filter(lambda n: n not in names), max_size=5, unique=True))
    gone = set(data.draw(st.lists(st.sampled_from(names), max_size=5)))
    metrics = fed(names, failing, labelled)
    for index in range(shards):  # the partition made before the fleet changes
        metrics.render(HERE, scoped=metrics.scope(Scope(index, shards)))
    for name in later:
        metrics.observe(ProbeRecord(name, 2.0, True, None, 3.0), {}, None)
        metrics.state(name, True)
    for name in gone:
        metrics.forget(name)
    whole = per_monitor(metrics.render(HERE))
    found: list[str] = []
    for index in range(shards):
        text = metrics.render(HERE, scoped=metrics.scope(Scope(index, shards)))
        lines = per_monitor(text)
        assert all(shard_of(monitor_of(line), shards) == index for line in lines)
        assert b"tether_metrics_render_errors_total" not in text
        assert b"tether_monitors " not in text  # the summary is the default scrape's
        found += lines
    assert Counter(found) == Counter(whole)
    assert {monitor_of(line) for line in whole} == set(names) - gone | set(later)


def test_a_scrape_of_named_monitors_carries_theirs_only() -> None:
    """``?monitor=`` names monitors: their series alone, each once however often named,
    a name no monitor has adds nothing, and with a shard only those in it."""
    names = [f"m{i}" for i in range(20)]
    metrics = fed(names, {"m3"}, {"m3"})
    text = metrics.render(HERE, scoped=metrics.scope(Scope(monitors=("m3", "m5", "m3", "nope"))))
    assert Counter(monitor_of(line) for line in per_monitor(text)) == {"m3": 9, "m5": 6}
    assert 'tether_monitor_labels{monitor="m3",team="a"} 1.0' in text.decode()
    shard = shard_of("m3", 4)
    other = next(n for n in names if shard_of(n, 4) != shard)
    scope = Scope(shard, 4, ("m3", other))
    assert {
        monitor_of(line) for line in per_monitor(metrics.render(HERE, scoped=metrics.scope(scope)))
    } == {"m3"}


def test_the_default_scrape_is_every_series_up_to_the_limit_and_the_summary_past_it() -> None:
    """Up to ``limit`` monitors the default scrape carries each monitor's series beside
    the summary (``tether_metrics_scoped 0``); one more and it carries the summary alone:
    no series with a ``monitor`` label, the counts of the fleet, ``tether_metrics_scoped
    1``, the rest of the families as before."""
    names = [f"m{i:02d}" for i in range(12)]
    metrics = fed(names, {"m01", "m02"}, {"m03"})
    at_limit = metrics.render(HERE, limit=12).decode()
    past = metrics.render(HERE, limit=11).decode()
    assert len(per_monitor(at_limit.encode())) == 12 * 6 + 2 * 2 + 1
    assert "tether_metrics_scoped 0.0" in at_limit
    assert per_monitor(past.encode()) == []
    for line in (
        "tether_monitors 12.0",
        "tether_monitors_down 2.0",
        'tether_checks_total{location="local"} 12.0',
        'tether_check_failures_total{kind="connect.refused",location="local"} 2.0',
        "tether_metrics_scoped 1.0",
        "tether_cluster_leader 1.0",
        "tether_metrics_render_errors_total 0.0",
    ):
        assert line + "\n" in past
        assert line.replace("scoped 1.0", "scoped 0.0") + "\n" in at_limit
    # What both carry besides the monitors' series is the same.
    assert [line for line in past.splitlines() if "scoped" not in line] == [
        line
        for line in at_limit.splitlines()
        if "scoped" not in line
        and not _MONITOR.search(line)
        and not re.match(
            r"# (HELP|TYPE) tether_(monitor_up|monitor_labels|probe_|certificate|location_up)", line
        )
    ]


def test_the_summary_counts_follow_the_fleet() -> None:
    """``tether_monitors_down`` follows the states (a forgotten monitor leaves it) and
    ``tether_monitors`` the configuration; the check counters count every check."""
    metrics = fed(["a", "b", "c"], {"a", "b"}, set())
    metrics.state("a", True)
    metrics.forget("b")
    metrics.labels({"a": {}, "c": {}})
    metrics.observe(ProbeRecord("c", 2.0, False, None, 1.0), {}, None)
    text = metrics.render(HERE, limit=0).decode()
    assert "tether_monitors 2.0\n" in text
    assert "tether_monitors_down 0.0\n" in text
    assert 'tether_checks_total{location="local"} 4.0\n' in text
    assert 'tether_check_failures_total{kind="condition",location="local"} 1.0\n' in text
    assert 'tether_check_failures_total{kind="connect.refused",location="local"} 2.0\n' in text


def test_a_shard_scrape_writes_its_own_monitors_not_the_fleets() -> None:
    """Over 2,000 monitors, the first scrape of one shard of 8 writes the lines of that
    shard's monitors alone; from then on each check writes its own monitor's lines as it
    arrives, once, and in a wave a scrape of a shard (again, or another's already
    written) or of the summary writes none: it joins what the checks wrote."""
    names = [f"m{i:04d}" for i in range(2000)]
    metrics = fed(names, set(), set())
    mine = metrics.scope(Scope(3, 8))
    assert 150 < len(mine) < 350
    metrics.render(HERE, limit=1000)
    assert metrics.rendered == 0
    metrics.render(HERE, scoped=mine)
    assert metrics.rendered == len(mine)
    for name in names:
        metrics.observe(ProbeRecord(name, 2.0, False, Kind.CONNECT_REFUSED, 1.0), {}, None)
    assert metrics.rendered == len(mine) + 2000
    for index in range(8):
        metrics.render(HERE, scoped=metrics.scope(Scope(index, 8)))
    metrics.render(HERE, scoped=mine)
    metrics.render(HERE, limit=1000)
    assert metrics.rendered == len(mine) + 2000


def test_checks_write_no_line_until_a_scrape_asks_for_the_monitors_series() -> None:
    """While only the summary is scraped (or nothing is), a check writes no line: the
    lines cost nothing to a monitor whose series no one scrapes."""
    names = [f"m{i:04d}" for i in range(200)]
    metrics = fed(names, set(), set())
    metrics.render(HERE, limit=100)
    for name in names:
        metrics.observe(ProbeRecord(name, 2.0, False, Kind.CONNECT_REFUSED, 1.0), {}, None)
    assert metrics.rendered == 0


@pytest.mark.parametrize(
    ("fields", "gzip"),
    [
        ((), False),
        (("gzip",), True),
        (("identity",), False),
        (("deflate, gzip;q=1.0, *;q=0.5",), True),  # Prometheus's, curl's, browsers'
        (("br", "GZip"), True),
        (("x-gzip",), True),
        (("*",), True),
        (("gzip;q=0",), False),
        (("gzip; q=0.000",), False),
        (("gzip;q=zero",), False),
        (("gzipped, deflate",), False),
    ],
)
def test_gzip_is_sent_to_a_client_that_accepts_it(fields: tuple[str, ...], gzip: bool) -> None:
    """``Accept-Encoding`` with ``gzip``, ``x-gzip`` or ``*`` at a weight above 0, in any
    of its fields, in any case, accepts gzip; a weight of 0 or one that is no number
    refuses it, and so does a missing header."""
    assert accepts_gzip(fields) is gzip


def test_a_scrape_is_gzipped_for_a_client_that_accepts_it(
    runner_for: Callable[..., Runner], lab: Lab
) -> None:
    """Over HTTP, the default scrape and a shard's are gzipped for a client that accepts
    gzip (as Prometheus does), with ``Content-Encoding`` and ``Vary``, and decode to the
    bytes a client that does not accept it gets plain."""
    url = lab["healthy"].url
    lines = "\n".join(f"  - {{name: m{i}, url: '{url}'}}" for i in range(6))
    config = parse_config(
        "server: {metrics_monitor_limit: 3}\ndefaults: {interval: 30s, timeout: 2s}\n"
        f"monitors:\n{lines}\n"
    )
    runner = runner_for(config)
    port = free_port()

    async def main() -> dict[tuple[str, str], tuple[dict[str, str], bytes]]:
        for i in range(6):
            await runner.check(f"m{i}", runner.mono())
        server = await serve(runner, "127.0.0.1", port)
        got = {}
        try:
            async with aiohttp.ClientSession(auto_decompress=False) as session:
                for query in ("", "?shard=1&shards=2"):
                    for accept in ("gzip", "identity"):
                        async with session.get(
                            f"http://127.0.0.1:{port}/metrics{query}",
                            headers={"Accept-Encoding": accept},
                        ) as r:
                            got[query, accept] = (dict(r.headers), await r.read())
        finally:
            await server.cleanup()
        return got

    got = asyncio.run(main())
    for query in ("", "?shard=1&shards=2"):
        packed_headers, packed = got[query, "gzip"]
        plain_headers, plain = got[query, "identity"]
        assert packed_headers["Content-Encoding"] == "gzip"
        assert "Content-Encoding" not in plain_headers
        assert packed_headers["Vary"] == plain_headers["Vary"] == "Accept-Encoding"
        assert len(packed) < len(plain)
        text = gzip.decompress(packed)
        assert _without_errors(text) == _without_errors(plain)
        assert b"tether_" in text


def _without_errors(text: bytes) -> bytes:
    """A scrape without ``tether_metrics_render_errors_total``'s sample, which counts
    every scrape's."""
    return re.sub(rb"\ntether_metrics_render_errors_total [^\n]*", b"", text)


def test_metrics_answers_each_scope_and_refuses_a_bad_one_in_a_line(
    runner_for: Callable[..., Runner], lab: Lab
) -> None:
    """Over HTTP: ``/metrics?shard=I&shards=N`` and ``?monitor=`` answer their monitors'
    series; a parameter it does not know, a shard without shards, a shard out of range,
    a number that is not one or an empty monitor are each a 400 of one line."""
    url = lab["healthy"].url
    lines = "\n".join(f"  - {{name: m{i}, url: '{url}'}}" for i in range(6))
    config = parse_config(
        "server: {metrics_monitor_limit: 3}\ndefaults: {interval: 30s, timeout: 2s}\n"
        f"monitors:\n{lines}\n"
    )
    runner = runner_for(config)
    port = free_port()

    async def main() -> dict[str, tuple[int, str]]:
        for i in range(6):
            await runner.check(f"m{i}", runner.mono())
        server = await serve(runner, "127.0.0.1", port)
        got = {}
        try:
            async with aiohttp.ClientSession() as session:
                for query in (
                    "",
                    "?shard=0&shards=2",
                    "?shard=1&shards=2",
                    "?monitor=m1&monitor=m4",
                    "?shrad=1&shards=2",
                    "?shard=1",
                    "?shard=2&shards=2",
                    "?shard=-1&shards=2",
                    "?shard=0&shards=1001",
                    "?shard=0&shards=two",
                    "?shard=0&shard=1&shards=2",
                    "?monitor=",
                ):
                    async with session.get(f"http://127.0.0.1:{port}/metrics{query}") as r:
                        got[query] = (r.status, await r.text())
        finally:
            await server.cleanup()
        return got

    got = asyncio.run(main())
    status, default = got[""]
    assert status == 200
    assert "tether_metrics_scoped 1.0" in default
    assert per_monitor(default.encode()) == []
    halves = [got["?shard=0&shards=2"], got["?shard=1&shards=2"]]
    assert [status for status, _ in halves] == [200, 200]
    split = [{monitor_of(line) for line in per_monitor(text.encode())} for _, text in halves]
    assert split[0] | split[1] == {f"m{i}" for i in range(6)}
    assert not split[0] & split[1]
    status, named = got["?monitor=m1&monitor=m4"]
    assert {monitor_of(line) for line in per_monitor(named.encode())} == {"m1", "m4"}
    assert {query: got[query] for query in list(got)[4:]} == {
        "?shrad=1&shards=2": (
            400,
            "metrics: unknown parameter 'shrad': give shard and shards, or monitor\n",
        ),
        "?shard=1": (400, "metrics: give shard and shards together\n"),
        "?shard=2&shards=2": (400, "shard: give a whole number from 0 to 1, not '2'\n"),
        "?shard=-1&shards=2": (400, "shard: give a whole number from 0 to 1, not '-1'\n"),
        "?shard=0&shards=1001": (400, "shards: give a whole number from 1 to 1000, not '1001'\n"),
        "?shard=0&shards=two": (400, "shards: give a whole number from 1 to 1000, not 'two'\n"),
        "?shard=0&shard=1&shards=2": (400, "metrics: give shard once\n"),
        "?monitor=": (400, "metrics: monitor: give a monitor's name\n"),
    }


@pytest.mark.parametrize("limit", [0, 100_000_000])
def test_the_limit_is_a_server_setting(limit: int) -> None:
    """``server.metrics_monitor_limit`` takes 0 (always scoped) up to 100,000,000, 10,000
    by default."""
    one = "monitors: [{name: a, url: 'http://127.0.0.1:9/'}]\n"
    assert parse_config(one).server.metrics_monitor_limit == 10_000
    config = parse_config(f"server: {{metrics_monitor_limit: {limit}}}\n{one}")
    assert config.server.metrics_monitor_limit == limit
