"""docs/grafana.md's examples run as written, and its tables say what the files hold.

The ``console`` block runs promtool from the repository's root and must print what it
shows; the ``yaml`` block is a prometheus.yml that ``promtool check config`` accepts with
the rules file beside it; the ``sh`` block is run with Grafana's directories moved under
the test's own, and leaves the files where the provider's ``path`` reads them.  The
panel table names every panel of the dashboard, and the alert table every alert with its
severity and its ``for``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.helpers.contrib_files import PROVISIONING, RULES, dashboard, panels, rules
from tests.helpers.docs_blocks import ROOT, blocks, run_console, steps
from tests.helpers.prometheus_server import PROMTOOL, needs_promtool

DOC = (ROOT / "docs" / "grafana.md").read_text()


def table_rows(first: str) -> list[list[str]]:
    """The cells of every row of the table whose header starts with ``| first |``."""
    start = DOC.index(f"| {first} |")
    rows = []
    for line in DOC[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_panel_table_names_every_panel() -> None:
    """Each panel of the dashboard has a row, under its row's title, and no row names a
    panel the dashboard does not have."""
    shown = {(row, panel) for row, panel, *_ in table_rows("row")}
    found: set[tuple[str, str]] = set()
    section = ""
    for panel in panels(dashboard()):
        if panel["type"] == "row":
            section = panel["title"]
        else:
            found.add((section, panel["title"]))
    assert shown == found


def test_the_alert_table_says_each_alerts_severity_and_wait() -> None:
    """Each alert of the rules file has a row with its severity and its ``for``."""
    shown = {
        name.strip("`"): (severity, after) for name, severity, after, *_ in table_rows("alert")
    }
    assert shown == {r["alert"]: (r["labels"]["severity"], r.get("for", "")) for r in rules()}


@needs_promtool
def test_the_promtool_commands_print_what_the_doc_shows() -> None:
    """`promtool check rules` and `promtool test rules`, run from the repository's root,
    print what the console block shows."""
    (console,) = blocks("grafana.md", "console")
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    for (command, printed), (_, shown) in zip(
        run_console(console, ROOT, env), steps(console), strict=True
    ):
        assert printed == shown, command


@needs_promtool
def test_the_scrape_configuration_passes_promtool(tmp_path: Path) -> None:
    """The doc's prometheus.yml, with the rules file beside it, is a configuration
    `promtool check config` accepts, rules included."""
    assert PROMTOOL is not None
    (config,) = blocks("grafana.md", "yaml")
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(RULES, tmp_path / "tether-rules.yml")
    done = subprocess.run(
        [PROMTOOL, "check", "config", "prometheus.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_the_provisioning_commands_put_the_files_where_the_provider_reads(
    tmp_path: Path,
) -> None:
    """The sh block, with /etc/grafana and /var/lib/grafana under the test's directory,
    copies the provider, the data source and the dashboard; the dashboard lands in the
    folder the provider's ``path`` names."""
    (commands,) = blocks("grafana.md", "sh")
    etc, lib = tmp_path / "etc" / "grafana", tmp_path / "var" / "lib" / "grafana"
    for kind in ("dashboards", "datasources"):
        (etc / "provisioning" / kind).mkdir(parents=True)
    moved = commands.replace("/etc/grafana", str(etc)).replace("/var/lib/grafana", str(lib))
    done = subprocess.run(
        ["sh", "-ec", moved], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    provider = yaml.safe_load((etc / "provisioning" / "dashboards" / "tether.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert re.sub("^/var/lib/grafana", str(lib), path) == str(lib / "dashboards" / "tether")
    assert (lib / "dashboards" / "tether" / "tether.json").read_bytes() == (
        ROOT / "contrib" / "grafana" / "tether.json"
    ).read_bytes()
    assert (etc / "provisioning" / "datasources" / "prometheus.yaml").read_bytes() == (
        PROVISIONING / "datasources" / "prometheus.yaml"
    ).read_bytes()
