"""The one registry of what tether can check (``tether.probe.SCHEMES`` and
``config/_capabilities.py``) is what the file's checks, ``tether check-config`` and
:func:`cannot_run` (the agents' question) read: every scheme's options taken or refused as
the registry says, the schemes the probe and the file take being the registry's, and a
monitor this installation cannot run said, in a Python whose import system hides the
extras' modules (a real child process, not a patched function)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.config_text import dump
from tests.helpers.docs_blocks import blocks
from tests.helpers.tether_processes import SRC
from tether.monitor.config import ConfigError, parse_config
from tether.monitor.config._capabilities import OPTIONS, cannot_run, takes
from tether.probe import SCHEMES, InvalidTarget, find_scheme, parse_target

URLS = {
    "http": "http://127.0.0.1:9/",
    "https": "https://127.0.0.1:9/",
    "ws": "ws://127.0.0.1:9/",
    "wss": "wss://127.0.0.1:9/",
    "tcp": "tcp://127.0.0.1:9",
    "tls": "tls://127.0.0.1:9",
    "dns": "dns://example.test",
    "ssh": "ssh://127.0.0.1",
    "smtp": "smtp://127.0.0.1:25",
    "smtps": "smtps://127.0.0.1",
    "grpc": "grpc://127.0.0.1:9",
    "grpcs": "grpcs://127.0.0.1:9",
    "icmp": "icmp://127.0.0.1",
    "postgresql": "postgresql://u:p@127.0.0.1:9/db",
    "postgres": "postgres://u:p@127.0.0.1:9/db",
    "mysql": "mysql://u:p@127.0.0.1:9/db",
    "mariadb": "mariadb://u:p@127.0.0.1:9/db",
    "redis": "redis://127.0.0.1:9",
    "rediss": "rediss://127.0.0.1:9",
}
VALUES: dict[str, Any] = {
    "method": "GET",
    "headers": {"X-Probe": "yes"},
    "body": "ping",
    "follow_redirects": False,
    "max_redirects": 3,
    "dns": {"record_type": "A"},
    "tls": {"min_days_left": 5},
    "http_version": "3",
    "query": "PING",
    "role": "primary",
}


def test_every_scheme_of_the_registry_has_a_sample_here() -> None:
    """This module's samples cover the registry (a scheme added is a row here too)."""
    assert set(URLS) == {s.name for s in SCHEMES}
    assert set(OPTIONS) - {"browser", "steps"} <= set(VALUES)


@pytest.mark.parametrize("name", list(URLS))
def test_the_probe_and_the_file_take_the_registrys_schemes(name: str) -> None:
    """Each scheme's URL loads as a monitor, and the probe's URL phase reads it (dns://,
    a probe of its own, aside); a scheme not in the registry is refused by both."""
    parse_config(dump({"name": "m", "url": URLS[name]}))
    found = find_scheme(name)
    assert found is not None
    if found.walked:
        assert parse_target(URLS[name]).scheme == name
    with pytest.raises(InvalidTarget, match="unsupported scheme 'udp'"):
        parse_target("udp://127.0.0.1:9")


@pytest.mark.parametrize("key", list(VALUES))
@pytest.mark.parametrize("name", list(URLS))
def test_an_option_loads_where_the_registry_says_its_scheme_takes_it(name: str, key: str) -> None:
    """A monitor of each scheme given each scheme-bound option loads when the registry
    says the scheme takes it, and is refused at that key when not."""
    text = dump({"name": "m", "url": URLS[name], key: VALUES[key]})
    scheme = find_scheme(name)
    if takes(scheme, key):
        parse_config(text)
        return
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert [line.partition(":")[0] for line in caught.value.errors] == [f"monitors[0].{key}"]


def test_a_push_monitor_cannot_run_anywhere_and_a_probe_can_here() -> None:
    """cannot_run: a push monitor has nothing to probe; with every extra installed (as
    here), an HTTP/3 or gRPC check runs."""
    config = parse_config(
        dump(
            {"name": "job", "type": "push", "token": "0123456789abcdef"},
            {"name": "quic", "url": URLS["https"], "http_version": 3},
            {"name": "rpc", "url": URLS["grpc"]},
        )
    )
    job, quic, rpc = config.monitors
    assert cannot_run(job) == "a push monitor: nothing to probe (it is reported to the server)"
    assert cannot_run(quic) is None
    assert cannot_run(rpc) is None


WITHOUT = """\
import sys
from importlib.machinery import PathFinder

BLOCKED = frozenset(sys.argv.pop(1).split(","))


class _Without:
    # The blocked modules are not there at all, as importlib.util.find_spec sees them too.
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            return None
        return PathFinder.find_spec(name, path, target)

    invalidate_caches = PathFinder.invalidate_caches


sys.meta_path[:] = [_Without if f is PathFinder else f for f in sys.meta_path]
"""


def without(blocked: str, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python where the modules ``blocked`` (comma-separated) are missing."""
    return subprocess.run(
        [sys.executable, "-c", WITHOUT + textwrap.dedent(code), blocked, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
    )


MONITORS = [
    {"name": "site", "url": URLS["http"]},
    {"name": "quic", "url": URLS["https"], "http_version": 3},
    {"name": "shop-db", "url": URLS["mysql"]},
    {"name": "rpc", "url": URLS["grpc"]},
    {"name": "job", "type": "push", "token": "0123456789abcdef"},
]


def test_cannot_run_names_what_to_install(tmp_path: Path) -> None:
    """Without aioquic, PyMySQL, hpack and hyperframe, cannot_run says for each monitor
    what to install (the line the check itself would fail with), and nothing for a plain
    HTTP check."""
    (tmp_path / "tether.yaml").write_text(yaml.safe_dump({"monitors": MONITORS}))
    code = """
        from tether.monitor.config import load_config
        from tether.monitor.config._capabilities import cannot_run

        for monitor in load_config(sys.argv[1]).monitors:
            print(f"{monitor.name}: {cannot_run(monitor)}")
    """
    done = without("aioquic,pymysql,hpack,hyperframe", code, str(tmp_path / "tether.yaml"))
    assert done.stderr == ""
    assert done.stdout.splitlines() == [
        "site: None",
        "quic: an HTTP/3 check needs tether[http3] (missing: aioquic): pip install 'tether[http3]'",
        "shop-db: a mysql:// check needs tether[mysql] (missing: pymysql): pip install "
        "'tether[mysql]'",
        "rpc: a grpc:// check needs tether[grpc] (missing: hpack, hyperframe): pip install "
        "'tether[grpc]'",
        "job: a push monitor: nothing to probe (it is reported to the server)",
    ]


def test_check_config_warns_of_a_monitor_this_installation_cannot_run(tmp_path: Path) -> None:
    """tether check-config, without aioquic and PyMySQL: the file is valid (exit 0, OK),
    and each check that would fail until its extra is installed is one warning naming it,
    as monitor-config.md shows; with them installed, no such warning."""
    path = tmp_path / "tether.yaml"
    path.write_text(yaml.safe_dump({"monitors": MONITORS}))
    code = "from tether.cli import main; sys.exit(main(sys.argv[1:]))"
    done = without("aioquic,pymysql", code, "check-config", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{path}: 5 monitors, 0 alert channels, OK\n"
    assert done.stderr.splitlines() == [
        "warning: monitors[1] (quic): an HTTP/3 check needs tether[http3] (missing: "
        "aioquic): pip install 'tether[http3]'",
        "warning: monitors[2] (shop-db): a mysql:// check needs tether[mysql] (missing: "
        "pymysql): pip install 'tether[mysql]'",
    ]
    everything = without("", code, "check-config", str(path))
    assert (everything.returncode, everything.stderr) == (0, "")
    # monitor-config.md shows this run (in tether.yaml's folder).
    (shown,) = [b for b in blocks("monitor-config.md", "console") if "(quic)" in b]
    printed = [*done.stderr.splitlines(), done.stdout.replace(str(path), "tether.yaml").strip()]
    assert shown.splitlines() == ["$ tether check-config tether.yaml", *printed]
