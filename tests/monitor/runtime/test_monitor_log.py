"""What tether monitor says on stderr: text or JSON lines, extra fields carried, secrets
redacted; and the alert payload's URL without its credentials."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import sys
import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.monitor import logging_to, parse_config
from tether.monitor.runtime._app import SWITCH_INTERVAL
from tether.monitor.runtime._log import PACE, _Json, _Lines, _Text
from tether.monitor.runtime._monitor_terms import incident_route

SECRET = "s3cr3t-Marker"


def emit(log_format: str) -> str:
    out = io.StringIO()
    with logging_to(out, log_format):  # type: ignore[arg-type]
        logging.getLogger("tether.monitor").warning(
            "alert to %s failed: POST https://bot:%s@hooks.lab.test/x?token=%s",
            "ops",
            SECRET,
            SECRET,
            extra={"event": "alert.failed", "channel": "ops", "kind": "connect.refused"},
        )
    return out.getvalue()


def test_json_lines_carry_the_fields_a_shipper_filters_on_and_no_secret() -> None:
    """--log-format json: one object per line with event, channel and kind; the password
    and the token in the message are masked."""
    (line,) = emit("json").splitlines()
    record = json.loads(line)
    assert record["level"] == "warning"
    assert record["event"] == "alert.failed"
    assert record["channel"] == "ops"
    assert record["kind"] == "connect.refused"
    assert record["ts"].endswith("Z")
    assert SECRET not in line
    assert "alert to ops failed" in record["message"]


def test_text_lines_are_one_line_each_and_redacted() -> None:
    """The default text format: a UTC time, the level, the message, no secret."""
    (line,) = emit("text").splitlines()
    assert line[:4].isdigit()
    assert " warning " in line
    assert SECRET not in line


def test_the_alert_payload_names_the_target_without_its_credentials() -> None:
    """A monitor URL with a password and a token goes into every alert masked."""
    config = parse_config(
        f"monitors:\n  - {{name: api, url: 'https://u:{SECRET}@127.0.0.1:8443/h?token={SECRET}'}}\n"
    )
    route = incident_route(config.monitors[0])
    assert route.url is not None
    assert SECRET not in route.url
    assert route.url.startswith("https://u:***@127.0.0.1:8443/h")


class _HeldStream(io.StringIO):
    """A stream whose writes wait until the test lets them through: a slow stderr pipe."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()
        self.writes = 0

    def write(self, text: str) -> int:
        assert self.open.wait(10), "the test never let the write through"
        self.writes += 1
        return super().write(text)


def test_a_slow_stream_does_not_hold_the_caller_and_loses_no_line() -> None:
    """Logging only queues the line: while the stream is stuck, 200 lines from four
    threads are logged all the same; once it moves, every line is there, whole, each
    thread's in its order, in far fewer writes than lines; and an argument changed after
    the call does not change the line."""
    stream = _HeldStream()
    log = logging.getLogger("tether.monitor")
    late = ["before"]
    with logging_to(stream, "json") as handler:  # type: ignore[arg-type]

        def lines(thread: int) -> None:
            for i in range(50):
                log.info("line %d of %d", i, thread, extra={"event": "test", "attempt": i})

        threads = [threading.Thread(target=lines, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
            assert not t.is_alive(), "a log call waited for the stream"
        log.info("the argument was %s", late)
        late[0] = "after"
        assert stream.getvalue() == ""
        stream.open.set()
        handler.flush()
        written = stream.getvalue()
    records = [json.loads(line) for line in written.splitlines()]
    assert len(records) == 201
    assert records[-1]["message"] == "the argument was ['before']"
    for thread in range(4):
        mine = [r["attempt"] for r in records if r["message"].endswith(f"of {thread}")]
        assert mine == list(range(50))
    assert stream.writes < 201


def test_the_end_of_the_block_writes_what_is_queued() -> None:
    """Leaving logging_to writes every queued line before it returns (a monitor that
    stops says its last lines), and removes the handler."""
    stream = io.StringIO()
    log = logging.getLogger("tether.monitor")
    with logging_to(stream, "text"):
        for i in range(100):
            log.warning("stopping %d", i)
    assert len(stream.getvalue().splitlines()) == 100
    assert not any(
        h.formatter is not None and type(h.formatter).__module__ == "tether.monitor.runtime._log"
        for h in logging.getLogger("tether").handlers
    )


def test_a_burst_of_lines_wakes_the_writer_once_a_pace_not_once_a_line() -> None:
    """A burst of lines (a mass outage logs one per state change) is written in one write
    per pace of the writer thread at most, not one per line or two: each wake takes the
    interpreter's lock from the event loop (switched as ``tether monitor`` switches it).
    Counted in writes, over the burst's time: woken per line, it wrote about ten times
    as often."""
    stream = io.StringIO()
    log = logging.getLogger("tether.monitor")
    switch = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        with logging_to(stream, "json") as handler:  # type: ignore[arg-type]
            assert isinstance(handler, _Lines)
            began = time.monotonic()
            for i in range(5000):
                log.info("m%06d: up -> down (refused)", i, extra={"event": "state"})
            took = time.monotonic() - began
            handler.flush()
            writes = handler.writes
    finally:
        sys.setswitchinterval(switch)
    assert len(stream.getvalue().splitlines()) == 5000
    assert writes <= 2 + took / PACE


def test_a_flush_does_not_wait_out_the_pace() -> None:
    """flush() writes what is queued at once, even while the writer lets lines gather:
    with a pace of a minute, two flushed lines are both written within the flushes."""
    stream = io.StringIO()
    handler = _Lines(stream, pace=60.0)
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        for text in ("first", "second"):
            handler.handle(logging.LogRecord("t", logging.INFO, __file__, 1, text, None, None))
            handler.flush()
            assert stream.getvalue().splitlines()[-1] == text
    finally:
        handler.close()


@settings(max_examples=2000, deadline=None)
@given(
    st.floats(min_value=-2e9, max_value=4e9, allow_nan=False)
    | st.integers(min_value=-2_000_000_000, max_value=4_000_000_000).map(
        lambda s: s + 0.9999995  # half a microsecond below a second: the rounding's edge
    )
)
def test_a_lines_time_is_what_datetime_writes(created: float) -> None:
    """A line's time, written from a second made once a second, is the text datetime
    wrote for every moment (its microseconds rounded half to even, a carry into the next
    second included): ``ts`` to the millisecond for JSON, to the second for text."""
    at = dt.datetime.fromtimestamp(created, dt.UTC)
    record = logging.LogRecord("tether.monitor", logging.INFO, "", 0, "up", None, None)
    record.created = created
    line = json.loads(_Json().format(record))
    assert line["ts"] == at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert _Text().format(record).split(" ")[0] == at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_inside_the_block_records_look_up_nothing_no_line_prints() -> None:
    """The command's lines print no caller, thread or process, so inside its
    `logging_to(..., own_process=True)` a record looks none of them up (the logging
    HOWTO's switches); the lines are the same, an exception's traceback included, and
    the switches are put back as they were.  A program's own `logging_to` leaves them."""
    before = (logging._srcfile, logging.logThreads, logging.logProcesses)
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    logger = logging.getLogger("tether.monitor")
    logger.addHandler(keep)
    out = io.StringIO()
    try:
        with logging_to(out, "json"):
            logger.warning("a program's own block")
        with logging_to(out, "json", own_process=True):
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("it failed", extra={"event": "x.failed"})
        logger.warning("after the block")
    finally:
        logger.removeHandler(keep)
    program, inside, after = seen
    assert program.pathname == __file__
    assert program.thread == threading.get_ident()
    assert (inside.pathname, inside.lineno, inside.thread, inside.process) == (
        "(unknown file)",
        0,
        None,
        None,
    )
    assert after.pathname == __file__
    assert after.thread == threading.get_ident()
    line = json.loads(out.getvalue().splitlines()[1])
    assert line["event"] == "x.failed"
    assert "ValueError: boom" in line["exception"]
    assert (logging._srcfile, logging.logThreads, logging.logProcesses) == before
