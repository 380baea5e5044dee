"""Every query of contrib/grafana/tether.json and every series contrib/prometheus/
tether-rules.yml reads, asked of a real Prometheus scraping a real ``tether monitor``.

The monitor runs as a process (``tether monitor --config``) on loopback with every
feature the dashboard has a panel for: monitors up and down against the fault lab (one
over TLS, for the certificate's expiry), a second location served by a real
``tether agent`` process, a webhook channel that takes alerts, one whose port refuses and
one muted by its route, an objective, a ``file_sd`` discovery source, a traffic monitor
and one report of calls.  Prometheus (Debian's, on its own 1 s scrape clock) scrapes it
in the two ways docs/grafana.md describes: one job, ``tether``, with every series; and,
the monitor having more monitors than ``server.metrics_monitor_limit``, the summary in
job ``tether`` and each monitor's series in the shards' job ``tether-monitors``, the case
the dashboard's ``$job`` variable must get right.

How the queries are asked, and why that is honest:

- the template variables are resolved as Grafana resolves them: each one's
  ``label_values(SELECTOR, LABEL)`` is asked of Prometheus's label values API (with the
  variables before it substituted), must find values, and "All" becomes ``(a|b|...)``
  of them, regex characters escaped; ``$__rate_interval`` is ``1m`` (Grafana's is four
  scrape intervals at least, 4 s here: a minute holds the same samples and more);
- every dashboard query must return at least one series, as written;
- the rules are loaded into the same Prometheus, and each must be evaluated without
  error (its ``health`` is ``ok``); an alert's expression is true only in trouble, so
  what must return series is each series it reads: the expression cut at its
  comparisons and ``and``/``or``/``unless``, with ``absent(X)`` read as X and numbers left
  out (tests/helpers/contrib_files.py, ``operands``).  A misspelt metric or label in
  either file returns nothing, and fails here.

Everything is polled with a deadline (real processes on real time), never slept on."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.alerts_receiver import Receiver
from tests.helpers.contrib_files import (
    RULES,
    dashboard,
    multi_value,
    operands,
    queries,
    rules,
    substitute,
    variable_query,
)
from tests.helpers.ports import free_port
from tests.helpers.processes import running
from tests.helpers.prometheus_server import needs_prometheus, prometheus
from tests.helpers.tether_processes import monitor
from tether.lab import Lab
from tether.monitor.config._passwords import hash_token

AGENT_TOKEN = "agent-token-for-the-dashboard-test"
WRITE_TOKEN = "write-token-for-the-dashboard-test"
DEADLINE = 120.0
"""Seconds for every query to find series: the agent's first batch, the objective's first
evaluation and the second sample of every counter come within a few."""


def config(tmp: Path, lab: Lab, port: int, receiver: str, refused: str, limit: int) -> str:
    healthy = lab["healthy"].url
    address = urllib.parse.urlsplit(healthy).netloc
    (tmp / "targets.json").write_text(json.dumps([{"targets": [address]}]))
    return f"""\
storage: {{path: "{tmp / "tether.db"}"}}
server: {{listen: "127.0.0.1:{port}", metrics_monitor_limit: {limit}}}
locations: [local, branch-1]
tokens:
  - {{name: branch-1, hash: "{hash_token(AGENT_TOKEN)}", scope: agent, location: branch-1}}
  - {{name: ops, hash: "{hash_token(WRITE_TOKEN)}", scope: write}}
agents: {{batch_every: 1s}}
alerts:
  - {{name: ops, type: webhook, url: "{receiver}"}}
  - {{name: broken, type: webhook, url: "{refused}"}}
  - {{name: quiet-chat, type: webhook, url: "{receiver}"}}
time_intervals:
  - name: always
    time_intervals: [{{times: [{{start_time: "00:00", end_time: "24:00"}}]}}]
routes:
  channels: [ops]
  group_wait: 0s
  routes:
    - {{matchers: {{team: quiet}}, channels: [quiet-chat], mute_time_intervals: [always]}}
objectives:
  - {{name: site, monitors: [web, api], target: 99%, window: 30d}}
discover:
  - name: files
    file_sd: {{files: ["{tmp / "targets.json"}"], refresh_interval: 1s}}
    template: {{name: "found-{{{{address}}}}", url: "http://{{{{address}}}}/"}}
defaults: {{interval: 1s, timeout: 800ms, failure_threshold: 1}}
monitors:
  - {{name: web, url: "{healthy}"}}
  - {{name: api, url: "{lab["refused"].url}", alerts: [broken]}}
  - {{name: quiet, url: "{lab["refused"].url}", labels: {{team: quiet}}, locations: [local]}}
  - name: secure
    url: "{lab["tls_ok"].url}"
    tls: {{ca_file: "{lab.ca_file}"}}
    locations: [local]
  - {{name: payments-calls, type: traffic, app: checkout}}
"""


ONE_JOB = """\
  - job_name: tether
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
"""
SHARDS = """\
  - job_name: tether-monitors
    params: {{shards: ["2"]}}
    static_configs:
      - {{targets: ["127.0.0.1:{port}"], labels: {{__param_shard: "0"}}}}
      - {{targets: ["127.0.0.1:{port}"], labels: {{__param_shard: "1"}}}}
    relabel_configs:
      - {{source_labels: [__param_shard], target_label: shard}}
"""
SHAPES = {
    "one job": (10_000, ONE_JOB),
    "summary and shards": (3, ONE_JOB + SHARDS),
}
"""Each way of scraping: ``server.metrics_monitor_limit`` and Prometheus's jobs."""


SETTLED = {
    "the summary is scraped": 'up{job="tether"} == 1',
    "the agent reports": 'tether_agent_up{location="branch-1"} == 1',
    "every monitor has a state": (
        "count(count by (monitor) (tether_monitor_up)) == scalar(max(tether_monitors))"
    ),
}
"""What the deployment shows once it runs (the variables are read after it)."""


def ask(base: str, path: str, **params: str) -> Any:
    """Prometheus's answer's ``data`` (None while it does not listen); a query it refuses
    fails the test at once, with its reason."""
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.loads(r.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{params}: {exc.read().decode()}") from None
    except OSError:  # not listening yet
        return None
    return body["data"]


def post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {WRITE_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        status: int = r.status
    return status


def until_found(base: str, wanted: dict[str, str], procs: list[Any]) -> dict[str, int]:
    """How many series each query of ``wanted`` returned once every one returns some, or
    what was still empty when the deadline passed (an entry of 0)."""
    got: dict[str, int] = {}
    wake = threading.Event()
    deadline = time.monotonic() + DEADLINE
    while len(got) < len(wanted) and time.monotonic() < deadline:
        for proc in procs:
            assert proc.poll() is None, f"a process exited: {proc.args!r}"[:300]
        for key, promql in wanted.items():
            if key in got:
                continue
            found = ask(base, "/api/v1/query", query=promql)
            if found and found["result"]:
                got[key] = len(found["result"])
        wake.wait(0.5)  # polling a real Prometheus on its own 1 s scrape clock
    return {key: got.get(key, 0) for key in wanted}


def resolve_variables(base: str, board: dict[str, Any], procs: list[Any]) -> dict[str, str]:
    """Each template variable's "All", as Grafana writes it into a query."""
    values = {"__rate_interval": "1m"}
    wake = threading.Event()
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        selector, label = variable_query(variable)
        selector = substitute(selector, values)
        deadline = time.monotonic() + DEADLINE
        found: list[str] = []
        while not found and time.monotonic() < deadline:
            for proc in procs:
                assert proc.poll() is None, f"a process exited: {proc.args!r}"[:300]
            found = ask(base, f"/api/v1/label/{label}/values", **{"match[]": selector}) or []
            wake.wait(0.5)
        assert found, f"variable {variable['name']}: {selector} has no {label}"
        values[variable["name"]] = multi_value(sorted(found))
    return values


@needs_prometheus
@pytest.mark.timeout(300)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_panel_and_every_alert_reads_series_of_a_real_monitor(
    tmp_path: Path, lab: Lab, receiver: Receiver, shape: str
) -> None:
    """Each dashboard query returns series from a real Prometheus scraping a real monitor
    (in one job, and summary and shards apart past metrics_monitor_limit), each template
    variable finds values, each rule evaluates without error, and each series an alert
    reads is there."""
    limit, scrapes = SHAPES[shape]
    port = free_port()
    refused = f"http://127.0.0.1:{free_port()}/hook"
    path = tmp_path / "tether.yaml"
    receiver.start()
    path.write_text(config(tmp_path, lab, port, receiver.url, refused, limit))
    (tmp_path / "agent.token").write_text(AGENT_TOKEN + "\n")
    agent = [
        sys.executable, "-m", "tether.cli", "agent",
        "--server", f"http://127.0.0.1:{port}",
        "--location", "branch-1",
        "--token-file", str(tmp_path / "agent.token"),
        "--spool", str(tmp_path / "spool.db"),
    ]  # fmt: skip
    board = dashboard()
    with (
        monitor(path, tmp_path / "monitor.log", {**os.environ, "TETHER_LOCATION": "local"}) as proc,
        running(agent, tmp_path / "agent.log", text=True) as agent_proc,
        prometheus(tmp_path, scrapes.format(port=port), rule_files=(RULES,)) as base,
    ):
        procs = [proc, agent_proc]
        report = {
            "v": 1,
            "app": "checkout",
            "dropped": 1,
            "calls": [
                [time.time(), "payments.internal:443", "GET", "tls.expired", None, 12.5, 3],
                [time.time(), "payments.internal:443", "GET", None, 200, 5.0, 1],
            ],
        }
        up = until_found(base, {"up": SETTLED["the summary is scraped"]}, procs)
        assert up == {"up": 1}, (tmp_path / "monitor.log").read_text()[-3000:]
        assert post(f"http://127.0.0.1:{port}/api/report", report) == 202
        shards = {"both shards are scraped": 'count(up{job="tether-monitors"} == 1) == 2'}
        settled = until_found(base, SETTLED | (shards if "shards" in shape else {}), procs)
        assert 0 not in settled.values(), settled
        values = resolve_variables(base, board, procs)
        panel_queries = {
            f"{q.panel} / {q.ref}: {q.expr}": substitute(q.expr, values) for q in queries(board)
        }
        for promql in panel_queries.values():
            assert "$" not in promql, promql
        alert_series = {
            f"{r['alert']}: {operand}": operand for r in rules() for operand in operands(r["expr"])
        }
        got = until_found(base, {**panel_queries, **alert_series}, procs)
        evaluated = ask(base, "/api/v1/rules") or {"groups": []}
    empty = [key for key, n in got.items() if n == 0]
    assert empty == [], "\n".join(empty)
    health = {
        rule["name"]: (rule["health"], rule.get("lastError", ""))
        for group in evaluated["groups"]
        for rule in group["rules"]
    }
    assert sorted(health) == sorted(r["alert"] for r in rules())
    assert {name: h for name, h in health.items() if h != ("ok", "")} == {}
