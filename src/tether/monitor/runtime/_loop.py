"""The event loop the monitor runs on: uvloop's where it is installed, else asyncio's.

``tether monitor`` (its coordinator and each worker) and ``tether demo`` spend most of
their time in the event loop: sockets, transports, timers, callbacks, for thousands of
fresh connections a second.  uvloop does that work in C on libuv; on this project's
2-core machine it took a fifth off the instructions of each probe (figures in
``benchmarks/results.md``).  The ``monitor`` extra installs it wherever it builds (not
on Windows); without it the monitor runs on asyncio's own loop, unchanged.

``tether diagnose`` keeps asyncio's loop: it probes once, and importing uvloop would
cost it more than the loop saves.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Final, TypeVar

__all__ = ["GC_THRESHOLDS", "freeze", "loop_factory", "paused_collector", "run"]

T = TypeVar("T")

GC_THRESHOLDS: Final = (50_000, 20, 20)
"""The collector's thresholds in a running monitor (Python's are 700, 10, 10).  What a
check allocates is freed by reference counting; the collector finds only cycles, and
each full collection walks every object the run has made since its start (states,
incidents' members, kept metrics), which in a mass outage at Python's thresholds held
the event loop for long stretches (benchmarks/results.md, "Figures behind choices in
the code")."""


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` when uvloop can be imported, else None (asyncio's)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on the loop :func:`loop_factory` names."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def freeze() -> None:
    """Collect once, then move every object alive now out of the collector's reach, and
    raise its thresholds (:data:`GC_THRESHOLDS`): what lives as long as the process
    is not walked again (``Runner.run`` says when it is called)."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    logging.getLogger("tether.monitor").info(
        "%d objects moved out of the collector's reach in %.2f s",
        gc.get_freeze_count(),
        time.perf_counter() - started,
    )


@contextmanager
def paused_collector() -> Iterator[None]:
    """The collector paused while the block runs (as it was after): for the restore at
    start, whose objects (every monitor's state and baseline) live as long as the
    process, as :func:`freeze` will say.  Left running, each of its collections walked
    every state restored so far: three quarters of a restart of 60,000 monitors
    (``benchmarks/bench_restart.py``)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
