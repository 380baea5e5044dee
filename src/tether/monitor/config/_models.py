"""The models: the shape of ``tether.yaml``, frozen, with no unknown key, and a repr that
shows no secret.  What one field accepts is in :mod:`._fields`; what needs the whole file
in :mod:`._checks`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tether._hostport import split_hostport
from tether.monitor.config import _defaults
from tether.monitor.config._agents import AgentSettings
from tether.monitor.config._base import _Model
from tether.monitor.config._blackbox import DEFAULT_MODULES, BlackboxModule
from tether.monitor.config._channels import (
    AlertChannel,
    ChannelConfig,
)
from tether.monitor.config._cron import parse_cron
from tether.monitor.config._database import QueryText, Role
from tether.monitor.config._discovery import DiscoverySource
from tether.monitor.config._dns import DnsOptions
from tether.monitor.config._errors import fail, show
from tether.monitor.config._fields import (
    MAX_COUNT,
    AllowedTarget,
    ConditionText,
    Count,
    Headers,
    Interval,
    Listen,
    Locations,
    Margin,
    Method,
    Name,
    Names,
    PasswordHashText,
    PositiveDuration,
    PushToken,
    Quorum,
    Reminder,
    Resolver,
    Target,
    TimeZone,
    TokenHashText,
    Whole,
    Workers,
    _number,
    one_or_many,
)
from tether.monitor.config._http3 import HttpVersion
from tether.monitor.config._inhibit import InhibitRules
from tether.monitor.config._objectives import ObjectiveConfig
from tether.monitor.config._oidc import OidcSettings
from tether.monitor.config._rdap import RdapOptions
from tether.monitor.config._routes import RouteConfig, TimeIntervals
from tether.monitor.config._steps import Steps, with_first_step_url
from tether.monitor.config._storage import Storage
from tether.monitor.config._subscribe import Subscribe
from tether.monitor.config.alert_when._rule import AlertWhen, not_inherited
from tether.monitor.config.browser._options import BrowserOptions
from tether.monitor.config.labels._labels import LabelMap


def _check_cron(value: str) -> str:
    try:
        parse_cron(value)
    except ValueError as exc:
        raise fail(str(exc)) from None
    return value


Cron = Annotated[str, AfterValidator(_check_cron)]
"""Weekly, cron-like: ``MINUTE HOUR * * DAYS`` (a push monitor's ``cron``, a window's
``schedule``), checked when the file is read."""


class ClusterSettings(_Model):
    """How instances sharing one PostgreSQL database share the work (docs/deployment.md)."""

    lease: Interval = 8.0
    """How long an instance's leases on its shards (and the leader's) last unless renewed;
    renewed every quarter of it, so a live instance keeps them through three late or
    failed rounds in a row.  A killed instance's monitors are probed again by the others
    within 1⅛ of it (9 s by default), plus the time a round and a probe take."""


def _auto_or_bool(value: object) -> object:
    if value == "auto" or isinstance(value, bool):
        return value
    raise fail(f"{show(value)} is not auto, true or false")


class Server(_Model):
    """The HTTP server for ``/metrics``, ``/probe`` and the API."""

    listen: Listen = "127.0.0.1:8800"
    """``HOST:PORT`` (``[::1]:8800`` for IPv6; port 0 for any free port)."""
    require_token: Annotated[
        tuple[Literal["metrics", "probe"], ...], BeforeValidator(one_or_many)
    ] = ()
    """Which of ``/metrics`` and ``/probe`` answer only a request with an API token
    (``Authorization: Bearer TOKEN``, any scope)."""
    session_idle: PositiveDuration = 12 * 3600.0
    """A login session unused this long ends."""
    session_max: PositiveDuration = 7 * 86400.0
    """A login session this old ends, used or not."""
    secure_cookies: Annotated[Literal["auto"] | bool, BeforeValidator(_auto_or_bool)] = "auto"
    """Whether the session cookie is marked ``Secure``: ``auto`` when the request came over
    TLS (or, with ``trust_forwarded_proto``, says it did)."""
    trust_forwarded_proto: bool = False
    """Believe ``X-Forwarded-Proto: https`` from the reverse proxy in front (only behind one
    that sets it: anyone else could send it)."""
    header_timeout: PositiveDuration = 10.0
    """A request's headers must arrive within this (from the connection's start, or the
    first byte of a later request): else ``408`` and the connection is closed."""
    body_timeout: PositiveDuration = 30.0
    """A request's whole body must arrive within this after its headers: else ``408``."""
    idle_timeout: PositiveDuration = 75.0
    """A kept-alive connection with no request this long is closed."""
    max_connections: Annotated[int, Whole, Field(ge=1, le=1_000_000)] = 4096
    """Connections open at once in one process (each worker process has its own count);
    past it a new one is answered ``503``.  At most half the process's open-file limit."""
    metrics_monitor_limit: Annotated[int, Whole, Field(ge=0, le=100_000_000)] = 10_000
    """The most monitors whose series the default ``/metrics`` carries; with more, it
    carries their summary, and each monitor's series are scraped in shards
    (``/metrics?shard=I&shards=N``).  0: always in shards (issue 46)."""

    @property
    def host(self) -> str:
        return split_hostport(self.listen, allow_zero=True)[0]

    @property
    def port(self) -> int:
        return split_hostport(self.listen, allow_zero=True)[1]


Scope = Literal["read", "write"]
TokenScope = Literal["read", "write", "report", "agent"]


class User(_Model):
    """Someone who may log in to the dashboard."""

    name: Name
    password_hash: PasswordHashText
    """What ``tether hash-password`` prints (``scrypt$...``); never the password."""
    scopes: Annotated[tuple[Scope, ...], BeforeValidator(one_or_many), Field(min_length=1)] = (
        "read",
        "write",
    )


class ApiToken(_Model):
    """A credential for scripts and Prometheus: ``Authorization: Bearer TOKEN``."""

    name: Name
    hash: TokenHashText
    """What ``tether new-token`` prints (``sha256$...``); never the token."""
    scope: TokenScope
    """``read``: the dashboard's JSON, ``/metrics``, ``/probe``; ``write``: changes too;
    ``report``: an application's reports of its calls (``POST /api/report``) and nothing
    else; ``agent``: a ``tether agent``'s assignment and results at its ``location``, and
    nothing else (docs/agents.md)."""
    location: Name | None = None
    """The location an ``agent`` token reports for (one of the file's ``locations``);
    only an agent token names one."""


class ProbeSettings(_Model):
    """What ``GET /probe`` may reach."""

    allowed_targets: (
        Annotated[tuple[AllowedTarget, ...], BeforeValidator(one_or_many), Field(min_length=1)]
        | None
    ) = None
    """Host patterns (``*.example.com``) and networks (``10.0.0.0/8``); ``*`` for any.
    None: the configured monitors' hosts and loopback."""
    browser_concurrency: Annotated[int, Whole, Field(ge=1, le=64)] = 2  # at once per process
    browser_executable: Annotated[str, Field(min_length=1)] | None = None  # else Debian's


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
    alert_when: AlertWhen | None = None
    alerts: Names = ()
    headers: Headers = Field(default_factory=dict)
    resolver: Resolver | None = None
    rdap: RdapOptions | None = None  # where [DOMAIN_EXPIRATION] is looked up
    latency_margin: Margin | None = _defaults.LATENCY_MARGIN
    remind_every: Reminder | None = None
    escalate: tuple[Escalation, ...] = ()
    locations: Locations = ()
    quorum: Quorum = "majority"
    partial_alerts: bool = False
    labels: LabelMap = Field(default_factory=dict)

    def apply(self, monitor: Monitor) -> Monitor:
        """``monitor`` with each key it leaves out taken from this section (``headers``
        merged into an ``http(s)://`` monitor's own, whose names win whatever their case;
        ``labels`` merged, the monitor's own value winning per name), and a timeout set
        nowhere fitted to its interval."""
        own, inherited = monitor.model_fields_set, self.model_fields_set
        taken = inherited - own - not_inherited(own, probed=monitor.probed) - {"labels"}
        changes: dict[str, Any] = {key: getattr(self, key) for key in taken}
        if self.labels:
            changes["labels"] = {**self.labels, **monitor.labels}
        if monitor.scheme in ("http", "https", "ws", "wss") and self.headers:
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


PUSH_ONLY: Final = ("token", "cron", "grace", "timezone")
TRAFFIC_ONLY: Final = ("app", "endpoint", "consecutive", "failure_ratio", "window", "min_calls")


def _check_app(value: str) -> str:
    if not APP.fullmatch(value):
        raise fail(
            f"{show(value)} is not an application's name: 1 to 64 letters, digits, '.', '_' "
            "or '-', as its reports give it (tether.report_to(..., app=NAME))"
        )
    return value


def _check_endpoint(value: str) -> str:
    if not value or len(value) > 256 or any(ord(c) <= 32 or ord(c) == 127 for c in value):
        raise fail(
            f"{show(value)}: give HOST:PORT as the calls report it, or a glob over it "
            "(payments.internal:443, *.internal:*, * for every call)"
        )
    return value


APP: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""An application's name in its reports (the wire format's ``app``)."""
AppName = Annotated[str, AfterValidator(_check_app)]
EndpointGlob = Annotated[str, AfterValidator(_check_endpoint)]
Ratio = Annotated[float, BeforeValidator(_number), Field(gt=0, le=1)]


class Monitor(_Model):
    """One endpoint to probe, how often, and what counts as up; or, with ``type: push``, a
    job that reports in (a heartbeat) on a schedule."""

    name: Name
    type: Literal["probe", "push", "traffic"] = "probe"
    """``push``: nothing is probed; the job calls ``/api/push/TOKEN`` (docs/monitor.md,
    "Heartbeats").  ``traffic``: nothing is probed; an application reports its own calls
    to ``/api/report`` (docs/monitor.md, "Traffic monitors")."""
    url: Target
    """``http(s)://host/path``, ``tcp://host:port``, ``tls://host:port`` or ``dns://name``;
    a push monitor's is ``push://NAME``, filled in."""
    token: PushToken | None = None
    """A push monitor's secret: the last part of its push URL."""
    cron: Cron | None = None
    """A push monitor's schedule as cron's ``MINUTE HOUR * * DAYS`` (instead of
    ``interval``): a push is expected at each of its times."""
    grace: PositiveDuration = 60.0
    """How long after the expected time a push may arrive before the monitor fails."""
    timezone: TimeZone = "UTC"
    """The zone ``cron`` is read in."""
    app: AppName | None = None
    """A traffic monitor's application: the ``app`` its reports name."""
    endpoint: EndpointGlob = "*"
    """A traffic monitor's calls: a glob over the reported ``host:port`` (``*``: all)."""
    consecutive: Annotated[int, Whole, Field(ge=0, le=MAX_COUNT)] = 3
    """A traffic monitor is down after this many failed calls in a row (0: never so)."""
    failure_ratio: Ratio | None = None
    """A traffic monitor is down while this share of the calls in ``window`` failed..."""
    window: PositiveDuration = 300.0
    """...over this long (1 s to 1 h)..."""
    min_calls: Annotated[int, Whole, Field(ge=1, le=MAX_COUNT)] = 10
    """...when the window holds at least this many calls."""
    method: Method = "GET"
    headers: Headers = Field(default_factory=dict)
    body: str | None = None
    follow_redirects: bool = True
    max_redirects: Annotated[int, Whole, Field(ge=0, le=50)] = 10
    http_version: HttpVersion = "1.1"  # an https:// check over HTTP/3 (_http3.py)
    interval: Interval = _defaults.INTERVAL
    timeout: PositiveDuration = _defaults.TIMEOUT
    """Seconds each probe may take; always shorter than ``interval``."""
    conditions: Annotated[tuple[ConditionText, ...], BeforeValidator(one_or_many)] = ()
    failure_threshold: Count = _defaults.FAILURE_THRESHOLD
    success_threshold: Count = _defaults.SUCCESS_THRESHOLD
    alert_when: AlertWhen | None = None
    """Down on a rule over a window of checks instead of ``failure_threshold`` in a row:
    ``{failures: 5, within: 5m}`` or ``{failure_ratio: 20%, within: 10m, min_checks: 10}``
    (``alert_when/_rule.py``)."""
    alerts: Names = ()
    depends_on: Names = ()
    resolver: Resolver | None = None
    dns: DnsOptions | None = None
    rdap: RdapOptions | None = None  # [DOMAIN_EXPIRATION]'s lookup (config/_rdap.py)
    tls: TlsOptions | None = None
    browser: BrowserOptions | None = None  # a page in headless Chromium (browser/_options.py)
    query: QueryText | None = None  # a database's SQL or Redis command (_database.py)
    role: Role = "any"  # primary: a read-only database fails with db.read_only
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
    labels: LabelMap = Field(default_factory=dict)
    """Names and values that go with its alerts, series and API entries, and that
    matchers select it by; merged over ``defaults.labels``."""
    paused: bool = False
    steps: Steps | None = None  # a multi-step API check (_steps.py)

    @model_validator(mode="before")
    @classmethod
    def _push_url(cls, data: object) -> object:
        """A push monitor has no URL to probe: its own is ``push://NAME``; a missed
        heartbeat is down at once and one push brings it back, unless the file says
        otherwise.  A monitor of steps without a URL has its first step's."""
        data = with_first_step_url(data)
        if isinstance(data, dict) and data.get("type") == "push":
            name = data.get("name")
            filled = {
                "url": f"push://{quote(name, safe='')}" if isinstance(name, str) else "push://",
                "failure_threshold": 1,
                "success_threshold": 1,
            }
            return {**filled, **data}
        if isinstance(data, dict) and data.get("type") == "traffic":
            app, endpoint = data.get("app"), data.get("endpoint", "*")
            url = "traffic://"
            if isinstance(app, str) and isinstance(endpoint, str):
                url = f"traffic://{quote(app, safe='')}/{quote(endpoint, safe='*:[]')}"
            filled = {"url": url, "failure_threshold": 1, "success_threshold": 1}
            return {**filled, **data}
        return data

    @property
    def scheme(self) -> str:
        """``http``, ``https``, ``tcp``, ``tls``, ``dns``, or ``push`` for a push monitor."""
        return self.url.partition("://")[0].lower()

    @property
    def push(self) -> bool:
        """Whether this monitor is pushed to rather than probed."""
        return self.type == "push"

    @property
    def traffic(self) -> bool:
        """Whether this monitor watches an application's reported calls."""
        return self.type == "traffic"

    @property
    def probed(self) -> bool:
        """Whether tether probes this monitor (neither push nor traffic)."""
        return self.type == "probe"


class MaintenanceWindow(_Model):
    """A time when monitors keep probing but alerts are held back."""

    name: Name
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    schedule: Cron | None = None
    """Weekly, cron-like: ``MINUTE HOUR * * DAYS``, as in ``0 2 * * sun``."""
    duration: PositiveDuration | None = None
    timezone: TimeZone = "UTC"
    """For ``schedule`` and for a ``start`` or ``end`` written without an offset."""
    monitors: Names = ()
    """The monitors it covers; empty means all."""

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


# -- status pages ---------------------------------------------------------------------

SLUG: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?")
"""A status page's slug: letters, digits, ``-`` and ``_``, 64 at most; no dot, so
``/status/SLUG.json`` is unambiguous."""


def _check_slug(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise fail(
            f"{show(value)} is not a slug: write letters, digits, - and _ (64 at most, "
            "starting and ending with a letter or digit), as in public or status-2"
        )
    return value


def _check_text(value: str) -> str:
    if not value.strip():
        raise fail("is empty: write some text")
    return value


def _some_groups(value: tuple[object, ...]) -> tuple[object, ...]:
    # Not Field(min_length=1): pydantic counts the items that validated, so one bad
    # group would also read "is empty".
    if not value:
        raise fail("is empty: list at least one group, each a name and its monitors")
    return value


def _some_monitors(value: tuple[object, ...]) -> tuple[object, ...]:
    if not value:
        raise fail("is empty: list at least one monitor")
    return value


Slug = Annotated[str, AfterValidator(_check_slug)]
Text = Annotated[str, AfterValidator(_check_text)]


def _entry(value: object) -> object:
    """A group's monitor written as its name alone means ``{monitor: NAME}``."""
    return {"monitor": value} if isinstance(value, str) else value


class StatusMonitor(_Model):
    """A monitor on a status page, under the name the public reads."""

    monitor: Name
    """The monitor's name in ``monitors``."""
    name: Name | None = None
    """What the page calls it (by default its name)."""

    @property
    def shown(self) -> str:
        return self.name or self.monitor


class StatusGroup(_Model):
    """A heading on a status page and the monitors under it."""

    name: Name
    monitors: Annotated[
        tuple[Annotated[StatusMonitor, BeforeValidator(_entry)], ...],
        AfterValidator(_some_monitors),
    ]


class Announcement(_Model):
    """A message the team puts at the top of a status page, shown from ``start`` (by
    default always) until ``end`` (by default for as long as it is in the file)."""

    text: Text
    level: Literal["info", "warning", "outage"] = "info"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    """A time written without an offset is UTC."""

    def shown_at(self, now: float) -> bool:
        start, end = (aware(t, dt.UTC) for t in (self.start, self.end))
        return (start is None or start.timestamp() <= now) and (
            end is None or now < end.timestamp()
        )


class IncidentNote(_Model):
    """What the team writes about an incident, for the public: of one incident (``incident:
    ID``), or of one monitor's trouble from ``start`` (to ``end``), which is shown with
    that monitor's incidents in the span, or alone when it had none."""

    text: Text
    incident: Annotated[int, Whole, Field(ge=1)] | None = None
    monitor: Name | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    """A time written without an offset is UTC."""

    def span(self) -> tuple[float, float | None]:
        """``start`` and ``end`` in Unix seconds (``end`` ``None``: not over)."""
        start, end = (aware(t, dt.UTC) for t in (self.start, self.end))
        assert start is not None  # checked with the file
        return start.timestamp(), None if end is None else end.timestamp()


class StatusPage(_Model):
    """A public page at ``/status/SLUG``: the state of its monitors, their daily uptime
    and incidents in plain words; nothing about any other monitor.  Internal URLs,
    addresses and failure kinds are shown only when the page opts in."""

    slug: Slug
    title: Text
    description: str | None = None
    groups: Annotated[tuple[StatusGroup, ...], AfterValidator(_some_groups)]
    announcements: tuple[Announcement, ...] = ()
    notes: tuple[IncidentNote, ...] = ()
    incident_days: Annotated[int, Whole, Field(ge=1, le=90)] = 14
    """How many days back incidents are listed."""
    show_urls: bool = False
    """Show each monitor's URL (credentials masked)."""
    show_kinds: bool = False
    """Show each incident's failure kind (``connect.refused``) and what it means."""
    show_latency: bool = False
    """Show each monitor's latency at its last check."""
    objectives: Names = ()
    """Objectives whose SLI and budget left the page shows (docs/status-pages.md)."""
    subscribe: Subscribe | None = None  # visitors may subscribe to its news (issue 48)

    def entries(self) -> Iterator[StatusMonitor]:
        """Every monitor of the page, group after group."""
        for group in self.groups:
            yield from group.monitors


def aware(moment: dt.datetime | None, zone: dt.tzinfo) -> dt.datetime | None:
    """``moment`` in ``zone`` when it was written without an offset."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone)


def _modules_or_defaults(value: dict[str, BlackboxModule]) -> dict[str, BlackboxModule]:
    return value or dict(DEFAULT_MODULES)


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
    agents: AgentSettings = Field(default_factory=AgentSettings)
    """How the monitor treats its agents (docs/agents.md)."""
    users: tuple[User, ...] = ()
    """Who may log in; with none, the dashboard answers only on loopback."""
    tokens: tuple[ApiToken, ...] = ()
    oidc: OidcSettings | None = None
    """Single sign-on through an OpenID Connect provider (docs/security.md)."""
    workers: Workers = "auto"
    """How many processes probe (``auto``: one per core this process may use); 1 probes
    in the monitor's own process."""
    discover: tuple[DiscoverySource, ...] = ()
    """Sources of targets that become monitors (docs/discovery.md)."""
    monitors: tuple[Monitor, ...]
    status_pages: tuple[StatusPage, ...] = ()
    """Public pages at ``/status/SLUG`` (docs/status-pages.md)."""
    objectives: tuple[ObjectiveConfig, ...] = ()
    """Service level objectives and their burn-rate alerts (docs/objectives.md)."""
    modules: Annotated[dict[Name, BlackboxModule], AfterValidator(_modules_or_defaults)] = Field(
        default_factory=lambda: dict(DEFAULT_MODULES)
    )
    """blackbox_exporter's modules for ``/probe?module=NAME``; none given: those of its
    example ``blackbox.yml`` that tether runs."""
    routes: RouteConfig | None = None  # the route tree (docs/routing.md); none: monitors' alerts
    time_intervals: TimeIntervals = ()  # named, for routes' active and mute time intervals
    inhibit_rules: InhibitRules = ()  # down alerts held while another is down (docs/routing.md)

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
                "agents": {},
                "status_pages": (),
                "users": (),
                "tokens": (),
                "modules": {},
                "objectives": (),
                "discover": (),
            }
            if data.get("discover") and data.get("monitors") is None:
                data = {**data, "monitors": ()}  # every monitor may be discovered
            return {k: empty[k] if v is None and k in empty else v for k, v in data.items()}
        return data

    @field_validator("monitors", mode="before")
    @classmethod
    def _some_monitors(cls, value: object, info: ValidationInfo) -> object:
        # (A ``discover`` that did not validate is not in info.data: said on its own.)
        if (value is None or value in ([], ())) and info.data.get("discover", 1) == ():
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

    def status_page(self, slug: str) -> StatusPage | None:
        """The status page at ``/status/SLUG``; ``None`` if none."""
        return next((p for p in self.status_pages if p.slug == slug), None)

    def channel(self, name: str) -> ChannelConfig:
        """The alert channel called ``name`` (KeyError if none)."""
        for channel in self.alerts:
            if channel.name == name:
                return channel
        raise KeyError(name)

    def in_maintenance(self, monitor: str, at: dt.datetime) -> bool:
        """Whether a maintenance window holds back ``monitor``'s alerts at ``at``."""
        return any(w.covers(monitor) and w.active(at) for w in self.maintenance)
