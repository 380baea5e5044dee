"""A worker process that does not outlive its coordinator."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Final

__all__ = ["die_with"]

_PR_SET_PDEATHSIG: Final = 1


def die_with(parent: int | None) -> bool:
    """Ask the kernel (Linux) to kill this process the moment ``parent``, its coordinator,
    exits: after a ``kill -9`` an orphaned worker would otherwise hold the coordinator's
    listening socket until it noticed, and a restarted monitor could not listen (the port
    is exclusive, ``web/_listen.py``).  Nothing is lost: what a worker checks is the
    coordinator's to store, and it is gone.  Elsewhere the worker closes its listening
    sockets as soon as the coordinator's end of its socket closes (``_workers._work``).
    False when the coordinator has exited already."""
    if parent is None:
        return True
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return os.getppid() == parent  # asked after prctl: a death before it is seen here
