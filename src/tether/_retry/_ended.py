"""Where a call's outcome goes once the loop is done with it: one record per logical call.

The loop (``_loop.run_sync`` / ``run_async``) checks :data:`SINKS` once as a call ends;
when it is empty (no reporter, no OpenTelemetry) that check is all a call pays.  A sink
takes a :data:`Record` and must be quick and never raise: it runs on the caller's path.

:data:`SINKS` starts with :func:`_first`, which on the first ended call makes the
OpenTelemetry histogram (when its API is installed) and, if :func:`tether.report_to`
was not called, reads ``TETHER_REPORT_URL`` once; then it leaves the list.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tether._kinds import Kind

if TYPE_CHECKING:
    from tether._report import Reporter

logger = logging.getLogger("tether")

Record = tuple[float, str, str, Kind | None, int | None, float, int]
"""``(at, endpoint, method, kind, status, seconds, attempts)``: ``at`` the wall time the
call ended (Unix seconds), ``seconds`` its whole latency on the policy's clock."""

Sink = Callable[[Record], None]

SINKS: list[Sink] = []
"""What the loop hands each ended call to; changed in place only, under :data:`_locks`."""

_locks = [threading.RLock()]
"""The one lock of the state below, in a list so a child process can replace it."""
_state: dict[str, Any] = {"ready": False, "reporter": None, "meter_sink": None}


def _first(record: Record) -> None:
    """The first ended call: set up, then hand the record to what was set up."""
    with _locks[0]:
        if not _state["ready"]:
            _setup(read_env=_state["reporter"] is None)
    for sink in SINKS:
        if sink is not _first:
            sink(record)


SINKS.append(_first)


def _setup(*, read_env: bool) -> None:
    from tether._retry import _instrument

    _state["ready"] = True
    try:
        _state["meter_sink"] = _instrument.call_duration()
    except Exception:
        logger.warning(
            "tether: the OpenTelemetry call-duration histogram could not be set up; "
            "calls go on without it",
            exc_info=True,
        )
    if read_env:
        from tether._report import from_environment

        reporter = from_environment()
        if reporter is not None:
            _state["reporter"] = reporter
    _rebuild()


def _rebuild() -> None:
    sinks: list[Sink] = [] if _state["ready"] else [_first]
    if _state["meter_sink"] is not None and _state["ready"]:
        sinks.append(_state["meter_sink"])
    reporter = _state["reporter"]
    if reporter is not None:
        sinks.append(reporter.sink)
    SINKS[:] = sinks


def install(reporter: Reporter | None) -> Reporter | None:
    """Make ``reporter`` the one that receives ended calls; the previous one, if any."""
    with _locks[0]:
        if not _state["ready"]:
            _setup(read_env=False)
        previous: Reporter | None = _state["reporter"]
        _state["reporter"] = reporter
        _rebuild()
    return previous


def installed() -> Reporter | None:
    """The reporter receiving ended calls, if any."""
    reporter: Reporter | None = _state["reporter"]
    return reporter


def use_meter(meter: Any) -> None:
    """Record call durations with ``meter`` (an OpenTelemetry ``Meter``) from now on;
    ``None`` stops.  For tests and for applications that keep their own MeterProvider."""
    from tether._retry import _instrument

    with _locks[0]:
        if not _state["ready"]:
            _setup(read_env=False)
        _state["meter_sink"] = None if meter is None else _instrument.call_duration(meter)
        _rebuild()


def fresh_lock() -> None:
    """A new lock, in a child process after ``fork``."""
    _locks[0] = threading.RLock()
