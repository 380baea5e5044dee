"""``tether monitor --log-stalls MS`` (``runtime/_stalls.py``): each hold of the event loop
past MS is logged with what held it, and each collection as long.

The watch measures real time by nature (a heartbeat on the loop, a sampler thread), so
these tests hold a real loop with real work and poll for the line with a deadline.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.ports import free_port
from tether.cli import main
from tether.monitor.runtime._stalls import StallWatch


def hold_the_loop(seconds: float, watch: StallWatch | None = None) -> None:
    """Busy on the loop's thread for ``seconds``, never giving the loop a turn; with
    ``watch``, on past that (for up to 10 s) until its sampler has taken a sample: on a
    loaded machine the sampler thread may not be scheduled within the first 0.4 s (one
    CI-like run out of many saw "no sample")."""
    start = time.perf_counter()
    end, bound = start + seconds, start + 10.0
    while True:
        sum(range(1_000))
        now = time.perf_counter()
        if now >= end and (watch is None or watch._samples or now >= bound):
            return


async def until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.01)  # the watch measures real time: polled with a bound


def test_a_loop_held_by_code_is_logged_with_the_function_that_held_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A function that keeps the loop's thread busy 0.4 s past a 50 ms threshold is one
    ``stall.loop`` line: held at least 0.4 s, nearly all of it the thread's own CPU, and
    the sampled stack names the function."""

    async def run() -> StallWatch:
        watch = StallWatch(0.05)
        watch.start()
        try:
            await asyncio.sleep(0.05)
            hold_the_loop(0.4, watch)
            await until(lambda: watch.seen.stalls >= 1)
        finally:
            watch.stop()
        return watch

    with caplog.at_level(logging.WARNING, logger="tether.monitor"):
        watch = asyncio.run(run())
    held = [r for r in caplog.records if getattr(r, "event", None) == "stall.loop"]
    assert held, caplog.text
    assert any("hold_the_loop" in r.getMessage() for r in held), caplog.text
    assert watch.seen.longest_stall >= 0.35


def test_a_long_collection_is_logged_with_its_generation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A full collection over 300,000 objects, past a threshold of a tenth of a
    millisecond, is a ``stall.gc`` line naming generation 2, and counted."""
    kept = [[i] for i in range(300_000)]

    async def run() -> StallWatch:
        watch = StallWatch(0.0001)
        watch.start()
        try:
            gc.collect()
        finally:
            watch.stop()
        return watch

    with caplog.at_level(logging.WARNING, logger="tether.monitor"):
        watch = asyncio.run(run())
    lines = [r.getMessage() for r in caplog.records if getattr(r, "event", None) == "stall.gc"]
    assert any("generation 2" in line for line in lines), caplog.text
    assert watch.seen.collections[2] >= 1
    assert watch.seen.longest_collection[2] > 0
    assert len(kept) == 300_000


def test_a_stopped_watch_leaves_no_callback_and_no_thread() -> None:
    """Stopping the watch takes its collector callback out and ends its sampler thread."""
    before = list(gc.callbacks)

    async def run() -> None:
        watch = StallWatch(0.05)
        watch.start()
        assert len(gc.callbacks) == len(before) + 1
        await asyncio.sleep(0)
        watch.stop()

    asyncio.run(run())
    assert gc.callbacks == before
    assert not [t for t in threading.enumerate() if t.name == "tether-stalls"]


@pytest.mark.parametrize("given", ["0", "-5", "soon"])
def test_log_stalls_takes_only_a_positive_number_of_milliseconds(
    given: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--log-stalls`` with zero, a negative number or a word is a usage error (exit 2)
    naming the option, before anything runs."""
    with pytest.raises(SystemExit) as stopped:
        main(["monitor", "--log-stalls", given])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--log-stalls" in err
    assert "milliseconds" in err


def test_tether_monitor_with_log_stalls_logs_its_loops_holds(tmp_path: Path) -> None:
    """The real ``tether monitor --log-stalls 1 --log-format json``: its start holds the
    loop past a millisecond (the first freeze's collection alone does), and stderr has
    the ``stall.loop`` line saying so; it still stops cleanly on SIGTERM."""
    config = tmp_path / "tether.yaml"
    config.write_text(
        f"storage: {{path: {tmp_path / 'tether.db'}}}\n"
        f'server: {{listen: "127.0.0.1:{free_port()}"}}\n'
        "monitors:\n  - {name: api, url: 'http://127.0.0.1:9/', interval: 1s}\n"
    )
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "tether.cli", "monitor", "--config", str(config)),
            *("--log-format", "json", "--log-stalls", "1"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        lines.extend(proc.stderr)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any('"stall.loop"' in line for line in lines):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)  # polling a real process on real time
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        reader.join(5)
        assert proc.stderr is not None
        proc.stderr.close()
    assert proc.returncode == 0, "".join(lines)


def test_a_collection_inside_the_log_handler_does_not_deadlock_the_watch() -> None:
    """The log writer's handler holds a plain lock while it queues a line; a collection
    set off by an allocation under that lock must not log from the collector's callback
    (it would wait on the same lock for ever, as a 30,000-monitor wave did): with a
    collection at nearly every allocation, 300 lines are logged and the watch stopped
    within the deadline, and the collections past the threshold are told after."""
    import io

    from tether.monitor.runtime._log import logging_to

    out = io.StringIO()
    thresholds = gc.get_threshold()
    done = threading.Event()

    def run() -> None:
        async def main() -> None:
            watch = StallWatch(0.000_001)
            watch.start()
            gc.set_threshold(1, 1_000_000, 1_000_000)  # a young collection at each allocation
            try:
                for i in range(300):
                    logging.getLogger("tether.monitor").warning("line %d", i)
            finally:
                gc.set_threshold(*thresholds)
            await asyncio.sleep(0.01)
            watch.stop()

        with logging_to(out, "json"):
            asyncio.run(main())
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    gc.set_threshold(*thresholds)
    assert done.is_set(), "the watch deadlocked in the log handler"
    assert '"stall.gc"' in out.getvalue()
