"""The half of a store that does not speak SQL: one writer thread, batches, and what
happens while the database cannot be written.

One thread owns the only write connection, so writers never contend.  Probe
results, state changes, detector state and location states are batched: a batch
is committed
``batch_seconds`` after its first item arrived, or at ``batch_size`` items,
whichever comes first (one commit per result would cap throughput at the
disk's, or the network's, round-trip rate; a deadline measured from the first
item, not from the last, bounds what a ``kill -9`` can lose under steady load).
A caller that waits on a write (an alert, :meth:`flush`) gets its own commit
at once, together with whatever was queued before it.  An incident change
(:meth:`_queue_write`) is not waited for, and is committed within
:data:`PROMPT_SECONDS` (or as soon as the writer is free, if later), with whatever
is queued by then.  A waited call that depends on nothing queued (the outbox's claims
and marks, a silence) goes on the *first lane*: run as soon as the batch being
gathered is committed, before the rest of the queue, so that a page and a silence in
a mass outage do not wait for seconds of queued results.

When the database cannot be written (PostgreSQL stopped, a full disk, a file
made read-only), nothing it was given is dropped:

- results and state changes are *held*, in memory up to ``hold_limit`` rows,
  then appended to a local spill file (``spill``) up to ``spill_limit`` bytes;
  only past both are the oldest results dropped, and counted;
- incident and alert writes (:meth:`_call` with ``hold=True``, and the writes
  queued by :meth:`_queue_write`) are held in memory, in order, and never
  dropped; their caller returns at once;
- detector state and location states are held in memory, the last one per
  name (per monitor and location) only, so they take no more room however long
  the outage lasts;
- the write is tried again with a doubling delay (``retry_min`` to
  ``retry_max``), and everything held is written, oldest first, once the
  database takes it again.  A spill file left by an earlier run is written at
  start.  One log line says when writing stopped and one when it resumed;
  :meth:`health` gives the figures for ``/metrics``.

One bad row never fails its batch: a batch the database *refuses* (as
opposed to cannot take) is written again one item at a time, a refused result
once more with its text made storable, and what is still refused is logged,
counted and left out.  A write is held and retried after an error the backend
calls an outage (:meth:`_is_outage`); any other error is a refusal.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Generic, Self, TypeVar

from tether._frozen import quick_init
from tether._redact import redact_text
from tether.monitor._records import LocationState, ProbeRecord
from tether.monitor._state import State
from tether.monitor.store._spill import Spill
from tether.monitor.store._values import Fence, StoreError, StoreHealth
from tether.monitor.store.incidents._rows import IncidentWrite, merged_writes

log = logging.getLogger("tether.monitor")

C = TypeVar("C")
T = TypeVar("T")

Job = Callable[[C], Any]
Item = tuple[str, Any, "Future[Any] | None"]
"""(what, payload, who waits): what is result, change, state, location, push, call, held,
write (a job nobody waits for, committed within :data:`PROMPT_SECONDS`: an incident
change) or later (a job nobody waits for, committed with the batch like a result: a
member joining or leaving an open incident)."""
Located = tuple[LocationState, Fence | None]
"""A location state to write, and the fence its write must pass."""
Pushed = tuple[str, float, bool, "str | None", "float | None"]
"""A push monitor's last heartbeat: (monitor, at, ok, detail, latency_ms)."""
_STOP = object()
_NUDGE = object()
"""Put on the queue for a call on the first lane: wakes a writer that waits on the queue."""
_ROWS = ("result", "change")
_JOBS = ("call", "held", "write", "later")
"""Items whose payload is (job, ...): their jobs run in the batch's transaction, in order."""


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@quick_init
@dataclass(frozen=True, slots=True)
class IncidentJob(Generic[C]):
    """An incident change queued with its alerts (``commit_incident``): a job that a batch
    writes together with the incident changes queued next to it (:func:`run_jobs`)."""

    change: IncidentWrite
    alerts: tuple[Job[C], ...]
    write: Callable[[C, Sequence[IncidentWrite]], None]
    """How the backend writes incident changes, several at once."""

    def __call__(self, conn: C) -> None:
        self.write(conn, (self.change,))
        for alert in self.alerts:
            alert(conn)


def run_jobs(conn: C, jobs: Sequence[Job[C]]) -> list[Any]:
    """Each job run on ``conn``, its value in order; incident changes that stand next to
    one another are written as :func:`merged_writes` merges them, and their alerts after
    them, in order (an alert's write reads nothing an incident's writes)."""
    values: list[Any] = []
    run: list[IncidentJob[C]] = []

    def write_run() -> None:
        if run:
            run[0].write(conn, merged_writes(job.change for job in run))
            for job in run:
                for alert in job.alerts:
                    alert(conn)
            run.clear()

    for job in jobs:
        if isinstance(job, IncidentJob):
            run.append(job)
            values.append(None)
            continue
        write_run()
        values.append(job(conn))
    write_run()
    return values


def storable_text(text: str) -> str:
    """``text`` as every backend can store it: a lone surrogate or a NUL becomes U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def storable_record(record: ProbeRecord) -> ProbeRecord:
    """``record`` with every text in it made storable (the second try for a refused row)."""
    data = json.loads(storable_text(json.dumps(record.data(), ensure_ascii=False)))
    again = ProbeRecord.from_row(
        record.monitor,
        record.ts,
        record.ok,
        None if record.kind is None else record.kind.value,
        record.latency_ms,
        record.detail,
        data,
    )
    return replace(
        again,
        monitor=storable_text(record.monitor),
        detail=None if record.detail is None else storable_text(record.detail),
    )


PROMPT_SECONDS: Final = 0.02
"""How long a batch holding an incident change may gather more before it is committed:
short enough that a ``kill -9`` finds a change and its alerts written but for the last
moment's, long enough that a wave of changes (one write each, thousands a second) wakes
the writer and commits once per this, not once per change (each wake took the
interpreter's lock from the event loop: ``benchmarks/bench_change.py``, issue 46 §3)."""

BEHIND_FACTOR: Final = 10
"""How many times ``batch_size`` a batch may take while the queue holds a batch's worth
or more."""


class BatchedStore(Generic[C]):
    """A store's writer thread, over a connection of type ``C`` the subclass owns.

    A subclass opens its database, then calls ``super().__init__`` (which starts
    the thread), and implements :meth:`_apply` (one transaction), :meth:`_release`
    and, for its own errors, :meth:`_is_outage`.
    """

    def __init__(
        self,
        *,
        batch_size: int,
        batch_seconds: float,
        spill: Path | None = None,
        hold_limit: int = 20_000,
        spill_limit: int = 256 * 1024 * 1024,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._batch_size = batch_size
        self._batch_seconds = batch_seconds
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._prompted = False
        """The batch being gathered holds an incident change: it is committed within
        :data:`PROMPT_SECONDS` whatever comes, so a change queued meanwhile does not
        wake the writer again."""
        self._first: deque[Item] = deque()
        """The first lane: waited calls that need not wait for what was queued before
        them (``_call(first=True)``: the outbox's claims and marks, a silence), taken
        before the queue, between batches.  In a wave the queue holds seconds of results,
        and a page waited for them three times (claim, send, mark)."""
        self._urgent = threading.Event()
        """Set when a batch must not wait for its deadline: someone waits on a write, the
        store closes, or a batch's worth is queued.  A result alone does not set it, so
        the writer wakes once per batch, not once per result (each wake took the GIL from
        the event loop)."""
        self._closed = False
        self._clock = clock
        self._spill = Spill(spill, spill_limit) if spill is not None else None
        self._hold_limit = hold_limit
        self._retry_min = retry_min
        self._retry_max = retry_max
        # What waits for the database, oldest first.
        self._held: deque[Item] = deque()
        self._held_rows = 0
        self._held_states: dict[str, dict[str, Any]] = {}
        self._held_locations: dict[tuple[str, str], Located] = {}
        self._held_pushes: dict[str, Pushed] = {}
        self._retry_at = 0.0
        self._delay = retry_min
        self._down_since: float | None = None
        self._error: str | None = None
        self._errors = 0
        self._dropped = 0
        self._refused = 0
        self._lock = threading.Lock()  # guards the figures health() reads
        self._thread = threading.Thread(target=self._write_loop, name="tether-store", daemon=True)
        self._thread.start()

    # -- what the store's users call -------------------------------------------------

    def record(self, record: ProbeRecord) -> None:
        """Queue a probe result; it is committed with the next batch."""
        self._queue_row(("result", record, None))

    def record_state(self, monitor: str, at: float, state: State) -> None:
        """Queue a change of ``monitor``'s state at ``at``; uptime is computed from these."""
        self._queue_row(("change", (monitor, at, state), None))

    def save_state(self, monitor: str, data: dict[str, Any]) -> None:
        """Queue detector state under ``monitor``; the last one saved wins."""
        self._queue_row(("state", (monitor, data), None))

    def record_location_state(self, state: LocationState, *, fence: Fence | None = None) -> None:
        """Queue ``state`` as its monitor's state at its location; the last one queued per
        monitor and location wins.  With ``fence``, written only if the fence holds."""
        self._queue_row(("location", (state, fence), None))

    def record_push(
        self, monitor: str, at: float, ok: bool, detail: str | None, latency_ms: float | None
    ) -> None:
        """Queue a heartbeat of push monitor ``monitor`` for every instance to read in
        :meth:`controls` (the one that probes it takes it from there); only the last
        queued per monitor is written, and held, not lost, while the database is away."""
        self._queue_row(("push", (monitor, at, ok, detail, latency_ms), None))

    def _queue_write(self, job: Job[C], about: str, *, prompt: bool = True) -> None:
        """Queue ``job`` without waiting for it: it is committed as soon as the writer is
        free, in one transaction with what is queued by then, in order with what was
        queued before and after it; held as one (never dropped) while the database cannot
        be written.  ``prompt=False``: committed with the batch it falls in, as a result
        is (within ``batch_seconds``), not within :data:`PROMPT_SECONDS`: a write that
        says no more than the rows queued with it (a member joining or leaving an open
        incident, with no alert and no line of its own), which a wave makes thousands a
        second, each of which closed its batch early.
        ``job`` must hold what it writes already encoded: the caller goes on changing its
        objects.  ``about`` names it in the log if the database refuses it."""
        if self._closed:
            raise StoreError("the store is closed")
        if not prompt:
            self._queue_row(("later", (job, about), None))
            return
        self._queue.put(("write", (job, about), None))
        if not self._prompted:
            self._urgent.set()

    def _queue_row(self, item: Item) -> None:
        self._queue.put(item)
        # Set once: setting it again takes its lock and notifies no one (the writer waits
        # only with the flag clear), on every row queued past a batch (a start's 120,000
        # states held the loop 0.8 s, most of it here).
        if self._queue.qsize() >= self._batch_size and not self._urgent.is_set():
            self._urgent.set()

    def flush(self) -> None:
        """Wait until everything queued so far is committed (StoreError while the
        database cannot be written: what is queued is held, not lost)."""
        self._call(lambda conn: None)

    def health(self) -> StoreHealth:
        """How writing goes now."""
        with self._lock:
            spilled = self._spill.rows if self._spill is not None else 0
            down = self._down_since
            return StoreHealth(
                up=down is None,
                down_for=0.0 if down is None else max(0.0, self._clock() - down),
                error=self._error if down is not None else None,
                held=self._held_rows,
                spilled=spilled,
                held_writes=len(self._held) - self._held_rows,
                errors=self._errors,
                dropped=self._dropped,
                refused=self._refused,
            )

    def close(self) -> None:
        """Commit what is queued (or spill what cannot be) and release the database."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._urgent.set()
        self._thread.join()
        self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a backend implements ---------------------------------------------------

    def _apply(
        self,
        results: list[ProbeRecord],
        states: dict[str, dict[str, Any]],
        changes: list[tuple[str, float, State]],
        locations: list[Located],
        jobs: list[Job[C]],
    ) -> list[Any]:
        """In one transaction: insert ``results`` (and their roll-ups), upsert ``states``,
        insert the state ``changes``, upsert the ``locations`` (one per monitor and
        location, each only if its fence holds, stamped with the database's clock), run
        each job on the write connection; return the jobs' values."""
        raise NotImplementedError

    def _release(self) -> None:
        """Close the connections, once the writer has stopped."""
        raise NotImplementedError

    def _push_job(self, pushed: Pushed) -> Job[C]:
        """The job that keeps ``pushed`` as its monitor's last heartbeat (in
        ``tether_controls``, which every instance reads)."""
        raise NotImplementedError

    def _is_outage(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the database cannot be written now (held, retried), rather
        than that it refuses what was sent (left out)."""
        return isinstance(exc, StoreError) and exc.outage

    # -- the writer ------------------------------------------------------------------

    def _call(
        self, job: Callable[[C], T], *, hold: bool = False, held: Any = None, first: bool = False
    ) -> T:
        """Run ``job`` on the writer in a committed transaction, and wait for its value.

        With ``hold``, a job the database cannot take now is held and written once it
        can, and this returns ``held`` at once: incidents and alerts are never dropped.
        With ``first``, it goes on the first lane: run before anything queued and not
        yet taken (the batch being gathered is committed first), in order with the
        first lane's other calls; only for a job that reads or writes nothing the queue
        may hold (the outbox's bookkeeping of alerts already committed, a silence).
        """
        if self._closed:
            raise StoreError("the store is closed")
        done: Future[T] = Future()
        item: Item = ("held" if hold else "call", (job, held), done)
        if first:
            self._first.append(item)
            self._queue.put(_NUDGE)
        else:
            self._queue.put(item)
        self._urgent.set()
        return done.result()

    def _submit(self, job: Callable[[C], T]) -> Future[T]:
        """Run ``job`` on the writer in a committed transaction, without waiting: its
        future fails with StoreError while the database cannot be written (not held)."""
        if self._closed:
            raise StoreError("the store is closed")
        done: Future[T] = Future()
        self._queue.put(("call", (job, None), done))
        self._urgent.set()
        return done

    def _write_loop(self) -> None:
        if self._spill is not None and self._spill.rows:
            log.warning(
                "store: writing %d results and state changes an earlier run spilled to %s",
                self._spill.rows,
                self._spill.path,
                extra={"event": "store.spill"},
            )
        while True:
            holding = self._holding()
            wait = max(0.0, self._retry_at - self._clock()) if holding else None
            if self._first:
                item = self._first.popleft()
            else:
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    self._drain()
                    continue
                if item is _NUDGE:
                    continue
            if item is _STOP:
                self._stop([])
                return
            if holding and not (self._due() and self._drain()):
                self._hold([item], waiting=True)
                continue
            batch, stop = self._gather(item)
            self._commit(batch)
            if stop:
                self._stop([])
                return

    def _gather(self, first: Item) -> tuple[list[Item], bool]:
        """``first`` and what follows it within ``batch_seconds`` of it; (batch, stop seen).

        What is queued is taken at once; when nothing is, the writer sleeps until the
        deadline, or until :attr:`_urgent` says a batch must not wait: a result alone
        does not wake it.  A batch holding an incident change (``write``) closes
        :data:`PROMPT_SECONDS` after the first of them at the latest, with what is queued
        by then, so that a change and its alerts are not left for ``batch_seconds``
        where a ``kill -9`` could take them (a wave of changes shares its commits)."""
        batch = [first]
        if first[0] in ("call", "held"):
            return batch, False  # someone is waiting: commit now
        deadline = self._clock() + self._batch_seconds
        if first[0] == "write":
            self._prompted = True
            deadline = min(deadline, self._clock() + PROMPT_SECONDS)
        # Behind (a mass outage queues results and changes faster than batches of
        # ``batch_size`` commit): bigger batches, so that each commit, each roll-up
        # statement and each wait for the GIL serves more rows.
        most = self._batch_size
        if self._queue.qsize() >= self._batch_size:
            most *= BEHIND_FACTOR
        try:
            while len(batch) < most and not self._first:
                left = deadline - self._clock()
                if left <= 0 and not self._prompted:
                    break
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    if left <= 0:
                        break
                    self._urgent.wait(left)
                    self._urgent.clear()
                    continue
                if more is _STOP:
                    return batch, True
                if more is _NUDGE:
                    break  # the first lane's call is taken once this batch is committed
                batch.append(more)
                if more[0] in ("call", "held"):
                    break
                if more[0] == "write" and not self._prompted:
                    self._prompted = True
                    deadline = min(deadline, self._clock() + PROMPT_SECONDS)
            return batch, False
        finally:
            self._prompted = False

    def _commit(self, batch: list[Item]) -> None:
        """Write ``batch``; what the database cannot take now is held."""
        done = self._write_items(batch)
        if done < len(batch):
            self._hold(batch[done:], waiting=True)

    def _write_items(self, items: list[Item]) -> int:
        """Write ``items`` in one transaction, or one by one if the database refuses
        some; how many, from the first, are settled (written or refused).  Fewer than
        all means an outage: the rest must be held."""
        try:
            values = self._apply_items(items)
        except Exception as exc:
            if self._is_outage(exc):
                self._failed(exc)
                return 0
            if len(items) == 1:
                return self._refuse(items[0], exc)
            for i, item in enumerate(items):
                if self._write_items([item]) == 0:
                    return i
            return len(items)
        calls = (item for item in items if item[0] in _JOBS)
        for (_, _, done), value in zip(calls, values, strict=True):
            if done is not None and not done.done():
                done.set_result(value)
        return len(items)

    def _apply_items(self, items: list[Item]) -> list[Any]:
        results = [payload for what, payload, _ in items if what == "result"]
        # Only the newest state per name matters, and a single statement may not
        # touch one row twice (PostgreSQL's ON CONFLICT refuses that).
        states = dict(payload for what, payload, _ in items if what == "state")
        changes = [payload for what, payload, _ in items if what == "change"]
        locations = {
            (payload[0].monitor, payload[0].location): payload
            for what, payload, _ in items
            if what == "location"
        }
        jobs = [payload[0] for what, payload, _ in items if what in _JOBS]
        pushes = {payload[0]: payload for what, payload, _ in items if what == "push"}
        extra = [self._push_job(pushed) for pushed in pushes.values()]
        values = self._apply(results, states, changes, list(locations.values()), jobs + extra)
        return values[: len(jobs)]

    def _refuse(self, item: Item, exc: Exception) -> int:
        """The database refused ``item`` alone: a result gets a second try with storable
        text; what is still refused is logged and counted.  1, or 0 on an outage."""
        what, payload, done = item
        if what == "result":
            try:
                self._apply([storable_record(payload)], {}, [], [], [])
                return 1
            except Exception as again:
                if self._is_outage(again):
                    self._failed(again)
                    return 0
                exc = again
        with self._lock:
            self._refused += 1
        about = {
            "result": lambda: f"a result of {payload.monitor}",
            "change": lambda: f"a state change of {payload[0]}",
            "state": lambda: f"the detector state of {payload[0]}",
            "location": lambda: f"the state of {payload[0].monitor} at {payload[0].location}",
            "push": lambda: f"a push of {payload[0]}",
            "write": lambda: str(payload[1]),
            "later": lambda: str(payload[1]),
        }.get(what, lambda: "a write")()
        log.error(
            "store: the database refused %s, left out: %s",
            about,
            _reason(exc),
            extra={"event": "store.refused"},
        )
        if done is not None and not done.done():
            done.set_exception(exc)
        return 1

    # -- while the database cannot be written ----------------------------------------

    def _holding(self) -> bool:
        return bool(
            self._held
            or self._held_states
            or self._held_locations
            or self._held_pushes
            or (self._spill is not None and self._spill.rows)
        )

    def _due(self) -> bool:
        return self._clock() >= self._retry_at

    def _failed(self, exc: BaseException) -> None:
        """A write failed for want of a database: count it, say so once, back off."""
        now = self._clock()
        reason = _reason(exc)
        with self._lock:
            self._errors += 1
            self._error = reason
            first = self._down_since is None
            if first:
                self._down_since = now
                self._delay = self._retry_min
            else:
                self._delay = min(self._delay * 2, self._retry_max)
        self._retry_at = now + self._delay
        if first:
            log.error(
                "store: cannot write: %s; holding results, state changes, incidents and "
                "alerts, and trying again",
                reason,
                extra={"event": "store.down"},
            )

    def _hold(self, items: list[Item], *, waiting: bool) -> None:
        """Keep ``items`` until the database takes them.  A caller waiting on a plain call
        is told at once; a held write's caller is released with its stand-in value."""
        for item in items:
            what, payload, done = item
            if what == "call":
                if done is not None and not done.done():
                    done.set_exception(
                        StoreError(f"the store cannot be written now: {self._error}")
                    )
                continue
            if what == "state":
                monitor, data = payload
                self._held_states[monitor] = data
                continue
            if what == "location":
                self._held_locations[(payload[0].monitor, payload[0].location)] = payload
                continue
            if what == "push":
                self._held_pushes[payload[0]] = payload
                continue
            with self._lock:
                self._held.append(item)
                if what in _ROWS:
                    self._held_rows += 1
            if what == "held" and done is not None and not done.done() and waiting:
                done.set_result(payload[1])
        if self._held_rows > self._hold_limit:
            self._spill_oldest()

    def _spill_oldest(self) -> None:
        """Move the oldest half of the held rows to the spill file (or drop them)."""
        moving = self._held_rows - self._hold_limit // 2
        rows: list[Item] = []
        kept: deque[Item] = deque()
        for item in self._held:
            if len(rows) < moving and item[0] in _ROWS:
                rows.append(item)
            else:
                kept.append(item)
        written = self._spill.append(rows) if self._spill is not None else 0
        with self._lock:
            self._held = kept
            self._held_rows -= len(rows)
            lost = len(rows) - written
            self._dropped += lost
        if lost:
            log.error(
                "store: %d results and state changes dropped: held in memory up to %d, "
                "and the spill file %s",
                lost,
                self._hold_limit,
                "is full or cannot be written" if self._spill is not None else "is not set",
                extra={"event": "store.dropped"},
            )

    def _drain(self) -> bool:
        """Write what is held, oldest first; True when nothing is held any more."""
        written = 0
        while self._held or self._held_states or self._held_locations or self._held_pushes:
            chunk = list(itertools.islice(self._held, self._batch_size))
            states: list[Item] = [("state", s, None) for s in self._held_states.items()]
            states += [("location", p, None) for p in self._held_locations.values()]
            states += [("push", p, None) for p in self._held_pushes.values()]
            done = self._write_items(chunk + states)
            settled = min(done, len(chunk))
            with self._lock:
                for _ in range(settled):
                    if self._held.popleft()[0] in _ROWS:
                        self._held_rows -= 1
            written += settled
            if done < len(chunk) + len(states):
                return False
            self._held_states.clear()
            self._held_locations.clear()
            self._held_pushes.clear()
        while self._spill is not None and self._spill.rows:
            rows = self._spill.read(self._batch_size)
            done = self._write_items(rows)
            if done < len(rows):
                return False
            self._spill.advance(len(rows))
            written += len(rows)
        with self._lock:
            down, self._down_since = self._down_since, None
            self._error = None
        if down is not None:
            log.warning(
                "store: writing again after %.0f s; %d held results, state changes, incident "
                "and alert writes written",
                self._clock() - down,
                written,
                extra={"event": "store.up"},
            )
        return True

    def _stop(self, batch: list[Item]) -> None:
        """The last chance: write what is held; spill what still cannot be."""
        if batch:
            self._commit(batch)
        while self._first:  # calls on the first lane after the queue's end: answered
            self._commit([self._first.popleft()])
        if not self._holding() or self._drain():
            return
        rows = [item for item in self._held if item[0] in _ROWS]
        writes = len(self._held) - len(rows)
        kept = self._spill.append(rows) if self._spill is not None else 0
        log.error(
            "store: stopped while the database cannot be written: %d results and state "
            "changes spilled to %s, %d lost; %d incident and alert writes lost",
            kept,
            self._spill.path if self._spill is not None else "nowhere",
            len(rows) - kept,
            writes,
            extra={"event": "store.stopped"},
        )


def _reason(exc: BaseException) -> str:
    """``exc`` as one line of a log: redacted, whitespace folded, bounded."""
    return " ".join(redact_text(str(exc)[:2000]).split())[:500] or type(exc).__name__
