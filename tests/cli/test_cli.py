"""The tether command: explain, lab, demo; exit codes and clear errors."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tether._kinds import Kind
from tether.cli import main

ROOT = Path(__file__).parents[2]


def tether(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_explain_one_kind(capsys: pytest.CaptureFixture[str]) -> None:
    """`tether explain KIND` prints the meaning, causes and numbered fixes."""
    assert main(["explain", "tls.expired"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tls.expired — ")
    assert "How to fix it:" in out
    assert "\n  1. " in out


def test_explain_lists_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a kind, every stable code is listed once."""
    from tether import Kind

    assert main(["explain"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert sorted(listed) == sorted(k.value for k in Kind)


def test_explain_unknown_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown kind exits 2 with one readable line, no traceback."""
    assert main(["explain", "dns.nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown kind 'dns.nope'" in err
    assert "Traceback" not in err


def test_explain_suggests_a_close_kind(capsys: pytest.CaptureFixture[str]) -> None:
    """A kind one letter off is named in the error, as the configuration's keys are."""
    assert main(["explain", "connect.refuse"]) == 2
    assert capsys.readouterr().err == (
        "tether explain: unknown kind 'connect.refuse'; did you mean connect.refused? "
        "`tether explain` lists them all\n"
    )


def test_bad_option_exits_2() -> None:
    """argparse usage errors exit 2."""
    result = tether("lab", "--no-such-option")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_version_is_fast_to_print() -> None:
    """`tether --version` answers without loading the lab or any HTTP library."""
    result = tether("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("tether ")


def test_lab_refuses_a_non_loopback_address() -> None:
    """The lab only ever binds loopback."""
    result = tether("lab", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr


def test_lab_prints_json_and_stops_cleanly_on_sigint() -> None:
    """`tether lab --json` lists every scenario with a loopback URL, then stops on Ctrl-C."""
    with subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "lab", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            while not (lines and lines[-1] in ("}\n", "")):
                lines.append(proc.stdout.readline())
            listing = json.loads("".join(lines))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
    assert proc.returncode == 0
    from tether.lab import SPECS

    assert [s["name"] for s in listing["scenarios"]] == [name for name, *_ in SPECS]
    assert listing["trust_anchor"].startswith("dnssec.lab.test. DS ")
    for scenario in listing["scenarios"]:
        where = scenario["url"].split("//")[1]
        if scenario["name"].startswith("dnssec_"):  # dns://NAME, from the lab's anchor
            assert where.endswith(".lab.test"), where
            assert scenario["resolver"] == listing["resolver"]
            assert scenario["trust_anchor"].startswith("dnssec.lab.test. DS ")
            continue
        assert where.startswith(
            ("127.0.0.1:", "nx.", "nodata.", "dangling.", "servfail.", "refused.", "silent.")
        )


def _free_base(count: int) -> int:
    """A base below the ephemeral range whose ``count`` ports are free on 127.0.0.1 now."""
    for base in range(20000, 32000, 500):
        held = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
        return base
    raise AssertionError("no free range of ports below 32000")


def test_lab_port_base_serves_each_scenario_at_its_listed_offset() -> None:
    """`tether lab --port BASE` (issue 24): every scenario is at BASE plus the offset
    `tether lab --list` gives it, and a restart takes the same ports again, so a
    configuration written against the lab keeps working."""
    from tether.lab import Lab
    from tether.lab._lab import LISTENERS, PORT_OFFSETS

    listed = tether("lab", "--list", "--port", "20000")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    ports = {row[0]: int(row[1]) for row in rows if not row[0].startswith("(")}
    base = _free_base(len(LISTENERS))
    for _ in range(2):  # the second start takes the same ports again
        with Lab(port_base=base) as lab:
            for scenario in lab:
                assert scenario.port == ports[scenario.name] - 20000 + base, scenario.name
            assert lab.resolver == f"127.0.0.1:{base + PORT_OFFSETS['dns']}"
            assert lab["healthy"].url == f"http://127.0.0.1:{base}/"


def test_lab_port_base_out_of_range_is_a_usage_error() -> None:
    """A base whose ports would pass 65535 is refused in one line, exit 2."""
    result = tether("lab", "--port", "65500")
    assert result.returncode == 2
    assert result.stderr.startswith("tether lab: --port: give a port from 1024 to")
    assert "Traceback" not in result.stderr


def test_demo_watches_the_lab_with_the_monitor(tmp_path: Path) -> None:
    """`tether demo` (README's main job) runs the monitor over the lab on SQLite: every
    monitor ends where the lab intends, the webhook gets alerts, and the kept database
    holds the results and the incidents it reported, correlated."""
    from tether.monitor.store import SQLiteStore

    keep = tmp_path / "demo"
    result = tether("demo", "--keep", str(keep), "--linger", "0.2", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "14 of 14 monitors ended where the lab says they should" in out
    assert "alert: refused is down since" in out
    assert "MISSED" not in out
    assert re.search(r"dashboard on http://127\.0\.0\.1:\d+/ \(the status page: /status/lab", out)
    assert "The dashboard stays up 0.2 s more" in out
    with SQLiteStore(keep / "tether.db") as store:
        incidents = store.incidents()
        refused = store.results("refused")
        healthy = store.results("healthy")
    assert f"{len(incidents)} incidents" in out
    kinds = {i.kind.value for i in incidents if i.kind}
    assert kinds >= {"connect.refused", "tls.expired", "dns.timeout"}
    # Two certificates failing alike on one host, served on two ports, are two services:
    # two incidents (issue 24), each opened with its own alert naming its own port.
    tls = sorted((i for i in incidents if i.kind is Kind.TLS_EXPIRED), key=lambda i: i.id)
    assert sorted(m for i in tls for m in i.monitors) == ["tls_expired", "tls_not_yet_valid"]
    assert [len(i.monitors) for i in tls] == [1, 1]
    assert len({i.key for i in tls}) == 2
    assert all(re.fullmatch(r"host:127\.0\.0\.1:\d+:tls\.expired", i.key) for i in tls)
    tls_alerts = [
        line for line in out.splitlines() if "alert: tls_" in line and "wrong" not in line
    ]
    assert len(tls_alerts) == 2, out
    assert not any("down too" in line for line in tls_alerts)
    assert refused
    assert all(r.kind is Kind.CONNECT_REFUSED for r in refused)
    assert healthy
    assert all(r.ok for r in healthy)
    kept = (keep / "tether.yaml").read_text()
    assert kept.count("- {name:") == 14
    assert "slug: lab" in kept
    # The kept configuration's CA file is kept too (the lab's own directory is gone).
    assert f'ca_file: "{keep / "certs" / "ca.pem"}"' in kept
    assert (keep / "certs" / "ca.pem").is_file()


def test_demo_with_an_agent_shows_its_location_in_the_per_location_view(tmp_path: Path) -> None:
    """`tether demo --agents`: a `tether agent` beside the monitor probes every lab target
    from its own location and reports over HTTP with its agent token; every monitor ends
    where the lab intends at both locations, the stored results hold both locations'
    checks, and the summary prints the per-location view."""
    keep = tmp_path / "demo"
    result = tether("demo", "--agents", "--keep", str(keep), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "14 of 14 monitors ended where the lab says they should" in out
    view = out.split("What each location saw", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    rows = {line.split()[0]: line.split()[1:] for line in view}
    assert rows["monitor"] == ["here", "agent-1"]
    assert rows["healthy"] == ["up", "up"]
    assert rows["refused"] == ["down", "connect.refused", "down", "connect.refused"]
    assert rows["dns_silent"] == ["down", "dns.timeout", "down", "dns.timeout"]
    kept = (keep / "tether.yaml").read_text()
    assert "scope: agent, location: agent-1" in kept
    with sqlite3.connect(keep / "tether.db") as db:
        ((location, taken),) = db.execute("SELECT location, results FROM tether_agents")
    assert location == "agent-1"
    assert taken >= 14  # at least a check of every monitor, taken from the agent


def test_explain_json_one_kind(capsys: pytest.CaptureFixture[str]) -> None:
    """`tether explain --json KIND` prints that kind's catalogue entry as JSON."""
    from tether._catalogue import CATALOGUE

    assert main(["explain", "--json", "connect.refused"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["kinds"]
    expected = CATALOGUE[Kind.CONNECT_REFUSED]
    assert entry == {
        "kind": "connect.refused",
        "layer": "connect",
        "title": expected.title,
        "meaning": expected.meaning,
        "hint": expected.hint,
        "retryable": True,
        "request_sent": False,
        "causes": list(expected.causes),
        "fixes": list(expected.fixes),
    }


def test_explain_json_lists_every_kind_in_the_table_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without KIND, --json lists every kind once, in the order of the plain listing."""
    assert main(["explain"]) == 0
    table = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert main(["explain", "--json"]) == 0
    assert [k["kind"] for k in json.loads(capsys.readouterr().out)["kinds"]] == table


def test_explain_json_and_markdown_together_is_a_usage_error() -> None:
    """--json and --markdown exclude each other: exit 2, no traceback."""
    result = tether("explain", "--json", "--markdown")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr
    assert "Traceback" not in result.stderr


def test_explain_suggests_a_kind_with_swapped_letters(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo inside a kind (connect.refsued) gets the did-you-mean too, on one line."""
    assert main(["explain", "--json", "connect.refsued"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "tether explain: unknown kind 'connect.refsued'; did you mean connect.refused? "
        "`tether explain` lists them all\n"
    )
