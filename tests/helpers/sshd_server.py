"""Debian's OpenSSH server on a loopback port, with a host key made for it: the real peer of
the ssh:// check's tests and of the SSH clients' classification."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def sshd_server(home: Path) -> Iterator[int]:
    """sshd listening on a loopback port (yielded), its files in ``home``; password and
    keyboard-interactive logins off, so every login is refused.  Skips without sshd, or
    fails under TETHER_REQUIRE_SSHD=1."""
    binary = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else "")
    if not binary:
        if os.environ.get("TETHER_REQUIRE_SSHD") == "1":
            pytest.fail("sshd is not installed (apt-get install openssh-server)")
        pytest.skip("sshd is not installed (apt-get install openssh-server)")
    key = home / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    Path("/run/sshd").mkdir(exist_ok=True)  # its privilege separation directory
    config = home / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile none\n"
        "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
    )
    proc = subprocess.Popen(
        [binary, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)  # waiting for a real process to listen, not for the code under test
        else:
            pytest.fail("sshd did not start listening")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()
