"""A real Prometheus Alertmanager on loopback (Debian's ``prometheus-alertmanager``
package), with no gossip and a receiver that sends nothing: the peer of the
``alertmanager`` channel's tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.helpers.ports import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
SKIP_REASON = (
    "needs Debian's prometheus-alertmanager package (.ci/run installs it and requires this "
    "test with TETHER_REQUIRE_ALERTMANAGER=1)"
)

CONFIG = """\
route: {receiver: "null", group_wait: 1h, group_interval: 1h, repeat_interval: 24h}
receivers: [{name: "null"}]
"""


def until(
    ready: Callable[[], bool],
    *,
    within: float = 30.0,
    every: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> bool:
    """Ask ``ready`` every ``every`` seconds until it says yes or ``within`` has passed;
    whether it said yes.  A server's start has no event to wait on: this polls it, with a
    bound."""
    give_up = clock() + within
    while True:
        if ready():
            return True
        if clock() >= give_up:
            return False
        sleep(every)


def _ready(base: str, ca: str | bool) -> bool:
    try:
        return requests.get(f"{base}/-/ready", timeout=1, verify=ca).status_code == 200
    except requests.ConnectionError:
        return False  # not listening yet


@contextmanager
def alertmanager(tmp_path: Path, *, tls: tuple[Path, Path, Path] | None = None) -> Iterator[str]:
    """A real Alertmanager listening on a free loopback port; its base URL.  ``tls``
    (certificate chain, key, and the authority that signed them, as PEM files): it
    speaks HTTPS only, with that certificate (its ``--web.config.file``)."""
    assert ALERTMANAGER is not None
    port = free_port()
    (tmp_path / "alertmanager.yml").write_text(CONFIG)
    args = [
        ALERTMANAGER,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    if tls is not None:
        chain, key, _ = tls
        (tmp_path / "web.yml").write_text(
            f"tls_server_config: {{cert_file: {chain}, key_file: {key}}}\n"
        )
        args.append(f"--web.config.file={tmp_path / 'web.yml'}")
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    ca: str | bool = str(tls[2]) if tls else True
    try:
        if (
            not until(lambda: proc.poll() is not None or _ready(base, ca))
            or proc.poll() is not None
        ):
            raise RuntimeError(
                "Alertmanager did not become ready: "
                + (tmp_path / "alertmanager.log").read_text(errors="replace")[-2000:]
            )
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def alerts(base: str, ca: str | bool = True, **params: str) -> list[dict[str, Any]]:
    """``GET /api/v2/alerts`` (``active``, ``silenced``, ``inhibited``, ``unprocessed``
    as ``"true"``/``"false"``; resolved alerts are never listed), trusting ``ca``."""
    response = requests.get(f"{base}/api/v2/alerts", params=params, timeout=5, verify=ca)
    response.raise_for_status()
    return list(response.json())
