"""A parsed condition, judged against what the probe saw, and the resolved value shown.

A value that is missing when the probe ran (no HTTP status from a TCP check, a JSON path
that is not in the body) fails every operator, ``!=`` and ``not contains`` included:
tether cannot vouch for what it did not see.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any, Final

from tether._durations import format_ms
from tether._frozen import quick_init
from tether.monitor.config._conditions import _patterns
from tether.monitor.config._conditions._context import NOT_JSON, ProbeContext
from tether.monitor.config._conditions._patterns import Glob, PatternTimeout, Regex
from tether.monitor.config._conditions._placeholders import (
    DURATION,
    JSON,
    PERCENT,
    TEXT,
    Literal,
    Operand,
)


@quick_init
@dataclass(frozen=True, slots=True)
class ConditionResult:
    """The outcome of one condition, with the resolved value: ``[STATUS] (503) == 200``."""

    success: bool
    resolved: str

    def __repr__(self) -> str:
        return f"<ConditionResult {'pass' if self.success else 'fail'} {self.resolved}>"


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition; build it with :func:`parse_condition`."""

    text: str
    operand: Operand
    operator: str
    values: tuple[Literal, ...]
    shown: tuple[str, str] = field(init=False, repr=False, compare=False)
    """The text before the resolved value and after it (``[STATUS]``, `` == 200``),
    cut once: each check shows it."""

    def __post_init__(self) -> None:
        start = len(self.text) - len(self.text.lstrip())
        end = self.operand.end
        object.__setattr__(self, "shown", (self.text[start:end], self.text[end:].rstrip()))

    @property
    def placeholder(self) -> str:
        """The placeholder's name without brackets: ``STATUS``, ``BODY``, ``PHASE``..."""
        return self.operand.placeholder

    def __repr__(self) -> str:
        return f"<Condition {self.text}>"

    def __str__(self) -> str:
        return self.text

    def evaluate(self, context: ProbeContext) -> ConditionResult:
        """Resolve the placeholder against ``context`` and compare."""
        actual = _resolve(self.operand, context)
        stopped = ""
        if isinstance(actual, _Missing):
            success = False
        else:
            try:
                success = _compare(self.operand.kind, self.operator, actual, self.values) is True
            except PatternTimeout:
                success = False
                ms = _patterns.REGEX_TIMEOUT_S * 1000
                stopped = f" (re() stopped: the search took over {ms:g} ms)"
        head, tail = self.shown
        return ConditionResult(
            success, f"{head} ({_show(self.operand.kind, actual)}){tail}{stopped}"
        )


def operand_value(operand: Operand, context: ProbeContext) -> Any:
    """The value ``operand`` finds in ``context``; None when it finds none."""
    value = _resolve(operand, context)
    return None if isinstance(value, _Missing) else value


compact_json: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, its encoder made once
(``json.dumps`` makes one per call when given any option)."""


def _as_text(kind: str, value: Any) -> str:
    """The characters a ``pat()`` is matched against: JSON other than a string as JSON."""
    if isinstance(value, str):
        return value
    if kind == JSON:
        return compact_json(value)
    return str(value)


@dataclass(frozen=True, slots=True)
class _Missing:
    """Why there is no value to compare; shown in place of one."""

    label: str


_MISSING: Final = _Missing("missing")


def _resolve(operand: Operand, ctx: ProbeContext) -> Any:
    value = _placeholder_value(operand, ctx)
    if operand.function == "has":
        return not isinstance(value, _Missing)
    if operand.function == "len":
        if isinstance(value, _Missing):
            return value
        if isinstance(value, str | list | dict):
            return len(value)
        return _Missing(f"no length: {_show(JSON, value)}")
    return value


def _placeholder_value(operand: Operand, ctx: ProbeContext) -> Any:
    name = operand.placeholder
    value: Any
    if name == "BODY":  # the commonest, with STATUS, in an API's conditions
        return _body_value(ctx, operand.path)
    if name == "STATUS":
        value = ctx.status
    elif name == "RESPONSE_TIME":
        value = ctx.response_time_ms
    elif name == "CERTIFICATE_EXPIRATION":
        seconds = ctx.certificate_expires_in_s
        value = None if seconds is None else seconds * 1000.0
    elif name == "DOMAIN_EXPIRATION":
        seconds = ctx.domain_expires_in_s
        if seconds is None and ctx.domain_missing is not None:
            return _Missing(f"missing: {ctx.domain_missing}")
        value = None if seconds is None else seconds * 1000.0
    elif name == "DNS_RCODE":
        value = None if ctx.dns_rcode is None else ctx.dns_rcode.upper()
    elif name == "CONNECTED":
        value = ctx.connected
    elif name == "BANNER":
        value = ctx.banner
    elif name == "PACKET_LOSS":
        value = ctx.packet_loss_percent
    elif name == "RTT":
        value = ctx.rtt_ms
    elif name == "GRPC_STATUS":
        value = ctx.grpc_status
    elif name == "GRPC_CODE":
        value = ctx.grpc_code
    elif name == "PHASE":
        value = ctx.phase_ms.get(str(operand.path[0]))
    elif name == "HEADER":
        wanted = str(operand.path[0]).lower()
        value = next((v for k, v in ctx.headers.items() if k.lower() == wanted), None)
    elif name == "IP":
        return _first_ip(ctx.ips)
    elif name == "ROWS":
        value = ctx.rows
    elif name == "RESULT":  # SQL's NULL is JSON's null, not a missing value
        return ctx.result if ctx.rows else _MISSING
    else:  # BODY, above
        return _body_value(ctx, operand.path)
    return _MISSING if value is None else value


def _first_ip(ips: tuple[str, ...]) -> Any:
    if not ips:
        return _MISSING
    try:
        return ipaddress.ip_address(ips[0])
    except ValueError:
        return _Missing(f"not an IP address: {ips[0]}")


def _body_value(ctx: ProbeContext, path: tuple[str | int, ...]) -> Any:
    body = ctx.body
    if body is None:
        return _MISSING
    if not path:
        return body if isinstance(body, str) else body.decode("utf-8", "replace")
    value = ctx.body_json()
    if value is NOT_JSON:
        return _Missing("not JSON")
    for step in path:
        value = _step(value, step)
        if value is _MISSING:
            break
    return value


def _step(value: Any, step: str | int) -> Any:
    if isinstance(step, int):
        inside = isinstance(value, list) and -len(value) <= step < len(value)
        return value[step] if inside else _MISSING
    return value[step] if isinstance(value, dict) and step in value else _MISSING


def _compare(kind: str, operator: str, actual: Any, values: tuple[Literal, ...]) -> bool | None:
    """True or False; None when the comparison does not apply (a string is not < 3)."""
    first = values[0]
    if operator in ("==", "!="):
        equal = _equal(kind, actual, first.value)
        return equal if operator == "==" else not equal
    if operator in ("in", "not in"):
        member = any(_member(kind, actual, v.value) for v in values)
        return member if operator == "in" else not member
    if operator in ("contains", "not contains"):
        contains = _contains(kind, actual, first)
        if contains is None:
            return None
        return contains if operator == "contains" else not contains
    if not (_is_number(actual) and _is_number(first.value)):
        return None
    if operator == "<":
        return bool(actual < first.value)
    if operator == "<=":
        return bool(actual <= first.value)
    if operator == ">":
        return bool(actual > first.value)
    return bool(actual >= first.value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(kind: str, actual: Any, expected: Any) -> bool:
    if isinstance(expected, Glob | Regex):
        return expected.matches(_as_text(kind, actual))
    if kind != JSON:
        return bool(actual == expected)
    # JSON is typed: "3" is not 3 and true is not 1; the resolved value shows which it was.
    if _is_number(actual) and _is_number(expected):
        return bool(actual == expected)
    return type(actual) is type(expected) and bool(actual == expected)


def _member(kind: str, actual: Any, expected: Any) -> bool:
    if isinstance(expected, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return actual in expected
    return _equal(kind, actual, expected)


def _contains(kind: str, actual: Any, expected: Literal) -> bool | None:
    if isinstance(actual, str):
        return expected.raw in actual
    if kind == JSON and isinstance(actual, list):
        return any(_equal(JSON, item, expected.value) for item in actual)
    if kind == JSON and isinstance(actual, dict):
        return expected.raw in actual
    return None


# -- showing resolved values ---------------------------------------------------------

_SHOWN_CHARS: Final = 80


def _show(kind: str, value: Any) -> str:
    if isinstance(value, _Missing):
        return value.label
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == DURATION:
        return format_ms(value)
    if kind == PERCENT:
        return f"{value:g}%"
    if kind == JSON:
        return _clip(compact_json(value))
    if kind == TEXT:
        if not value:
            return '""'
        escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return _clip(escaped.replace("\t", "\\t"))
    return str(value)


def _clip(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
