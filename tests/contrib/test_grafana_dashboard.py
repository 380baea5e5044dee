"""contrib/grafana/tether.json holds what Grafana needs to provision it from a file, and
its provisioning examples are Grafana's format.

Grafana's file provisioning reads the dashboard's JSON as it is: it fills no
``__inputs`` (grafana/grafana#10786: "Datasource named ${DS_PROMETHEUS} was not found"),
so every panel and query names its data source through a ``datasource`` template
variable, which an import through the UI fills the same way.  Grafana itself is not
run here (no Debian package); each query's PromQL is parsed by promtool, and asked of
a real Prometheus in test_dashboard_queries.py."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from tests.helpers.contrib_files import (
    PROVISIONING,
    dashboard,
    panels,
    queries,
    substitute,
    variable_query,
)
from tests.helpers.prometheus_server import PROMTOOL, needs_promtool

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_TYPES = {"row", "stat", "timeseries", "state-timeline", "bargauge", "table", "gauge"}
"""Grafana's own panels (no plugin to install)."""
BUILT_IN = {"__rate_interval", "__interval", "__range"}
VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def test_the_dashboard_is_a_raw_dashboard_that_provisioning_can_load() -> None:
    """A raw dashboard (not an export wrapped for import): no id, no __inputs, a stable
    uid, a schema version, a title, tags and a time range."""
    board = dashboard()
    assert board["id"] is None
    assert "__inputs" not in board
    assert "dashboard" not in board
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", board["uid"])
    assert isinstance(board["schemaVersion"], int)
    assert board["title"] == "tether"
    assert "tether" in board["tags"]
    assert board["time"] == {"from": "now-6h", "to": "now"}


def test_every_panel_reads_the_datasource_variable() -> None:
    """The data source is a variable of type datasource over Prometheus, and every panel
    and every query names it (never a uid of one Grafana's)."""
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    source = variables["datasource"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


def _cells(panel: dict[str, Any]) -> set[tuple[int, int]]:
    g = panel["gridPos"]
    return {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}


def test_panels_have_unique_ids_queries_and_places_on_the_grid() -> None:
    """Each panel has an id no other has, a known type, a title and a description, and a
    place on the 24-column grid no other panel takes; each non-row panel has queries,
    each with its own refId and an expression."""
    board = dashboard()
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), ids
    taken: set[tuple[int, int]] = set()
    for panel in panels(board):
        assert panel["type"] in PANEL_TYPES, panel["type"]
        assert panel["title"]
        g = panel["gridPos"]
        assert all(isinstance(g[k], int) for k in "hwxy"), panel["title"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        cells = _cells(panel)
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        if panel["type"] == "row":
            continue
        assert panel["description"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs, panel["title"]
        assert len(refs) == len(set(refs)), panel["title"]
        assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]


def test_every_variable_a_query_names_is_defined_before_it_is_used() -> None:
    """Every ``$name`` in a query is a template variable (or Grafana's own
    ``$__rate_interval``), and a variable's own query names only those before it."""
    board = dashboard()
    defined: set[str] = set(BUILT_IN)
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            selector, _ = variable_query(variable)
            used = {a or b for a, b in VARIABLE.findall(selector)}
            assert used <= defined, (variable["name"], used - defined)
            assert variable["includeAll"], variable["name"]
            assert variable["multi"], variable["name"]
        defined.add(variable["name"])
    for query in queries(board):
        used = {a or b for a, b in VARIABLE.findall(query.expr)}
        assert used <= defined, (query.panel, used - defined)


def _lost(written: Any, read: Any, path: str = "") -> list[str]:
    """The keys of ``written`` that ``read`` does not have, anywhere, and the values it
    changed."""
    if isinstance(written, dict):
        return [
            lost
            for key, value in written.items()
            for lost in (
                _lost(value, read[key], f"{path}.{key}") if key in read else [f"{path}.{key}"]
            )
        ]
    if isinstance(written, list):
        if len(written) != len(read):
            return [path]
        return [
            lost
            for n, (a, b) in enumerate(zip(written, read, strict=True))
            for lost in _lost(a, b, f"{path}[{n}]")
        ]
    return [] if written == read else [f"{path}: {written!r} became {read!r}"]


def test_grafanas_own_dashboard_model_keeps_every_key() -> None:
    """Read through grafana-foundation-sdk's models of a dashboard, its panels, their
    options and field configs and Prometheus's queries (generated from Grafana 11.6's
    schema) and written back, the dashboard loses nothing but its null ``id`` and the
    variables' ``definition`` (the query as the variable editor shows it): a misspelt key,
    an option a panel does not have, would be dropped."""
    plugins.register_default_plugins()
    written = dashboard()
    read = json.loads(
        json.dumps(Dashboard.from_json(written).to_json(), default=lambda o: o.to_json())
    )
    definitions = {
        f".templating.list[{n}].definition"
        for n, v in enumerate(written["templating"]["list"])
        if "definition" in v
    }
    assert set(_lost(written, read)) == {".id", *definitions}


@needs_promtool
def test_every_query_is_promql_that_promtool_parses(tmp_path: Path) -> None:
    """Each query, with its variables filled in as Grafana fills them, parses as PromQL
    (written as a recording rule, which ``promtool check rules`` parses)."""
    assert PROMTOOL is not None
    board = dashboard()
    values = {"__rate_interval": "1m"}
    values |= {v["name"]: "(a|b)" for v in board["templating"]["list"]}
    rules = [
        {"record": f"tether:panel_{n}", "expr": substitute(q.expr, values)}
        for n, q in enumerate(queries(board))
    ]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_the_provisioning_examples_are_grafanas_format() -> None:
    """The dashboard provider reads files from a path, the data source is a Prometheus,
    both in provisioning's apiVersion 1."""
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "tether.yaml").read_text())
    assert provider["apiVersion"] == 1
    (only,) = provider["providers"]
    assert only["type"] == "file"
    assert only["options"]["path"].startswith("/")
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())
    assert sources["apiVersion"] == 1
    (source,) = sources["datasources"]
    assert (source["type"], source["access"]) == ("prometheus", "proxy")
