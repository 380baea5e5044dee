"""Report each call's outcome to a running ``tether monitor``: the :class:`Reporter`
(installed by ``tether.report_to``, ``_retry/_ended``, which this module never imports).

The caller's path appends one record (a tuple) to a bounded ``deque`` (the oldest dropped and
counted when it is full); a daemon thread wakes every ``flush_every`` seconds, or when
the buffer is half full, and POSTs what it holds as one JSON batch to
``{monitor}/api/report`` with the standard library, over one kept-alive connection.
Reports never go through tether's own retrying integrations (a report is not a call to
report), never block a call and never fail one.

The wire format (``docs/reporting.md``)::

    {"v": 1, "app": "checkout", "dropped": 0,
     "calls": [[at, endpoint, method, kind, status, ms, attempts], ...]}

The monitor's answer decides what happens to a batch: 2xx done; 400, 401, 403, 404, 413
(and any other 3xx or 4xx but 408 and 429, which no retry would change) drop it, one
warning per distinct reason; anything else (connection errors, timeouts, 408, 429, 5xx)
keeps it, ahead of newer calls, and backs off (exponential with full jitter, capped at
30 s).
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import random
import re
import ssl
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from tether._log import logger
from tether._redact import redact_url
from tether._retry._backoff import backoff_delay
from tether._retry._record import CallRecord

__all__ = ["ReportStats", "Reporter", "from_environment"]

MAX_CALLS = 5000
"""At most this many calls in one batch (the monitor refuses more)."""
MAX_BODY = 1 << 20
"""At most this many bytes in one body (the monitor answers 413 past it)."""
MAX_DROPPED = 2**53
"""At most this many dropped calls said in one batch (the monitor refuses more); the
rest are said in the batches after."""
_APP = re.compile(r"[A-Za-z0-9._-]{1,64}")
_KEEP_STATUSES = frozenset({408, 429})
"""Statuses under 500 that say "later", not "never": the batch is kept for them."""
_BACKOFF_CAP = 30.0


@dataclass(frozen=True, slots=True)
class ReportStats:
    """What a :class:`Reporter` did so far."""

    sent: int
    """Calls the monitor accepted."""
    dropped: int
    """Calls dropped because the buffer was full while the monitor was away."""
    rejected: int
    """Calls in batches the monitor refused (400, 401, 403, 404, 413): not sent again."""
    failed: int
    """Batches that did not get through (refused, or kept to try again)."""
    buffered: int
    """Calls waiting to be sent."""


class Reporter:
    """Sends the calls it is handed to ``{url}/api/report``, in batches.

    Made by :func:`tether.report_to`, which also makes it receive every call's outcome.
    ``start_thread=False`` makes one that sends only when :meth:`flush` is called (for
    tests, and for programs that want to choose when).
    """

    def __init__(
        self,
        url: str,
        *,
        app: str,
        token: str | None = None,
        cafile: str | None = None,
        flush_every: float = 1.0,
        max_buffer: int = 10_000,
        timeout: float = 5.0,
        start_thread: bool = True,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._target = _parse(url)
        self.url = redact_url(self._target.url)
        """The report URL, redacted: safe to show."""
        if not isinstance(app, str) or not _APP.fullmatch(app):
            raise ValueError(
                f"report_to: app={app!r} must be 1-64 characters of letters, digits, '.', '_' "
                "or '-'"
            )
        if flush_every <= 0 or max_buffer < 2 or timeout <= 0:
            raise ValueError(
                "report_to: flush_every and timeout must be more than 0, max_buffer at least 2"
            )
        self.app = app
        self._headers = {"Content-Type": "application/json", "User-Agent": _user_agent()}
        if token:
            if any(c in token for c in "\r\n"):
                raise ValueError("report_to: the token must be one line")
            self._headers["Authorization"] = f"Bearer {token}"
        self._context: ssl.SSLContext | None = None
        if self._target.tls:
            try:
                self._context = ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"report_to: cafile={cafile!r}: {exc.strerror or exc}") from None
        self._flush_every = flush_every
        self._timeout = timeout
        self._clock = clock
        self._rand = rand
        self._buffer: collections.deque[CallRecord] = collections.deque(maxlen=max_buffer)
        self._held: list[CallRecord] = []  # a batch to send again, older than the buffer
        self._overflow = [0]  # calls the buffer dropped (a list: the sink adds to it)
        self._acked_overflow = 0
        self._sent = self._rejected = self._failed = 0
        self._failures_in_a_row = 0
        self._retry_at = 0.0
        self._said: set[str] = set()
        self._conn: http.client.HTTPConnection | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start_thread = start_thread
        self._fresh_locks()
        self.sink = self._make_sink()
        """Takes one ended call's record; what the retry loop calls."""
        self._closing: list[Callable[[Reporter], None]] = []
        _live.add(self)
        if start_thread:
            self._start()

    def __repr__(self) -> str:
        return f"<Reporter app={self.app} to {self.url}>"

    def when_closed(self, callback: Callable[[Reporter], None]) -> None:
        """Call ``callback`` with this reporter as it closes (the registry of ended calls
        lets go of it then: ``_ended.install``)."""
        self._closing.append(callback)

    # -- the caller's path -------------------------------------------------------------

    def _make_sink(self) -> Callable[[CallRecord], None]:
        buffer, overflow = self._buffer, self._overflow
        append, full = buffer.append, buffer.maxlen or 0
        half = max(full // 2 - 1, 0)  # the length before the append that makes it half full
        wake = self._wake

        def sink(record: CallRecord) -> None:
            n = len(buffer)
            if n >= full:
                overflow[0] += 1  # the deque drops its oldest itself
            append(record)
            if n >= half and not wake.is_set():
                wake.set()

        return sink

    # -- sending -----------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Send what is buffered now, waiting at most ``timeout`` seconds; True when
        everything buffered got an answer that ends it (accepted or refused)."""
        deadline = time.monotonic() + timeout
        if not self._sending.acquire(timeout=max(timeout, 0.0)):
            return False
        try:
            return self._send_all(deadline)
        finally:
            self._sending.release()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread and send what is left, within ``timeout`` seconds in all."""
        deadline = time.monotonic() + max(timeout, 0.0)
        for closing in self._closing:
            closing(self)
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(timeout, 0.0))
        self.flush(max(deadline - time.monotonic(), 0.0))
        with self._sending:
            self._disconnect()

    def stats(self) -> ReportStats:
        return ReportStats(
            self._sent,
            self._overflow[0],
            self._rejected,
            self._failed,
            len(self._buffer) + len(self._held),
        )

    def _send_all(self, deadline: float) -> bool:
        """Send batches until the buffer is empty, a batch must wait, or time is up."""
        while self._held or self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if not self._send_one(left):
                return False
        return True

    def _send_one(self, left: float) -> bool:
        """Send one batch; False when it was kept for later."""
        calls = self._held
        self._held = []
        buffer = self._buffer
        try:
            while len(calls) < MAX_CALLS:
                calls.append(buffer.popleft())
        except IndexError:
            pass
        dropped = min(self._overflow[0] - self._acked_overflow, MAX_DROPPED)
        body = _body(self.app, dropped, calls)
        while len(body) > MAX_BODY and len(calls) > 1:  # long endpoints: send fewer
            keep = len(calls) // 2
            self._held, calls = calls[keep:], calls[:keep]
            body = _body(self.app, dropped, calls)
        status, reason = self._post(body, min(left, self._timeout))
        if status is not None and 200 <= status < 300:
            self._sent += len(calls)
            self._acked_overflow += dropped
            self._failures_in_a_row = 0
            self._retry_at = 0.0
            if self._said:
                logger.info("tether: reports reach %s again", self.url)
                self._said.clear()
            return True
        self._failed += 1
        if status is not None and status < 500 and status not in _KEEP_STATUSES:
            self._rejected += len(calls)
            self._say(
                f"{status}",
                "tether: %s refused a report of %d calls (%s); dropped, calls go on",
                self.url,
                len(calls),
                reason,
            )
            return True
        self._keep(calls)
        self._failures_in_a_row += 1
        delay = backoff_delay(
            self._failures_in_a_row,
            base=self._flush_every,
            multiplier=2.0,
            cap=_BACKOFF_CAP,
            jitter="full",
            rand=self._rand,
        )
        self._retry_at = self._clock() + max(delay, self._flush_every)
        self._say(
            reason.split(":")[0],
            "tether: could not send calls to %s (%s); keeping them, trying again",
            self.url,
            reason,
        )
        return False

    def _keep(self, calls: list[CallRecord]) -> None:
        """Put ``calls`` back ahead of the buffer, dropping the oldest past its bound."""
        room = (self._buffer.maxlen or 0) - len(self._buffer) - len(self._held)
        excess = len(calls) - max(room, 0)
        if excess > 0:
            del calls[:excess]
            self._overflow[0] += excess
        self._held = calls + self._held

    def _post(self, body: bytes, timeout: float) -> tuple[int | None, str]:
        """The answer's status and a one-line reason; None for no answer."""
        target = self._target
        for fresh in (False, True):
            try:
                conn = self._connection(timeout, fresh)
                conn.request("POST", target.path, body, self._headers)
                response = conn.getresponse()
                answer = response.read(4096)
                if response.will_close:
                    self._disconnect()
                return response.status, _reason(response.status, response.reason, answer)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._disconnect()
                if fresh:
                    return None, "the monitor closed the connection"
                # a kept-alive connection the monitor closed meanwhile: once more, anew
            except Exception as exc:
                self._disconnect()
                from tether._classify import classify

                return None, f"{classify(exc).kind}: {type(exc).__name__}"
        raise AssertionError("unreachable")

    def _connection(self, timeout: float, fresh: bool) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is None or fresh:
            self._disconnect()
            t = self._target
            if t.tls:
                conn = http.client.HTTPSConnection(
                    t.host, t.port, timeout=timeout, context=self._context
                )
            else:
                conn = http.client.HTTPConnection(t.host, t.port, timeout=timeout)
            self._conn = conn
        else:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
        return conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _say(self, key: str, message: str, *args: object) -> None:
        """Log ``message`` as a warning once per distinct ``key`` until reports get through."""
        if key in self._said:
            logger.debug(message, *args)
            return
        self._said.add(key)
        logger.warning(message, *args)

    # -- the thread --------------------------------------------------------------------

    def _fresh_locks(self) -> None:
        self._wake = threading.Event()
        self._sending = threading.Lock()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tether-report", daemon=True)
        self._thread.start()

    def _closed_now(self) -> bool:
        """Was :meth:`close` called?  Read through a call: inside ``while not
        self._closed`` mypy holds the attribute False and would skip what follows a
        check of it; another thread sets it while this one waits."""
        return self._closed

    def _run(self) -> None:
        while not self._closed:
            wait = self._flush_every
            if self._retry_at:
                wait = max(self._retry_at - self._clock(), 0.0)
            self._wake.wait(wait)
            self._wake.clear()
            if self._closed_now():
                return
            if self._retry_at and self._clock() < self._retry_at:
                continue  # woken by a half-full buffer while backing off
            with self._sending:
                try:
                    self._send_all(time.monotonic() + self._timeout * 2)
                except Exception:  # never let the thread die on a bug
                    logger.warning("tether: sending a report failed", exc_info=True)

    def _after_fork(self) -> None:
        """In a child process: the parent's calls are the parent's; a new thread."""
        self._fresh_locks()
        self._buffer.clear()
        self._held = []
        self._conn = None
        self.sink = self._make_sink()
        if self._start_thread and not self._closed:
            self._start()


@dataclass(frozen=True, slots=True)
class _Target:
    url: str
    host: str
    port: int
    path: str
    tls: bool


def _parse(url: str) -> _Target:
    """The report endpoint of a monitor's base URL (or of its ``/api/report`` URL)."""
    if not isinstance(url, str):
        raise ValueError(f"report_to: the URL must be a string, not {type(url).__name__}")
    shown = redact_url(url)
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"report_to: {shown!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            f"report_to: {shown!r} must start with http:// or https:// "
            "(the address of a running tether monitor)"
        )
    if not parts.hostname:
        raise ValueError(f"report_to: {shown!r} names no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"report_to: {shown!r} carries credentials; pass the token as token= "
            "(or TETHER_REPORT_TOKEN) instead"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/api/report"):
        path += "/api/report"
    tls = parts.scheme == "https"
    host = parts.hostname
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return _Target(
        f"{parts.scheme}://{netloc}{path}", host, port or (443 if tls else 80), path, tls
    )


def _body(app: str, dropped: int, calls: list[CallRecord]) -> bytes:
    rows = [
        [round(at, 3), endpoint, method, kind, status, round(seconds * 1000, 3), attempts]
        for at, endpoint, method, kind, status, seconds, attempts in calls
    ]
    return json.dumps(
        {"v": 1, "app": app, "dropped": dropped, "calls": rows}, separators=(",", ":")
    ).encode()


def _reason(status: int, phrase: str, answer: bytes) -> str:
    """``400 Bad Request: <the monitor's error>``, one line, short."""
    reason = f"{status} {phrase}".strip()
    try:
        error = json.loads(answer).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, str) and error:
        reason += f": {' '.join(error.split())[:200]}"
    return reason


def _user_agent() -> str:
    from tether._version import __version__

    return f"tether/{__version__} (report)"


def from_environment() -> Reporter | None:
    """The reporter ``TETHER_REPORT_URL``, ``TETHER_REPORT_APP`` and ``TETHER_REPORT_TOKEN``
    ask for, if the URL is set; a bad setting is one warning, and no reporting."""
    url = os.environ.get("TETHER_REPORT_URL", "").strip()
    if not url:
        return None
    app = os.environ.get("TETHER_REPORT_APP", "").strip()
    if not app:
        logger.warning(
            "tether: TETHER_REPORT_URL is set but TETHER_REPORT_APP is not; not reporting"
        )
        return None
    try:
        return Reporter(url, app=app, token=os.environ.get("TETHER_REPORT_TOKEN") or None)
    except (ValueError, OSError) as exc:
        logger.warning("tether: TETHER_REPORT_URL: %s; not reporting", exc)
        return None


_live: weakref.WeakSet[Reporter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for reporter in list(_live):
        reporter._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
