"""Where a call's outcome goes once the loop is done with it: one record per logical call.

The loop (``_loop.run_sync`` / ``run_async``) checks :data:`SINKS` once as a call ends;
when it is empty (no reporter, and no OpenTelemetry MeterProvider set) that check is
all a call pays.  A sink
takes a :data:`Record` and must be quick and never raise: it runs on the caller's path.

:data:`SINKS` starts with :func:`_first`, which on the first ended call makes the
OpenTelemetry histogram (when its API is installed) and, if :func:`tether.report_to`
was not called, reads ``TETHER_REPORT_URL`` once; then it leaves the list.  The
histogram joins the list only once a MeterProvider is behind it (the API tells it).
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any, overload

from tether._log import logger
from tether._reporter import Reporter, from_environment
from tether._retry import _instrument
from tether._retry._record import CallRecord, Sink

Record = CallRecord
"""The record of one ended call (:class:`~tether._retry._record.CallRecord`)."""

SINKS: list[Sink] = []
"""What the loop hands each ended call to; changed in place only, under :data:`_locks`.
Empty while nothing listens: no reporter, and no MeterProvider behind the API's meter."""

_locks = [threading.RLock()]
"""The one lock of the state below, in a list so a child process can replace it."""
_state: dict[str, Any] = {"ready": False, "reporter": None, "meter_sink": None}


def _first(record: Record) -> None:
    """The first ended call: set up, then hand the record to what was set up."""
    made = None if _state["ready"] else _default_meter()
    with _locks[0]:
        if not _state["ready"]:
            _setup(made, read_env=_state["reporter"] is None)
    for sink in SINKS:
        if sink is not _first:
            sink(record)


SINKS.append(_first)


def _default_meter() -> _instrument.Duration | None:
    """The call-duration sink on the API's default meter.  Made outside :data:`_locks`,
    always: the API tells it of a MeterProvider under the API's own locks, and its
    ``_woken`` then takes ours, so ours is never held while taking the API's."""
    try:
        return _instrument.call_duration(woken=_woken)
    except Exception:
        logger.warning(
            "tether: the OpenTelemetry call-duration histogram could not be set up; "
            "calls go on without it",
            exc_info=True,
        )
        return None


def _woken() -> None:
    """A MeterProvider was set: the call-duration sink, asleep until now, listens."""
    with _locks[0]:
        _rebuild()


def _setup(made: _instrument.Duration | None, *, read_env: bool) -> None:
    _state["ready"] = True
    _state["meter_sink"] = made
    if read_env:
        reporter = from_environment()
        if reporter is not None:
            _state["reporter"] = reporter
    _rebuild()


def _rebuild() -> None:
    """:data:`SINKS` from the state: a sink that would drop every record (the duration
    sink on the API's proxy meter, asleep) is left out, so that while nothing listens
    the loop's one check finds nothing and no record is built."""
    sinks: list[Sink] = [] if _state["ready"] else [_first]
    meter: _instrument.Duration | None = _state["meter_sink"]
    if meter is not None and _state["ready"] and not meter.asleep():
        sinks.append(meter.sink)
    reporter = _state["reporter"]
    if reporter is not None:
        sinks.append(reporter.sink)
    SINKS[:] = sinks


def install(reporter: Reporter | None) -> Reporter | None:
    """Make ``reporter`` the one that receives ended calls (until it closes); the
    previous one, if any."""
    made = None if _state["ready"] else _default_meter()
    with _locks[0]:
        if not _state["ready"]:
            _setup(made, read_env=False)
        previous: Reporter | None = _state["reporter"]
        _state["reporter"] = reporter
        _rebuild()
    if reporter is not None and reporter is not previous:
        reporter.when_closed(_closed)
    return previous


def _closed(reporter: Reporter) -> None:
    """A reporter closes: if it is the one receiving ended calls, none is."""
    if installed() is reporter:
        install(None)


def installed() -> Reporter | None:
    """The reporter receiving ended calls, if any."""
    reporter: Reporter | None = _state["reporter"]
    return reporter


def use_meter(meter: Any) -> None:
    """Record call durations with ``meter`` (an OpenTelemetry ``Meter``) from now on;
    ``None`` stops.  For tests and for applications that keep their own MeterProvider."""
    made = None if _state["ready"] else _default_meter()
    given = None if meter is None else _instrument.call_duration(meter, woken=_woken)
    with _locks[0]:
        if not _state["ready"]:
            _setup(made, read_env=False)
        _state["meter_sink"] = given
        _rebuild()


def fresh_lock() -> None:
    """A new lock, in a child process after ``fork``."""
    _locks[0] = threading.RLock()


# -- the one reporter receiving calls --------------------------------------------------


@overload
def report_to(
    url: str,
    *,
    app: str,
    token: str | None = ...,
    cafile: str | None = ...,
    flush_every: float = ...,
    max_buffer: int = ...,
) -> Reporter: ...
@overload
def report_to(url: None) -> None: ...


def report_to(
    url: str | None,
    *,
    app: str | None = None,
    token: str | None = None,
    cafile: str | None = None,
    flush_every: float = 1.0,
    max_buffer: int = 10_000,
) -> Reporter | None:
    """Report every call made through tether (``tether.Session``, the httpx transports,
    the aiohttp wrapper and middleware, ``@tether.retry``) to the monitor at ``url``, as
    application ``app``; ``None`` stops reporting.  The previous reporter, if any, is
    flushed (at most 1 s) and closed.

    ``token``: sent as ``Authorization: Bearer``, never logged or shown.  ``cafile``:
    CA certificates to verify an ``https://`` monitor with (verified against the system's
    otherwise).  ``flush_every``: seconds between batches.  ``max_buffer``: calls kept
    while the monitor is away; past it, the oldest are dropped and counted.
    """
    if url is None:
        previous = install(None)
        if previous is not None:
            previous.close(1.0)
        return None
    if app is None:
        raise ValueError("report_to: app= is required (the name the monitor shows)")
    reporter = Reporter(
        url,
        app=app,
        token=token,
        cafile=cafile,
        flush_every=flush_every,
        max_buffer=max_buffer,
    )
    previous = install(reporter)
    if previous is not None and previous is not reporter:
        previous.close(1.0)
    return reporter


def _after_fork_in_child() -> None:
    """In a child after ``fork``: a new lock (another thread may have held it at the
    fork), and the installed reporter's new sink (``_report`` has remade it)."""
    fresh_lock()
    if installed() is not None:
        install(installed())


def _at_exit() -> None:
    """Send what the installed reporter holds, within about a second."""
    reporter = installed()
    if reporter is not None:
        reporter.close(1.0)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
