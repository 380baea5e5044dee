"""The holds as a value (``engine/_holds.py``): each reason a monitor's alerts can wait
for, the order they are asked in, where the windows come from, and a property over
random states, parents and windows."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.config_text import URL, dump
from tether.monitor._records import OpenedWindow
from tether.monitor._state import State
from tether.monitor.config import parse_config
from tether.monitor.engine._holds import Holds, hold_of, opened_window
from tether.monitor.engine._inhibit import Inhibition

T0 = 1_800_000_000.0
NAMES = ("api", "db", "web", "dns")


class _Window:
    """A maintenance window as the holds ask it: its name, who it covers, when."""

    def __init__(self, name: str, monitors: frozenset[str], start: float, end: float) -> None:
        self.name, self.monitors, self.start, self.end = name, monitors, start, end

    def covers(self, monitor: str) -> bool:
        return monitor in self.monitors

    def active(self, at: dt.datetime) -> bool:
        return self.start <= at.timestamp() < self.end


def _opened(id_: int, monitors: tuple[str, ...], reason: str = "upgrade") -> OpenedWindow:
    return OpenedWindow(id_, monitors, T0, T0 + 600, reason, "ops")


UPGRADE = _Window("upgrade", frozenset({"api"}), T0, T0 + 600)
HOLDS = Holds(Inhibition.build({}, depends_on={"api": ("db",)}), configured=(UPGRADE,))


def test_nothing_holds_a_monitor_that_is_down_alone() -> None:
    """A monitor down, its parent up, outside every window: its alert goes out."""
    assert HOLDS.why("api", T0 - 1, {"api": State.DOWN, "db": State.UP}) is None


def test_a_flapping_monitor_is_held() -> None:
    """Its own state flapping holds it, whatever else."""
    assert Holds().why("api", T0, {"api": State.FLAPPING}) == "it is flapping"


def test_a_parent_down_holds_its_child() -> None:
    """A monitor it depends on that is down holds it, and says which."""
    states = {"api": State.DOWN, "db": State.DOWN}
    assert HOLDS.why("api", T0 - 1, states) == "db, which it depends on, is down"
    assert HOLDS.why("db", T0 - 1, states) is None


def test_a_window_of_the_configuration_holds_what_it_covers_while_active() -> None:
    """The configuration's window holds the monitors it covers, from its start to its end."""
    states = {"api": State.DOWN}
    assert HOLDS.why("api", T0, states) == "maintenance window upgrade"
    assert HOLDS.why("api", T0 + 600, states) is None
    assert HOLDS.why("web", T0, {"web": State.DOWN}) is None


def test_a_window_opened_at_run_time_holds_as_the_configuration_s_do() -> None:
    """A window opened through the write API holds under its number and its reason."""
    holds = Holds().open([_opened(7, ("db",))])
    assert holds.why("db", T0 + 1, {}) == "maintenance window #7 (upgrade)"
    assert holds.why("db", T0 + 600, {}) is None
    assert holds.why("api", T0 + 1, {}) is None


def test_an_opened_window_s_name_hides_a_secret_in_its_reason() -> None:
    """The reason is redacted in the window's name, which the alerts and logs show."""
    name = opened_window(_opened(3, (), "see https://me:hunter2@ops.example/x")).name
    assert name.startswith("#3 (")
    assert "hunter2" not in name


def test_the_reasons_are_asked_flapping_then_parent_then_window() -> None:
    """With every reason true, flapping answers; without it, the parent; then the window."""
    all_three = {"api": State.FLAPPING, "db": State.DOWN}
    assert HOLDS.why("api", T0, all_three) == "it is flapping"
    assert HOLDS.why("api", T0, {**all_three, "api": State.DOWN}) == (
        "db, which it depends on, is down"
    )


def test_hold_of_says_why_in_order_flapping_parent_window() -> None:
    """The runner's hold as a pure function: flapping first, then a parent down, then a
    window covering it at that moment; nothing holds a monitor none of these touch."""
    t0 = 1_800_000_000.0
    windows = [_Window("upgrade", frozenset({"api"}), t0, t0 + 600)]
    depends = Inhibition.build({}, depends_on={"api": ["db"]})
    states = {"api": State.DOWN, "db": State.UP}
    assert hold_of("api", t0 - 1, states, depends, windows) is None
    assert hold_of("api", t0 + 1, states, depends, windows) == "maintenance window upgrade"
    assert hold_of("api", t0 + 600, states, depends, windows) is None
    down = {**states, "db": State.DOWN}
    assert hold_of("api", t0 + 1, down, depends, windows) == "db, which it depends on, is down"
    flapping = {**down, "api": State.FLAPPING}
    assert hold_of("api", t0 + 1, flapping, depends, windows) == "it is flapping"
    assert hold_of("web", t0 + 1, flapping, depends, windows) is None


def test_the_configuration_s_windows_are_asked_before_those_opened() -> None:
    """Two windows covering a monitor: the configuration's names the hold."""
    holds = HOLDS.open([_opened(1, ("api",))])
    assert holds.why("api", T0 + 1, {}) == "maintenance window upgrade"


def test_configure_and_open_each_replace_their_own_part() -> None:
    """A reload takes the configuration's parents and windows and keeps those opened; a
    change of the windows opened keeps the configuration's."""
    config = parse_config(
        dump(
            {"name": "db", "url": URL},
            {"name": "api", "url": URL, "depends_on": ["db"]},
            maintenance=[{"name": "nightly", "schedule": "0 2 * * *", "duration": "1h"}],
        )
    )
    opened = Holds().open([_opened(1, ())])
    holds = opened.configure(config)
    assert holds.inhibition == Inhibition.build({}, depends_on={"api": ("db",)})
    assert holds.opened == opened.opened
    assert holds.configured == config.maintenance
    assert holds.open([]) == Holds(holds.inhibition, config.maintenance, ())


_STATES = st.sampled_from(list(State))
_WINDOW = st.builds(
    _Window,
    st.text("abc", min_size=1, max_size=3),
    st.frozensets(st.sampled_from(NAMES)),
    st.integers(0, 100).map(float),
    st.integers(0, 100).map(float),
)


@given(
    states=st.dictionaries(st.sampled_from(NAMES), _STATES),
    depends_on=st.dictionaries(st.sampled_from(NAMES), st.frozensets(st.sampled_from(NAMES))),
    configured=st.lists(_WINDOW, max_size=3),
    opened=st.lists(_WINDOW, max_size=3),
    monitor=st.sampled_from(NAMES),
    now=st.integers(0, 100).map(float),
)
def test_held_exactly_when_flapping_a_parent_down_or_in_a_window(
    states: dict[str, State],
    depends_on: dict[str, frozenset[str]],
    configured: list[_Window],
    opened: list[_Window],
    monitor: str,
    now: float,
) -> None:
    """A monitor is held exactly when it is flapping, a parent is down (never itself) or
    an active window covers it, and the reason named is the first of those in that order."""
    holds = Holds(Inhibition.build({}, depends_on=depends_on), tuple(configured), tuple(opened))
    parents = sorted(
        p for p in depends_on.get(monitor, ()) if states.get(p) is State.DOWN and p != monitor
    )
    windows = [
        w for w in (*configured, *opened) if monitor in w.monitors and w.start <= now < w.end
    ]
    if states.get(monitor) is State.FLAPPING:
        expected: str | None = "it is flapping"
    elif parents:
        expected = f"{parents[0]}, which it depends on, is down"
    elif windows:
        expected = f"maintenance window {windows[0].name}"
    else:
        expected = None
    assert holds.why(monitor, now, states) == expected
