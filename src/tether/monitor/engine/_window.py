"""A monitor's recent checks in a sliding window, and whether its ``alert_when:`` rule
holds over them.  Pure: the detector (``_detect.py``) adds each check with its time and
asks.

The window holds the checks of the last ``within`` seconds: a check at ``t`` is in it at
``now`` while ``now - within < t``.  It is a deque of ``(time, ok)`` with the count of
failures beside it, trimmed at the window's edge as each check comes, so a check costs
O(1) amortised; and it keeps at most ``capacity`` checks (what ``within`` holds at the
monitor's interval, and a few more), the oldest going first.  A check stamped before the
last one (a worker's result a little late) is counted at the last one's time, so the
deque stays in order.

The rules (:class:`~tether.monitor.config._rules.WindowRule`):

- ``failures: N``: holds while at least N checks of the window failed;
- ``failure_ratio: R`` with ``min_checks: M``: holds while the window holds at least M
  checks and at least R of them failed.

No re-probe confirms a failure under such a rule, as one does under
``failure_threshold``: the window is the confirmation, N failures over minutes rather
than one failure seconds ago; and re-probing only after failures would add checks to the
window when it fails, never when it passes, and count one bad backend's share twice.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

from tether._durations import human_duration
from tether.monitor.config._rules import WindowRule

__all__ = ["CheckWindow", "holds", "span_words"]


def holds(rule: WindowRule, checks: int, failed: int) -> bool:
    """Whether ``rule`` holds over a window of ``checks`` checks, ``failed`` of them failed.

    The share is compared as a traffic monitor's is (``_traffic.py``, ``failure_ratio``
    with ``min_calls``): ``failed / checks >= ratio``, both sides the nearest float to
    their fraction, so 2 of 10 checks is 20% exactly.  The window is not a traffic
    monitor's: that one holds thousands of calls a second in buckets of one second;
    this one a check every interval, each kept, so that the reason can count them."""
    if rule.failures is not None:
        return failed >= rule.failures
    assert rule.failure_ratio is not None
    return checks >= rule.min_checks and failed / checks >= rule.failure_ratio


def span_words(seconds: float) -> str:
    """``5 min``, ``90 s``, ``1 h 30 min``: a window's length for people."""
    words = human_duration(seconds)
    for zero in (" 0 s", " 0 min", " 0 h"):
        words = words.removesuffix(zero)
    return words


def _percent(share: float) -> str:
    return f"{share * 100:.1f}".removesuffix(".0") + "%"


class CheckWindow:
    """One monitor's checks of the last ``within`` seconds (the module's docstring)."""

    __slots__ = ("_checks", "failed")

    def __init__(self, checks: Iterable[tuple[float, bool]] = ()) -> None:
        self._checks: deque[tuple[float, bool]] = deque()
        self.failed = 0
        """How many checks of the window failed."""
        for at, ok in checks:
            self._append(at, ok)

    def __len__(self) -> int:
        return len(self._checks)

    def __repr__(self) -> str:
        return f"<CheckWindow {self.failed} of {len(self)} failed>"

    def _append(self, at: float, ok: bool) -> None:
        if self._checks:
            at = max(at, self._checks[-1][0])
        self._checks.append((at, ok))
        self.failed += not ok

    def add(self, at: float, ok: bool, rule: WindowRule) -> None:
        """Count one check at ``at``, and drop what left the window (or its capacity)."""
        self._append(at, ok)
        self.trim(at, rule)

    def trim(self, now: float, rule: WindowRule) -> None:
        """Drop the checks past the window's edge at ``now``, and past its capacity."""
        checks, edge = self._checks, now - rule.within
        while checks and (checks[0][0] <= edge or len(checks) > rule.capacity):
            self.failed -= not checks.popleft()[1]

    def holds(self, rule: WindowRule) -> bool:
        return holds(rule, len(self._checks), self.failed)

    def reason(self, rule: WindowRule) -> str:
        """What the window says of the rule, in plain words: "5 of the last 7 checks
        failed within 5 min"; "3 of 12 checks (25%) failed within 10 min, at least 20%
        needed"; or, when it does not hold, what is missing."""
        checks, failed, span = len(self._checks), self.failed, span_words(rule.within)
        if rule.failures is not None:
            text = f"{failed} of the last {checks} checks failed within {span}"
            return text if self.holds(rule) else f"{text}, {rule.failures} needed"
        assert rule.failure_ratio is not None
        if checks < rule.min_checks:
            return f"{checks} checks within {span}, at least {rule.min_checks} needed"
        share = failed / checks
        return (
            f"{failed} of {checks} checks ({_percent(share)}) failed within {span}, "
            f"at least {_percent(rule.failure_ratio)} needed"
        )

    def to_list(self) -> list[list[float]]:
        """The checks as plain data (JSON-ready): ``[[time, 1 or 0], ...]``, 1 for a pass."""
        return [[at, 1 if ok else 0] for at, ok in self._checks]

    @classmethod
    def from_list(cls, saved: Any, rule: WindowRule) -> CheckWindow:
        """Take back what :meth:`to_list` gave, at most the rule's capacity of the newest;
        ValueError on a time that is no time."""
        checks: list[tuple[float, bool]] = []
        for item in list(saved)[-rule.capacity :]:
            at, ok = float(item[0]), bool(item[1])
            if not math.isfinite(at):
                raise ValueError(f"window: {at} is not a time")
            checks.append((at, ok))
        return cls(checks)
