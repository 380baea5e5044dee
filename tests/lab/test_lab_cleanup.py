"""The lab leaves nothing behind: its certificate directory goes when it stops, whether
`tether.lab.Lab` is stopped in code or `tether lab` by Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tether.lab import Lab


def test_lab_removes_the_certificate_directory_it_made() -> None:
    """A lab without cert_dir writes its certificates to a temporary directory, which
    stop() removes."""
    with Lab() as lab:
        assert lab.certs is not None
        directory = lab.certs.directory
        assert Path(lab.ca_file).is_file()
    assert not directory.exists()


def test_lab_keeps_a_certificate_directory_it_was_given(tmp_path: Path) -> None:
    """A cert_dir given by the caller is the caller's: the lab leaves it and its files."""
    with Lab(cert_dir=tmp_path) as lab:
        ca_file = Path(lab.ca_file)
    assert ca_file.parent == tmp_path
    assert ca_file.is_file()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_tether_lab_leaves_no_temporary_directory(tmp_path: Path, stop: signal.Signals) -> None:
    """`tether lab` with a private TMPDIR, stopped once it has printed its listing, exits 0
    and leaves TMPDIR as empty as it found it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    with subprocess.Popen(
        [sys.executable, "-m", "tether.cli", "lab"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            seen = []
            # The last line of the listing is the readiness marker.
            while not seen or seen[-1] not in ("Press Ctrl-C to stop.\n", ""):
                seen.append(proc.stdout.readline())
            assert seen[-1], "tether lab ended before it was ready"
            assert list(tmp.glob("tether-lab-*")), "the lab's certificates are not in TMPDIR"
        finally:
            proc.send_signal(stop)
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "lab stopped" in err
    assert sorted(p.name for p in tmp.iterdir()) == []
