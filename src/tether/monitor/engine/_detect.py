"""The detector: check results in, decisions out.

The scheduler feeds every check's result to :meth:`Detector.observe` as an
:class:`Observation` and gets back a list of events: the monitor's state
changed, re-probe it now to confirm, its latency left the baseline or came
back, it started flapping or settled.  The detector reads no clock and does no
I/O: ``now`` and the observation's ``timestamp`` are epoch seconds
(``time.time()``), so that its state, saved with :meth:`Detector.to_dict`,
still makes sense after a restart, and so that the hour of the week is real.

Events come in a fixed order: the :class:`StateChanged` (if any) first, then
what explains it (:class:`FlappingStarted`, :class:`FlappingSettled`,
:class:`Degraded`, :class:`Recovered`), then the :class:`ReprobeRequested`
for the scheduler.  ``StateChanged`` is emitted exactly when
:meth:`Detector.state` changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tether._catalogue import CATALOGUE
from tether._frozen import quick_init
from tether._kinds import Kind, Layer
from tether.monitor._state import Availability, State, saved_moment
from tether.monitor.config._rules import Rules
from tether.monitor.engine._baseline import Baseline, Expected
from tether.monitor.engine._window import CheckWindow

_FORMAT = 1


@quick_init
@dataclass(frozen=True, slots=True)
class Observation:
    """One check's result, as the detector needs it."""

    monitor: str
    ok: bool
    timestamp: float
    """When the check ran, epoch seconds: it picks the hour-of-week baseline."""
    latency_ms: float | None = None
    kind: Kind | None = None
    """Why it failed, when the probe could say; ``None`` for a failed condition."""
    host: str | None = None
    lag_ms: float | None = None
    """How late the check started, when its checker knows: a checker far behind its
    schedule also measures its own queue, not the target's latency alone."""

    def __post_init__(self) -> None:
        if self.ok and self.kind is not None:
            raise ValueError(f"{self.monitor}: a passing check has no failure kind")

    @property
    def layer(self) -> Layer | None:
        """The layer of ``kind``, from the catalogue."""
        return None if self.kind is None else CATALOGUE[self.kind].layer

    def __repr__(self) -> str:
        parts = [self.monitor, "ok" if self.ok else "failed"]
        parts += [str(p) for p in (self.kind, self.host) if p is not None]
        if self.latency_ms is not None:
            parts.append(f"{self.latency_ms:g} ms")
        return f"<Observation {' '.join(parts)}>"


@quick_init
@dataclass(frozen=True, slots=True)
class StateChanged:
    """The monitor's state changed; ``reason`` says why in plain words."""

    monitor: str
    at: float
    old: State
    new: State
    reason: str

    def __repr__(self) -> str:
        return f"<StateChanged {self.monitor} {self.old}->{self.new}: {self.reason}>"


@quick_init
@dataclass(frozen=True, slots=True)
class ReprobeRequested:
    """Probe this monitor again after ``delay`` seconds, outside its interval."""

    monitor: str
    at: float
    delay: float
    reason: str

    def __repr__(self) -> str:
        return f"<ReprobeRequested {self.monitor} in {self.delay:g} s: {self.reason}>"


@dataclass(frozen=True, slots=True)
class Degraded:
    """The monitor's latency stayed above its baseline's limit; it is now degraded."""

    monitor: str
    at: float
    latency_ms: float
    expected: Expected

    def __repr__(self) -> str:
        return f"<Degraded {self.monitor} {self.latency_ms:g} ms > {self.expected.limit_ms:g} ms>"


@dataclass(frozen=True, slots=True)
class Recovered:
    """The monitor's latency came back under its baseline's limit."""

    monitor: str
    at: float
    latency_ms: float
    expected: Expected

    def __repr__(self) -> str:
        return f"<Recovered {self.monitor} {self.latency_ms:g} ms <= {self.expected.limit_ms:g} ms>"


@dataclass(frozen=True, slots=True)
class FlappingStarted:
    """``changes`` up/down changes within ``window`` seconds: alerts are held back."""

    monitor: str
    at: float
    changes: int
    window: float

    def __repr__(self) -> str:
        return f"<FlappingStarted {self.monitor} {self.changes} changes in {self.window:g} s>"


@dataclass(frozen=True, slots=True)
class FlappingSettled:
    """No up/down change for the settle period; the monitor is ``state`` again."""

    monitor: str
    at: float
    state: State

    def __repr__(self) -> str:
        return f"<FlappingSettled {self.monitor} {self.state}>"


Event = StateChanged | ReprobeRequested | Degraded | Recovered | FlappingStarted | FlappingSettled


@dataclass(slots=True)
class _Monitor:
    availability: Availability
    baseline: Baseline
    paused: bool = False
    degraded: bool = False
    slow: int = 0
    """Consecutive checks above the latency limit."""
    fast: int = 0
    """Consecutive checks at or under it."""
    window: CheckWindow | None = None
    """The recent checks, under an ``alert_when`` rule."""
    through: float | None = None
    """When the newest check it took was made: a state saved and restored goes on from
    there with the checks made after it (:meth:`Detector.replay`)."""

    def state(self) -> State:
        if self.paused:
            return State.PAUSED
        if self.availability.flapping:
            return State.FLAPPING
        if self.availability.health is State.UP and self.degraded:
            return State.DEGRADED
        return self.availability.health

    def end_latency_episode(self) -> None:
        self.degraded, self.slow, self.fast = False, 0, 0


def checks_counted(rules: Rules) -> int:
    """How many of a monitor's newest checks its state counts over, at most: those a
    state saved before them must be given again (:meth:`Detector.replay`) to count as
    the detector that saw them does (its window's, its thresholds', its latency
    episode's)."""
    latency = rules.latency
    counted = max(
        rules.failure_threshold,
        rules.success_threshold,
        latency.degrade_after,
        latency.recover_after,
    )
    return max(counted, 0 if rules.window is None else rules.window.capacity)


def _checks(n: int) -> str:
    return "1 check" if n == 1 else f"{n} consecutive checks"


class Detector:
    """Every monitor's state, thresholds, flapping record and latency baseline.

    ``rules`` apply to every monitor without an entry in ``overrides``.
    """

    def __init__(
        self, rules: Rules | None = None, overrides: Mapping[str, Rules] | None = None
    ) -> None:
        self.rules = rules or Rules()
        self._overrides: dict[str, Rules] = dict(overrides or {})
        self._monitors: dict[str, _Monitor] = {}

    def rules_for(self, monitor: str) -> Rules:
        return self._overrides.get(monitor, self.rules)

    def configure(self, monitor: str, rules: Rules) -> None:
        """Give ``monitor`` its own rules (on a config reload), keeping its state."""
        self._overrides[monitor] = rules
        entry = self._monitors.get(monitor)
        if entry is not None and entry.baseline.rules != rules.latency:
            entry.baseline = Baseline.from_dict(entry.baseline.to_dict(), rules.latency)

    def state(self, monitor: str) -> State:
        entry = self._monitors.get(monitor)
        return State.UNKNOWN if entry is None else entry.state()

    def states(self) -> dict[str, State]:
        """Every known monitor's state (for :func:`held_by_parent`)."""
        return {name: entry.state() for name, entry in self._monitors.items()}

    def names(self) -> list[str]:
        """Every known monitor's name, in the order they became known (a copy)."""
        return list(self._monitors)

    def expected(self, monitor: str, at: float) -> Expected | None:
        """The latency baseline for ``monitor`` at ``at``; ``None`` while it is learning."""
        entry = self._monitors.get(monitor)
        return None if entry is None else entry.baseline.expected(at)

    def forget(self, monitor: str) -> None:
        """Drop a monitor removed from the configuration."""
        self._monitors.pop(monitor, None)
        self._overrides.pop(monitor, None)

    def pause(self, monitor: str, now: float) -> list[Event]:
        """Pause a monitor: its results are ignored until :meth:`resume`."""
        entry = self._entry(monitor)
        if entry.paused:
            return []
        old, entry.paused = entry.state(), True
        return [StateChanged(monitor, now, old, State.PAUSED, "paused")]

    def resume(self, monitor: str, now: float) -> list[Event]:
        """Resume a paused monitor as ``unknown``: what it was before is stale.  Its
        latency baseline is kept."""
        entry = self._entry(monitor)
        if not entry.paused:
            return []
        entry.availability = Availability()
        entry.window = None
        entry.paused = False
        entry.end_latency_episode()
        return [StateChanged(monitor, now, State.PAUSED, State.UNKNOWN, "resumed")]

    def observe(self, result: Observation, now: float) -> list[Event]:
        """Take one check's result; return what changed and what to do next."""
        entry = self._entry(result.monitor)
        if entry.paused:
            return []
        if entry.through is None or result.timestamp > entry.through:
            entry.through = result.timestamp
        rules = self.rules_for(result.monitor)
        before = entry.state()
        reasons: list[str] = []
        details: list[Event] = []
        self._count(entry, result, rules, now, reasons, details)
        self._judge_latency(entry, result, rules, now, reasons, details)
        if entry.availability.settles(now, rules.flapping):
            details.append(FlappingSettled(result.monitor, now, entry.state()))
            reasons.append(f"no up/down change for {rules.flapping.settle:g} s")
        events: list[Event] = []
        after = entry.state()
        if after is not before:
            events.append(StateChanged(result.monitor, now, before, after, "; ".join(reasons)))
        events.extend(details)
        reprobe = self._reprobe(entry, result, rules, now)
        if reprobe is not None:
            events.append(reprobe)
        return events

    def through(self, monitor: str) -> float | None:
        """When the newest check ``monitor``'s state took was made (None: none yet)."""
        entry = self._monitors.get(monitor)
        return None if entry is None else entry.through

    def replay(self, monitor: str, checks: Iterable[Observation]) -> list[Event]:
        """Take the checks of ``monitor`` made after its state was saved (newer than
        :meth:`through`; the older ones it has), oldest first, as :meth:`observe` takes
        each at its own time; return every event they made.  A state saved at a change
        and restored after a crash thus goes on as if it had seen them: an ``alert_when``
        window filling, a count of failures in a row, the latency baseline.  The caller
        decides what the events it returns still owe (what the store says was done)."""
        events: list[Event] = []
        for check in sorted(checks, key=lambda c: c.timestamp):
            through = self.through(monitor)
            if through is None or check.timestamp > through:
                events += self.observe(check, check.timestamp)
        return events

    def _entry(self, monitor: str) -> _Monitor:
        entry = self._monitors.get(monitor)
        if entry is None:
            baseline = Baseline(self.rules_for(monitor).latency)
            entry = self._monitors[monitor] = _Monitor(Availability(), baseline)
        return entry

    def _count(
        self,
        entry: _Monitor,
        result: Observation,
        rules: Rules,
        now: float,
        reasons: list[str],
        details: list[Event],
    ) -> None:
        """Thresholds (or the window), then flapping: the up/down half of a check."""
        availability = entry.availability
        old = availability.health
        rule = rules.window
        if rule is None:
            entry.window = None
            if not availability.count(result.ok, rules.failure_threshold, rules.success_threshold):
                return
        else:
            window = entry.window = entry.window or CheckWindow()
            window.add(now, result.ok, rule)
            if not availability.judge(result.ok, window.holds(rule), rules.success_threshold):
                return
        why = (
            "" if result.ok else f" ({result.kind.value if result.kind else 'conditions not met'})"
        )
        if availability.health is State.UP:
            passed = availability.successes
            reasons.append(
                "first check passed" if old is State.UNKNOWN else f"{_checks(passed)} passed"
            )
            if entry.window is not None and rule is not None and old is State.DOWN:
                reasons.append(entry.window.reason(rule))
        else:
            if entry.window is not None and rule is not None:
                reasons.append(entry.window.reason(rule) + why)
            else:
                reasons.append(f"{_checks(availability.failures)} failed{why}")
            # A latency episode does not span an outage; the StateChanged says it ended.
            entry.end_latency_episode()
        if old is State.UNKNOWN:  # finding the first state is not a change of state
            return
        if availability.note_change(now, rules.flapping):
            flap = rules.flapping
            details.append(FlappingStarted(result.monitor, now, flap.changes, flap.window))
            reasons.append(f"{flap.changes} up/down changes within {flap.window:g} s")

    def _judge_latency(
        self,
        entry: _Monitor,
        result: Observation,
        rules: Rules,
        now: float,
        reasons: list[str],
        details: list[Event],
    ) -> None:
        """The latency half: compare with the baseline, then learn from it."""
        if not result.ok or result.latency_ms is None:
            entry.slow = entry.fast = 0  # a failed check breaks a streak either way
            return
        late_ms = rules.latency.late_ms
        if late_ms is not None and result.lag_ms is not None and result.lag_ms > late_ms:
            # Its checker was behind (a wave's backlog, an overloaded machine): the time
            # it measured holds its own wait, so it is neither judged nor learnt, and the
            # streaks go on from the checks around it.
            return
        latency = result.latency_ms
        expected = entry.baseline.expected(result.timestamp)
        entry.baseline.add(latency, result.timestamp)  # judged first, learned after
        if expected is None or entry.availability.health is not State.UP:
            return
        if latency > expected.limit_ms:
            entry.slow, entry.fast = entry.slow + 1, 0
        else:
            entry.slow, entry.fast = 0, entry.fast + 1
        if not entry.degraded and entry.slow >= rules.latency.degrade_after:
            entry.degraded = True
            details.append(Degraded(result.monitor, now, latency, expected))
            reasons.append(
                f"{_checks(entry.slow)} slower than {expected.limit_ms:.0f} ms "
                f"(median {expected.median_ms:.0f} ms)"
            )
        elif entry.degraded and entry.fast >= rules.latency.recover_after:
            entry.degraded = False
            details.append(Recovered(result.monitor, now, latency, expected))
            reasons.append(f"{_checks(entry.fast)} under {expected.limit_ms:.0f} ms")

    @staticmethod
    def _reprobe(
        entry: _Monitor, result: Observation, rules: Rules, now: float
    ) -> ReprobeRequested | None:
        """Confirm a first failure, or a first pass after an outage, in seconds rather
        than in threshold x interval.  Not while flapping: no alert is waiting on it; nor
        under a window's rule, whose window is the confirmation (``_window.py``)."""
        availability = entry.availability
        if rules.confirm_delay is None or availability.flapping or rules.window is not None:
            return None
        if not result.ok and availability.health is not State.DOWN:
            reason = f"confirm failure {availability.failures} of {rules.failure_threshold}"
        elif result.ok and availability.health is State.DOWN:
            reason = f"confirm recovery {availability.successes} of {rules.success_threshold}"
        else:
            return None
        return ReprobeRequested(result.monitor, now, rules.confirm_delay, reason)

    def export(self, monitor: str) -> dict[str, Any] | None:
        """One monitor's state as plain data (JSON-ready), or ``None`` if it has none; so a
        change can be saved without writing every other monitor again."""
        entry = self._monitors.get(monitor)
        if entry is None:
            return None
        exported: dict[str, Any] = {
            "format": _FORMAT,
            "availability": entry.availability.to_dict(),
            "baseline": entry.baseline.to_dict(),
            "paused": entry.paused,
            "degraded": entry.degraded,
            "slow": entry.slow,
            "fast": entry.fast,
        }
        if entry.window is not None:
            # Kept with the verdict: restored down, the failures it already alerted for
            # do not take it down again.
            exported["window"] = entry.window.to_list()
        if entry.through is not None:
            exported["through"] = entry.through
        return exported

    def restore(self, monitor: str, saved: Mapping[str, Any]) -> None:
        """Take back what :meth:`export` gave, under this detector's rules."""
        if saved.get("format", _FORMAT) != _FORMAT:
            raise ValueError(f"detector state: format {saved.get('format')!r} is not {_FORMAT}")
        rule = self.rules_for(monitor).window
        window = None
        if rule is not None and saved.get("window") is not None:
            window = CheckWindow.from_list(saved["window"], rule)
        self._monitors[monitor] = _Monitor(
            availability=Availability.from_dict(saved["availability"]),
            baseline=Baseline.from_dict(saved["baseline"], self.rules_for(monitor).latency),
            paused=bool(saved["paused"]),
            degraded=bool(saved["degraded"]),
            slow=int(saved["slow"]),
            fast=int(saved["fast"]),
            window=window,
            through=None if saved.get("through") is None else saved_moment(saved["through"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """Every monitor's state as plain data (JSON-ready); rules are not included."""
        monitors = {}
        for name in self._monitors:
            exported = self.export(name)
            assert exported is not None
            del exported["format"]
            monitors[name] = exported
        return {"format": _FORMAT, "monitors": monitors}

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        rules: Rules | None = None,
        overrides: Mapping[str, Rules] | None = None,
    ) -> Detector:
        """Restore what :meth:`to_dict` saved, under the given rules."""
        if data.get("format") != _FORMAT:
            raise ValueError(f"detector state: format {data.get('format')!r} is not {_FORMAT}")
        detector = cls(rules, overrides)
        for name, saved in data["monitors"].items():
            detector.restore(name, saved)
        return detector
