"""What the detector is told for one monitor: its thresholds, its confirmation delay, when
it flaps and how its latency baseline learns (the ``detector:`` settings of the file,
with their defaults).  Settings only: the detector (``engine/_detect.py``) and the
baseline (``engine/_baseline.py``) apply them."""

from __future__ import annotations

from dataclasses import dataclass, field

from tether.monitor._state import Flapping


@dataclass(frozen=True, slots=True)
class Latency:
    """How the latency baseline learns and when a monitor counts as degraded."""

    window: int = 240
    """Successful latencies kept for the global baseline (2 hours at a 30 s interval)."""
    min_samples: int = 30
    """The baseline is "learning" until it has this many."""
    k: float = 3.0
    """Degraded above median + k scaled MADs."""
    floor_ms: float = 50.0
    """...and never less than this above the median."""
    degrade_after: int = 3
    """Consecutive slow checks that make a monitor degraded."""
    recover_after: int = 5
    """Consecutive checks back under the limit that end it."""
    seasonal_weeks: int = 3
    """Weeks of an hour's history before that hour gets its own baseline."""
    weeks_kept: int = 4
    """Weeks of history kept per hour of the week."""
    hour_cap: int = 120
    """Samples kept for the hour in progress (thinned evenly beyond this)."""
    late_ms: float | None = 1000.0
    """A passing check that started more than this late (its checker behind its schedule)
    is neither judged on latency nor learnt; ``None`` judges every check."""

    def __post_init__(self) -> None:
        checks = [
            ("window", self.window >= 1, "must be at least 1"),
            ("min_samples", 1 <= self.min_samples <= self.window, "must be 1 to window"),
            ("k", self.k > 0, "must be more than 0"),
            ("floor_ms", self.floor_ms >= 0, "must be 0 or more"),
            ("degrade_after", self.degrade_after >= 1, "must be at least 1"),
            ("recover_after", self.recover_after >= 1, "must be at least 1"),
            ("weeks_kept", 1 <= self.weeks_kept <= 52, "must be 1 to 52"),
            (
                "seasonal_weeks",
                1 <= self.seasonal_weeks <= self.weeks_kept,
                "must be 1 to weeks_kept",
            ),
            ("hour_cap", self.hour_cap >= 1, "must be at least 1"),
            ("late_ms", self.late_ms is None or self.late_ms >= 0, "must be 0 or more"),
        ]
        for name, ok, message in checks:
            if not ok:
                raise ValueError(f"latency.{name}: {message}, not {getattr(self, name)!r}")


@dataclass(frozen=True, slots=True)
class WindowRule:
    """A rule over the checks of the last ``within`` seconds (``alert_when:``): down while
    at least ``failures`` of them failed, or while at least ``failure_ratio`` of them did
    and there were at least ``min_checks``.  ``capacity`` caps the checks kept: what the
    window can hold at the monitor's interval, and a few more."""

    within: float
    failures: int | None = None
    failure_ratio: float | None = None
    min_checks: int = 1
    capacity: int = 10_000

    def __post_init__(self) -> None:
        if (self.failures is None) == (self.failure_ratio is None):
            raise ValueError("window: give failures or failure_ratio, not both nor neither")
        checks = [
            ("within", self.within > 0, "must be more than 0 s"),
            ("failures", self.failures is None or self.failures >= 1, "must be at least 1"),
            (
                "failure_ratio",
                self.failure_ratio is None or 0 < self.failure_ratio <= 1,
                "must be above 0 and at most 1",
            ),
            ("min_checks", self.min_checks >= 1, "must be at least 1"),
            ("capacity", self.capacity >= 1, "must be at least 1"),
        ]
        for name, ok, message in checks:
            if not ok:
                raise ValueError(f"window.{name}: {message}, not {getattr(self, name)!r}")


@dataclass(frozen=True, slots=True)
class Rules:
    """One monitor's detection settings."""

    failure_threshold: int = 3
    success_threshold: int = 2
    confirm_delay: float | None = 1.0
    """Seconds before a confirmation re-probe; ``None`` never asks for one."""
    flapping: Flapping = field(default_factory=Flapping)
    latency: Latency = field(default_factory=Latency)
    window: WindowRule | None = None
    """A rule over a window of checks, instead of ``failure_threshold`` failures in a row;
    no re-probe confirms its failures (``engine/_window.py`` says why)."""

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(
                f"failure_threshold: must be at least 1, not {self.failure_threshold!r}"
            )
        if self.success_threshold < 1:
            raise ValueError(
                f"success_threshold: must be at least 1, not {self.success_threshold!r}"
            )
        if self.confirm_delay is not None and self.confirm_delay < 0:
            raise ValueError(f"confirm_delay: must be 0 s or more, not {self.confirm_delay!r}")
