"""The monitor's configuration: one YAML file, validated, with errors that name the key path.

Loading goes one way, and each step keeps the key path of every value:

1. YAML is composed into nodes (so every key keeps its line and column) and built into
   plain data: the keys as written (``on:`` stays ``"on"``), merge keys (``<<: *base``)
   applied, a key written twice reported.
2. ``${NAME}`` and ``${NAME:-default}`` in string values are replaced from the environment.
3. pydantic validates the shape; its errors are rewritten as ``key.path: message`` with
   the value shown (secrets masked) and no pydantic boilerplate.
4. What one field cannot see is checked across the file: unique names, alert channels and
   dependencies that exist, no dependency cycle, a timeout shorter than its interval,
   options that fit the monitor's scheme.
5. ``defaults`` are applied to every monitor that does not set the key itself.

Every problem found is reported at once, one line each, in file order::

    monitors[3].interval: "5" is not a duration, write 5s
    monitors[4].alerts[0]: no alert channel named "opz", did you mean ops?
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import importlib
import ipaddress
import json
import re
import types
import typing
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tether._durations import format_duration, parse_duration
from tether._hostport import DNS_PORT, InvalidHostPort, split_hostport
from tether._rcodes import HeaderRcode
from tether._redact import MASK, redact_headers, redact_text, redact_url
from tether._suggest import did_you_mean
from tether.monitor._cron import parse_cron

__all__ = [
    "AlertChannel",
    "AppriseChannel",
    "ConfigError",
    "DnsOptions",
    "EmailChannel",
    "MaintenanceWindow",
    "Monitor",
    "MonitorConfig",
    "MonitorDefaults",
    "Server",
    "Storage",
    "TlsOptions",
    "WebhookChannel",
    "load_config",
    "parse_config",
]

KeyPath = tuple[str | int, ...]
"""A key path: mapping keys and list indexes, ``("monitors", 3, "interval")``."""

ConditionValidator = Callable[[str], object]


# -- validators shared by the models ------------------------------------------------------


def _fail(message: str) -> PydanticCustomError:
    """An error whose message is used as written (``type`` "tether")."""
    return PydanticCustomError("tether", "{message}", {"message": message})


def _to_seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(f"{_show(value)} is not a duration, write e.g. 30s")
    if isinstance(value, int | float):
        if value < 0:
            raise _fail(f"{_show(value)} is not a duration: write a positive one, as in 30s")
        raise _fail(f"{_show(value)} is not a duration, write {value:g}s")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _at_least_1s(seconds: float) -> float:
    if seconds < 1:
        raise _fail(f"{format_duration(seconds)} is too short: the minimum is 1s")
    return seconds


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise _fail("0s is too short: give a duration above zero")
    return seconds


PositiveDuration = Annotated[float, BeforeValidator(_to_seconds), AfterValidator(_positive)]
Interval = Annotated[float, BeforeValidator(_to_seconds), AfterValidator(_at_least_1s)]
Count = Annotated[int, Field(ge=1)]


def _check_name(value: str) -> str:
    if not value.strip():
        raise _fail("is empty: give a name")
    if value != value.strip():
        raise _fail(f"{_show(value)} starts or ends with spaces")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise _fail(f"{_show(value)} contains a control character")
    return value


def _one_or_many(value: object) -> object:
    """A single string where a list is expected means a list of one; null an empty list."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return value


Name = Annotated[str, AfterValidator(_check_name)]
Names = Annotated[tuple[Name, ...], BeforeValidator(_one_or_many)]


def _split_hostport(
    value: str, *, default_port: int | None, allow_zero: bool = False
) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; the port may be left out when there is a default."""
    try:
        return split_hostport(value, default_port=default_port, allow_zero=allow_zero)
    except InvalidHostPort as exc:
        raise _fail(f"{_show(value)}{exc.problem}") from None


def _check_listen(value: str) -> str:
    _split_hostport(value, default_port=None, allow_zero=True)
    return value


def _check_resolver(value: str) -> str:
    host, _ = _split_hostport(value, default_port=DNS_PORT)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise _fail(
            f"{_show(value)}: give the DNS server's IP address, as in 127.0.0.1:5353"
        ) from None
    return value


_SCHEMES: Final = ("http", "https", "tcp", "tls", "dns")


def _check_target(value: str) -> str:
    from tether.probe._target import InvalidTarget, parse_target

    scheme, sep, rest = value.partition("://")
    head = value.partition(":")[0]
    if not sep and head.lower() in _SCHEMES:
        raise _fail(f"{_show(value)}: write {head}:// with two slashes, as in {head}://host")
    if not sep:
        raise _fail(
            f"{_show(value)} has no scheme: write http://, https://, tcp://, tls:// or dns://"
        )
    if scheme.lower() not in _SCHEMES:
        raise _fail(f"unsupported scheme {_show(scheme)}: use http, https, tcp, tls or dns")
    if scheme.lower() == "dns":
        return _check_dns_target(value, rest)
    try:
        parse_target(value)
    except InvalidTarget as exc:
        raise _fail(f"{_show(value)}: {exc}") from None
    return value


def _check_dns_target(value: str, name: str) -> str:
    from tether.probe._target import InvalidTarget, parse_target

    if not name or any(c in name for c in "/:@?#[]"):
        raise _fail(
            f"{_show(value)}: write dns://NAME, as in dns://example.com "
            "(the server to ask goes in resolver)"
        )
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise _fail(f"{_show(value)} names an address; a dns:// monitor asks about a name")
    try:
        parse_target(f"tcp://{name}:{DNS_PORT}")
    except InvalidTarget as exc:
        raise _fail(f"{_show(value)}: {exc}") from None
    return value


_WEB_URL: Final = re.compile(r"(?i)https?://[^/\s?#]+(?:[/?#]\S*)?")


def _check_web_url(value: str) -> str:
    if not _WEB_URL.fullmatch(value):
        raise _fail(f"{_show(value)} is not an http:// or https:// URL")
    return value


# Services people name as a channel type; apprise reaches them by URL scheme.
_APPRISE_SERVICES: Final = {
    **{name: name for name in ("slack", "discord", "telegram", "msteams", "pagerduty")},
    **{name: name for name in ("opsgenie", "matrix", "mattermost", "ntfy", "pushover")},
    "teams": "msteams",
}
_APPRISE_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def _mask_apprise(url: str) -> str:
    """An apprise URL keeps its tokens in the path (``slack://T/B/XXXX``): show the scheme."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://{MASK}" if sep else MASK


def _check_apprise_url(value: str) -> str:
    if not _APPRISE_URL.fullmatch(value):
        raise _fail(
            f"{_show(_mask_apprise(value))} is not an apprise URL, as in "
            "slack://TOKEN_A/TOKEN_B/TOKEN_C or discord://WEBHOOK_ID/TOKEN"
        )
    return value


def _check_dsn(value: str) -> str:
    if not re.fullmatch(r"(?i)postgres(?:ql)?://\S+", value):
        raise _fail(
            f"{_show(value)} is not a PostgreSQL URL, as in postgresql://127.0.0.1:5432/tether"
        )
    return value


def _check_address(value: str) -> str:
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not at or not local or ("." not in domain and domain != "localhost"):
        raise _fail(f"{_show(value)} is not an email address, as in ops@example.com")
    return value


_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _check_method(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise _fail(f"{_show(value)} is not an HTTP method, as in GET or POST")
    return value.upper()


def _check_headers(value: dict[str, str]) -> dict[str, str]:
    for name, text in value.items():
        if not _TOKEN.fullmatch(name):
            raise _fail(f"{_show(name)} is not a header name")
        if any(c in text for c in "\r\n\0"):
            shown = MASK if redact_headers({name: text})[name] == MASK else _show(text)
            raise _fail(f"the value of {name} ({shown}) contains a line break")
    return value


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _fail(f"{_show(value)} is not a time zone, as in UTC or Europe/Paris") from None
    return value


def _check_condition(value: str, info: ValidationInfo) -> str:
    context = info.context if isinstance(info.context, Mapping) else {}
    given = context.get("condition_validator", _AUTO)
    validator = _default_condition_validator() if given is _AUTO else given
    # Many monitors share their conditions: each distinct text is parsed once per file.
    passed = context.get("conditions_passed")
    if validator is None or (passed is not None and value in passed):
        return value
    try:
        validator(value)
    except ValueError as exc:
        message = " ".join(str(exc).split())
        raise _fail(message if value in message else f"{_show(value)}: {message}") from None
    if passed is not None:
        passed.add(value)
    return value


_AUTO: Final = object()


@functools.cache
def _default_condition_validator() -> ConditionValidator | None:
    """``tether.monitor._conditions.parse_condition`` when that module is there."""
    try:
        module = importlib.import_module("tether.monitor._conditions")
    except ModuleNotFoundError as exc:
        if exc.name != "tether.monitor._conditions":
            raise
        return None
    for name in ("validate_condition", "parse_condition"):
        function = getattr(module, name, None)
        if callable(function):
            return typing.cast(ConditionValidator, function)
    return None


ConditionText = Annotated[str, AfterValidator(_check_condition)]
Headers = Annotated[dict[str, str], AfterValidator(_check_headers)]
Method = Annotated[str, AfterValidator(_check_method)]
Resolver = Annotated[str, AfterValidator(_check_resolver)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
Margin = Annotated[float, Field(gt=0)]


# -- the models ---------------------------------------------------------------------------


class _Model(BaseModel):
    """Frozen, no unknown keys, and a repr that shows no secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, _redacted(name, value)


def _redacted(name: str | None, value: object) -> object:
    if isinstance(value, str):
        return _redact(value)
    if isinstance(value, tuple):
        return tuple(_redacted(name, item) for item in value)
    if isinstance(value, dict) and name == "headers":
        return redact_headers(value)
    return value


class Storage(_Model):
    """Where results, incidents and the alert outbox are kept."""

    path: Annotated[str, Field(min_length=1)] = "tether.db"
    """The SQLite database file."""
    postgres: Annotated[str, AfterValidator(_check_dsn)] | None = None
    """A PostgreSQL URL to use instead of SQLite."""
    raw_retention: PositiveDuration = 7 * 86400.0
    """Seconds raw results are kept."""
    rollup_retention: PositiveDuration = 365 * 86400.0
    """Seconds the per-hour and per-day roll-ups are kept (per-minute ones go with raw results)."""


class Server(_Model):
    """The HTTP server for ``/metrics``, ``/probe`` and the API."""

    listen: Annotated[str, AfterValidator(_check_listen)] = "127.0.0.1:8800"
    """``HOST:PORT`` (``[::1]:8800`` for IPv6; port 0 for any free port)."""

    @property
    def host(self) -> str:
        return split_hostport(self.listen, allow_zero=True)[0]

    @property
    def port(self) -> int:
        return split_hostport(self.listen, allow_zero=True)[1]


class WebhookChannel(_Model):
    """POST a JSON message, signed with HMAC-SHA256 when ``secret`` is set."""

    name: Name
    type: Literal["webhook"]
    url: Annotated[str, AfterValidator(_check_web_url)]
    secret: SecretStr | None = None
    """The key of the ``X-Tether-Signature-256: sha256=HEX`` header."""


class AppriseChannel(_Model):
    """Any apprise URL: Slack, Discord, Telegram, email and the rest."""

    name: Name
    type: Literal["apprise"]
    url: Annotated[str, AfterValidator(_check_apprise_url)] | None = None
    urls: tuple[Annotated[str, AfterValidator(_check_apprise_url)], ...] = ()

    @property
    def targets(self) -> tuple[str, ...]:
        """``url`` and ``urls`` together."""
        return ((self.url,) if self.url else ()) + self.urls

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "url" and isinstance(value, str):
                yield name, _mask_apprise(value)
            elif name == "urls":
                yield name, tuple(_mask_apprise(u) for u in self.urls)
            else:
                yield name, value


Address = Annotated[str, AfterValidator(_check_address)]


class EmailChannel(_Model):
    """SMTP email."""

    name: Name
    type: Literal["email"]
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    from_: Address = Field(alias="from")
    to: Annotated[tuple[Address, ...], BeforeValidator(_one_or_many), Field(min_length=1)]
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    """Upgrade the connection with STARTTLS; port 465 is TLS from the start either way."""
    ca_file: Annotated[str, Field(min_length=1)] | None = None
    """Trust the certificate authorities in this PEM file instead of the system's."""


AlertChannel = Annotated[
    WebhookChannel | AppriseChannel | EmailChannel, Field(discriminator="type")
]

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"]


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class DnsOptions(_Model):
    """What a ``dns://`` monitor asks and expects."""

    record_type: Annotated[RecordType, BeforeValidator(_upper)] = "A"
    answers: Annotated[tuple[str, ...], BeforeValidator(_one_or_many)] = ()
    """Answers that must all be present (in any order); empty means any answer."""
    rcode: Annotated[HeaderRcode, BeforeValidator(_upper)] = "NOERROR"


class TlsOptions(_Model):
    """Certificate checks for ``https://`` and ``tls://`` monitors."""

    min_days_left: Annotated[int, Field(ge=0)] = 14
    """The monitor fails when the certificate expires in fewer days."""
    ca_file: Annotated[str, Field(min_length=1)] | None = None
    """Also trust the certificate authorities in this PEM file."""
    insecure: bool = False
    """Go on past a failed verification (it is still reported)."""


_DEFAULT_TIMEOUT: Final = 10.0
# A timeout left unset is capped below a short interval instead of making the file
# invalid for a key the user never wrote.
_TIMEOUT_SHARE: Final = 0.8


class MonitorDefaults(_Model):
    """Values every monitor takes unless it sets the key itself."""

    interval: Interval = 60.0
    timeout: PositiveDuration = _DEFAULT_TIMEOUT
    failure_threshold: Count = 3
    success_threshold: Count = 2
    alerts: Names = ()
    headers: Headers = Field(default_factory=dict)
    resolver: Resolver | None = None
    latency_margin: Margin | None = 3.0


_HTTP_ONLY: Final = ("method", "headers", "body", "follow_redirects", "max_redirects")


class Monitor(_Model):
    """One endpoint to probe, how often, and what counts as up."""

    name: Name
    url: Annotated[str, AfterValidator(_check_target)]
    """``http(s)://host/path``, ``tcp://host:port``, ``tls://host:port`` or ``dns://name``."""
    method: Method = "GET"
    headers: Headers = Field(default_factory=dict)
    body: str | None = None
    follow_redirects: bool = True
    max_redirects: Annotated[int, Field(ge=0, le=50)] = 10
    interval: Interval = 60.0
    timeout: PositiveDuration = _DEFAULT_TIMEOUT
    """Seconds each probe may take; always shorter than ``interval``."""
    conditions: Annotated[tuple[ConditionText, ...], BeforeValidator(_one_or_many)] = ()
    failure_threshold: Count = 3
    success_threshold: Count = 2
    alerts: Names = ()
    depends_on: Names = ()
    resolver: Resolver | None = None
    dns: DnsOptions | None = None
    tls: TlsOptions | None = None
    latency_margin: Margin | None = 3.0
    """How far latency may leave its baseline, in robust standard deviations; null: never."""
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
                raise _fail(str(exc)) from None
        return value

    def covers(self, monitor: str) -> bool:
        return not self.monitors or monitor in self.monitors

    def active(self, at: dt.datetime) -> bool:
        """Whether ``at`` (timezone-aware) falls inside this window."""
        if at.tzinfo is None:
            raise ValueError("active() needs a timezone-aware datetime")
        zone = zoneinfo.ZoneInfo(self.timezone)
        if self.schedule is None:
            start, end = (_aware(t, zone) for t in (self.start, self.end))
            return start is not None and end is not None and start <= at < end
        assert self.duration is not None
        last = parse_cron(self.schedule).last_start(at.astimezone(zone), self.duration)
        if last is None:
            return False
        # Absolute time, not wall-clock: a window across a DST change lasts its duration.
        return at < last.astimezone(dt.UTC) + dt.timedelta(seconds=self.duration)


def _aware(moment: dt.datetime | None, zone: dt.tzinfo) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone)


class MonitorConfig(_Model):
    """The whole file."""

    storage: Storage = Field(default_factory=Storage)
    server: Server = Field(default_factory=Server)
    alerts: tuple[AlertChannel, ...] = ()
    defaults: MonitorDefaults = Field(default_factory=MonitorDefaults)
    maintenance: tuple[MaintenanceWindow, ...] = ()
    monitors: tuple[Monitor, ...]

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: object) -> object:
        """``server:`` with nothing under it means the defaults, not an error."""
        if isinstance(data, dict):
            empty: dict[str, object] = {
                "storage": {},
                "server": {},
                "defaults": {},
                "alerts": (),
                "maintenance": (),
            }
            return {k: empty[k] if v is None and k in empty else v for k, v in data.items()}
        return data

    @field_validator("monitors", mode="before")
    @classmethod
    def _some_monitors(cls, value: object) -> object:
        if value is None or value in ([], ()):
            raise _fail("is empty: list at least one monitor")
        return value

    def monitor(self, name: str) -> Monitor:
        """The monitor called ``name`` (KeyError if none)."""
        for monitor in self.monitors:
            if monitor.name == name:
                return monitor
        raise KeyError(name)

    def channel(self, name: str) -> WebhookChannel | AppriseChannel | EmailChannel:
        """The alert channel called ``name`` (KeyError if none)."""
        for channel in self.alerts:
            if channel.name == name:
                return channel
        raise KeyError(name)

    def in_maintenance(self, monitor: str, at: dt.datetime) -> bool:
        """Whether a maintenance window holds back ``monitor``'s alerts at ``at``."""
        return any(w.covers(monitor) and w.active(at) for w in self.maintenance)


# -- errors -------------------------------------------------------------------------------


class ConfigError(ValueError):
    """The configuration is invalid.  ``errors`` holds one ``key.path: message`` per
    problem; ``located`` the same lines prefixed with ``FILE:LINE:COLUMN:``."""

    def __init__(self, errors: list[str], located: list[str] | None = None) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        self.located = located if located is not None else list(errors)


def _show(value: object) -> str:
    """A value as the user wrote it, short enough for one line."""
    if isinstance(value, str):
        # Redact before cutting: a cut URL loses the '@' that marks its password.
        shown = json.dumps(_redact(value), ensure_ascii=False)
        return shown if len(shown) <= 60 else shown[:56] + '…"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return type(value).__name__


_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")


def _redact(text: str) -> str:
    """A URL parsed and redacted (a password may hold '@'); other text searched for URLs."""
    return redact_url(text) if _URL.fullmatch(text) else redact_text(text)


def _render_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or "(top level)"


# -- YAML to data, keeping positions ------------------------------------------------------

_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_STR_TAG: Final = "tag:yaml.org,2002:str"


@dataclasses.dataclass(slots=True)
class _Document:
    """Plain data built from YAML nodes, with each key path's position and the problems
    found on the way."""

    env: Mapping[str, str]
    constructor: yaml.constructor.SafeConstructor = dataclasses.field(
        default_factory=yaml.constructor.SafeConstructor
    )
    marks: dict[KeyPath, tuple[int, int]] = dataclasses.field(default_factory=dict)
    errors: list[tuple[KeyPath, str]] = dataclasses.field(default_factory=list)
    building: set[int] = dataclasses.field(default_factory=set)

    def build(self, node: yaml.Node, path: KeyPath) -> object:
        if id(node) in self.building:
            self.errors.append((path, "refers to itself through an alias"))
            return None
        self.building.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                items = []
                for index, item in enumerate(node.value):
                    self.marks[(*path, index)] = _position(item)
                    items.append(self.build(item, (*path, index)))
                return items
            value = self.constructor.construct_object(node)
            if isinstance(value, str) and node.tag == _STR_TAG:
                return self.interpolate(value, path)
            return value
        finally:
            self.building.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, object]:
        # `<<: [*a, *b]`: keys of the first mapping win, and the mapping's own keys win over
        # all; merged keys are built first so the own keys' positions are the ones kept.
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
                for source in reversed(sources or [value_node]):
                    built = self.build(source, path)
                    if isinstance(built, dict):
                        result.update(built)
                    else:
                        self.errors.append((path, "<< merges mappings, and this is not one"))
        own: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            line = _position(key_node)[0]
            if not isinstance(key_node, yaml.ScalarNode):
                self.errors.append((path, f"the key on line {line} is not text"))
                continue
            key = str(key_node.value)  # as written: `on:` is the key "on", not True
            self.marks[(*path, key)] = _position(key_node)
            if key in own:
                self.errors.append(
                    ((*path, key), f"is written twice (lines {own[key]} and {line})")
                )
                continue
            own[key] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def interpolate(self, text: str, path: KeyPath) -> str:
        def substitute(match: re.Match[str]) -> str:
            if match["escape"]:
                return "${"
            reference = _NAME_AND_DEFAULT.fullmatch(match["body"]) if match["close"] else None
            if reference is None:
                self.errors.append(
                    (
                        path,
                        f"{_show(match[0])} is not a ${{NAME}} or ${{NAME:-default}} reference "
                        "(write $${ for a literal ${)",
                    )
                )
                return match[0]
            name, default = reference["name"], reference["default"]
            value = self.env.get(name)
            if value:
                return value
            if default is not None:
                return default  # as the shell does, for an empty variable too
            if value is None:
                self.errors.append(
                    (
                        path,
                        f"${{{name}}} is not set in the environment "
                        f"(set it, or write ${{{name}:-default}})",
                    )
                )
            return ""

        return _REFERENCE.sub(substitute, text)


# `$${` is a literal `${`; any other `${` must be a complete reference.
_REFERENCE: Final = re.compile(r"(?P<escape>\$\$\{)|\$\{(?P<body>[^}]*)(?P<close>\})?")
_NAME_AND_DEFAULT: Final = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?")


def _compose(text: str) -> yaml.Node | None:
    """The YAML node tree, by libyaml when it is there (30 times faster on a large file);
    a mistake is read again by PyYAML, whose messages do not depend on the build."""
    fast = getattr(yaml, "CSafeLoader", None)
    for loader_class in (fast, yaml.SafeLoader) if fast else (yaml.SafeLoader,):
        loader = loader_class(text)
        try:
            return typing.cast(yaml.Node | None, loader.get_single_node())
        except yaml.YAMLError:
            if loader_class is yaml.SafeLoader:
                raise
        finally:
            loader.dispose()
    raise AssertionError("unreachable: PyYAML raises what libyaml did")


def _position(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _yaml_problem(exc: yaml.YAMLError, source: str) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "invalid YAML"
        if "'\\t'" in problem:
            problem = "a tab character: YAML is indented with spaces, not tabs"
        elif "expected a single document" in (exc.context or ""):
            problem = "a second YAML document (---): tether reads one document per file"
        elif problem.startswith("expected <block end>"):
            problem = "this line is indented differently from the lines above it"
        elif problem == "mapping values are not allowed here":
            problem += " (a value that contains ': ' needs quotes)"
        elif exc.context and exc.context_mark is not None:
            problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
        return f"{source}:{mark.line + 1}:{mark.column + 1}: {problem}"
    return f"{source}: " + " ".join(str(exc).split())


# -- pydantic errors as key paths ---------------------------------------------------------

_SECRET_KEYS: Final = frozenset({"password", "secret"})
# Keys that belong one level up, where a user may well look for them first.
_MISPLACED: Final[dict[KeyPath, str]] = {
    ("dns", "resolver"): "resolver is set on the monitor, beside url, and serves every scheme",
}


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _tags(tp: Any) -> dict[str, type[BaseModel]]:
    """The members of a discriminated union by their ``type`` tag."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return {}
    tags = {}
    for member in typing.get_args(tp):
        if isinstance(member, type) and issubclass(member, BaseModel):
            field = member.model_fields.get("type")
            if field is not None:
                tags.update(dict.fromkeys(typing.get_args(field.annotation), member))
    return tags


def _keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _field(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field.annotation
    return None


def _resolve(loc: tuple[str | int, ...]) -> tuple[KeyPath, type[BaseModel] | None, Any]:
    """The key path of a pydantic location (union tags dropped), the model owning its last
    key, and the type expected there."""
    path: list[str | int] = []
    tp: Any = MonitorConfig
    owner: type[BaseModel] | None = None
    for part in loc:
        tp = _unwrap(tp)
        tags = _tags(tp)
        if isinstance(part, str) and part in tags:
            tp = tags[part]
            continue
        path.append(part)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            owner, tp = tp, _field(tp, part)
        elif origin in (tuple, list) and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            tp = None
    return tuple(path), owner, tp


def _translate(error: Mapping[str, Any]) -> tuple[KeyPath, str]:
    loc = tuple(error["loc"])
    path, owner, tp = _resolve(loc)
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if "apprise" in loc and isinstance(value, str):
        shown = _show(_mask_apprise(value))
    elif _is_secret(path):
        shown = "the value"
    else:
        shown = _show(value)
    return _message(kind, path, owner, tp, shown, value, ctx, error["msg"])


def _is_secret(path: KeyPath) -> bool:
    key = path[-1] if path else ""
    if key in _SECRET_KEYS:
        return True
    return (
        len(path) > 1
        and path[-2] == "headers"
        and isinstance(key, str)
        and (redact_headers({key: "x"})[key] == MASK)
    )


def _message(
    kind: str,
    path: KeyPath,
    owner: type[BaseModel] | None,
    tp: Any,
    shown: str,
    value: object,
    ctx: Mapping[str, Any],
    fallback: str,
) -> tuple[KeyPath, str]:
    if kind == "tether":
        return path, str(ctx["message"])
    if kind == "missing":
        return path, "is required"
    if kind == "extra_forbidden" and path[-2:] in _MISPLACED:
        return path, f"unknown key: {_MISPLACED[path[-2:]]}"
    if kind == "extra_forbidden":
        choices = _keys(owner) if owner else []
        hint = did_you_mean(str(path[-1]), choices)
        return path, "unknown key" + (hint or f"; expected one of: {', '.join(choices)}")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = sorted(_tags(_unwrap(_union_at(path))))
        listed = ", ".join(tags)
        if kind == "union_tag_not_found":
            return (*path, "type"), f"is required: {listed}"
        tag = str(ctx.get("tag", ""))
        hint = did_you_mean(tag, tags)
        if tag.lower() in _APPRISE_SERVICES:
            hint = (
                f"; for {tag}, write type: apprise with a {_APPRISE_SERVICES[tag.lower()]}:// URL"
            )
        return (*path, "type"), f"{_show(tag)} is not one of {listed}{hint}"
    if kind == "literal_error":
        choices = [str(c) for c in typing.get_args(_unwrap(tp))]
        hint = did_you_mean(str(value), choices) if isinstance(value, str) else ""
        return path, f"{shown} is not one of {', '.join(choices)}{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return path, f"{shown} is not a whole number"
    if kind in ("float_type", "float_parsing"):
        return path, f"{shown} is not a number"
    if kind in ("bool_type", "bool_parsing"):
        return path, f"{shown} is not true or false"
    if kind == "string_type":
        if not isinstance(value, int | float) or isinstance(value, bool):
            return path, f"{shown} is not text"
        if _is_secret(path):
            return path, "the value is a number, not text: quote it"
        return path, f"{shown} is not text (quote it: {_show(str(shown))})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return path, f"{shown} is not a mapping of keys"
    if kind in ("tuple_type", "list_type"):
        return path, f"{shown} is not a list"
    if kind == "greater_than_equal":
        return path, f"{shown} is too small: the minimum is {_show(ctx['ge'])}"
    if kind == "greater_than":
        return path, f"{shown} is too small: it must be above {_show(ctx['gt'])}"
    if kind == "less_than_equal":
        return path, f"{shown} is too large: the maximum is {_show(ctx['le'])}"
    if kind in ("string_too_short", "too_short"):
        return path, "is empty"
    if kind.startswith(("datetime", "date_")):
        return path, f"{shown} is not a date and time, as in 2025-07-01T22:00:00Z"
    return path, f"{shown}: {fallback}"


def _union_at(path: KeyPath) -> Any:
    """The declared type at ``path`` (used for the alert channel union)."""
    tp: Any = MonitorConfig
    for part in path:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            tp = _field(tp, part)
        elif typing.get_origin(tp) in (tuple, list):
            tp = typing.get_args(tp)[0]
    return tp


# -- what one field cannot see ------------------------------------------------------------


def _cross_check(config: MonitorConfig) -> list[tuple[KeyPath, str]]:
    errors: list[tuple[KeyPath, str]] = []
    errors += _unique(config.alerts, "alerts", "alert channel")
    errors += _unique(config.monitors, "monitors", "monitor")
    errors += _unique(config.maintenance, "maintenance", "maintenance window")
    channels = [c.name for c in config.alerts]
    monitors = [m.name for m in config.monitors]
    for i, channel in enumerate(config.alerts):
        errors += _check_channel(channel, ("alerts", i))
    defaults = config.defaults
    errors += _references(defaults.alerts, channels, ("defaults", "alerts"), "alert channel")
    if {"interval", "timeout"} <= defaults.model_fields_set and (
        defaults.timeout >= defaults.interval
    ):
        errors.append(
            (
                ("defaults", "timeout"),
                f"{format_duration(defaults.timeout)} must be shorter than the interval "
                f"({format_duration(defaults.interval)})",
            )
        )
    for i, monitor in enumerate(config.monitors):
        at: KeyPath = ("monitors", i)
        errors += _check_scheme_options(monitor, at)
        errors += _references(monitor.alerts, channels, (*at, "alerts"), "alert channel")
        errors += _references(monitor.depends_on, monitors, (*at, "depends_on"), "monitor")
        errors += [
            ((*at, "depends_on", j), "a monitor cannot depend on itself")
            for j, parent in enumerate(monitor.depends_on)
            if parent == monitor.name
        ]
        errors += _check_timing(monitor, defaults, at)
    errors += _cycles(config.monitors)
    for i, window in enumerate(config.maintenance):
        errors += _check_window(window, ("maintenance", i))
        errors += _references(window.monitors, monitors, ("maintenance", i, "monitors"), "monitor")
    return errors


def _unique(items: tuple[Any, ...], section: str, what: str) -> list[tuple[KeyPath, str]]:
    first: dict[str, int] = {}
    errors: list[tuple[KeyPath, str]] = []
    for i, item in enumerate(items):
        if item.name in first:
            errors.append(
                (
                    (section, i, "name"),
                    f"{_show(item.name)} is already the name of {section}[{first[item.name]}]; "
                    f"each {what} needs its own",
                )
            )
        first.setdefault(item.name, i)
    return errors


def _references(
    names: tuple[str, ...], known: list[str], at: KeyPath, what: str
) -> list[tuple[KeyPath, str]]:
    errors: list[tuple[KeyPath, str]] = []
    for j, name in enumerate(names):
        if name not in known:
            hint = did_you_mean(name, known) or (
                f"; define it under {'monitors' if what == 'monitor' else 'alerts'}"
            )
            errors.append(((*at, j), f"no {what} named {_show(name)}{hint}"))
    return errors


def _check_channel(channel: AlertChannel, at: KeyPath) -> list[tuple[KeyPath, str]]:
    if isinstance(channel, AppriseChannel) and not channel.targets:
        return [((*at, "url"), "is required: an apprise URL (or urls: a list of them)")]
    if isinstance(channel, EmailChannel):
        if channel.password is not None and channel.username is None:
            return [((*at, "username"), "is required with a password")]
        if channel.username is not None and channel.password is None:
            return [((*at, "password"), "is required with a username")]
        if channel.password is not None and not channel.starttls and channel.port != 465:
            return [
                (
                    (*at, "starttls"),
                    "must be true when a password is set: tether sends passwords only over TLS "
                    "(or use port 465, TLS from the start)",
                )
            ]
    return []


def _check_scheme_options(monitor: Monitor, at: KeyPath) -> list[tuple[KeyPath, str]]:
    scheme, given = monitor.scheme, monitor.model_fields_set
    errors: list[tuple[KeyPath, str]] = []
    if scheme not in ("http", "https"):
        errors += [
            ((*at, key), f"only http:// and https:// monitors send a request; this is {scheme}://")
            for key in _HTTP_ONLY
            if key in given
        ]
    if "dns" in given and scheme != "dns":
        errors.append(((*at, "dns"), f"only dns:// monitors take dns options; this is {scheme}://"))
    if "tls" in given and scheme not in ("https", "tls"):
        errors.append(
            (
                (*at, "tls"),
                f"only https:// and tls:// monitors have a certificate; this is {scheme}://",
            )
        )
    if monitor.dns is not None:
        errors += _check_answers(monitor.dns, (*at, "dns", "answers"))
    return errors


def _check_answers(dns: DnsOptions, at: KeyPath) -> list[tuple[KeyPath, str]]:
    version = {"A": 4, "AAAA": 6}.get(dns.record_type)
    if version is None:
        return []
    errors: list[tuple[KeyPath, str]] = []
    for j, answer in enumerate(dns.answers):
        try:
            ok = ipaddress.ip_address(answer).version == version
        except ValueError:
            ok = False
        if not ok:
            errors.append(
                (
                    (*at, j),
                    f"{_show(answer)} is not an IPv{version} address, "
                    f"which an {dns.record_type} record holds",
                )
            )
    return errors


def _check_timing(
    monitor: Monitor, defaults: MonitorDefaults, at: KeyPath
) -> list[tuple[KeyPath, str]]:
    own, inherited = monitor.model_fields_set, defaults.model_fields_set
    interval = monitor.interval if "interval" in own else defaults.interval
    if "timeout" in own:
        timeout = monitor.timeout
    elif "timeout" in inherited:
        timeout = defaults.timeout
    else:
        return []  # the default timeout adapts to the interval
    if timeout < interval:
        return []
    if "timeout" in own:
        source = "" if "interval" in own else ", from defaults.interval"
        return [
            (
                (*at, "timeout"),
                f"{format_duration(timeout)} must be shorter than the interval "
                f"({format_duration(interval)}{source})",
            )
        ]
    if "interval" in own:
        return [
            (
                (*at, "interval"),
                f"{format_duration(interval)} must be longer than the timeout "
                f"({format_duration(timeout)}, from defaults.timeout)",
            )
        ]
    return []  # both from defaults: reported once, at defaults.timeout


def _cycles(monitors: tuple[Monitor, ...]) -> list[tuple[KeyPath, str]]:
    index = {m.name: i for i, m in reversed(list(enumerate(monitors)))}
    # A name written twice is reported elsewhere; its first monitor speaks for it here.
    parents = {
        name: [p for p in monitors[i].depends_on if p in index and p != name]
        for name, i in index.items()
    }
    reported: set[frozenset[str]] = set()
    errors: list[tuple[KeyPath, str]] = []

    def walk(name: str, trail: list[str]) -> None:
        for parent in parents[name]:
            if parent in trail:
                cycle = trail[trail.index(parent) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    errors.append(_cycle_error(cycle, monitors, index))
            elif parent not in done:
                walk(parent, [*trail, parent])
        done.add(name)

    done: set[str] = set()
    for monitor in monitors:
        if monitor.name not in done:
            walk(monitor.name, [monitor.name])
    return errors


def _cycle_error(
    cycle: list[str], monitors: tuple[Monitor, ...], index: dict[str, int]
) -> tuple[KeyPath, str]:
    # Start the story at the monitor written first, so the report does not depend on the walk.
    first = min(range(len(cycle)), key=lambda k: index[cycle[k]])
    ordered = cycle[first:] + cycle[:first]
    i = index[ordered[0]]
    j = monitors[i].depends_on.index(ordered[1 % len(ordered)])
    story = " -> ".join([*ordered, ordered[0]])
    return ("monitors", i, "depends_on", j), f"dependency cycle: {story}"


def _check_window(window: MaintenanceWindow, at: KeyPath) -> list[tuple[KeyPath, str]]:
    given = window.model_fields_set
    once = {"start", "end"} & given
    weekly = {"schedule", "duration"} & given
    if once and weekly:
        return [(at, "give start and end, or schedule and duration, not both")]
    if not once and not weekly:
        return [(at, "give start and end (once), or schedule and duration (weekly)")]
    missing = sorted({"start", "end"} - once if once else {"schedule", "duration"} - weekly)
    if missing:
        return [((*at, missing[0]), "is required")]
    if window.start is not None and window.end is not None:
        zone = zoneinfo.ZoneInfo(window.timezone)
        start, end = _aware(window.start, zone), _aware(window.end, zone)
        assert start is not None
        assert end is not None
        if end <= start:
            return [((*at, "end"), f"{end.isoformat()} is not after start ({start.isoformat()})")]
    if window.duration is not None and window.duration > 7 * 86400:
        return [((*at, "duration"), f"{format_duration(window.duration)} is more than a week")]
    return []


# -- defaults -----------------------------------------------------------------------------


def _with_defaults(monitor: Monitor, defaults: MonitorDefaults) -> Monitor:
    own, inherited = monitor.model_fields_set, defaults.model_fields_set
    changes: dict[str, Any] = {
        key: getattr(defaults, key) for key in _INHERITED if key in inherited and key not in own
    }
    if monitor.scheme in ("http", "https") and defaults.headers:
        mine = {name.lower() for name in monitor.headers}
        changes["headers"] = {
            **{k: v for k, v in defaults.headers.items() if k.lower() not in mine},
            **monitor.headers,
        }
    if "timeout" not in own and "timeout" not in inherited:
        interval = changes.get("interval", monitor.interval)
        changes["timeout"] = min(_DEFAULT_TIMEOUT, interval * _TIMEOUT_SHARE)
    # Copy only what changes: a file of many monitors mostly keeps the defaults as they are.
    changes = {k: v for k, v in changes.items() if getattr(monitor, k) != v}
    return monitor.model_copy(update=changes) if changes else monitor


_INHERITED: Final = (
    "interval",
    "timeout",
    "failure_threshold",
    "success_threshold",
    "alerts",
    "resolver",
    "latency_margin",
)


def _with_zones(window: MaintenanceWindow) -> MaintenanceWindow:
    zone = zoneinfo.ZoneInfo(window.timezone)
    return window.model_copy(
        update={"start": _aware(window.start, zone), "end": _aware(window.end, zone)}
    )


# -- the API ------------------------------------------------------------------------------


def parse_config(
    text: str,
    *,
    env: Mapping[str, str] | None = None,
    source: str = "<string>",
    condition_validator: ConditionValidator | None = None,
) -> MonitorConfig:
    """Validate the YAML ``text`` and return the configuration with defaults applied.

    ``env`` replaces ``os.environ`` for ``${NAME}`` references.  ``condition_validator``
    checks each condition and raises :class:`ValueError` to reject it; by default
    ``tether.monitor._conditions.parse_condition`` (``lambda text: None`` skips the check).
    Raises :class:`ConfigError` listing every problem.
    """
    import os

    document = _Document(env=os.environ if env is None else env)
    try:
        node = _compose(text)
        data = {} if node is None else document.build(node, ())
    except yaml.YAMLError as exc:
        message = _yaml_problem(exc, source)
        raise ConfigError([message]) from None
    document.marks[()] = (1, 1)
    errors = list(document.errors)
    if not isinstance(data, dict):
        errors.append(((), f"{_show(data)} is not a mapping of keys such as monitors and alerts"))
        raise _config_error(errors, document.marks, source)
    context = {"condition_validator": condition_validator or _AUTO, "conditions_passed": set()}
    try:
        config = MonitorConfig.model_validate(data, context=context)
    except ValidationError as exc:
        broken = [path for path, _ in errors]
        for error in exc.errors(include_url=False):
            path, message = _translate(error)
            # A value whose ${NAME} was missing is already reported once.
            if not any(path[: len(b)] == b for b in broken):
                errors.append((path, message))
        raise _config_error(errors, document.marks, source) from None
    errors += _cross_check(config)
    if errors:
        raise _config_error(errors, document.marks, source)
    return config.model_copy(
        update={
            "monitors": tuple(_with_defaults(m, config.defaults) for m in config.monitors),
            "maintenance": tuple(_with_zones(w) for w in config.maintenance),
        }
    )


def load_config(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    condition_validator: ConditionValidator | None = None,
) -> MonitorConfig:
    """:func:`parse_config` on the file at ``path``.  An unreadable file raises
    :class:`OSError`; one that is not UTF-8 text raises :class:`ConfigError`."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})"]
        ) from None
    return parse_config(text, env=env, source=str(path), condition_validator=condition_validator)


def _config_error(
    errors: list[tuple[KeyPath, str]], marks: Mapping[KeyPath, tuple[int, int]], source: str
) -> ConfigError:
    def position(path: KeyPath) -> tuple[int, int]:
        for end in range(len(path), -1, -1):
            if path[:end] in marks:
                return marks[path[:end]]
        return (1, 1)

    ordered = sorted(errors, key=lambda e: position(e[0]))  # stable: file order, then found
    lines, located = [], []
    for path, message in ordered:
        line = f"{_render_path(path)}: {redact_text(message)}"
        if line not in lines:
            lines.append(line)
            row, column = position(path)
            located.append(f"{source}:{row}:{column}: {line}")
    return ConfigError(lines, located)
