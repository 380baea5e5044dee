"""Silences over random schedules (hypothesis): random silences (matchers on a few labels,
random starts, ends and early expiries) and random alerts due at random instants, each
delivered by the real outbox over a real SQLite store with the silence gate: an alert
reaches its channel exactly when no silence active at its delivery instant selects it,
and every alert is either sent or recorded as suppressed, naming the first silence that
kept it: none lost, none sent twice."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.alert_payloads import opened
from tether.monitor._records import AlertPayload, AuditEntry
from tether.monitor.alerts import Outbox, SilenceGate, silence_labels
from tether.monitor.config.labels._labels import Matcher, matches
from tether.monitor.store import SQLiteStore

T0 = 1_700_000_000.0

matcher = st.builds(
    Matcher.of,
    st.sampled_from(["team", "tier", "monitor"]),
    st.sampled_from(["=", "!=", "=~", "!~"]),
    st.sampled_from(["a", "b", "1", "a|b", "api", ""]),
)


@dataclass(frozen=True)
class Made:
    matchers: tuple[Matcher, ...]
    starts: float
    ends: float
    expire_at: float | None


made = st.builds(
    lambda ms, start, length, cut: Made(
        tuple(ms), T0 + start, T0 + start + length, None if cut is None else T0 + start + cut
    ),
    st.lists(matcher, min_size=1, max_size=3),
    st.integers(0, 100),
    st.integers(1, 100),
    st.none() | st.integers(-20, 120),
)
alert = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["1", "2"]),
    st.sampled_from(["api", "web"]),
    st.floats(0, 250, allow_nan=False).map(lambda s: T0 + s),
)


class Channel:
    name = "ops"

    def __init__(self) -> None:
        self.got: list[str] = []

    def deliver(self, payload: AlertPayload, key: str) -> None:
        self.got.append(payload.text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(silences=st.lists(made, max_size=4), alerts=st.lists(alert, min_size=1, max_size=8))
def test_delivered_exactly_when_no_active_silence_selects_it(
    silences: list[Made], alerts: list[tuple[str, str, str, float]]
) -> None:
    """Each alert is sent iff no silence active at its delivery instant selects it; the
    others are recorded with the first such silence named; nothing is lost."""
    channel = Channel()
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "p.db") as store:
        ids = []
        for s in silences:
            audit = AuditEntry(T0 - 1, "ana", "token", "silence.add", "", {})
            ids.append(
                store.add_silence([str(m) for m in s.matchers], s.starts, s.ends, "c", audit)
            )
        gate = SilenceGate(store.silences_in_force)
        outbox = Outbox(store, {"ops": channel}, gates=[gate])
        expiries = sorted(
            (s.expire_at, i) for i, s in enumerate(silences) if s.expire_at is not None
        )
        wanted_sent, wanted_kept = [], []
        for n, (team, tier, monitor, at) in enumerate(sorted(alerts, key=lambda a: a[3])):
            while expiries and expiries[0][0] <= at:
                when, i = expiries.pop(0)
                audit = AuditEntry(when, "bo", "token", "silence.expire", "", {})
                store.expire_silence(ids[i].id, audit)
                gate.forget()  # as the write API does on the instance it runs on
            payload = opened(text=f"#{n}", monitor=monitor, labels={"team": team, "tier": tier})
            labels = silence_labels(payload)
            active = [
                ids[i]
                for i, s in enumerate(silences)
                if s.starts <= at < min(s.ends, s.ends if s.expire_at is None else s.expire_at)
                and matches(s.matchers, labels)
            ]
            if active:
                wanted_kept.append((f"#{n}", active[0].why()))
            else:
                wanted_sent.append(f"#{n}")
            store.enqueue_alert("ops", f"d{n}", payload, at)
            assert outbox.deliver_due(at) == (1, 0)
        kept = store.suppressed_alerts()
        outbox.close()
        assert channel.got == wanted_sent
        assert [k.why for k in reversed(kept)] == [why for _, why in wanted_kept]
        assert len(channel.got) + len(kept) == len(alerts)
        assert store.backlog() == {}
