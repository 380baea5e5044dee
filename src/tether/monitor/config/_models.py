"""The models: the shape of ``tether.yaml``, frozen, with no unknown key, and a repr that
shows no secret.  What one field accepts is in :mod:`._fields`; what needs the whole file
in :mod:`._checks`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from tether._hostport import split_hostport
from tether._rcodes import HeaderRcode
from tether._redact import redact, redact_apprise, redact_headers
from tether.monitor._cron import parse_cron
from tether.monitor.config import _defaults
from tether.monitor.config._errors import fail
from tether.monitor.config._fields import (
    Address,
    AllowedTarget,
    AppriseUrl,
    ConditionText,
    Count,
    Dsn,
    Headers,
    Interval,
    Listen,
    Locations,
    Margin,
    Method,
    Name,
    Names,
    PositiveDuration,
    Quorum,
    Reminder,
    Resolver,
    Target,
    TimeZone,
    WebUrl,
    Whole,
    Workers,
    one_or_many,
)


class _Model(BaseModel):
    """Frozen, no unknown keys, and a repr that shows no secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, _redacted(name, value)


def _redacted(name: str | None, value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple):
        return tuple(_redacted(name, item) for item in value)
    if isinstance(value, dict) and name == "headers":
        return redact_headers(value)
    return value


class Storage(_Model):
    """Where results, incidents and the alert outbox are kept."""

    path: Annotated[str, Field(min_length=1)] = "tether.db"
    """The SQLite database file."""
    postgres: Dsn | None = None
    """A PostgreSQL URL to use instead of SQLite."""
    raw_retention: PositiveDuration = 7 * 86400.0
    """Seconds raw results are kept."""
    rollup_retention: PositiveDuration = 365 * 86400.0
    """Seconds the per-hour and per-day roll-ups are kept (per-minute ones go with raw results)."""
    spill: Annotated[str, Field(min_length=1)] | None = None
    """The file results wait in while the database cannot be written, past what memory
    holds: by default the SQLite file's name plus ``.spill``, or, with PostgreSQL,
    ``$XDG_STATE_HOME/tether/postgres-HASH.spill`` (``~/.local/state`` by default)."""


class ClusterSettings(_Model):
    """How instances sharing one PostgreSQL database share the work (docs/deployment.md)."""

    lease: Interval = 15.0
    """How long an instance's leases on its shards (and the leader's) last unless renewed;
    renewed every third of it.  A killed instance's monitors are probed again by the
    others within about 1⅓ of it."""


class Server(_Model):
    """The HTTP server for ``/metrics``, ``/probe`` and the API."""

    listen: Listen = "127.0.0.1:8800"
    """``HOST:PORT`` (``[::1]:8800`` for IPv6; port 0 for any free port)."""

    @property
    def host(self) -> str:
        return split_hostport(self.listen, allow_zero=True)[0]

    @property
    def port(self) -> int:
        return split_hostport(self.listen, allow_zero=True)[1]


class ProbeSettings(_Model):
    """What ``GET /probe`` may reach."""

    allowed_targets: (
        Annotated[tuple[AllowedTarget, ...], BeforeValidator(one_or_many), Field(min_length=1)]
        | None
    ) = None
    """Host patterns (``*.example.com``) and networks (``10.0.0.0/8``); ``*`` for any.
    None: the configured monitors' hosts and loopback."""


class WebhookChannelConfig(_Model):
    """POST a JSON message, signed with HMAC-SHA256 when ``secret`` is set."""

    name: Name
    type: Literal["webhook"]
    url: WebUrl
    secret: SecretStr | None = None
    """The key of the ``X-Tether-Signature-256: sha256=HEX`` header."""


class AppriseChannelConfig(_Model):
    """Any apprise URL: Slack, Discord, Telegram, email and the rest."""

    name: Name
    type: Literal["apprise"]
    url: AppriseUrl | None = None
    urls: tuple[AppriseUrl, ...] = ()

    @property
    def targets(self) -> tuple[str, ...]:
        """``url`` and ``urls`` together."""
        return ((self.url,) if self.url else ()) + self.urls

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "url" and isinstance(value, str):
                yield name, redact_apprise(value)
            elif name == "urls":
                yield name, tuple(redact_apprise(u) for u in self.urls)
            else:
                yield name, value


class EmailChannelConfig(_Model):
    """SMTP email."""

    name: Name
    type: Literal["email"]
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Whole, Field(ge=1, le=65535)] = 587
    from_: Address = Field(alias="from")
    to: Annotated[tuple[Address, ...], BeforeValidator(one_or_many), Field(min_length=1)]
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    """Upgrade the connection with STARTTLS; port 465 is TLS from the start either way."""
    ca_file: Annotated[str, Field(min_length=1)] | None = None
    """Trust the certificate authorities in this PEM file instead of the system's."""


ChannelConfig = WebhookChannelConfig | AppriseChannelConfig | EmailChannelConfig
"""An alert channel as configured (the delivery channels are in ``monitor.alerts``)."""
AlertChannel = Annotated[ChannelConfig, Field(discriminator="type")]

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"]


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class DnsOptions(_Model):
    """What a ``dns://`` monitor asks and expects."""

    record_type: Annotated[RecordType, BeforeValidator(_upper)] = "A"
    answers: Annotated[tuple[str, ...], BeforeValidator(one_or_many)] = ()
    """Answers that must all be present (in any order); empty means any answer."""
    rcode: Annotated[HeaderRcode, BeforeValidator(_upper)] = "NOERROR"


class TlsOptions(_Model):
    """Certificate checks for ``https://`` and ``tls://`` monitors."""

    min_days_left: Annotated[int, Whole, Field(ge=0, le=36500)] = 14
    """The monitor fails when the certificate expires in fewer days."""
    ca_file: Annotated[str, Field(min_length=1)] | None = None
    """Also trust the certificate authorities in this PEM file."""
    insecure: bool = False
    """Go on past a failed verification (it is still reported)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Escalation:
    """One step of ``escalate``: once a monitor has been down in an open incident for
    ``after`` seconds, its alerts also go to the channels ``alerts``."""

    after: PositiveDuration
    alerts: Annotated[Names, Field(min_length=1)]

    # Validated from the file as the models are: no unknown key.
    __pydantic_config__ = ConfigDict(extra="forbid")


class MonitorDefaults(_Model):
    """Values every monitor takes unless it sets the key itself: each of these keys is a
    monitor's key too, with the same default."""

    interval: Interval = _defaults.INTERVAL
    timeout: PositiveDuration = _defaults.TIMEOUT
    failure_threshold: Count = _defaults.FAILURE_THRESHOLD
    success_threshold: Count = _defaults.SUCCESS_THRESHOLD
    alerts: Names = ()
    headers: Headers = Field(default_factory=dict)
    resolver: Resolver | None = None
    latency_margin: Margin | None = _defaults.LATENCY_MARGIN
    remind_every: Reminder | None = None
    escalate: tuple[Escalation, ...] = ()
    locations: Locations = ()
    quorum: Quorum = "majority"
    partial_alerts: bool = False

    def apply(self, monitor: Monitor) -> Monitor:
        """``monitor`` with each key it leaves out taken from this section (``headers``
        merged into an ``http(s)://`` monitor's own, whose names win whatever their case),
        and a timeout set nowhere fitted to its interval."""
        own, inherited = monitor.model_fields_set, self.model_fields_set
        changes: dict[str, Any] = {
            key: getattr(self, key) for key in inherited - own if key != "headers"
        }
        if monitor.scheme in ("http", "https") and self.headers:
            mine = {name.lower() for name in monitor.headers}
            changes["headers"] = {
                **{k: v for k, v in self.headers.items() if k.lower() not in mine},
                **monitor.headers,
            }
        if "timeout" not in own and "timeout" not in inherited:
            changes["timeout"] = _defaults.default_timeout(
                changes.get("interval", monitor.interval)
            )
        # Copy only what changes: a file of many monitors mostly keeps the defaults as
        # they are.
        changes = {k: v for k, v in changes.items() if getattr(monitor, k) != v}
        return monitor.model_copy(update=changes) if changes else monitor


DEFAULT_LOCATION: Final = "local"
"""The one location of a file that names none."""

HTTP_ONLY: Final = ("method", "headers", "body", "follow_redirects", "max_redirects")


class Monitor(_Model):
    """One endpoint to probe, how often, and what counts as up."""

    name: Name
    url: Target
    """``http(s)://host/path``, ``tcp://host:port``, ``tls://host:port`` or ``dns://name``."""
    method: Method = "GET"
    headers: Headers = Field(default_factory=dict)
    body: str | None = None
    follow_redirects: bool = True
    max_redirects: Annotated[int, Whole, Field(ge=0, le=50)] = 10
    interval: Interval = _defaults.INTERVAL
    timeout: PositiveDuration = _defaults.TIMEOUT
    """Seconds each probe may take; always shorter than ``interval``."""
    conditions: Annotated[tuple[ConditionText, ...], BeforeValidator(one_or_many)] = ()
    failure_threshold: Count = _defaults.FAILURE_THRESHOLD
    success_threshold: Count = _defaults.SUCCESS_THRESHOLD
    alerts: Names = ()
    depends_on: Names = ()
    resolver: Resolver | None = None
    dns: DnsOptions | None = None
    tls: TlsOptions | None = None
    latency_margin: Margin | None = _defaults.LATENCY_MARGIN
    """How far latency may leave its baseline, in robust standard deviations; null: never."""
    remind_every: Reminder | None = None
    """Seconds between repeats of an open incident's alert on the monitor's channels, while
    it stays open and unacknowledged; null: never."""
    escalate: tuple[Escalation, ...] = ()
    """Channels that also get the monitor's alerts once it has been down long enough, in
    the order of their ``after``."""
    locations: Locations = ()
    """Where it is probed from, a subset of the file's ``locations``; once loaded, always
    the list (left out: every location)."""
    quorum: Quorum = "majority"
    """How many of its locations must fail for it to be down: a number, or ``majority``
    (more than half of those with a live instance)."""
    partial_alerts: bool = False
    """Whether a partial incident (some locations failing, fewer than the quorum) goes to
    the monitor's channels."""
    paused: bool = False

    @property
    def scheme(self) -> str:
        """``http``, ``https``, ``tcp``, ``tls`` or ``dns``."""
        return self.url.partition("://")[0].lower()


class MaintenanceWindow(_Model):
    """A time when monitors keep probing but alerts are held back."""

    name: Name
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    schedule: str | None = None
    """Weekly, cron-like: ``MINUTE HOUR * * DAYS``, as in ``0 2 * * sun``."""
    duration: PositiveDuration | None = None
    timezone: TimeZone = "UTC"
    """For ``schedule`` and for a ``start`` or ``end`` written without an offset."""
    monitors: Names = ()
    """The monitors it covers; empty means all."""

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_cron(value)
            except ValueError as exc:
                raise fail(str(exc)) from None
        return value

    def covers(self, monitor: str) -> bool:
        return not self.monitors or monitor in self.monitors

    def active(self, at: dt.datetime) -> bool:
        """Whether ``at`` (timezone-aware) falls inside this window."""
        if at.tzinfo is None:
            raise ValueError("active() needs a timezone-aware datetime")
        zone = zoneinfo.ZoneInfo(self.timezone)
        if self.schedule is None:
            start, end = (aware(t, zone) for t in (self.start, self.end))
            return start is not None and end is not None and start <= at < end
        assert self.duration is not None
        last = parse_cron(self.schedule).last_start(at.astimezone(zone), self.duration)
        if last is None:
            return False
        # Absolute time, not wall-clock: a window across a DST change lasts its duration.
        return at < last.astimezone(dt.UTC) + dt.timedelta(seconds=self.duration)


def aware(moment: dt.datetime | None, zone: dt.tzinfo) -> dt.datetime | None:
    """``moment`` in ``zone`` when it was written without an offset."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone)


class MonitorConfig(_Model):
    """The whole file."""

    storage: Storage = Field(default_factory=Storage)
    server: Server = Field(default_factory=Server)
    probe: ProbeSettings = Field(default_factory=ProbeSettings)
    locations: Locations = (DEFAULT_LOCATION,)
    """The locations this file's instances may run at; each instance says which is its own
    (``tether monitor --location``, ``TETHER_LOCATION``)."""
    alerts: tuple[AlertChannel, ...] = ()
    defaults: MonitorDefaults = Field(default_factory=MonitorDefaults)
    maintenance: tuple[MaintenanceWindow, ...] = ()
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    workers: Workers = "auto"
    """How many processes probe (``auto``: one per core this process may use); 1 probes
    in the monitor's own process."""
    monitors: tuple[Monitor, ...]

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: object) -> object:
        """``server:`` with nothing under it means the defaults, not an error."""
        if isinstance(data, dict):
            empty: dict[str, object] = {
                "storage": {},
                "server": {},
                "probe": {},
                "defaults": {},
                "alerts": (),
                "maintenance": (),
                "cluster": {},
            }
            return {k: empty[k] if v is None and k in empty else v for k, v in data.items()}
        return data

    @field_validator("monitors", mode="before")
    @classmethod
    def _some_monitors(cls, value: object) -> object:
        if value is None or value in ([], ()):
            raise fail("is empty: list at least one monitor")
        return value

    def placed(self, monitor: Monitor) -> tuple[str, ...]:
        """Where ``monitor`` is probed from: its ``locations``, or every one when it names
        none (loading fills them in; a configuration built in code may leave them out)."""
        return monitor.locations or self.locations

    def monitor(self, name: str) -> Monitor:
        """The monitor called ``name`` (KeyError if none)."""
        for monitor in self.monitors:
            if monitor.name == name:
                return monitor
        raise KeyError(name)

    def channel(
        self, name: str
    ) -> WebhookChannelConfig | AppriseChannelConfig | EmailChannelConfig:
        """The alert channel called ``name`` (KeyError if none)."""
        for channel in self.alerts:
            if channel.name == name:
                return channel
        raise KeyError(name)

    def in_maintenance(self, monitor: str, at: dt.datetime) -> bool:
        """Whether a maintenance window holds back ``monitor``'s alerts at ``at``."""
        return any(w.covers(monitor) and w.active(at) for w in self.maintenance)
