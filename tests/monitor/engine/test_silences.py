"""The silence as a value (engine/_silences.py), pure: its states over time, which silence
keeps an alert, and its matchers written and read back as the store keeps them
(hypothesis over random values, quotes, backslashes and newlines included)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tether.monitor.config.labels._labels import Matcher, parse_matchers
from tether.monitor.engine._silences import Silence, silencing

T0 = 1_700_000_000.0


def made(number: int, *matchers: Matcher, starts: float = T0, ends: float = T0 + 60) -> Silence:
    return Silence(number, matchers, starts, ends, "deploy", "ana", T0 - 1)


@given(
    starts=st.floats(0, 1000),
    length=st.floats(0.001, 1000),
    cut=st.none() | st.floats(-100, 2000),
    at=st.floats(-100, 3000),
)
def test_state_and_active_agree_at_every_instant(
    starts: float, length: float, cut: float | None, at: float
) -> None:
    """Pending before the start, active from it until the end or the expiry (whichever
    first), expired from then on; active exactly when the state says so."""
    s = Silence(1, (), starts, starts + length, "c", "a", 0.0, None if cut is None else cut)
    until = starts + length if cut is None else min(starts + length, cut)
    wanted = "expired" if at >= until else "pending" if at < starts else "active"
    assert s.state(at) == wanted
    assert s.active(at) == (wanted == "active")


@given(
    name=st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True),
    op=st.sampled_from(["=", "!="]),
    value=st.text(max_size=30),
)
def test_a_matcher_reads_back_as_written(name: str, op: str, value: str) -> None:
    """What the store keeps (``str(matcher)``) parses back to the same matcher."""
    matcher = Matcher.of(name, op, value)  # type: ignore[arg-type]
    assert parse_matchers(str(matcher)) == (matcher,)


def test_the_oldest_active_silence_that_selects_the_alert_keeps_it() -> None:
    """Of the silences active that select the labels, the first made is named; a pending
    one, an expired one and one selecting other labels keep nothing."""
    db = Matcher.of("team", "=", "db")
    web = Matcher.of("team", "=", "web")
    silences = [
        made(4, db),
        made(2, db, Matcher.of("tier", "=~", "1|2")),
        made(1, db, starts=T0 + 30),
        made(3, web),
    ]
    assert silencing(silences, {"team": "db", "tier": "2"}, T0 + 1) == silences[1]
    assert silencing(silences, {"team": "db", "tier": "3"}, T0 + 1) == silences[0]
    assert silencing(silences, {"team": "db"}, T0 + 60) is None
    assert silencing(silences, {"team": "ops"}, T0 + 1) is None
    assert silences[1].why() == "silenced by #2 (deploy, by ana)"
    assert repr(silences[1]) == '<Silence #2 {team="db", tier=~"1|2"}>'
