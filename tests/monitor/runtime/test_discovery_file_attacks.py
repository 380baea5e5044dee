"""``file_sd`` files attacked while they are read (issue 45 section 8): a FIFO or a
device where a file was, a file cut in the middle of its writing, a file swapped by a
rename, removed between the glob and the read, a symlink moved to another file or
looping.  Real files, FIFOs and symlinks in the test's folder; an injected clock.  Each
attack fails the source alone, in one line, keeping its last good set, or is read as the
file stood; none holds discovery up or drops a monitor before its grace."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

from tether.monitor.config import parse_config
from tether.monitor.runtime._discovery import Discovery, read_files

CONFIG = """\
discover:
  - name: files
    file_sd: {files: [targets/*.json]}
    template: {url: "tcp://{{address}}"}
  - name: other
    file_sd: {files: [other.json]}
    template: {url: "tcp://{{address}}"}
"""


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def groups(*targets: str) -> str:
    return json.dumps([{"targets": list(targets)}])


def setup(tmp_path: Path) -> tuple[Discovery, Clock]:
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "a.json").write_text(groups("127.0.0.1:81"))
    (tmp_path / "other.json").write_text(groups("127.0.0.1:91"))
    clock = Clock()
    d = Discovery(parse_config(CONFIG), str(tmp_path), wall=clock)
    asyncio.run(d.step())
    return d, clock


def names(d: Discovery) -> list[str]:
    return [m.name for m in d.merged().monitors]


def test_a_fifo_or_a_device_where_a_file_was_fails_at_once(tmp_path: Path) -> None:
    """A FIFO no one writes to, matched by the glob, fails the source at once ("not a
    regular file") instead of holding every source's reads until a writer comes; a
    symlink to ``/dev/zero`` the same; the other source and the last good set stay."""
    d, clock = setup(tmp_path)
    fifo = tmp_path / "targets" / "b.json"
    os.mkfifo(fifo)
    (tmp_path / "other.json").write_text(groups("127.0.0.1:92"))
    clock.now += 5
    release = threading.Timer(20, _release, (fifo,))  # on main the read waits for a writer
    release.start()
    try:
        asyncio.run(asyncio.wait_for(d.step(), 10))
    finally:
        release.cancel()
    files, other = d.status()
    assert files.error == f"cannot read {fifo}: not a regular file"
    assert other.up
    assert names(d) == ["files/127.0.0.1:81", "other/127.0.0.1:91", "other/127.0.0.1:92"]
    fifo.unlink()
    fifo.symlink_to("/dev/zero")
    clock.now += 5
    asyncio.run(d.step())
    assert d.status()[0].error == f"cannot read {fifo}: not a regular file"


def _release(fifo: Path) -> None:
    with open(fifo, "wb"):
        pass


def test_a_file_cut_while_written_fails_until_whole_and_drops_nothing(tmp_path: Path) -> None:
    """A file read while a writer has written half of it (cut JSON) fails the source,
    its monitors kept; once whole it is read again at the next look and nothing was
    removed or added in between."""
    d, clock = setup(tmp_path)
    path = tmp_path / "targets" / "a.json"
    whole = groups("127.0.0.1:81", "127.0.0.1:82")
    path.write_text(whole[: len(whole) // 2])
    clock.now += 5
    assert not asyncio.run(d.step())
    assert "not JSON" in str(d.status()[0].error)
    assert names(d) == ["files/127.0.0.1:81", "other/127.0.0.1:91"]
    path.write_text(whole)
    clock.now += 2
    assert asyncio.run(d.step())
    assert d.status()[0].up
    assert names(d) == ["files/127.0.0.1:81", "files/127.0.0.1:82", "other/127.0.0.1:91"]


def test_a_file_swapped_by_a_rename_or_removed_after_the_glob(tmp_path: Path) -> None:
    """A new file renamed over the old one (an atomic swap) is read as the new one at the
    next look; a file the glob matched and that was removed before its read is left out
    as the next look would leave it out, not a failure of the source."""
    d, clock = setup(tmp_path)
    new = tmp_path / "new.tmp"
    new.write_text(groups("127.0.0.1:83"))
    os.replace(new, tmp_path / "targets" / "a.json")
    clock.now += 5
    assert asyncio.run(d.step())
    assert "files/127.0.0.1:83" in names(d)
    gone = str(tmp_path / "targets" / "gone.json")
    kept = str(tmp_path / "targets" / "a.json")
    (found,) = read_files([gone, kept])
    assert found.targets == ("127.0.0.1:83",)


def test_a_symlink_moved_to_another_file_or_looping(tmp_path: Path) -> None:
    """A symlink matched by the glob is followed: moved to another file, the next look
    reads that one; made to loop, the source fails in one line naming the file."""
    d, clock = setup(tmp_path)
    (tmp_path / "one.data").write_text(groups("127.0.0.1:84"))
    (tmp_path / "two.data").write_text(groups("127.0.0.1:85"))
    link = tmp_path / "targets" / "link.json"
    link.symlink_to(tmp_path / "one.data")
    clock.now += 5
    asyncio.run(d.step())
    assert "files/127.0.0.1:84" in names(d)
    link.unlink()
    link.symlink_to(tmp_path / "two.data")
    clock.now += 5
    asyncio.run(d.step())
    assert "files/127.0.0.1:85" in names(d)
    link.unlink()
    link.symlink_to(link)
    clock.now += 5
    assert not asyncio.run(d.step())
    error = d.status()[0].error
    assert error is not None
    assert error.startswith(f"cannot read {link}")
    assert "\n" not in error
