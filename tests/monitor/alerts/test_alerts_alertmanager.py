"""The ``alertmanager`` channel against Debian's real ``prometheus-alertmanager`` on
loopback: what tether opens shows up there as active with its labels and annotations,
what tether resolves is resolved there, firing alerts are kept alive, and failures are
classified.  Time for ``endsAt`` is passed in as numbers near the real time (Alertmanager
compares ``endsAt`` with its own clock); nothing waits on real time but the bounded poll
for Alertmanager's start."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import trustme

from tests.helpers.alert_payloads import down_too, opened, resolved, up
from tests.helpers.alertmanager_server import ALERTMANAGER, SKIP_REASON, alertmanager, alerts
from tests.helpers.alerts_receiver import Receiver
from tests.helpers.ports import free_port
from tether import RetryPolicy
from tether._kinds import Kind
from tether.monitor._records import AlertPayload, Incident, Member, TimelineEntry
from tether.monitor.alerts import AlertmanagerChannel, Outbox
from tether.monitor.store import SQLiteStore

ONE_TRY = RetryPolicy(attempts=1, deadline=5.0, connect=2.0)
PASSWORD = "am-p4ss-w0rd-secret"
TOKEN = "am-bearer-t0ken-secret"


@pytest.fixture(scope="module")
def am(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Alertmanager for this module's tests (each test uses its own incident
    numbers, so they do not see each other's alerts)."""
    if ALERTMANAGER is None and not os.environ.get("TETHER_REQUIRE_ALERTMANAGER"):
        pytest.skip(SKIP_REASON)
    with alertmanager(tmp_path_factory.mktemp("alertmanager")) as base:
        yield base


def _now_payload(payload: AlertPayload, at: float, incident: int) -> AlertPayload:
    """``payload`` moved to happen at ``at``, near the real present (Alertmanager resolves
    an alert whose ``endsAt`` is past by its own clock), in incident ``incident``."""
    shift = at - payload.at
    since = None if payload.since is None else payload.since + shift
    return dataclasses.replace(payload, at=payload.at + shift, since=since, incident=incident)


def _open(store: SQLiteStore, incident: int, at: float) -> Incident:
    """Incident ``incident`` opened in ``store``, as the runner commits it with its alerts
    (the outbox asks the store which incidents are still open)."""
    made = Incident(
        incident,
        "host:127.0.0.1",
        Kind.CONNECT_REFUSED,
        "refused",
        "start it",
        at,
        monitors=("api",),
        timeline=(TimelineEntry(at, "opened", "refused"),),
        members={"api": Member(at, alerted=True)},
    )
    store.commit_incident(made, [], at, opened=True)
    store.flush()
    return made


def _find(base: str, incident: int) -> list[dict[str, object]]:
    return [a for a in alerts(base) if a["labels"].get("incident") == str(incident)]  # type: ignore[union-attr]


def _parse(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_an_opened_incident_is_active_in_alertmanager_with_its_labels(
    am: str, fresh_store: SQLiteStore
) -> None:
    """An incident's opening alert, through the outbox, is listed by Alertmanager as active,
    labelled by monitor, incident and kind, with the sentence, detail, hint and URL as
    annotations, starting when the monitor went down and firing for four resends."""
    base = time.time()
    channel = AlertmanagerChannel(
        "am", am, clock=lambda: base, policy=ONE_TRY, dashboard_url="https://tether.lab.test/"
    )
    outbox = Outbox(fresh_store, {"am": channel})
    payload = _now_payload(opened(), base, 101)
    assert outbox.queue("am", "101:api:opened", payload, now=base)
    assert outbox.deliver_due(now=base) == (1, 0)
    channel.close()
    (alert,) = _find(am, 101)
    assert alert["labels"] == {
        "alertname": "TetherMonitorDown",
        "incident": "101",
        "kind": "connect.refused",
        "monitor": "api",
        "severity": "critical",
    }
    assert alert["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
    notes = alert["annotations"]
    assert isinstance(notes, dict)
    assert notes["summary"] == payload.text
    assert notes["description"] == payload.detail
    assert notes["hint"] == payload.hint
    assert notes["url"] == payload.url
    assert notes["event"] == "incident.opened"
    assert alert["generatorURL"] == "https://tether.lab.test/monitors/api"
    assert _parse(str(alert["startsAt"])) == pytest.approx(base, abs=1)
    assert _parse(str(alert["endsAt"])) == pytest.approx(base + 240, abs=1)


def test_a_resolution_resolves_what_the_opening_opened(am: str, fresh_store: SQLiteStore) -> None:
    """The resolution carries the opening's labels exactly, so Alertmanager resolves that
    alert (it lists no resolved alert) while another monitor's stays active; the channel
    keeps firing only the one still open."""
    base = time.time()
    channel = AlertmanagerChannel("am", am, clock=lambda: base, policy=ONE_TRY)
    outbox = Outbox(fresh_store, {"am": channel})
    went_down = base - 182  # resolved() comes 182 s after opened()
    outbox.queue("am", "102:api:opened", _now_payload(opened(), went_down, 102), now=base)
    other = _now_payload(opened(monitor="web"), went_down, 103)
    outbox.queue("am", "103:web:opened", other, now=base)
    assert outbox.deliver_due(now=base) == (2, 0)
    assert {a["labels"]["monitor"] for a in _find(am, 102) + _find(am, 103)} == {"api", "web"}  # type: ignore[index]
    back = _now_payload(resolved(), base, 102)  # endsAt now: resolved at once
    outbox.queue("am", "102:api:resolved", back, now=base)
    assert outbox.deliver_due(now=base) == (1, 0)
    channel.close()
    assert _find(am, 102) == []
    assert [a["labels"]["monitor"] for a in _find(am, 103)] == ["web"]  # type: ignore[index]
    assert [dict(labels)["incident"] for labels in channel.firing] == ["103"]


def test_a_firing_alert_is_sent_again_with_its_end_pushed_ahead(
    am: str, fresh_store: SQLiteStore
) -> None:
    """Every minute the outbox sends the channel's firing alerts again, so Alertmanager's
    ``endsAt`` moves four minutes past the latest send and the alert stays active as long
    as the incident is open; with nothing firing, nothing is sent."""
    base = time.time()
    now = [base]
    channel = AlertmanagerChannel("am", am, clock=lambda: now[0], policy=ONE_TRY)
    outbox = Outbox(fresh_store, {"am": channel})
    _open(fresh_store, 104, base)
    outbox.queue("am", "104:api:opened", _now_payload(opened(), base, 104), now=base)
    outbox.deliver_due(now=base)
    assert not channel.refresh_due(base + 59)
    now[0] = base + 60
    assert channel.refresh_due(base + 60)
    outbox.deliver_due(now=base + 60)
    (alert,) = _find(am, 104)
    assert _parse(str(alert["endsAt"])) == pytest.approx(base + 60 + 240, abs=1)
    assert alert["status"]["state"] == "active"  # type: ignore[index]
    assert not channel.refresh_due(base + 61)
    channel.close()


def test_a_wrong_path_is_a_failure_that_says_what_alertmanager_answered(
    am: str, fresh_store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A URL Alertmanager has no API under answers 404: a failed delivery of kind
    ``http.client_error`` in Alertmanager's words, retried later, and the password given for
    basic auth is in no log line and no stored record."""
    channel = AlertmanagerChannel(
        "am", f"{am}/not-here", username="tether", password=PASSWORD, policy=ONE_TRY
    )
    outbox = Outbox(fresh_store, {"am": channel})
    outbox.queue("am", "105:api:opened", opened(incident=105), now=0.0)
    with caplog.at_level(logging.INFO, logger="tether.monitor"):
        assert outbox.deliver_due(now=0.0) == (0, 1)
    channel.close()
    (status,) = outbox.status()
    assert status.failing
    assert status.last_error is not None
    assert status.last_error.startswith(f"{Kind.HTTP_CLIENT_ERROR.value}: ")
    assert status.last_error.endswith("Alertmanager answered 404: 404 page not found")
    _no_secret(caplog, fresh_store.path, PASSWORD)


def test_a_refusing_port_is_a_refused_connection(
    fresh_store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listening where the channel points: ``connect.refused``, the alert kept for
    the next try, and the bearer token in no log line or stored record."""
    url = f"http://127.0.0.1:{free_port()}"
    channel = AlertmanagerChannel("am", url, bearer_token=TOKEN, policy=ONE_TRY)
    outbox = Outbox(fresh_store, {"am": channel})
    outbox.queue("am", "106:api:opened", opened(incident=106), now=0.0)
    with caplog.at_level(logging.INFO, logger="tether.monitor"):
        assert outbox.deliver_due(now=0.0) == (0, 1)
    channel.close()
    (status,) = outbox.status()
    assert status.last_error is not None
    assert status.last_error.startswith(f"{Kind.CONNECT_REFUSED.value}: ")
    assert status.queued == 1
    assert channel.firing == ()
    _no_secret(caplog, fresh_store.path, TOKEN)


def test_credentials_are_sent_as_basic_auth_or_a_bearer_token(receiver: Receiver) -> None:
    """``username``/``password`` go as HTTP basic auth and ``bearer_token`` as
    ``Authorization: Bearer``; neither is in the channel's repr.  (A plain receiver on
    loopback stands in: Debian's Alertmanager takes basic auth only with a bcrypt hash,
    which nothing here can make.)"""
    receiver.start()
    prefix = f"http://127.0.0.1:{receiver.port}/am"
    basic = AlertmanagerChannel("a", prefix, username="tether", password=PASSWORD)
    bearer = AlertmanagerChannel("b", prefix + "/", bearer_token=TOKEN)
    for channel in (basic, bearer):
        channel.deliver(opened(), "k")
        channel.close()
        assert PASSWORD not in repr(channel)
        assert TOKEN not in repr(channel)
    (h1, body), (h2, _) = receiver.got
    assert h1["Authorization"].startswith("Basic ")
    assert "Authorization" in h2
    assert h2["Authorization"] == f"Bearer {TOKEN}"
    sent = json.loads(body)
    assert isinstance(sent, list)
    assert sent[0]["labels"]["alertname"] == "TetherMonitorDown"


def _no_secret(caplog: pytest.LogCaptureFixture, db: Path | str, secret: str) -> None:
    assert caplog.records
    for record in caplog.records:
        assert secret not in record.getMessage()
    with sqlite3.connect(db) as conn:
        rows: Mapping[int, object] = dict(enumerate(conn.execute("SELECT * FROM outbox")))
    assert rows
    assert secret not in repr(rows)


def test_what_alertmanager_refuses_is_a_failure_in_its_words(
    am: str, fresh_store: SQLiteStore
) -> None:
    """An alert Alertmanager will not take (here a resolution said to start after it ended,
    which only a broken record could say) is answered 400: the failure is
    ``http.client_error`` with Alertmanager's own reason, and the channel fires nothing."""
    back = resolved(incident=107)
    bad = dataclasses.replace(back, since=back.at + 10)
    channel = AlertmanagerChannel("am", am, policy=ONE_TRY)
    outbox = Outbox(fresh_store, {"am": channel})
    outbox.queue("am", "107:api:resolved", bad, now=0.0)
    assert outbox.deliver_due(now=0.0) == (0, 1)
    channel.close()
    (status,) = outbox.status()
    assert status.last_error == (
        f"{Kind.HTTP_CLIENT_ERROR.value}: Alertmanager answered 400: start time must be "
        "before end time"
    )
    assert _find(am, 107) == []
    assert channel.firing == ()


def test_the_running_outbox_keeps_alerts_firing_between_deliveries(
    am: str, fresh_store: SQLiteStore
) -> None:
    """The monitor's outbox loop (``poll``) sends the firing alerts again on the channel's
    own worker once a minute has passed, and not before."""
    base = time.time()
    now = [base]
    channel = AlertmanagerChannel("am", am, clock=lambda: now[0], policy=ONE_TRY)
    outbox = Outbox(fresh_store, {"am": channel})
    _open(fresh_store, 108, base)
    outbox.queue("am", "108:api:opened", _now_payload(opened(), base, 108), now=base)

    async def rounds() -> list[float]:
        ends = []
        for at in (base, base + 30, base + 60):
            now[0] = at
            await outbox.poll(lambda: now[0])
            await outbox.drain()
            (alert,) = _find(am, 108)
            ends.append(_parse(str(alert["endsAt"])) - base)
        return ends

    assert [round(e) for e in asyncio.run(rounds())] == [240, 240, 300]
    outbox.close()
    channel.close()


def test_a_reloaded_channel_keeps_firing_what_the_old_one_did(am: str) -> None:
    """A reload builds the channel anew: it takes over the old one's firing alerts, and a
    resolution still going out through the old one ends them for the new one too."""
    base = time.time()
    old = AlertmanagerChannel("am", am, clock=lambda: base, policy=ONE_TRY)
    old.deliver(_now_payload(opened(), base - 182, 109), "k1")
    old.deliver(_now_payload(opened(monitor="web"), base - 182, 110), "k2")
    new = AlertmanagerChannel("am", am, clock=lambda: base, policy=ONE_TRY)
    new.carry_over(old)
    assert sorted(dict(labels)["incident"] for labels in new.firing) == ["109", "110"]
    old.deliver(_now_payload(resolved(), base, 109), "k3")
    assert [dict(labels)["incident"] for labels in new.firing] == ["110"]
    assert new.refresh(base + 60) == 1
    assert _find(am, 109) == []
    (alert,) = _find(am, 110)
    assert _parse(str(alert["endsAt"])) == pytest.approx(base + 300, abs=1)
    old.close()
    new.close()


def test_an_incident_that_ended_without_a_word_is_resolved_in_alertmanager(
    am: str, fresh_store: SQLiteStore
) -> None:
    """An incident can close with no alert to its channels (its last monitor removed from
    the file): at the next resend the outbox finds it closed in the store, and the channel
    sends its alert resolved and stops, while an open incident's alert goes on firing."""
    base = time.time() - 120  # the resend at base + 60 is in Alertmanager's past
    now = [base]
    channel = AlertmanagerChannel("am", am, clock=lambda: now[0], policy=ONE_TRY)
    outbox = Outbox(fresh_store, {"am": channel})
    gone = _open(fresh_store, 111, base - 120)
    _open(fresh_store, 112, base - 120)
    outbox.queue("am", "111:api:opened", _now_payload(opened(), base - 120, 111), now=base)
    outbox.queue("am", "112:api:opened", _now_payload(opened(), base - 120, 112), now=base)
    assert outbox.deliver_due(now=base) == (2, 0)
    closed = dataclasses.replace(gone, resolved=base + 30, members={})
    entry = TimelineEntry(base + 30, "resolved", "api was removed from the configuration")
    fresh_store.commit_incident(closed, [], base + 30, entry=entry, touched=("api",))
    fresh_store.flush()
    now[0] = base + 60
    outbox.deliver_due(now=base + 60)
    channel.close()
    assert _find(am, 111) == []
    (alert,) = _find(am, 112)
    assert _parse(str(alert["endsAt"])) == pytest.approx(base + 300, abs=1)
    assert [dict(labels)["incident"] for labels in channel.firing] == ["112"]


def test_a_restarted_tether_keeps_firing_what_it_told_before(
    am: str, fresh_store: SQLiteStore
) -> None:
    """After a restart the channel knows nothing in memory: its first round reads from the
    store what it told for the open incidents and sends it again, so Alertmanager does
    not resolve, four minutes on, an incident that is still open."""
    base = time.time() - 100
    before = AlertmanagerChannel("am", am, clock=lambda: base, policy=ONE_TRY)
    outbox = Outbox(fresh_store, {"am": before})
    _open(fresh_store, 113, base)
    outbox.queue("am", "113:api:opened", _now_payload(opened(), base, 113), now=base)
    assert outbox.deliver_due(now=base) == (1, 0)
    outbox.close()
    before.close()
    (alert,) = _find(am, 113)
    assert _parse(str(alert["endsAt"])) == pytest.approx(base + 240, abs=1)

    later = base + 90  # the restart
    after = AlertmanagerChannel("am", am, clock=lambda: later, policy=ONE_TRY)
    assert after.firing == ()
    restarted = Outbox(fresh_store, {"am": after})
    assert restarted.deliver_due(now=later) == (0, 0)
    assert [dict(labels)["incident"] for labels in after.firing] == ["113"]
    (alert,) = _find(am, 113)
    assert _parse(str(alert["endsAt"])) == pytest.approx(later + 240, abs=1)
    restarted.close()
    after.close()


def test_every_instance_keeps_firing_and_none_revives_a_resolved_alert(
    am: str, fresh_store: SQLiteStore
) -> None:
    """Two instances on one store: the one that did not deliver the down alerts keeps
    them firing all the same; once the other delivers web's recovery (the incident goes
    on, api still down), the first one's next round sends web's alert resolved, not
    firing again, and keeps api's firing."""
    base = time.time() - 100
    one = AlertmanagerChannel("am", am, clock=lambda: base, policy=ONE_TRY)
    two = AlertmanagerChannel("am", am, clock=lambda: base, policy=ONE_TRY)
    first = Outbox(fresh_store, {"am": one}, owner="one")
    second = Outbox(fresh_store, {"am": two}, owner="two")
    _open(fresh_store, 114, base)
    first.queue("am", "114:api:opened", _now_payload(opened(), base, 114), now=base)
    first.queue("am", "114:web:down", _now_payload(down_too(), base, 114), now=base)
    assert first.deliver_due(now=base) == (2, 0)
    assert second.deliver_due(now=base + 5) == (0, 0)  # its first round: rebuilt, re-sent
    assert sorted(dict(labels)["monitor"] for labels in two.firing) == ["api", "web"]

    first.queue("am", "114:web:up", _now_payload(up(), base + 30, 114), now=base + 30)
    assert first.deliver_due(now=base + 30) == (1, 0)
    assert [a["labels"]["monitor"] for a in _find(am, 114)] == ["api"]  # type: ignore[index]
    assert second.deliver_due(now=base + 65) == (0, 0)
    assert [dict(labels)["monitor"] for labels in two.firing] == ["api"]
    assert [a["labels"]["monitor"] for a in _find(am, 114)] == ["api"]  # type: ignore[index]
    for outbox, channel in ((first, one), (second, two)):
        outbox.close()
        channel.close()


def test_tls_is_verified_against_ca_file_and_never_skipped(
    tmp_path: Path, fresh_store: SQLiteStore
) -> None:
    """An Alertmanager over HTTPS with a certificate of a private authority: with that
    authority in ``ca_file`` the alert lands; without it the delivery fails as
    ``tls.untrusted`` and is kept for the next try, never sent unverified."""
    if ALERTMANAGER is None and not os.environ.get("TETHER_REQUIRE_ALERTMANAGER"):
        pytest.skip(SKIP_REASON)
    authority = trustme.CA()
    leaf = authority.issue_cert("127.0.0.1")
    chain, key, ca = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    leaf.private_key_pem.write_to_path(str(key))
    with chain.open("wb") as out:
        for blob in leaf.cert_chain_pems:
            out.write(blob.bytes())
    authority.cert_pem.write_to_path(str(ca))
    with alertmanager(tmp_path, tls=(chain, key, ca)) as base:
        now = time.time()
        trusting = AlertmanagerChannel("t", base, ca_file=str(ca), policy=ONE_TRY)
        strict = AlertmanagerChannel("s", base, policy=ONE_TRY)
        outbox = Outbox(fresh_store, {"t": trusting, "s": strict})
        for name in ("t", "s"):
            outbox.queue(name, f"113:{name}", _now_payload(opened(), now, 113), now=now)
        assert outbox.deliver_due(now=now) == (1, 1)
        trusting.close()
        strict.close()
        failing = {status.name: status for status in outbox.status()}
        assert not failing["t"].failing
        assert failing["s"].last_error is not None
        assert failing["s"].last_error.startswith(f"{Kind.TLS_UNTRUSTED.value}: ")
        assert failing["s"].queued == 1
        assert [a["labels"]["incident"] for a in alerts(base, str(ca))] == ["113"]  # type: ignore[index]
