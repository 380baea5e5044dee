"""Every monitor's state as the overview and ``/api/status`` give it, kept between requests
and brought up to date by difference.

``/api/status`` answers with every monitor's state by name (``monitors``), how many are in
each state (``summary``), and, for the rows it shows, since when a monitor is down; a
monitor down since before a restart is dated from the store's open incidents, read only
when one is.  Worked out whole at each request, that is several passes over every
monitor: at 120,000 monitors, polled every second in a mass outage, a seventh of the
coordinator's interpreter lock (benchmarks/results.md, mass transitions section 8).  The
board keeps each monitor's state, its ``"name":"state"`` JSON, the count in each state and
the monitors down and not seen going down, and at each request reads from the quorum's
:class:`~tether.monitor.engine._journal.Journal` which monitors changed since the last:
the work is in the changes, plus one join of the kept parts in C when any changed.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Final

from tether.monitor._state import State
from tether.monitor.engine._journal import Journal

__all__ = ["STATE_ORDER", "Board", "StateBoard", "monitors_json"]

STATE_ORDER: Final = (
    State.DOWN,
    State.FLAPPING,
    State.DEGRADED,
    State.UP,
    State.PAUSED,
    State.UNKNOWN,
)
"""The summary line's order: what needs a look first."""

_TEXT: Final = {s: json.dumps(str(s)) for s in State}
"""Each state as a JSON string."""


@dataclass(frozen=True, slots=True)
class Board:
    """What the board says at one read."""

    text: str
    """Every monitor's state by name, as the JSON object :func:`monitors_json` writes."""
    summary: dict[str, int]
    """How many monitors are in each state, in :data:`STATE_ORDER`."""
    down_unseen: bool
    """Whether a monitor is down that was not seen going down (since a restart): its
    time comes from the store's open incidents."""


def monitors_json(names: Sequence[str], states: Mapping[str, State]) -> str:
    """``{name: state}`` for every one of ``names`` (unknown when absent) as the
    dashboard's compact JSON writes it."""
    return "{" + ",".join(_pair(n, states.get(n, State.UNKNOWN)) for n in names) + "}"


def _pair(name: str, state: State) -> str:
    """One entry of the ``monitors`` object, as ``json.dumps`` with the dashboard's
    separators and ``ensure_ascii=False`` writes it: the encoder's own string function
    (``json.dumps`` with an option builds an encoder a call, eight times the cost:
    1.5 s of the first ``/api/status`` at 120,000 monitors on a busy start)."""
    return f"{encode_basestring(name)}:{_TEXT[state]}"


class StateBoard:
    """Every monitor's state, kept between requests.  Thread-safe: pages are built on
    worker threads, one read at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: Sequence[str] = ()
        self._index: dict[str, int] = {}
        self._states: list[State] = []
        self._parts: list[str] = []
        self._counts: Counter[State] = Counter()
        self._unseen: set[str] = set()
        self._journal: Journal | None = None
        self._read_to = 0
        self._text = "{}"
        self.written = 0
        """How many monitors' parts were written (for the tests: those that changed)."""

    def read(
        self,
        names: Sequence[str],
        states: Mapping[str, State],
        since: Collection[str],
        journal: Journal | None = None,
        end: int = 0,
    ) -> Board:
        """The board for ``names`` (the same sequence object while the configuration is
        the same; a new one builds the board whole), each one's state in ``states``
        (unknown when absent), and ``since``: the monitors seen entering their state.

        ``journal`` and ``end``: the quorum's journal, and its :attr:`~Journal.end` when
        ``states`` and ``since`` were copied; the board takes only the monitors marked
        since its last read.  Without a journal (or when it dropped marks the board had
        not read) the board is built whole."""
        with self._lock:
            changed = None
            if names is self._names and journal is not None and journal is self._journal:
                changed = journal.between(self._read_to, end)
            if changed is None:
                self._build(names, states, since)
            elif changed:
                self._apply(changed, states, since)
            self._journal = journal
            self._read_to = max(self._read_to, end) if changed is not None else end
            summary = {str(s): self._counts.get(s, 0) for s in STATE_ORDER}
            return Board(self._text, summary, bool(self._unseen))

    def _build(
        self, names: Sequence[str], states: Mapping[str, State], since: Collection[str]
    ) -> None:
        self._names = names
        self._index = {n: i for i, n in enumerate(names)}
        self._states = [states.get(n, State.UNKNOWN) for n in names]
        self._parts = [_pair(n, s) for n, s in zip(names, self._states, strict=True)]
        self._counts = Counter(self._states)
        down = State.DOWN
        self._unseen = {
            n for n, s in zip(names, self._states, strict=True) if s is down and n not in since
        }
        self._text = "{" + ",".join(self._parts) + "}"
        self.written += len(names)

    def _apply(
        self, changed: Sequence[str], states: Mapping[str, State], since: Collection[str]
    ) -> None:
        index, kept, parts, counts = self._index, self._states, self._parts, self._counts
        rewritten = False
        for name in dict.fromkeys(changed):
            i = index.get(name)
            if i is None:  # removed since the configuration the board was built for
                continue
            new = states.get(name, State.UNKNOWN)
            if new is State.DOWN and name not in since:
                self._unseen.add(name)
            else:
                self._unseen.discard(name)
            old = kept[i]
            if new is old:
                continue
            counts[old] -= 1
            counts[new] += 1
            kept[i] = new
            parts[i] = _pair(name, new)
            self.written += 1
            rewritten = True
        if rewritten:
            self._text = "{" + ",".join(parts) + "}"
