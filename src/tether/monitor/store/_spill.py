"""The writer's spill file: results and state changes the database could not take,
appended as JSON lines and read back in order once it can (``_writer.py``)."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
from pathlib import Path
from typing import Any

from tether.monitor._records import ProbeRecord
from tether.monitor._state import State

log = logging.getLogger("tether.monitor")

Item = tuple[str, Any, Any]
"""(what, payload, who waits): as ``_writer.Item``; a spilled row has no one waiting."""


class Spill:
    """Held rows in a local file, one JSON line each, written oldest first.

    ``<path>.pos`` keeps how many bytes of it are written to the database, so a
    restart does not write them twice (the window is one chunk, after its commit).
    """

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self._pos_path = path.with_name(path.name + ".pos")
        self._offset = 0
        self.rows = 0
        self._pending: list[int] = []  # byte length of each unread row read ahead
        if path.exists():
            try:
                self._offset = int(self._pos_path.read_text() or 0)
            except (OSError, ValueError):
                self._offset = 0
            try:
                with path.open("rb") as f:
                    f.seek(self._offset)
                    self.rows = sum(1 for _ in f)
            except OSError as exc:
                log.error("store: cannot read the spill file %s: %s", path, exc)

    def append(self, rows: list[Item]) -> int:
        """Append ``rows``; how many fit (the rest would pass the size limit, or the
        disk refused)."""
        lines = [_row_line(what, payload) for what, payload, _ in rows]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = self.path.stat().st_size if self.path.exists() else 0
            fit = 0
            for line in lines:
                if size + len(line) > self.limit:
                    break
                size += len(line)
                fit += 1
            if fit:
                with self.path.open("ab") as f:
                    f.write(b"".join(lines[:fit]))
                    f.flush()
                    os.fsync(f.fileno())
        except OSError as exc:
            log.error("store: cannot write the spill file %s: %s", self.path, exc)
            return 0
        self.rows += fit
        return fit

    def read(self, n: int) -> list[Item]:
        """The next ``n`` unwritten rows (not yet marked written)."""
        items: list[Item] = []
        self._pending = []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            for line in itertools.islice(f, n):
                self._pending.append(len(line))
                items.append(_line_row(line))
        return items

    def advance(self, n: int) -> None:
        """The ``n`` rows last read are in the database."""
        self._offset += sum(self._pending[:n])
        self.rows -= n
        self._pending = []
        if self.rows <= 0:
            self.rows = 0
            self._offset = 0
            self.path.unlink(missing_ok=True)
            self._pos_path.unlink(missing_ok=True)
        else:
            self._pos_path.write_text(str(self._offset))


def _row_line(what: str, payload: Any) -> bytes:
    if what == "result":
        r: ProbeRecord = payload
        kind = None if r.kind is None else r.kind.value
        row = ["r", r.monitor, r.ts, r.ok, kind, r.latency_ms, r.detail, r.data()]
    else:
        monitor, at, state = payload
        row = ["c", monitor, at, str(state)]
    # ASCII JSON: a lone surrogate survives as an escape.
    return json.dumps(row, separators=(",", ":")).encode("ascii") + b"\n"


def _line_row(line: bytes) -> Item:
    row = json.loads(line)
    if row[0] == "r":
        _, monitor, ts, ok, kind, latency_ms, detail, data = row
        record = ProbeRecord.from_row(monitor, ts, ok, kind, latency_ms, detail, data)
        return ("result", record, None)
    _, monitor, at, state = row
    return ("change", (monitor, at, State(state)), None)


def default_spill(url: str) -> Path:
    """Where a PostgreSQL store's results wait while the server is away: a file per
    database under the user's state directory (``$XDG_STATE_HOME/tether``, by default
    ``~/.local/state/tether``)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(url.encode("utf-8", "replace")).hexdigest()[:16]
    return base / "tether" / f"postgres-{digest}.spill"
