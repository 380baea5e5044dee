"""What one field accepts: the validators and annotated types the models share
(durations, names, lists of one, HOST:PORT, targets, URLs, addresses, methods, headers,
time zones, conditions).  Each raises :func:`fail` with the message the user reads."""

from __future__ import annotations

import ipaddress
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from email.utils import parseaddr
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationInfo

from tether._durations import format_duration, parse_duration
from tether._fieldsyntax import TOKEN, framing_problem, value_problem
from tether._hostport import DNS_PORT, InvalidHostPort, ascii_host, split_hostport
from tether._redact import MASK, redact_apprise, redact_headers
from tether._text import hidden_character
from tether.monitor.config._conditions import parse_condition
from tether.monitor.config._errors import fail, show
from tether.monitor.config._passwords import HashError, parse_password_hash, parse_token_hash

ConditionValidator = Callable[[str], object]
"""Checks one condition's text; raises :class:`ValueError` to reject it."""

# -- durations -------------------------------------------------------------------------


def _to_seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail(f"{show(value)} is not a duration, write e.g. 30s")
    if isinstance(value, int | float):
        # An int is always finite (and math.isfinite overflows on one of 400 digits).
        if isinstance(value, float) and not math.isfinite(value):
            raise fail(f"{show(value)} is not a duration, write e.g. 30s")
        if value < 0:
            raise fail(f"{show(value)} is not a duration: write a positive one, as in 30s")
        raise fail(f"{show(value)} is not a duration, write {value:g}s")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise fail(str(exc)) from None


SECONDS_CONTEXT: Final = "durations_in_seconds"
"""A validation context key: with it true, a bare number is a duration in seconds.  A
monitor the server sends its agents holds its durations so (``60.0``, not ``60s``:
``_monitor_wire.py``), and the agent validates it with the same model; a file's YAML
never may."""


def _duration(value: object, info: ValidationInfo) -> float:
    context = info.context if isinstance(info.context, Mapping) else {}
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and context.get(SECONDS_CONTEXT) is True:
        seconds = float(value)  # type: ignore[arg-type]
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return _to_seconds(value)


def _at_least_1s(seconds: float) -> float:
    if seconds < 1:
        raise fail(f"{format_duration(seconds)} is too short: the minimum is 1s")
    return seconds


def _at_least_1m(seconds: float) -> float:
    if seconds < 60:
        raise fail(f"{format_duration(seconds)} is too short: the minimum is 1m")
    return seconds


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise fail("0s is too short: give a duration above zero")
    return seconds


PositiveDuration = Annotated[float, BeforeValidator(_duration), AfterValidator(_positive)]
Interval = Annotated[float, BeforeValidator(_duration), AfterValidator(_at_least_1s)]
Reminder = Annotated[float, BeforeValidator(_duration), AfterValidator(_at_least_1m)]
"""How often an alert is repeated: a minute at least, so a mistake cannot flood a channel."""


def _whole(value: object) -> object:
    """``true`` is not 1: Python counts a bool as an int, and pydantic with it."""
    if isinstance(value, bool):
        raise fail(f"{show(value)} is not a whole number")
    return value


def _number(value: object) -> object:
    if isinstance(value, bool):
        raise fail(f"{show(value)} is not a number")
    if isinstance(value, float) and not math.isfinite(value):  # YAML's .nan and .inf
        raise fail(f"{show(value)} is not a finite number")
    return value


MAX_COUNT: Final = 1_000_000
"""The largest threshold: a million checks, eleven days at one a second."""
Count = Annotated[int, BeforeValidator(_whole), Field(ge=1, le=MAX_COUNT)]
Whole = BeforeValidator(_whole)
"""For the models' other whole numbers (a port, a number of days or redirects)."""

MAX_WORKERS: Final = 256
"""More probe processes than this is a typo, not a machine."""


def _workers(value: object) -> object:
    if value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(f"{show(value)} is not a number of processes: write a whole number, or auto")
    if not 1 <= value <= MAX_WORKERS:
        raise fail(f"{value} is out of range: write 1 to {MAX_WORKERS}, or auto")
    return value


Workers = Annotated[int | Literal["auto"], BeforeValidator(_workers)]
"""``auto`` (as many probe processes as this process may use cores) or 1 to 256."""


# -- names -------------------------------------------------------------------------------


def _check_name(value: str) -> str:
    if not value.strip():
        raise fail("is empty: give a name")
    if value != value.strip():
        raise fail(f"{show(value)} starts or ends with spaces")
    hidden = hidden_character(value)
    if hidden is not None:
        # A name is shown in logs, alerts and pages, where such a character would
        # hide or reorder the text around it.
        raise fail(f"{show(value)} contains {hidden}, which a name may not hold")
    return value


def one_or_many(value: object) -> object:
    """A single string where a list is expected means a list of one; null an empty list."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return value


Name = Annotated[str, AfterValidator(_check_name)]
Names = Annotated[tuple[Name, ...], BeforeValidator(one_or_many)]


def _some_locations(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise fail("is empty: list at least one location, or leave the key out")
    return value


Locations = Annotated[Names, AfterValidator(_some_locations)]
"""A list of location names, at least one (a monitor's ``locations`` left out means all)."""


# -- quorum ------------------------------------------------------------------------------

MAJORITY: Final = "majority"


def _to_quorum(value: object) -> object:
    """``majority``, or a whole number of locations from 1 (``"2"`` as ``2``, as counts are
    read); the upper bound, the monitor's number of locations, is a cross-check."""
    if value == MAJORITY:
        return value
    number: object = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if isinstance(number, bool) or not isinstance(number, int):
        raise fail(f"{show(value)} is not a whole number of locations, nor majority")
    if number < 1:
        raise fail(f"{show(value)} is too small: the minimum is 1 location (or write majority)")
    if number > MAX_COUNT:
        raise fail(f"{show(value)} is too large: the maximum is {MAX_COUNT}")
    return number


Quorum = Annotated[int | Literal["majority"], BeforeValidator(_to_quorum)]
"""How many of a monitor's locations must fail for it to be down: a number, or
``majority`` (more than half)."""


# -- where to listen, what to probe, whom to ask -----------------------------------------


def _split_hostport(
    value: str, *, default_port: int | None, allow_zero: bool = False
) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; the port may be left out when there is a default."""
    try:
        return split_hostport(value, default_port=default_port, allow_zero=allow_zero)
    except InvalidHostPort as exc:
        raise fail(f"{show(value)}{exc.problem}") from None


def _check_listen(value: str) -> str:
    _split_hostport(value, default_port=None, allow_zero=True)
    return value


def _check_allowed_target(value: str) -> str:
    from tether.probe import AllowedTargets

    try:
        AllowedTargets.parse([value])
    except ValueError as exc:
        raise fail(str(exc)) from None
    return value


def _check_resolver(value: str) -> str:
    host, _ = _split_hostport(value, default_port=DNS_PORT)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise fail(
            f"{show(value)}: give the DNS server's IP address, as in 127.0.0.1:5353"
        ) from None
    return value


PUSH_SCHEME: Final = "push"
"""The scheme of a push monitor's ``url``, which tether writes (``push://NAME``): nothing
is probed, the cross-checks keep it to ``type: push`` monitors."""
TRAFFIC_SCHEME: Final = "traffic"
"""The scheme of a traffic monitor's ``url`` (``traffic://APP/ENDPOINT``), written by
tether as a push monitor's is."""


def _check_target(value: str) -> str:
    from tether.probe import InvalidTarget, find_scheme, listed_schemes, parse_target

    scheme, sep, rest = value.partition("://")
    head = value.partition(":")[0]
    if not sep and find_scheme(head) is not None:
        raise fail(f"{show(value)}: write {head}:// with two slashes, as in {head}://host")
    listed = listed_schemes()
    if not sep:
        hint = ", ".join(f"{name}://" for name in listed[:-1]) + f" or {listed[-1]}://"
        raise fail(f"{show(value)} has no scheme: write {hint}")
    if scheme.lower() in (PUSH_SCHEME, TRAFFIC_SCHEME):
        return value
    if find_scheme(scheme) is None:
        raise fail(
            f"unsupported scheme {show(scheme)}: use {', '.join(listed[:-1])} or {listed[-1]}"
        )
    if scheme.lower() == "dns":
        return _check_dns_target(value, rest)
    try:
        parse_target(value)
    except InvalidTarget as exc:
        raise fail(f"{show(value)}: {exc}") from None
    return value


def _check_dns_target(value: str, name: str) -> str:
    from tether.probe import InvalidTarget, parse_target

    if not name or any(c in name for c in "/:@?#[]"):
        raise fail(
            f"{show(value)}: write dns://NAME, as in dns://example.com "
            "(the server to ask goes in resolver)"
        )
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise fail(f"{show(value)} names an address; a dns:// monitor asks about a name")
    try:
        parse_target(f"tcp://{name}:{DNS_PORT}")
    except InvalidTarget as exc:
        raise fail(f"{show(value)}: {exc}") from None
    return value


# -- alert channels and storage ----------------------------------------------------------

_WEB_URL: Final = re.compile(r"(?i)https?://[^/\s?#]+(?:[/?#]\S*)?")


def _check_web_url(value: str) -> str:
    if not _WEB_URL.fullmatch(value):
        raise fail(f"{show(value)} is not an http:// or https:// URL")
    authority = re.split(r"[/?#]", value.partition("://")[2], maxsplit=1)[0]
    try:
        split_hostport(authority.rpartition("@")[2], default_port=0)
    except InvalidHostPort as exc:
        raise fail(f"{show(value)}: its host{exc.problem}") from None
    return value


def _check_host(value: str) -> str:
    if not value:
        raise fail("is empty: give a host name or an IP address")
    try:
        ascii_host(value)
    except ValueError as exc:  # UnicodeError is one
        raise fail(f"{show(value)} is not a host: {exc}") from None
    return value


# Services people name as a channel type; apprise reaches them by URL scheme.
APPRISE_SERVICES: Final = {
    **{name: name for name in ("slack", "discord", "telegram", "msteams", "pagerduty")},
    **{name: name for name in ("opsgenie", "matrix", "mattermost", "ntfy", "pushover")},
    "teams": "msteams",
}
_APPRISE_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def _check_apprise_url(value: str) -> str:
    if not _APPRISE_URL.fullmatch(value):
        raise fail(
            f"{show(redact_apprise(value))} is not an apprise URL, as in "
            "slack://TOKEN_A/TOKEN_B/TOKEN_C or discord://WEBHOOK_ID/TOKEN"
        )
    return value


def _check_dsn(value: str) -> str:
    if not re.fullmatch(r"(?i)postgres(?:ql)?://\S+", value):
        raise fail(
            f"{show(value)} is not a PostgreSQL URL, as in postgresql://127.0.0.1:5432/tether"
        )
    return value


def _check_address(value: str) -> str:
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not at or not local or ("." not in domain and domain != "localhost"):
        raise fail(f"{show(value)} is not an email address, as in ops@example.com")
    return value


# -- requests, zones, conditions ---------------------------------------------------------


def _check_method(value: str) -> str:
    if not TOKEN.fullmatch(value):
        raise fail(f"{show(value)} is not an HTTP method, as in GET or POST")
    return value.upper()


def _check_headers(value: dict[str, str]) -> dict[str, str]:
    for name, text in value.items():
        if not TOKEN.fullmatch(name):
            raise fail(f"{show(name)} is not a header name")
        if (framing := framing_problem(name)) is not None:
            raise fail(framing)
        problem = value_problem(text)
        if problem is not None:
            shown = MASK if redact_headers({name: text})[name] == MASK else show(text)
            raise fail(f"the value of {name} ({shown}) {problem}")
    return value


def _check_timezone(value: str) -> str:
    # Whatever the lookup raises is this key's error: besides its own not-found and
    # ValueError, the tzdata package's resource loader raises OSError for a name past
    # the file system's limit (ENAMETOOLONG), and other loaders may raise other things.
    try:
        zoneinfo.ZoneInfo(value)
    except Exception:
        raise fail(f"{show(value)} is not a time zone, as in UTC or Europe/Paris") from None
    return value


def _check_password_hash(value: SecretStr) -> SecretStr:
    # The message never shows the value: a hash is not to be echoed, and what was written
    # may well be the password itself.
    try:
        parse_password_hash(value.get_secret_value())
    except HashError as exc:
        raise fail(str(exc)) from None
    return value


def _check_token_hash(value: SecretStr) -> SecretStr:
    try:
        return SecretStr(parse_token_hash(value.get_secret_value()))
    except HashError as exc:
        raise fail(str(exc)) from None


PUSH_TOKEN: Final = re.compile(r"[A-Za-z0-9._~-]{10,256}")
"""A push token tether takes: what goes in the push URL unescaped, 10 characters at least.
Ten is Uptime Kuma 1.23's (random letters and digits, about 60 bits, as many as 15 hex
digits), so that a job keeps its push URL when tether takes Kuma's place; `openssl rand
-hex 16` makes a longer one."""


def push_token_problem(token: str) -> str | None:
    """Why tether refuses ``token`` as a push token, never showing it (it is a credential
    even when mistyped); None when it takes it."""
    if PUSH_TOKEN.fullmatch(token):
        return None
    return (
        "must be 10 to 256 letters, digits, '-', '_', '.' or '~' (it goes in the push "
        "URL), as `openssl rand -hex 16` prints"
    )


def _check_push_token(value: SecretStr) -> SecretStr:
    if (problem := push_token_problem(value.get_secret_value())) is not None:
        raise fail(problem)
    return value


AUTO: Final = object()
"""The condition validator by default: :func:`tether.monitor.config._conditions.parse_condition`."""


def _check_condition(value: str, info: ValidationInfo) -> str:
    context = info.context if isinstance(info.context, Mapping) else {}
    given = context.get("condition_validator", AUTO)
    validator = parse_condition if given is AUTO else given
    # Many monitors share their conditions: each distinct text is parsed once per file.
    passed = context.get("conditions_passed")
    if validator is None or (passed is not None and value in passed):
        return value
    try:
        validator(value)
    except ValueError as exc:
        message = " ".join(str(exc).split())
        raise fail(message if value in message else f"{show(value)}: {message}") from None
    if passed is not None:
        passed.add(value)
    return value


ConditionText = Annotated[str, AfterValidator(_check_condition)]
Headers = Annotated[dict[str, str], AfterValidator(_check_headers)]
Method = Annotated[str, AfterValidator(_check_method)]
Resolver = Annotated[str, AfterValidator(_check_resolver)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
Margin = Annotated[float, BeforeValidator(_number), Field(gt=0, le=1000)]
Listen = Annotated[str, AfterValidator(_check_listen)]
AllowedTarget = Annotated[str, AfterValidator(_check_allowed_target)]
Target = Annotated[str, AfterValidator(_check_target)]
WebUrl = Annotated[str, AfterValidator(_check_web_url)]
Host = Annotated[str, AfterValidator(_check_host)]
"""A host name (labels of 1 to 63 characters, 253 in all) or an IP address."""
AppriseUrl = Annotated[str, AfterValidator(_check_apprise_url)]
Dsn = Annotated[str, AfterValidator(_check_dsn)]
Address = Annotated[str, AfterValidator(_check_address)]
PasswordHashText = Annotated[SecretStr, AfterValidator(_check_password_hash)]
"""A ``scrypt$...`` hash from ``tether hash-password``; shown nowhere."""
TokenHashText = Annotated[SecretStr, AfterValidator(_check_token_hash)]
PushToken = Annotated[SecretStr, AfterValidator(_check_push_token)]
"""A push monitor's token: the credential of ``/api/push/TOKEN``; shown nowhere."""
"""A ``sha256$...`` hash from ``tether new-token``; shown nowhere."""
