"""``tether agent``'s loop: fetch the assignment, probe it, send the checks (docs/agents.md).

Three tasks share one :class:`Agent`, each a plain loop that only sends and waits:

- the **assignment** long poll (``GET ASSIGNMENT_PATH`` with the version held): a new
  version is read monitor by monitor with the monitor's own model, handed to the
  monitor's own :class:`~tether.monitor.checks._prober.Prober`, and kept in the spool.
  A monitor it cannot run (its model refuses it, it lacks the extra, a file it names is
  not here: ``agents/_can_run.py``) is not probed; it is said in the log once per
  episode, kept with since when in the spool, and told to the server in the batches
  (``Batch.cannot_run``) until one telling it is taken, and again every lease;
- the **prober**, whose every check goes to the spool as it is made;
- the **sender**: every ``batch_every`` seconds it sends what the spool holds, oldest first,
  in batches whose ids the spool keeps (a batch sent again is the same batch), an empty
  one if nothing is held (it renews the lease); checks leave the spool only on a receipt.
  A check the server would refuse (dated more than a day after the batch's ``sent_at``,
  or older than the raw retention the assignment says) is dropped, counted, and said.

A server that cannot be reached (refused, a timeout, a 5xx, an answer that is not
tether's, a 400 whose line the log gives) is retried with
:func:`~tether._retry._backoff.backoff_delay`, capped at a few ``batch_every``; the log
says so once when it starts and once when it ends.  A server that refuses the token
(401, 403) is retried the same way for ``give_up_after`` (a refusal may be passing: the
server restarting behind a proxy, another process briefly on its port), said in one line
when it starts and, if it passes, when it ends; refused that long, the token is taken for
revoked and the agent stops (:class:`AgentRefused`), saying so.

The clock offset is estimated from every answer as NTP does (the server's time against
the midpoint of sending and answering); above :data:`MAX_OFFSET` it is a warning, said
once per episode.  The server places checks by ``sent_at`` whatever the offset.

Clocks, sleep, randomness, the probe and the HTTP session are injected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlencode

import aiohttp

from tether._classify import classify
from tether._durations import format_duration
from tether._redact import redact_text
from tether._retry._backoff import backoff_delay
from tether._version import __version__
from tether.monitor._agent_wire import (
    ASSIGNMENT_PATH,
    MAX_BATCH,
    MAX_NOT_RUN,
    MAX_WAIT,
    RESULTS_PATH,
    AgentCheck,
    AgentWireError,
    Assignment,
    Batch,
    NotRun,
    Receipt,
    out_of_window,
)
from tether.monitor.checks._prober import Check, Prober
from tether.monitor.config import Monitor
from tether.monitor.runtime.agents._can_run import assigned_monitor
from tether.monitor.runtime.agents._spool import Spool, SpoolFull
from tether.probe import ProbeOptions, ProbeResult, probe_async

__all__ = ["MAX_OFFSET", "Agent", "AgentOptions", "AgentRefused", "clock_offset"]

log = logging.getLogger("tether.agent")

MAX_OFFSET: Final = 5.0
"""An offset from the server's clock above this many seconds is a warning (``agents:
max_clock_offset``'s default: the server says it on its pages by its own setting)."""
BATCH_EVERY: Final = 5.0
"""How often to send before the first assignment says (``agents: batch_every``'s default)."""
GIVE_UP_AFTER: Final = 120.0
"""How long the server may refuse the token before the agent takes it for revoked and
stops (``--give-up-after``), seconds."""
_POST_TIMEOUT: Final = 30.0
_BACKOFF_CAP: Final = 4
"""Retries back off to at most this many ``batch_every``."""
_ERROR_SHOWN: Final = 300
"""Characters of a server's error line the log shows."""


class AgentRefused(Exception):
    """The server refused the agent's token for good: ``str()`` is one line saying so."""


class _Failed(Exception):
    """One exchange with the server failed; ``str()`` says why, redacted."""


class _Refused(_Failed):
    """The server refused the token, not yet for long enough to give up."""


@dataclass(frozen=True, slots=True)
class AgentOptions:
    """Where an agent reports and as whom."""

    server: str
    """The monitor's base URL (``https://monitor.example``)."""
    location: str
    token: str = field(repr=False)
    name: str = ""
    """The agent's own name for itself (host and process), shown on the server's pages."""
    give_up_after: float = GIVE_UP_AFTER
    """Seconds the server may refuse the token (401, 403) before the agent stops; 0:
    at the first refusal."""


def clock_offset(sent: float, answered: float, server_time: float) -> float:
    """The server's clock minus ours, as NTP estimates it: the server answered halfway
    between our sending and our reading the answer (RFC 5905, section 8; the error is at
    most half the round trip)."""
    return server_time - (sent + answered) / 2


@dataclass(slots=True)
class _Episode:
    """An outage of one exchange: when it started, said once at its start and end."""

    what: str
    since: float | None = None

    def failed(self, now: float, why: str) -> None:
        if self.since is None:
            self.since = now
            log.warning("cannot %s: %s; probing on, checks kept in the spool", self.what, why)

    def ended(self, now: float, waited: int | None = None) -> None:
        if self.since is None:
            return
        took = format_duration(max(0.0, round(now - self.since)))
        after = "" if waited is None else f"; {waited:,} checks waited"
        log.info("can %s again after %s%s", self.what, took, after)
        self.since = None


class Agent:
    """One agent: its assignment, its prober, its spool and its two exchanges."""

    def __init__(
        self,
        options: AgentOptions,
        spool: Spool,
        session: aiohttp.ClientSession,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        probe: Callable[[str, ProbeOptions], Awaitable[ProbeResult]] = probe_async,
        timeout: float = _POST_TIMEOUT,
    ) -> None:
        self.options, self.spool, self._session = options, spool, session
        self._timeout = timeout
        """Seconds a batch's answer may take; a long poll adds its wait."""
        self.wall, self.mono, self._sleep, self._rand = wall, mono, sleep, rand
        self.prober = Prober(wall=wall, mono=mono, sleep=sleep, rand=rand, probe=probe)
        self.version: str | None = None
        self.batch_every = BATCH_EVERY
        self.lease: float | None = None
        self.max_age: float | None = None
        self.offset: float | None = None
        self.not_run: dict[str, NotRun] = _not_run_kept(spool.not_run())
        """The monitors of the assignment it does not run, by name (kept in the spool)."""
        self._told: tuple[str, float] | None = None
        """What the server took last of :attr:`not_run` (as text), and when (mono)."""
        self._refused_since: float | None = None
        self._refusals = 0
        self._sending = _Episode("send checks to the server")
        self._polling = _Episode("fetch the assignment")
        self._far = False
        self._stopped = False
        self._server = options.server.rstrip("/")
        self._headers = {"Authorization": f"Bearer {options.token}"}

    # --- the assignment -------------------------------------------------------------------

    def resume(self) -> bool:
        """Probe the assignment the spool kept, if any (a start while the server is down)."""
        kept = self.spool.assignment()
        if kept is None:
            return False
        try:
            assignment = Assignment.from_json(json.loads(kept))
        except (ValueError, AgentWireError) as exc:
            log.warning("the assignment kept in the spool cannot be read (%s); waiting", exc)
            return False
        self.apply(assignment, keep=False)
        log.info("probing the assignment kept in the spool until the server answers")
        return True

    async def fetch(self, wait: float = 0.0) -> Assignment:
        """The assignment, asked with the version held (a long poll of ``wait`` seconds)."""
        query: dict[str, str] = {"location": self.options.location}
        if self.version is not None:
            query |= {"version": self.version, "wait": f"{min(wait, MAX_WAIT):g}"}
        url = f"{self._server}{ASSIGNMENT_PATH}?{urlencode(query)}"
        # A long poll is held by the server for up to ``wait``: its answer is not halfway
        # between the asking and the reading, so it says nothing of the clocks.
        held = self.version is not None and wait > 0
        data, _ = await self._exchange("GET", url, None, wait + self._timeout, clocked=not held)
        try:
            return Assignment.from_json(data)
        except AgentWireError as exc:
            raise _Failed(f"its assignment is not one this agent can read: {exc}") from None

    def apply(self, assignment: Assignment, *, keep: bool = True) -> list[Monitor]:
        """Probe ``assignment``'s monitors that this agent can run from now on; the others
        are kept as not run (each said once per episode); the assignment is kept in the
        spool."""
        monitors: list[Monitor] = []
        why_not: dict[str, str] = {}
        for i, raw in enumerate(assignment.monitors):
            name, monitor, why = assigned_monitor(i, raw)
            if monitor is not None:
                monitors.append(monitor)
            elif why is not None:
                why_not[name] = why
        self.prober.assign(monitors)
        self.version, self.batch_every = assignment.version, assignment.batch_every
        self.lease, self.max_age = assignment.lease, assignment.max_age
        self._not_running(why_not)
        if keep:
            self.spool.keep_assignment(json.dumps(assignment.to_json()))
        return monitors

    def _not_running(self, why_not: Mapping[str, str]) -> None:
        """Take ``why_not`` as what is not run now: each episode said when it begins (or
        its reason changes) and when it ends; an episode keeps its first since."""
        now = self.wall()
        before = self.not_run
        after: dict[str, NotRun] = {}
        for name, why in sorted(why_not.items()):
            old = before.get(name)
            after[name] = NotRun(name, why, old.since if old is not None else now)
            if old is None or old.why != why:
                log.error("monitor %s not run: %s", name, redact_text(why))
        for name in sorted(before.keys() - after.keys()):
            log.info("monitor %s runs now", name)
        if after != before:
            self.not_run = after
            self.spool.keep_not_run(json.dumps([n.to_json() for n in after.values()]))

    def _telling(self) -> tuple[tuple[NotRun, ...] | None, str]:
        """What the next batch says of the monitors not run (None: nothing, the server
        has it, told within a lease), and that as text."""
        listed = tuple(self.not_run[n] for n in sorted(self.not_run)[:MAX_NOT_RUN])
        text = json.dumps([self.version, [n.to_json() for n in listed]])
        if self.version is None:
            return None, text
        if self._told is not None and self._told[0] == text:
            told_at = self._told[1]
            # Said again every lease: an instance of a cluster that missed it learns it.
            if self.lease is None or self.mono() - told_at < self.lease:
                return None, text
        return listed, text

    # --- the checks -----------------------------------------------------------------------

    def take(self, check: Check) -> None:
        """The prober's sink: the check goes to the spool (on disk) at once.  One that ends
        after the agent stopped (its probe was in flight) is dropped: the spool is closing."""
        if self._stopped:
            return
        made = AgentCheck(
            check.record, check.host, check.timings, check.cert_days_left, check.cert_expires
        )
        missed = self.spool.unkept
        try:
            dropped = self.spool.add([made])
        except SpoolFull as exc:  # the agent goes on: what the spool held is intact
            if not missed:  # the first of this episode
                log.error(
                    "%s: the checks made until it can are dropped (counted, and reported "
                    "to the server); the checks it holds are kept and sent",
                    exc,
                )
            return
        if missed:
            log.warning(
                "the spool can be written again: %s checks made meanwhile were dropped "
                "(counted, and reported to the server)",
                f"{missed:,}",
            )
        if dropped and self.spool.dropped == dropped:  # the first of this episode
            log.warning(
                "the spool holds %s checks, its limit: dropping the oldest (counted, "
                "and reported to the server)",
                f"{self.spool.limit:,}",
            )

    async def send(self) -> int:
        """Send what the spool holds, oldest first, batch by batch (an empty one if none);
        returns the checks the server took or had.  Raises on the first that fails."""
        waited, sent = self.spool.held(), 0
        for _ in range(waited // MAX_BATCH + 2):  # a bound: checks keep coming meanwhile
            sent_at = self.wall()
            try:
                pending = self.spool.pending(_sendable(sent_at, self.max_age))
            except SpoolFull as exc:  # no batch can be made: tried again, backing off
                raise _Failed(str(exc)) from None
            if pending.expired:
                log.warning(
                    "%s checks dropped: dated more than a day after now, or older than the "
                    "server keeps (was this machine's clock set back?)",
                    f"{pending.expired:,}",
                )
            telling, told = self._telling()
            batch = Batch(
                id=pending.id,
                location=self.options.location,
                sent_at=sent_at,
                checks=pending.checks,
                dropped=pending.dropped,
                agent=self.options.name,
                version=__version__,
                assignment=self.version,
                cannot_run=telling,
            )
            url = f"{self._server}{RESULTS_PATH}"
            data, _ = await self._exchange("POST", url, batch.to_json(), self._timeout)
            try:
                Receipt.from_json(data)
            except AgentWireError as exc:
                raise _Failed(f"its receipt is not one this agent can read: {exc}") from None
            if telling is not None:
                self._told = (told, self.mono())
            try:
                sent += self.spool.taken(pending.id)
            except SpoolFull as exc:  # kept: sent again with its id, the server has it
                raise _Failed(str(exc)) from None
            if pending.dropped and not self.spool.dropped:
                log.info("the server was told of %s dropped checks", f"{pending.dropped:,}")
            self._sending.ended(self.mono(), waited)
            if not self.spool.held():
                break
        return sent

    async def _exchange(
        self, method: str, url: str, body: object, timeout: float, *, clocked: bool = True
    ) -> tuple[object, float]:
        """One request: the JSON answered, and when; with ``clocked``, the clock offset its
        answer gives is taken (not from a long poll, which the server holds)."""
        sent = self.wall()
        try:
            async with self._session.request(
                method,
                url,
                json=body,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as answer:
                status = answer.status
                text = await answer.text()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _Failed(redact_text(classify(exc, url=url).detail)) from None
        answered = self.wall()
        if status in (401, 403):
            raise self._refusal(status)
        self._accepted()
        if status != 200:
            raise _Failed(f"the server answered {status}{_error_line(text)}")
        try:
            data = json.loads(text)
        except ValueError:
            raise _Failed("the server's answer is not JSON: is the URL tether's?") from None
        server_time = data.get("server_time") if isinstance(data, dict) else None
        if clocked and isinstance(server_time, int | float) and not isinstance(server_time, bool):
            self._clock(clock_offset(sent, answered, float(server_time)))
        return data, answered

    def _refusal(self, status: int) -> Exception:
        """What a refused token is now: a passing refusal to retry, until the server has
        refused it for ``give_up_after``; then :class:`AgentRefused`."""
        now, patience = self.mono(), self.options.give_up_after
        self._refusals += 1
        need = f"it must be a token of scope agent for location {self.options.location}"
        if patience <= 0:
            return AgentRefused(f"the server refused this agent's token ({status}): {need}")
        if self._refused_since is None:
            self._refused_since = now
            log.warning(
                "the server refused this agent's token (%d): trying again for %s in case "
                "it is passing (the server restarting, another process on its port)",
                status,
                format_duration(patience),
            )
        elif now - self._refused_since >= patience:
            return AgentRefused(
                f"the server has refused this agent's token ({status}) for "
                f"{format_duration(patience)}: it is revoked or wrong; {need}"
            )
        return _Refused(f"the server refused this agent's token ({status})")

    def _accepted(self) -> None:
        """The server took the token: a refusal that was going on has passed."""
        if self._refused_since is not None:
            took = format_duration(max(0.0, round(self.mono() - self._refused_since)))
            log.info(
                "the server takes this agent's token again after %s (%d refusals): it was "
                "a passing refusal",
                took,
                self._refusals,
            )
        self._refused_since, self._refusals = None, 0

    def _clock(self, offset: float) -> None:
        self.offset = offset
        far = abs(offset) > MAX_OFFSET
        if far and not self._far:
            log.warning(
                "this machine's clock is %.1f s from the server's (more than %g s): set up "
                "NTP; the server places checks on its own clock meanwhile",
                offset,
                MAX_OFFSET,
            )
        elif self._far and not far:
            log.info("this machine's clock is within %g s of the server's again", MAX_OFFSET)
        self._far = far

    # --- the loops ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Poll, probe and send until ``stop`` is set; raises :class:`AgentRefused`, or
        what stopped one of the loops (a spool that cannot be written): an agent that
        cannot send or keep its checks stops, saying why, rather than run on silently."""
        self.resume()
        ended: list[Exception] = []

        async def guarded(loop: Awaitable[None]) -> None:
            try:
                await loop
            except Exception as exc:
                ended.append(exc)
                stop.set()

        tasks = [
            asyncio.create_task(guarded(self._polls(stop))),
            asyncio.create_task(guarded(self._sends(stop))),
            asyncio.create_task(guarded(self.prober.run(stop, self.take))),
        ]
        try:
            await stop.wait()
        finally:
            self._stopped = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if ended:
            raise ended[0]

    async def _polls(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            started = self.mono()
            try:
                assignment = await self.fetch(MAX_WAIT)
            except _Failed as exc:
                failures += 1
                if not isinstance(exc, _Refused):  # said once by _refusal
                    self._polling.failed(self.mono(), str(exc))
                await self._pause(stop, self._backoff(failures))
                continue
            failures = 0
            self._polling.ended(self.mono())
            if assignment.version != self.version:
                monitors = self.apply(assignment)
                log.info("assignment %s: %d monitors to probe", assignment.version, len(monitors))
            elif self.mono() - started < 1.0:  # a server that does not hold the poll
                await self._pause(stop, self.batch_every)

    async def _sends(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self.send()
            except _Failed as exc:
                failures += 1
                if not isinstance(exc, _Refused):
                    self._sending.failed(self.mono(), str(exc))
                await self._pause(stop, self._backoff(failures))
                continue
            failures = 0
            await self._pause(stop, self.batch_every)

    def _backoff(self, failures: int) -> float:
        return backoff_delay(
            failures,
            base=1.0,
            multiplier=2.0,
            cap=self.batch_every * _BACKOFF_CAP,
            jitter="equal",
            rand=self._rand,
        )

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        """``seconds`` on the injected sleep, or until ``stop``, whichever is first."""
        nap = asyncio.ensure_future(self._sleep(seconds))
        halt = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({nap, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            nap.cancel()
            halt.cancel()


def _sendable(sent_at: float, max_age: float | None) -> Callable[[AgentCheck], bool]:
    """Whether a check may go in a batch sent at ``sent_at``: one the server would refuse
    (``out_of_window``) is dropped before it leaves, or the batch would never be taken."""
    return lambda check: out_of_window(check, sent_at, max_age) is None


def _error_line(text: str) -> str:
    """``: LINE``, the server's JSON error as its 400 says it (redacted, cut short), or
    nothing when the answer holds none."""
    try:
        said = json.loads(text).get("error")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(said, str) or not said:
        return ""
    line = " ".join(redact_text(said).split())
    return f": {line[:_ERROR_SHOWN]}" + ("..." if len(line) > _ERROR_SHOWN else "")


def _not_run_kept(text: str | None) -> dict[str, NotRun]:
    """What the spool kept of the monitors not run (none if it holds nothing readable)."""
    if text is None:
        return {}
    try:
        items = [NotRun.from_json(n, "not_run") for n in json.loads(text)]
    except (ValueError, TypeError, AgentWireError):
        return {}
    return {n.monitor: n for n in items}
