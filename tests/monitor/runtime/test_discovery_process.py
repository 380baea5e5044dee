"""``tether monitor`` with a ``file_sd`` source, as a real process on real time (polled
with a bound): a discovered monitor is probed and shown as any other, ``/metrics`` says
how the source reads, a broken file is a banner on the dashboard while the monitor
stays, and a SIGHUP keeps the discovered monitors."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from tests.helpers.ports import free_port
from tests.helpers.tether_processes import monitor, status, wait_for
from tether.lab import Lab


def state(port: int, name: str) -> str | None:
    try:
        found: str | None = status(port)["monitors"].get(name)
    except OSError:  # not listening yet
        return None
    return found


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return str(r.read().decode())


def test_discovered_monitors_run_and_a_failing_source_is_said(tmp_path: Path, lab: Lab) -> None:
    """The monitor discovered from the file is probed (up); ``/metrics`` has the
    source's three families; a broken file keeps it and puts a banner on the dashboard
    and ``tether_discovery_up 0``; a SIGHUP reload keeps it too."""
    port = free_port()
    address = urlsplit(lab["healthy"].url).netloc
    (tmp_path / "targets.json").write_text(
        json.dumps([{"targets": [address], "labels": {"team": "pay"}}])
    )
    config = tmp_path / "tether.yaml"
    config.write_text(
        f"storage: {{path: '{tmp_path / 'tether.db'}'}}\n"
        f"server: {{listen: '127.0.0.1:{port}'}}\nworkers: 1\n"
        "discover:\n  - name: files\n    file_sd: {files: [targets.json]}\n"
        "    template: {name: 'web-{{address}}', url: 'tcp://{{address}}', interval: 10s}\n"
    )
    name = f"web-{address}"
    log = tmp_path / "monitor.log"
    with monitor(config, log) as proc:
        # At start a monitor's first check falls at a random point of its interval (as
        # every monitor's does, spread): within 10 s, well inside the bound.
        wait_for(lambda: state(port, name) == "up", proc, limit=30)
        metrics = get(port, "/metrics")
        assert 'tether_discovery_targets{source="files"} 1.0' in metrics
        assert 'tether_discovery_up{source="files"} 1.0' in metrics
        assert 'tether_discovery_last_success_timestamp_seconds{source="files"}' in metrics
        assert 'tether_monitor_labels{monitor="' + name + '",team="pay"}' in metrics
        (tmp_path / "targets.json").write_text("[{")
        wait_for(lambda: 'tether_discovery_up{source="files"} 0.0' in get(port, "/metrics"), proc)
        page = get(port, "/")
        assert "Discovery source <strong>files</strong> is failing" in page
        assert status(port)["monitors"].get(name) == "up"
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in log.read_text(), proc)
        assert status(port)["monitors"].get(name) == "up"
    text = log.read_text()
    assert text.count("discovery source files failing") == 1
