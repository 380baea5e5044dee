"""The agent's spool: the checks it made and has not yet seen taken, on disk, bounded.

One SQLite file (``--spool``) holds, in the order they were made:

- ``checks``: each check as its wire JSON, with the batch it was put in once it was
  sent (``batch`` NULL until then);
- ``batches``: each batch made and not yet taken, its id made once
  (:func:`~tether.monitor._agent_wire.new_batch_id`) and kept, so a batch sent again after
  a lost answer, a 5xx or a timeout is the same batch and the server takes it once;
- ``meta``: the checks dropped and not yet reported; the last assignment, so an agent
  started while its server is down probes what it last had; and the monitors it does
  not run, with since when, so an episode outlives the agent's restart.

Durability: WAL with ``synchronous=NORMAL``.  A commit has reached the operating system
(the WAL is written before the commit returns), so a check written survives the agent
being killed (``kill -9``); it need not survive the machine losing power, which may lose
the last commits (FULL would fsync every check, at a cost paid for nothing else).

Bounded: past ``limit`` checks the oldest are dropped, counted (the count is kept in the
file), and reported in the next batch's ``dropped`` until a batch carrying it is taken.
So is a check the server would refuse (its time out of the window of the batch's
``sent_at``: ``_agent_wire.out_of_window``), dropped as its batch is made ready.
The spool never logs: it returns what happened and the agent says it.

A full disk (or a file-size limit, or a write the disk refuses) is :class:`SpoolFull`:
the write is rolled back whole, so every check kept before it is still there; checks that
could not be kept are counted (:attr:`Spool.unkept`) and folded into the dropped count,
reported to the server, at the first write that succeeds again.  SQLite's connection
recovers by itself once the disk has room.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tether.monitor._agent_wire import MAX_BATCH, AgentCheck, AgentWireError, new_batch_id

__all__ = ["DEFAULT_LIMIT", "Pending", "Spool", "SpoolError", "SpoolFull"]

DEFAULT_LIMIT: Final = 100_000
"""The most checks a spool holds (``--spool-limit``)."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS checks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    batch TEXT
);
CREATE INDEX IF NOT EXISTS checks_batch ON checks (batch);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    dropped INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SpoolError(Exception):
    """The spool file cannot be opened or is not a spool: ``str()`` is one line."""


class SpoolFull(SpoolError):
    """The spool cannot be written now (its disk is full, a file-size limit, an I/O error);
    what it held before is intact."""


_CANNOT_WRITE: Final = frozenset({"SQLITE_FULL", "SQLITE_IOERR"})
"""SQLite's primary codes for a write the disk refused."""


def _refused(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is a write the disk refused (not a damaged or foreign file)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return any(name == code or name.startswith(code + "_") for code in _CANNOT_WRITE)


@dataclass(frozen=True, slots=True)
class Pending:
    """The oldest batch not yet taken: what to send (again) as it is."""

    id: str
    checks: tuple[AgentCheck, ...]
    dropped: int
    expired: int = 0
    """Checks of this batch dropped just now: outside the window the caller keeps."""


class Spool:
    """A bounded FIFO of checks on disk, cut into batches whose ids are kept."""

    def __init__(self, path: str | Path, *, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise SpoolError(f"the spool's limit is {limit}: give at least 1")
        self.path, self.limit = Path(path), limit
        self.unkept = 0
        """Checks that could not be written (:class:`SpoolFull`), not yet counted as
        dropped in the file."""
        try:
            # Readable by this user alone: the spool keeps the assignment, whose monitors
            # may carry credentials (headers), and SQLite gives its -wal and -shm files the
            # database file's mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(self.path, 0o600)
        except OSError as exc:
            raise SpoolError(f"{self.path}: cannot be made or opened ({exc.strerror})") from None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise SpoolError(f"{self.path}: not a spool this agent can use ({exc})") from None

    def close(self) -> None:
        """Checkpoint the WAL into the file and close it."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what goes in ---------------------------------------------------------------------

    def add(self, checks: Sequence[AgentCheck]) -> int:
        """Keep ``checks`` (one transaction), then drop the oldest past the limit; returns
        how many were dropped now.  Raises :class:`SpoolFull`, ``checks`` counted in
        :attr:`unkept`, when the disk refuses the write."""
        try:
            with self._transaction():
                self._db.executemany(
                    "INSERT INTO checks (body) VALUES (?)",
                    [(json.dumps(c.to_json(), separators=(",", ":")),) for c in checks],
                )
                over = max(0, self.held() - self.limit)
                if over:
                    self._db.execute(
                        "DELETE FROM checks WHERE seq IN "
                        "(SELECT seq FROM checks ORDER BY seq LIMIT ?)",
                        (over,),
                    )
                lost = over + self.unkept
                if lost:
                    self._set("dropped", self.dropped + lost)
                    self._set("dropped_total", self.dropped_total + lost)
        except SpoolFull:
            self.unkept += len(checks)
            raise
        self.unkept = 0
        return over

    # --- what goes out --------------------------------------------------------------------

    def pending(self, keep: Callable[[AgentCheck], bool] | None = None) -> Pending:
        """The oldest batch not yet taken; if there is none, a new one of the oldest checks
        (at most :data:`MAX_BATCH`, none if none are held: an empty batch renews the lease)
        carrying the dropped count not yet reported.  Its id is kept until :meth:`taken`.
        Its checks that ``keep`` refuses are dropped, counted as the bound's are."""
        with self._transaction():
            row = self._db.execute(
                "SELECT id, dropped FROM batches ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None:
                row = (new_batch_id(), self.dropped - self._in_batches())
                self._db.execute("INSERT INTO batches (id, dropped) VALUES (?, ?)", row)
                self._db.execute(
                    "UPDATE checks SET batch = ? WHERE seq IN "
                    "(SELECT seq FROM checks WHERE batch IS NULL ORDER BY seq LIMIT ?)",
                    (row[0], MAX_BATCH),
                )
            bodies = self._db.execute(
                "SELECT seq, body FROM checks WHERE batch = ? ORDER BY seq", (row[0],)
            ).fetchall()
            checks = [(seq, _check(seq, body)) for seq, body in bodies]
            gone = [seq for seq, c in checks if keep is not None and not keep(c)]
            if gone:
                self._db.executemany("DELETE FROM checks WHERE seq = ?", [(q,) for q in gone])
                self._set("dropped", self.dropped + len(gone))
                self._set("dropped_total", self.dropped_total + len(gone))
        dropped = set(gone)
        kept = tuple(c for seq, c in checks if seq not in dropped)
        return Pending(row[0], kept, row[1], len(gone))

    def taken(self, batch_id: str) -> int:
        """The server took ``batch_id`` (or had it already): forget its checks and the
        dropped count it carried.  Returns how many checks it held."""
        with self._transaction():
            row = self._db.execute("SELECT dropped FROM batches WHERE id = ?", (batch_id,))
            found = row.fetchone()
            if found is None:
                return 0
            gone = self._db.execute("DELETE FROM checks WHERE batch = ?", (batch_id,)).rowcount
            self._db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            self._set("dropped", max(0, self.dropped - found[0]))
            return gone

    # --- what it holds --------------------------------------------------------------------

    def held(self) -> int:
        """Checks held, in batches or not."""
        count: int = self._db.execute("SELECT count(*) FROM checks").fetchone()[0]
        return count

    @property
    def dropped(self) -> int:
        """Checks dropped whose count no batch the server took has carried yet."""
        return int(self._get("dropped") or 0)

    @property
    def dropped_total(self) -> int:
        """Checks dropped since the spool was made."""
        return int(self._get("dropped_total") or 0)

    def keep_assignment(self, text: str) -> None:
        """Keep the last assignment (its JSON) for a start while the server is down."""
        with self._transaction():
            self._set("assignment", text)

    def assignment(self) -> str | None:
        """The last assignment kept, as JSON text, if any."""
        return self._get("assignment")

    def keep_not_run(self, text: str) -> None:
        """Keep what the agent does not run (its JSON), for its next start."""
        with self._transaction():
            self._set("not_run", text)

    def not_run(self) -> str | None:
        """What the agent did not run when it last said, as JSON text, if any."""
        return self._get("not_run")

    # --- the file -------------------------------------------------------------------------

    def _in_batches(self) -> int:
        """The dropped count the batches not yet taken carry already."""
        total: int = self._db.execute("SELECT coalesce(sum(dropped), 0) FROM batches").fetchone()[0]
        return total

    def _get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set(self, key: str, value: object) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` when the block raises; a write
    the disk refused, anywhere in it, is :class:`SpoolFull` once it is rolled back."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _full(exc) if _refused(exc) else exc from None

    def __exit__(self, kind: object, error: object, *rest: object) -> None:
        if kind is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.OperationalError as exc:
                if not _refused(exc):
                    raise
                error = exc
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        if isinstance(error, sqlite3.OperationalError) and _refused(error):
            raise _full(error) from None


def _full(exc: sqlite3.Error) -> SpoolFull:
    return SpoolFull(f"the spool cannot be written: {exc} (is its disk full?)")


def _check(seq: int, body: str) -> AgentCheck:
    try:
        return AgentCheck.from_json(json.loads(body))
    except (ValueError, AgentWireError) as exc:  # written by this module: a damaged file
        raise SpoolError(f"spool row {seq}: not a check ({exc})") from None
