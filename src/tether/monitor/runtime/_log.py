"""What ``tether monitor`` says on stderr: one line per state change, incident and
alert delivery, as text for people or JSON for log shippers (``--log-format json``).

The lines come from the ``tether`` loggers; the fields a shipper filters on
(``event``, ``monitor``, ``incident``, ``channel``, ``kind``, ...) travel as the
record's ``extra`` and become keys of the JSON object.  Every message goes through
:func:`tether._redact.redact_text` once more on the way out.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, Literal, TextIO

from tether._redact import redact_text

__all__ = ["LOG_FORMATS", "current_format", "logging_to"]

LOG_FORMATS: Final = ("text", "json")
_FIELDS: Final = ("event", "monitor", "incident", "channel", "kind", "state", "attempt")


def _stamp(created: float) -> tuple[str, int]:
    """``created`` (Unix seconds) as ``datetime.fromtimestamp(created, UTC)`` reads it:
    its second as ``%Y-%m-%dT%H:%M:%S``, and its microseconds, rounded half to even as
    datetime rounds them.  A burst of lines shares a second, which is written once
    (a datetime made and written per line was a sixth of a line's cost)."""
    fraction, whole = math.modf(created)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        micros -= 1_000_000
        whole += 1.0
    elif micros < 0:
        micros += 1_000_000
        whole -= 1.0
    return _second(int(whole)), micros


@functools.lru_cache(maxsize=8)
def _second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        at = _stamp(record.created)[0]
        line = f"{at}Z {record.levelname.lower():7} {redact_text(record.getMessage())}"
        if record.exc_info:
            line += "\n" + redact_text(self.formatException(record.exc_info))
        return line


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        second, micros = _stamp(record.created)
        out: dict[str, object] = {
            "ts": f"{second}.{micros // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        for field in _FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                out[field] = value
        if record.exc_info:
            out["exception"] = redact_text(self.formatException(record.exc_info))
        return _LINE.encode(out)


_LINE: Final = json.JSONEncoder(ensure_ascii=False)
"""``json.dumps(out, ensure_ascii=False)``'s encoder, made once rather than per line."""


PACE: Final = 0.05
"""Seconds the log's writer lets lines gather after each write: a mass outage logs a
line per state change, and a writer woken for each line took the interpreter's lock from
the event loop as often (about a quarter of the coordinator's CPU per change,
``benchmarks/bench_change.py``); paced, it is woken at most 20 times a second."""


class _Lines(logging.Handler):
    """Writes the lines from a thread of its own, all the lines waiting in one write.

    A mass outage logs a line per state change: written and flushed one at a time on the
    event loop, they took about a sixth of the coordinator's loop at 120,000 monitors.
    Here the caller only queues the record (its message made, so that later changes to
    its arguments do not show) and the writer thread formats and writes, at most once
    every :data:`PACE` seconds: a caller wakes it only when it waits for the first line.
    Lines keep their order; :meth:`flush` waits until every line queued before it is
    written, and :meth:`close` (``logging_to``'s end, or ``logging.shutdown`` at exit)
    writes the rest.
    """

    def __init__(self, stream: TextIO, pace: float = PACE) -> None:
        super().__init__()
        self.stream = stream
        self.pace = pace
        self._ready = threading.Condition(threading.Lock())
        self._queue: list[logging.LogRecord] = []
        self._queued = 0
        self._written = 0
        self._closing = False
        self._idle = False
        """The writer waits for a first line: the next one queued wakes it."""
        self._hurry = 0
        """Callers of :meth:`flush` waiting: the writer does not pause for the pace."""
        self.writes = 0
        """Writes made to the stream (one a batch of lines)."""
        self._writer = threading.Thread(target=self._write_loop, name="tether-log", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.msg = record.getMessage()
            record.args = None
        except Exception:  # logging's own contract: report, never raise
            self.handleError(record)
            return
        with self._ready:
            self._queue.append(record)
            self._queued += 1
            if self._idle:
                self._idle = False
                self._ready.notify_all()

    def _write_loop(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closing:
                    self._idle = True
                    self._ready.wait()
                self._idle = False
                batch, self._queue = self._queue, []
                if not batch:
                    return
            lines = []
            for record in batch:
                try:
                    lines.append(self.format(record) + "\n")
                except Exception:
                    self.handleError(record)
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except Exception:
                self.handleError(batch[0])
            with self._ready:
                self.writes += 1
                self._written += len(batch)
                self._ready.notify_all()
                if not self._closing and not self._hurry:
                    # Let the lines of a burst gather: a flush or the close cuts it short.
                    self._ready.wait(self.pace)

    def flush(self) -> None:
        with self._ready:
            target = self._queued
            self._hurry += 1
            self._ready.notify_all()
            try:
                while self._written < target and self._writer.is_alive():
                    self._ready.wait()
            finally:
                self._hurry -= 1

    def close(self) -> None:
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        if self._writer is not threading.current_thread():
            self._writer.join()
        super().close()


@contextmanager
def logging_to(
    stream: TextIO,
    log_format: Literal["text", "json"] = "text",
    level: int = logging.INFO,
    *,
    own_process: bool = False,
) -> Iterator[logging.Handler]:
    """Send the ``tether`` loggers' lines of ``level`` and above to ``stream`` in
    ``log_format`` until the block ends, then put the ``tether`` logger back as it was.

    ``own_process=True`` (the ``tether`` command and its worker processes): until the
    block ends, no record in the process looks up its caller's file and line, its thread
    or its process, which no line of ours prints (the logging HOWTO's "Optimization"
    switches, put back after).  Left ``False``, the process's other logging is untouched.

    Only the ``tether`` command calls this, for its own commands: the library itself
    never changes logging (it only has the NullHandler added at ``import tether``).
    """
    handler = _Lines(stream)
    handler.setFormatter(_Json() if log_format == "json" else _Text())
    logger = logging.getLogger("tether")
    before = logger.level
    flags = _lookups()
    logger.addHandler(handler)
    logger.setLevel(level)
    if own_process:  # the flags are the process's: set only where the process is ours
        _set_lookups((None, False, False, False))
    try:
        yield handler
    finally:
        _set_lookups(flags)
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(before)


_Lookups = tuple[str | None, bool, bool, bool]


def _lookups() -> _Lookups:
    """The logging module's flags for what each record looks up: the caller's source file
    (``None``: no caller), the thread, the process, the multiprocessing process name."""
    return (
        logging._srcfile,  # the HOWTO's documented switch
        logging.logThreads,
        logging.logProcesses,
        logging.logMultiprocessing,
    )


def _set_lookups(flags: _Lookups) -> None:
    (
        logging._srcfile,  # the HOWTO's documented switch
        logging.logThreads,
        logging.logProcesses,
        logging.logMultiprocessing,
    ) = flags


def current_format() -> Literal["text", "json"] | None:
    """The format :func:`logging_to` set up for the ``tether`` loggers now, or None if it
    set up none: worker processes write their lines the way their coordinator does."""
    for handler in logging.getLogger("tether").handlers:
        if isinstance(handler.formatter, _Json):
            return "json"
        if isinstance(handler.formatter, _Text):
            return "text"
    return None
