"""The half of a store that does not speak SQL: one writer thread, batches, waiting callers.

One thread owns the only write connection, so writers never contend.  Probe
results and detector state are batched (one transaction per
``batch_seconds`` or ``batch_size``), because one commit per result would cap
throughput at the disk's (or the network's) round-trip rate.  A caller that
waits on a write (an alert, an incident, :meth:`flush`) gets its own commit
at once, together with whatever was queued before it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, Self, TypeVar

from tether._redact import redact_text
from tether.monitor._records import ProbeRecord
from tether.monitor._state import State
from tether.monitor.store._base import StoreError

log = logging.getLogger("tether.monitor")

C = TypeVar("C")
T = TypeVar("T")

Job = Callable[[C], Any]
_STOP = object()


class BatchedStore(Generic[C]):
    """A store's writer thread, over a connection of type ``C`` the subclass owns.

    A subclass opens its database, then calls ``super().__init__`` (which starts
    the thread), and implements :meth:`_apply` (one transaction) and
    :meth:`_release`.
    """

    def __init__(self, *, batch_size: int, batch_seconds: float) -> None:
        self._batch_size = batch_size
        self._batch_seconds = batch_seconds
        self._queue: queue.Queue[Any] = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._write_loop, name="tether-store", daemon=True)
        self._thread.start()

    # -- what the store's users call -------------------------------------------------

    def record(self, record: ProbeRecord) -> None:
        """Queue a probe result; it is committed with the next batch."""
        self._queue.put(("result", record, None))

    def record_state(self, monitor: str, at: float, state: State) -> None:
        """Queue a change of ``monitor``'s state at ``at``; uptime is computed from these."""
        self._queue.put(("change", (monitor, at, state), None))

    def save_state(self, monitor: str, data: dict[str, Any]) -> None:
        """Queue detector state under ``monitor``; the last one saved wins."""
        self._queue.put(("state", (monitor, data), None))

    def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        self._call(lambda conn: None)

    def close(self) -> None:
        """Commit what is queued and release the database."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
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
        jobs: list[Job[C]],
    ) -> list[Any]:
        """In one transaction: insert ``results`` (and their roll-ups), upsert ``states``,
        insert the state ``changes``, run each job on the write connection; return the
        jobs' values."""
        raise NotImplementedError

    def _release(self) -> None:
        """Close the connections, once the writer has stopped."""
        raise NotImplementedError

    # -- the writer ------------------------------------------------------------------

    def _call(self, job: Callable[[C], T]) -> T:
        """Run ``job`` on the writer in a committed transaction, and wait for its value."""
        if self._closed:
            raise StoreError("the store is closed")
        done: Future[T] = Future()
        self._queue.put(("call", job, done))
        return done.result()

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            try:
                # Someone waits on a call: commit at once; results may wait for company.
                while item[0] != "call" and len(batch) < self._batch_size:
                    more = self._queue.get(timeout=self._batch_seconds)
                    if more is _STOP:
                        self._commit(batch)
                        return
                    batch.append(more)
                    if more[0] == "call":
                        break  # someone is waiting: commit now
            except queue.Empty:
                pass
            self._commit(batch)

    def _commit(self, batch: list[tuple[str, Any, Future[Any] | None]]) -> None:
        results = [payload for what, payload, _ in batch if what == "result"]
        # Only the newest state per name matters, and a single statement may not
        # touch one row twice (PostgreSQL's ON CONFLICT refuses that).
        states = dict(payload for what, payload, _ in batch if what == "state")
        changes = [payload for what, payload, _ in batch if what == "change"]
        calls = [(job, done) for what, job, done in batch if what == "call" and done is not None]
        try:
            values = self._apply(results, states, changes, [job for job, _ in calls])
        except Exception as exc:
            if results or states or changes:
                # Nobody waits on these: say so, or they would vanish in silence.
                log.error(
                    "store: %d results, %d states and %d state changes were not written: %s",
                    len(results),
                    len(states),
                    len(changes),
                    redact_text(str(exc)),
                )
            for _, done in calls:
                done.set_exception(exc)
            return
        for (_, done), value in zip(calls, values, strict=True):
            done.set_result(value)
