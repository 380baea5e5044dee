"""Alerts to a Prometheus Alertmanager: ``POST {url}/api/v2/alerts``, a JSON list of alerts.

Alertmanager knows an alert by its label set alone, so an alert and its resolution must
carry exactly the same labels, and nothing that changes while it fires may be a label.
:func:`alert_labels` gives each of tether's alerts one of four identities:

- ``TetherMonitorDown`` (``monitor``, ``incident``, ``kind``): a monitor down in an
  incident, from ``incident.opened`` or ``monitor.down`` through its reminders and
  escalation to ``monitor.up`` or ``incident.resolved``.  An incident's kind never
  changes while a monitor is down in it (another cause opens another incident; an
  incident whose scope changes is partial between two such times, each its own alert,
  issue 73 item 9), so ``kind`` is a label.
- ``TetherLocalOutage`` (``incident``, ``kind``): the ``local`` incident (this machine's
  side), one alert for all of it; its opening and its resolution name different monitors,
  so ``monitor`` is no label of it.  tether's ``local`` alerts are the ones that count
  hosts (``host_count``).
- ``TetherMonitorPartial`` (``monitor``, ``incident``): some of a monitor's locations
  fail, fewer than its quorum (``incident.partial`` to ``incident.partial_resolved``).
- ``TetherMonitorDegraded`` (``monitor``): latency off its baseline
  (``monitor.degraded`` to ``monitor.recovered``).

Beside them, ``severity`` (``critical`` for the first two, ``warning`` for the others,
unless the monitor's labels set it) and the monitor's own ``labels:``, read with
``getattr(payload, "labels", {})`` so this works on payloads with and without them.
What changes as the alert goes on (the sentence, the detail, the event) is in the
annotations.

A firing alert is sent with ``endsAt`` :data:`FIRING_FOR` ahead, and sent again every
:data:`RESEND_EVERY` while it fires (:meth:`AlertmanagerChannel.refresh`): Alertmanager
keeps it firing as long as tether says so, resolves it when tether says so (``endsAt``
the moment it came back), and resolves it on its own four resends after tether stopped
saying anything, as Prometheus does (its ``--rules.alert.resend-delay`` and an
``endsAt`` of four times it).  A restarted Alertmanager, which keeps no alerts, has
tether's firing ones again within :data:`RESEND_EVERY`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import requests

from tether._classify import classify_status
from tether._failure import Failure
from tether._redact import redact_text, redact_url
from tether.monitor._records import RESOLVING, AlertPayload

if TYPE_CHECKING:
    from tether._retry._policy import RetryPolicy

__all__ = [
    "FIRING_FOR",
    "RESEND_EVERY",
    "AlertmanagerChannel",
    "AlertmanagerError",
    "alert_labels",
    "alertmanager_alert",
]

log = logging.getLogger("tether.monitor")

RESEND_EVERY: Final = 60.0
"""Seconds between two sends of a firing alert (Prometheus's default resend delay)."""
FIRING_FOR: Final = 4 * RESEND_EVERY
"""How far ahead a firing alert's ``endsAt`` is set: three resends may fail in a row
before Alertmanager resolves an alert tether still holds open."""

_PARTIAL: Final = ("incident.partial", "incident.partial_resolved")
_LATENCY: Final = ("monitor.degraded", "monitor.recovered")
_OBJECTIVE: Final = ("objective.burning", "objective.resolved")
_AGENT: Final = ("agent.skipped", "agent.running")


def _iso(ts: float) -> str:
    # RFC 3339 in UTC with milliseconds, as Alertmanager writes its own times.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def resolves(payload: AlertPayload) -> bool:
    """Whether ``payload`` ends the Alertmanager alert its labels name."""
    return payload.event in RESOLVING or payload.event in (
        "monitor.recovered",
        _OBJECTIVE[1],
        _AGENT[1],
    )


def _local(payload: AlertPayload) -> bool:
    return payload.host_count is not None


def alert_labels(payload: AlertPayload) -> dict[str, str]:
    """The label set Alertmanager knows ``payload``'s alert by: the same for every alert
    of one monitor's trouble, from the first down to the resolution."""
    if _local(payload):
        name, severity, own = "TetherLocalOutage", "critical", {}
        ids: dict[str, object] = {"incident": payload.incident}
    else:
        own = dict(getattr(payload, "labels", None) or {})
        ids = {"monitor": payload.monitor, "incident": payload.incident}
        if payload.event in _LATENCY:
            name, severity = "TetherMonitorDegraded", "warning"
            ids["incident"] = None
        elif payload.event in _OBJECTIVE:  # its labels say the objective, rule and severity
            name, severity, ids = "TetherObjectiveBurning", "warning", {}
        elif payload.event in _AGENT:  # its labels say the location the agent runs at
            name, severity = "TetherAgentNotRunning", "warning"
            ids["incident"] = None
        elif payload.event in _PARTIAL:
            name, severity = "TetherMonitorPartial", "warning"
        else:
            name, severity = "TetherMonitorDown", "critical"
    if name in ("TetherMonitorDown", "TetherLocalOutage") and payload.kind is not None:
        ids["kind"] = payload.kind.value
    labels = {"severity": severity, **own, "alertname": name}
    labels.update({k: str(v) for k, v in ids.items() if v is not None})
    # An empty value is no label in Prometheus's model.
    return {k: v for k, v in sorted(labels.items()) if v}


def alertmanager_alert(
    payload: AlertPayload,
    now: float,
    *,
    firing_for: float = FIRING_FOR,
    dashboard_url: str | None = None,
) -> dict[str, Any]:
    """The alert Alertmanager's ``POST /api/v2/alerts`` takes for ``payload``, sent at
    ``now``: firing until ``now + firing_for``, or resolved at the payload's time."""
    annotations = {
        "summary": payload.text,
        "description": payload.detail,
        "hint": payload.hint,
        "url": redact_url(payload.url) if payload.url else "",
        "kind": payload.kind.value if payload.kind is not None else "",
        "event": payload.event,
        "monitors": ", ".join(payload.monitors),
    }
    alert: dict[str, Any] = {
        "labels": alert_labels(payload),
        "annotations": {k: redact_text(v) for k, v in annotations.items() if v},
        "startsAt": _iso(payload.since if payload.since is not None else payload.at),
        "endsAt": _iso(payload.at if resolves(payload) else now + firing_for),
    }
    if dashboard_url:
        base = dashboard_url.rstrip("/")
        page = "/incidents" if _local(payload) else "/monitors/" + quote(payload.monitor, safe="")
        alert["generatorURL"] = base + page
    return alert


class AlertmanagerError(requests.HTTPError):
    """Alertmanager refused the alerts; the message, and the ``failure`` (kind from the
    status, as for any HTTP answer) say what it answered."""

    def __init__(self, message: str, *, failure: Failure, response: requests.Response) -> None:
        super().__init__(message, response=response)
        self.failure = failure


def _answer(response: requests.Response) -> str:
    """What Alertmanager said: its JSON error's ``message``, else the body's start."""
    text = response.text.strip()
    try:
        said = json.loads(text)
    except ValueError:
        said = text
    if isinstance(said, dict):
        said = said.get("message") or said.get("error") or text
    return " ".join(str(said).split())[:300] or response.reason or "no reason given"


class AlertmanagerChannel:
    """Post each alert to Alertmanager's ``/api/v2/alerts`` and keep firing ones alive.

    ``username``/``password`` (basic auth) or ``bearer_token`` authenticate; the server's
    certificate is verified against the system's authorities or ``ca_file``.  ``clock``
    gives ``endsAt`` its base (Unix seconds).
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        bearer_token: str | None = None,
        ca_file: str | None = None,
        dashboard_url: str | None = None,
        timeout: float = 10.0,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        resend_every: float = RESEND_EVERY,
    ) -> None:
        import tether

        if (username is None) != (password is None):
            raise ValueError(f"alertmanager channel {name!r}: username and password go together")
        self.name = name
        self.url = url
        self.endpoint = url.rstrip("/") + "/api/v2/alerts"
        self.dashboard_url = dashboard_url
        self.resend_every = resend_every
        self._clock = clock
        if policy is None:
            policy = tether.RetryPolicy(attempts=2, deadline=timeout, connect=min(5.0, timeout))
        self._session = tether.Session(policy=policy)
        # Given with each request: requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE in
        # the environment override a session's own ``verify`` (its issue #3829).
        self._verify: str | bool = ca_file or True
        if username is not None and password is not None:
            self._session.auth = (username, password)
        elif bearer_token:
            self._session.headers["Authorization"] = f"Bearer {bearer_token}"
        self._lock = threading.Lock()
        self._firing: dict[tuple[tuple[str, str], ...], AlertPayload] = {}
        self._next_refresh: float | None = None

    def __repr__(self) -> str:
        return f"<AlertmanagerChannel {self.name} {redact_url(self.url)}>"

    @property
    def firing(self) -> tuple[Mapping[str, str], ...]:
        """The label sets of the alerts this channel keeps firing."""
        with self._lock:
            return tuple(dict(labels) for labels in self._firing)

    def deliver(self, payload: AlertPayload, key: str) -> None:
        """Send one alert (``key`` is not sent: Alertmanager merges copies by labels);
        raises a requests exception (:class:`AlertmanagerError` for a refusal) if it did
        not land."""
        labels = tuple(alert_labels(payload).items())
        with self._lock:
            now = self._clock()
            self._post([payload], now)
            if resolves(payload):
                self._firing.pop(labels, None)
            else:
                self._firing[labels] = payload
            if self._next_refresh is None:  # a restart's first round is not due yet
                self._next_refresh = now + self.resend_every

    def carry_over(self, old: AlertmanagerChannel) -> None:
        """Keep firing what ``old`` (the channel this one replaces on a reload) keeps
        firing: the two share that state from now on, so a resolution ``old`` is still
        delivering ends the alert for both."""
        with old._lock:
            self._lock, self._firing = old._lock, old._firing
            self._next_refresh = old._next_refresh

    def refresh_due(self, now: float) -> bool:
        """Whether firing alerts are due to be sent again: every :attr:`resend_every`,
        from the first round on (which rebuilds, after a restart, what was firing)."""
        due = self._next_refresh
        return due is None or now >= due

    def refresh(
        self,
        now: float,
        still_open: Collection[int] | None = None,
        told: Sequence[tuple[AlertPayload, bool]] | None = None,
    ) -> int:
        """Send every firing alert again, ``endsAt`` pushed ahead; how many.

        ``told`` is what the store says this channel was given (oldest first, each with
        whether it was delivered: :meth:`Store.channel_alerts`): when it is known, the
        alerts of incidents are rebuilt from it, so that a restarted tether, or an
        instance of a cluster that did not deliver them, keeps firing what was told, and
        a resolution another instance delivered is sent again, resolved, for as long as
        a copy of the firing alert could still be live in Alertmanager.  A latency alert
        belongs to no incident: it is kept in memory only.

        One of an incident not in ``still_open`` (the store's open incidents; ``None``:
        not known) is sent resolved instead and forgotten: an incident can end with no
        alert to its channels (its last monitor removed from the file), and Alertmanager
        would otherwise be told it fires for as long as tether runs.  A failure is
        logged, not raised: the next round tries again, and the alerts' ``endsAt`` leaves
        room for three failed rounds."""
        with self._lock:
            self._next_refresh = now + self.resend_every
            recent: dict[tuple[tuple[str, str], ...], AlertPayload] = {}
            if told is not None:
                recent = self._rebuild(told, now)
            ended = [
                labels
                for labels, p in self._firing.items()
                if still_open is not None and p.incident is not None
                if p.incident not in still_open
            ]
            payloads = list(self._firing.values()) + list(recent.values())
            if not payloads:
                return 0
            try:
                self._post(
                    payloads,
                    now,
                    ended=[self._firing[labels] for labels in ended] + list(recent.values()),
                )
            except Exception as exc:
                log.warning(
                    "alertmanager %s: could not send %d firing alerts again: %s",
                    self.name,
                    len(payloads),
                    redact_text(str(exc)),
                    extra={"event": "alert.refresh_failed", "channel": self.name},
                )
                return 0
            for labels in ended:
                del self._firing[labels]
            return len(payloads)

    def _rebuild(
        self, told: Sequence[tuple[AlertPayload, bool]], now: float
    ) -> dict[tuple[tuple[str, str], ...], AlertPayload]:
        """Set the firing alerts of incidents to what ``told`` says (the last word on each
        label set: a delivered alert fires, a resolution, delivered or still queued,
        ends it); the resolutions recent enough that a firing copy may still be live
        (sent again, resolved)."""
        firing = {labels: p for labels, p in self._firing.items() if p.incident is None}
        ended: dict[tuple[tuple[str, str], ...], AlertPayload] = {}
        for payload, delivered in told:
            if payload.incident is None:
                continue
            labels = tuple(alert_labels(payload).items())
            if resolves(payload):
                firing.pop(labels, None)
                ended[labels] = payload
            elif delivered:
                firing[labels] = payload
                ended.pop(labels, None)
        self._firing.clear()  # in place: a reloaded channel shares it (carry_over)
        self._firing.update(firing)
        live_for = 4 * self.resend_every
        return {k: p for k, p in ended.items() if now - p.at < live_for}

    def _post(
        self, payloads: list[AlertPayload], now: float, ended: Collection[AlertPayload] = ()
    ) -> None:
        """POST ``payloads`` as of ``now``; those in ``ended`` resolved at ``now``."""
        firing_for = 4 * self.resend_every
        alerts = []
        for p in payloads:
            alert = alertmanager_alert(
                p, now, firing_for=firing_for, dashboard_url=self.dashboard_url
            )
            if any(p is e for e in ended):
                alert["endsAt"] = _iso(now)
            alerts.append(alert)
        response = self._session.post(
            self.endpoint,
            verify=self._verify,
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "tether-monitor"},
        )
        status = response.status_code
        failure = classify_status(status, response.headers, url=redact_url(self.endpoint))
        if failure is not None:
            # Alertmanager says what it refused ("at least one label pair required"):
            # keep its words, which a status alone would lose.
            said = f"Alertmanager answered {status}: {redact_text(_answer(response))}"
            raise AlertmanagerError(
                f"{redact_url(self.url)}: {said}",
                failure=dataclasses.replace(failure, detail=said),
                response=response,
            )

    def close(self) -> None:
        self._session.close()
