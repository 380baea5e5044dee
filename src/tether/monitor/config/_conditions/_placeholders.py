"""The placeholders, the kinds of value they hold, and reading a written value for a kind.

A kind decides which operators apply and how a written value is read.  A ``WORD`` is
read according to the placeholder it is compared with: a number for ``[STATUS]``, a
duration (``500ms``, ``2s``, ``1m``, ``1h``, ``14d``, ``1h30m``) for the timings, an
address or network for ``[IP]``, an rcode for ``[DNS_RCODE]``, ``true`` or ``false`` for
``[CONNECTED]``; so a mistake such as ``[RESPONSE_TIME] < 500`` is caught when the
configuration loads, not at 3 a.m.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Any, Final

from tether._durations import duration_ms
from tether._rcodes import RCODES
from tether.monitor.config._conditions._errors import suggestion
from tether.monitor.config._conditions._lexer import Token

NUMBER, DURATION, TEXT, JSON, RCODE, IP, BOOL, PERCENT = (
    "number",
    "duration",
    "text",
    "json",
    "rcode",
    "ip",
    "bool",
    "percent",
)
_ORDERING: Final = ("<", "<=", ">", ">=")
OPERATORS: Final[dict[str, tuple[str, ...]]] = {
    NUMBER: ("==", "!=", *_ORDERING, "in", "not in"),
    DURATION: ("==", "!=", *_ORDERING),
    PERCENT: ("==", "!=", *_ORDERING),
    TEXT: ("==", "!=", "contains", "not contains", "in", "not in"),
    JSON: ("==", "!=", *_ORDERING, "contains", "not contains", "in", "not in"),
    RCODE: ("==", "!=", "in", "not in"),
    IP: ("==", "!=", "in", "not in"),
    BOOL: ("==", "!="),
}
ALL_OPERATORS: Final = ("==", "!=", *_ORDERING, "contains", "not contains", "in", "not in")

PLACEHOLDERS: Final[dict[str, str]] = {
    "STATUS": NUMBER,
    "RESPONSE_TIME": DURATION,
    "BODY": TEXT,  # JSON once a path follows
    "HEADER": TEXT,
    "CERTIFICATE_EXPIRATION": DURATION,
    "DOMAIN_EXPIRATION": DURATION,  # from RDAP: checks/_rdap.py
    "DNS_RCODE": RCODE,
    "IP": IP,
    "CONNECTED": BOOL,
    "PHASE": DURATION,
    "BANNER": TEXT,
    "PACKET_LOSS": PERCENT,
    "RTT": DURATION,
    "GRPC_STATUS": TEXT,
    "GRPC_CODE": NUMBER,
    "RESULT": JSON,  # a database query's first value: a number, text, true/false or null
    "ROWS": NUMBER,  # the rows a database query answered (100 at most are read)
}
PHASE_NAMES: Final = (
    "dns",
    "dnssec",
    "connect",
    "tls",
    "quic",
    "auth",
    "query",
    "ssh",
    "smtp",
    "icmp",
    "ws",
    "grpc",
    "ttfb",
    "transfer",
)
FUNCTIONS: Final = {"len": NUMBER, "has": BOOL}


@dataclass(frozen=True, slots=True)
class Operand:
    placeholder: str
    path: tuple[str | int, ...]
    function: str | None
    kind: str
    """The kind of the value compared: the function's result kind if there is one."""
    end: int
    """Where the operand ends in the text: the resolved value goes there."""


@dataclass(frozen=True, slots=True)
class Literal:
    text: str
    """As written, quotes included."""
    value: Any
    """Read for the operand's kind: int, float, ms, str, bool, None, an address or network."""
    raw: str
    """The characters the user meant: a string's content, a word's text."""


# ASCII digits only (\d would read "٢٠٠" as 200), and no more of them than a float holds
# (int() refuses a number of over 4,300 digits with a ValueError of its own).
_INT_RE: Final = re.compile(r"[+-]?[0-9]{1,300}")
_FLOAT_RE: Final = re.compile(
    r"[+-]?(?:[0-9]{1,300}\.[0-9]{0,300}|\.[0-9]{1,300}|[0-9]{1,300})(?:[eE][+-]?[0-9]{1,4})?"
)


def _number(text: str) -> int | float | None:
    if _INT_RE.fullmatch(text):
        return int(text)
    if _FLOAT_RE.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else None
    return None


def read_value(kind: str, token: Token, operator: str) -> Literal:
    """The written value, read for the operand's kind; ValueError says what was expected."""
    raw = str(token.value)
    word = token.kind == "word"
    got = f"{token.text} at column {token.pos + 1}"

    def literal(value: Any) -> Literal:
        return Literal(token.text, value, raw)

    if kind == TEXT:
        return literal(raw)
    if kind == JSON:
        if not word:
            return literal(raw)
        if raw in ("true", "false"):
            return literal(raw == "true")
        if raw == "null":
            return literal(None)
        number = _number(raw)
        return literal(raw if number is None else number)
    # Beyond JSON, quotes change nothing: "200" can only mean 200 to [STATUS].
    if kind == NUMBER:
        number = _number(raw)
        if number is None:
            raise ValueError(f"compares with a number; {got} is not one")
        return literal(number)
    if kind == DURATION:
        ms = duration_ms(raw)
        if ms is None:
            fix = f"; write {raw}ms or {raw}s" if _number(raw) is not None else ""
            raise ValueError(
                f"compares with a duration (500ms, 2s, 1m, 1h, 14d); {got} is not one{fix}"
            )
        return literal(ms)
    if kind == PERCENT:
        number = _number(raw[:-1]) if raw.endswith("%") else None
        if number is None or not 0 <= number <= 100:
            fix = f"; write {raw}%" if _number(raw) is not None else ""
            raise ValueError(f"compares with a percentage (0% to 100%); {got} is not one{fix}")
        return literal(number)
    if kind == RCODE:
        if raw.upper() not in RCODES:
            raise ValueError(
                f"compares with a DNS rcode ({', '.join(RCODES[:6])}...); "
                f"{got} is not one" + suggestion(raw, RCODES)
            )
        return literal(raw.upper())
    if kind == IP:
        try:
            if "/" in raw and operator.endswith("in"):
                return literal(ipaddress.ip_network(raw, strict=False))
            return literal(ipaddress.ip_address(raw))
        except ValueError:
            if "/" in raw and not operator.endswith("in"):
                raise ValueError(
                    f"compares with one address; the network {got} goes after 'in'"
                ) from None
            raise ValueError(f"compares with an IP address; {got} is not one") from None
    # BOOL
    if raw not in ("true", "false"):
        raise ValueError(f"compares with true or false; {got} is neither")
    return literal(raw == "true")
