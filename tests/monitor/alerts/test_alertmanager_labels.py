"""What the ``alertmanager`` channel sends, as pure functions: one label set per alert from
its opening to its resolution (Alertmanager knows an alert by nothing else), and the
times that keep it firing or resolve it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.alert_payloads import (
    degraded,
    down_too,
    escalated,
    opened,
    recovered,
    reminder,
    resolved,
    up,
)
from tether.monitor._records import AlertPayload
from tether.monitor.alerts import alert_labels, alertmanager_alert


@dataclasses.dataclass(frozen=True, slots=True)
class _Labelled(AlertPayload):
    """A payload with the monitor's ``labels:``, until AlertPayload has them itself (issue
    26 gives them to it; the channel reads them with ``getattr`` either way)."""

    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)


HAS_LABELS = "labels" in {f.name for f in dataclasses.fields(AlertPayload)}
Labelled: type[AlertPayload] = AlertPayload if HAS_LABELS else _Labelled


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1)


@given(monitor=names, incident=st.integers(1, 10**9))
def test_a_monitor_s_down_alerts_and_its_recovery_share_one_label_set(
    monitor: str, incident: int
) -> None:
    """Opening, joining, reminder, escalation, leaving and resolution of one monitor in one
    incident carry the same labels, and another monitor or incident another set."""
    events = (opened, down_too, up, reminder, escalated, resolved)
    sets = {
        tuple(alert_labels(make(monitor=monitor, incident=incident)).items()) for make in events
    }
    assert len(sets) == 1
    (labels,) = sets
    assert dict(labels)["monitor"] == monitor
    assert dict(labels)["incident"] == str(incident)
    assert alert_labels(opened(monitor=monitor + "x", incident=incident)) != dict(labels)
    assert alert_labels(opened(monitor=monitor, incident=incident + 1)) != dict(labels)


def test_latency_and_the_local_incident_have_their_own_identity() -> None:
    """Degraded and recovered share one set (no incident); the ``local`` incident is one
    alert whatever monitor its opening and resolution name."""
    assert (
        alert_labels(degraded())
        == alert_labels(recovered())
        == {
            "alertname": "TetherMonitorDegraded",
            "monitor": "api",
            "severity": "warning",
        }
    )
    local_open = opened(monitor="m0", host_count=20, incident=9)
    local_end = resolved(monitor="m7", host_count=20, incident=9)
    assert (
        alert_labels(local_open)
        == alert_labels(local_end)
        == {
            "alertname": "TetherLocalOutage",
            "incident": "9",
            "kind": "connect.refused",
            "severity": "critical",
        }
    )


def test_the_monitor_s_labels_go_along_without_taking_tether_s_names() -> None:
    """A monitor's labels are on its alerts; its ``severity`` wins over the default, while
    ``alertname`` and ``monitor`` stay tether's, so its resolution still matches."""
    own = {"team": "pay", "severity": "page", "alertname": "X"}
    payload = Labelled(**fields_of(opened()), labels=own)  # type: ignore[arg-type]
    assert alert_labels(payload) == {
        "alertname": "TetherMonitorDown",
        "incident": "7",
        "kind": "connect.refused",
        "monitor": "api",
        "severity": "page",
        "team": "pay",
    }
    end = Labelled(**fields_of(resolved()), labels=own)  # type: ignore[arg-type]
    assert alert_labels(end) == alert_labels(payload)


def test_firing_ends_four_resends_ahead_and_a_resolution_when_it_came_back() -> None:
    """A firing alert's ``endsAt`` is ``now`` plus four minutes, its ``startsAt`` when the
    monitor went down; a resolution's ``endsAt`` is the moment it came back."""
    now = opened().at + 3600.5
    firing = alertmanager_alert(reminder(), now)
    assert firing["startsAt"] == "2026-03-02T14:05:09.000Z"
    assert firing["endsAt"] == "2026-03-02T15:09:09.500Z"
    done = alertmanager_alert(resolved(), now)
    assert done["endsAt"] == "2026-03-02T14:08:11.000Z"
    assert done["annotations"]["description"] == "back up after 3 min 2 s"
    assert "hint" not in done["annotations"]  # an empty annotation is left out
    assert "generatorURL" not in done


def test_annotations_are_redacted() -> None:
    """A URL with credentials is sent with them masked, in every annotation."""
    secret = "hunter2-secret"
    payload = opened(url=f"https://ops:{secret}@127.0.0.1/x", detail=f"see https://u:{secret}@h/")
    sent = alertmanager_alert(payload, payload.at)
    assert secret not in repr(sent)


def fields_of(payload: AlertPayload) -> dict[str, object]:
    return {
        f.name: getattr(payload, f.name) for f in dataclasses.fields(payload) if f.name != "labels"
    }
