"""A monitor's availability: up and down by consecutive results, and flapping.

Pure bookkeeping for one monitor, fed one check at a time; it reads no clock
(``now`` is given) and sends nothing.  The detector (``_detect.py``) wraps it
with the latency baseline and turns its changes into events.

    unknown --1 pass--------------------> up
    unknown, up --failure_threshold fails--> down
    unknown, up --an alert_when rule holds--> down (see ``judge``)
    down --success_threshold passes------> up
    up <-> down, `changes` times within `window` --> flapping
    flapping --no up/down change for `settle` s--> up or down again

``paused`` and ``degraded`` sit on top (see ``_detect.py``): a paused monitor
ignores results; a degraded one is up, but slower than its baseline allows.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any


class State(enum.StrEnum):
    """What a monitor is, as shown to people and stored."""

    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"
    DEGRADED = "degraded"
    FLAPPING = "flapping"
    PAUSED = "paused"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Flapping:
    """When a monitor counts as flapping, and when it has settled.

    ``changes`` up/down changes within ``window`` seconds make it flap; no
    change for ``settle`` seconds settles it.  With ``settle == window`` the
    changes that started the flapping have all left the window when it settles.
    """

    changes: int = 5
    window: float = 600.0
    settle: float = 600.0

    def __post_init__(self) -> None:
        if self.changes < 2:
            raise ValueError(f"flapping.changes: must be at least 2, not {self.changes!r}")
        if self.window <= 0:
            raise ValueError(f"flapping.window: must be more than 0 s, not {self.window!r}")
        if self.settle <= 0:
            raise ValueError(f"flapping.settle: must be more than 0 s, not {self.settle!r}")


@dataclass(slots=True)
class Availability:
    """Consecutive passes and failures, the up/down verdict, and recent changes."""

    health: State = State.UNKNOWN
    """``unknown``, ``up`` or ``down``: what the thresholds say, flapping or not."""
    failures: int = 0
    successes: int = 0
    flapping: bool = False
    changes: list[float] = field(default_factory=list)
    """When the last few up/down changes happened (at most ``Flapping.changes``)."""

    def count(self, ok: bool, failure_threshold: int, success_threshold: int) -> bool:
        """Count one check; say whether ``health`` changed."""
        if ok:
            self.failures, self.successes = 0, self.successes + 1
            # A first pass has no outage to recover from: up at once.
            if self.health is State.UNKNOWN or (
                self.health is State.DOWN and self.successes >= success_threshold
            ):
                self.health = State.UP
                return True
            return False
        self.successes, self.failures = 0, self.failures + 1
        if self.health is not State.DOWN and self.failures >= failure_threshold:
            self.health = State.DOWN
            return True
        return False

    def judge(self, ok: bool, rule_holds: bool, success_threshold: int) -> bool:
        """Count one check under a rule over a window (``alert_when:``), ``rule_holds``
        with this check counted; say whether ``health`` changed.  Down while the rule
        holds, whatever this check said (a pass can bring the window to its
        ``min_checks``); up again once it no longer holds and the last
        ``success_threshold`` checks passed."""
        if ok:
            self.failures, self.successes = 0, self.successes + 1
        else:
            self.successes, self.failures = 0, self.failures + 1
        if rule_holds:
            changed = self.health is not State.DOWN
            self.health = State.DOWN
            return changed
        if ok and (
            self.health is State.UNKNOWN
            or (self.health is State.DOWN and self.successes >= success_threshold)
        ):
            self.health = State.UP
            return True
        return False

    def note_change(self, now: float, rules: Flapping) -> bool:
        """Record an up/down change at ``now``; say whether flapping just started."""
        self.changes.append(now)
        del self.changes[: -rules.changes]  # only the latest `changes` can decide
        if self.flapping or len(self.changes) < rules.changes:
            return False
        self.flapping = now - self.changes[0] <= rules.window
        return self.flapping

    def settles(self, now: float, rules: Flapping) -> bool:
        """Say whether a flapping monitor has been quiet long enough, and if so settle it."""
        if not self.flapping or (self.changes and now - self.changes[-1] < rules.settle):
            return False
        # Forget the old changes: one more must not restart the flapping at once.
        self.flapping = False
        self.changes.clear()
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "health": self.health.value,
            "failures": self.failures,
            "successes": self.successes,
            "flapping": self.flapping,
            "changes": list(self.changes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Availability:
        return cls(
            health=State(data["health"]),
            failures=int(data["failures"]),
            successes=int(data["successes"]),
            flapping=bool(data["flapping"]),
            changes=[saved_moment(t) for t in data["changes"]],
        )


def saved_moment(saved: object) -> float:
    """A time a saved state holds: finite, or ValueError (the state is started afresh)."""
    at = float(saved)  # type: ignore[arg-type]
    if not math.isfinite(at):
        raise ValueError(f"saved state: {at} is not a time")
    return at
