"""The agent's spool on a real SQLite file: first in, first out; never past its bound;
every check made is sent, held or counted as dropped; a batch keeps its id until taken,
across re-reads and a reopen; what was written survives the writer being killed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.agent_stub import made
from tether.monitor._agent_wire import AgentCheck
from tether.monitor.runtime.agents._spool import Spool, SpoolError


def _agent_check(n: int) -> AgentCheck:
    c = made(n)
    return AgentCheck(c.record, c.host)


Op = tuple[str, int]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 7)),
        st.tuples(st.just("send"), st.just(0)),
        st.tuples(st.just("lost"), st.just(0)),
        st.tuples(st.just("reopen"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(1, 12), ops=OPS)
def test_the_spool_is_a_bounded_fifo_whose_batches_keep_their_ids(
    tmp_path_factory: pytest.TempPathFactory, limit: int, ops: list[Op]
) -> None:
    """Over any run of adds, sends (taken), lost answers (sent, not taken) and reopens:
    batches hold the oldest checks in order, the bound is never passed, dropped + sent +
    held == made, a batch's id and checks stay the same until it is taken, and the dropped
    count a taken batch carried is no longer owed."""
    path = tmp_path_factory.mktemp("spool") / "agent.spool"
    spool = Spool(path, limit=limit)
    made_count = sent = reported = 0
    expected: list[str] = []  # the model: the monitors held, oldest first
    last: tuple[str, tuple[str, ...]] | None = None  # a batch sent, its answer lost
    try:
        for op, n in ops:
            if op == "add":
                spool.add([_agent_check(made_count + i) for i in range(n)])
                expected += [f"m{made_count + i}" for i in range(n)]
                made_count += n
                expected = expected[-limit:]
            elif op == "reopen":
                spool.close()
                spool = Spool(path, limit=limit)
            else:
                pending = spool.pending()
                names = tuple(c.record.monitor for c in pending.checks)
                if last is not None and last[0] == pending.id:  # the same batch, sent again
                    assert names == tuple(m for m in last[1] if m in expected)
                assert list(names) == expected[: len(names)]
                assert pending.id == spool.pending().id  # asked again: the same batch
                if op == "lost":
                    last = (pending.id, names)
                else:
                    owed = spool.dropped
                    sent += spool.taken(pending.id)
                    reported += pending.dropped
                    assert spool.dropped == owed - pending.dropped
                    expected = expected[len(names) :]
                    last = None
            assert spool.held() == len(expected) <= limit
            assert spool.dropped_total + sent + spool.held() == made_count
            assert spool.dropped_total - reported == spool.dropped
    finally:
        spool.close()


def test_a_batch_is_at_most_max_batch_and_an_empty_one_renews(tmp_path: Path) -> None:
    """With nothing held the pending batch is empty (it renews the lease); with more than
    MAX_BATCH held it carries MAX_BATCH, the oldest."""
    with Spool(tmp_path / "s.spool") as spool:
        empty = spool.pending()
        assert empty.checks == ()
        assert len(empty.id) == 32
        assert spool.taken(empty.id) == 0
        spool.add([_agent_check(i) for i in range(5_003)])
        first = spool.pending()
        assert len(first.checks) == 5_000
        assert first.checks[0].record.monitor == "m0"
        assert spool.taken(first.id) == 5_000
        assert [c.record.monitor for c in spool.pending().checks] == ["m5000", "m5001", "m5002"]


def test_a_check_written_survives_the_writer_killed(tmp_path: Path) -> None:
    """A process that adds a check and is killed (SIGKILL, no close) leaves it in the file."""
    path = tmp_path / "killed.spool"
    code = (
        "import os, signal, sys\n"
        "from tests.helpers.agent_stub import made\n"
        "from tether.monitor._agent_wire import AgentCheck\n"
        "from tether.monitor.runtime.agents._spool import Spool\n"
        f"s = Spool({str(path)!r}, limit=10)\n"
        "c = made(7)\n"
        "s.add([AgentCheck(c.record, c.host)])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    root = str(Path(__file__).parents[3])
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={"PYTHONPATH": f"{root}/src:{root}"},
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == -9, done.stderr
    with Spool(path, limit=10) as spool:
        assert [c.record.monitor for c in spool.pending().checks] == ["m7"]


def test_a_file_that_is_not_a_spool_is_one_line(tmp_path: Path) -> None:
    """A file that is not SQLite is a SpoolError naming it, not a traceback."""
    bad = tmp_path / "not.spool"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SpoolError, match="not a spool") as caught:
        Spool(bad)
    assert "\n" not in str(caught.value)


def test_the_spool_is_readable_by_its_user_alone(tmp_path: Path) -> None:
    """The spool keeps the assignment, whose headers may be credentials: the file and the
    WAL beside it are 0600, made so or made so again."""
    path = tmp_path / "s.spool"
    path.touch(mode=0o644)
    path.chmod(0o644)
    with Spool(path) as spool:
        spool.keep_assignment('{"monitors": [{"headers": {"Authorization": "Bearer x"}}]}')
        modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes["s.spool"] == 0o600
    assert modes.get("s.spool-wal", 0o600) == 0o600
    assert "s.spool-wal" in modes


def test_a_full_disk_keeps_what_was_held_and_counts_what_was_not(tmp_path: Path) -> None:
    """A write the disk refuses (a file-size limit of one byte, in a child process) is
    SpoolFull: what the spool held is intact, the checks not kept are counted, and the
    first write that succeeds once there is room folds them into the dropped count."""
    path = tmp_path / "full.spool"
    code = (
        "import resource\n"
        "from tests.helpers.agent_stub import made\n"
        "from tether.monitor._agent_wire import AgentCheck\n"
        "from tether.monitor.runtime.agents._spool import Spool, SpoolFull\n"
        "one = lambda n: [AgentCheck(made(n).record, made(n).host)]\n"
        f"s = Spool({str(path)!r}, limit=10)\n"
        "s.add(one(1)); s.add(one(2))\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))\n"
        "refused = 0\n"
        "for n in range(3, 8):\n"
        "    try:\n"
        "        s.add(one(n))\n"
        "    except SpoolFull as exc:\n"
        "        refused += 1\n"
        "        said = str(exc)\n"
        "try:\n"
        "    s.pending()\n"
        "except SpoolFull:\n"
        "    refused += 1\n"
        "print(refused, s.unkept, said)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)\n"
        "s.add(one(9))\n"
        "p = s.pending()\n"
        "print([c.record.monitor for c in p.checks], p.dropped, s.unkept)\n"
    )
    root = str(Path(__file__).parents[3])
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={"PYTHONPATH": f"{root}/src:{root}"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first.startswith("6 5 the spool cannot be written: "), first
    assert first.endswith("(is its disk full?)")
    assert second == "['m1', 'm2', 'm9'] 5 0"
