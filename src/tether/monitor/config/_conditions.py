"""Monitor conditions: ``[STATUS] == 200``, ``[RESPONSE_TIME] < 500ms``, ``[BODY].ok == true``.

A condition compares one placeholder (a value the probe found) with one value the user
wrote.  Every result keeps the resolved value beside the placeholder, as gatus does, so a
failure explains itself: ``[STATUS] (503) == 200``.

The grammar (whitespace between tokens is free, none inside a placeholder's path)::

    condition := operand [operator values] END     (a bare operand must be true/false)
    operand   := PLACEHOLDER path | FUNCTION "(" PLACEHOLDER path ")"
    path      := ("." KEY | "." STRING | "[" INDEX "]" | "[" STRING "]")*
    operator  := "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "not" "contains"
               | "in" | "not" "in"
    values    := value | "(" value ("," value)* ")"  (the list only after in / not in)
               | "any" "(" item ("," item)* ")"       (only after == / !=)
    item      := value | "pat" "(" (STRING | WORD) ")"  (pat() only after == / !=)
               | "re" "(" (STRING | WORD) ")"   (re() only after == / !=)
    value     := STRING | WORD

    PLACEHOLDER := "[" NAME "]"        FUNCTION := "len" | "has"
    STRING      := '"' ... '"' | "'" ... "'"   (backslash escapes the next character)
    WORD        := a run of characters other than whitespace and ()[],"'<>=!

A ``WORD`` is read according to the placeholder it is compared with: a number for
``[STATUS]``, a duration (``500ms``, ``2s``, ``1m``, ``1h``, ``14d``, ``1h30m``) for the
timings, an address or network for ``[IP]``, an rcode for ``[DNS_RCODE]``, ``true`` or
``false`` for ``[CONNECTED]``; so a mistake such as ``[RESPONSE_TIME] < 500`` is caught
when the configuration loads, not at 3 a.m.  A value that is missing when the probe ran
(no HTTP status from a TCP check, a JSON path that is not in the body) fails every
operator, ``!=`` and ``not contains`` included: tether cannot vouch for what it did not see.

As in gatus, ``[STATUS] == any(200, 201, 204)`` is equal to one of them (``in`` by another
name: the condition's operator is ``in``, ``!= any(...)`` is ``not in``) and
``[BODY] == pat(*ok*)`` matches a glob: ``*`` any run of characters, ``?`` any one, nothing
else special (no ``[...]`` classes, no escapes, case counts).  ``pat()`` is a glob and not a
regular expression, as in gatus: a glob cannot blow up.  The glob matcher (:func:`_glob_match`)
never backtracks over a ``*``: it finds each piece between stars at its leftmost place, so it
takes at most ``len(value) x len(pattern)`` character steps, usually one ``str.find`` per piece.

For what a glob cannot say, ``[BODY] == re("^ok( [0-9]+)?$")`` searches a regular expression
(the ``regex`` package's syntax, which is ``re``'s; unanchored, so ``^`` and ``$`` ask for
the whole value).  A separate function, not a ``pat()`` spelling, so no glob can be read as
one.  It is compiled when the configuration loads (a bad one is a config error naming the
condition) and each search is bounded in time: the ``regex`` package checks its
``timeout=`` while it backtracks, so ``(a|aa)+$`` on a long run of a's stops after
:data:`REGEX_TIMEOUT_S` and the condition fails saying so, instead of stalling the monitor.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from tether._durations import duration_ms, format_ms
from tether._rcodes import RCODES, rcode_of_kind, worst_rcode
from tether._suggest import did_you_mean

if TYPE_CHECKING:
    from tether.probe import Phase, ProbeResult

__all__ = [
    "Condition",
    "ConditionError",
    "ConditionResult",
    "ProbeContext",
    "context_from_probe",
    "parse_condition",
]


class ConditionError(ValueError):
    """A condition that does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.text = text

    @property
    def column(self) -> int:
        """1-based, as the message says it."""
        return self.position + 1

    def excerpt(self) -> str:
        """The condition with a caret under the problem, for a terminal."""
        return f"{self.text}\n{' ' * self.position}^"


# -- what the probe saw --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """The values conditions are evaluated against; ``None`` means the probe did not see it."""

    status: int | None = None
    response_time_ms: float | None = None
    """The whole probe, every phase included."""
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """Looked up without regard to case."""
    certificate_expires_in_s: float | None = None
    """Seconds until the leaf certificate's ``notAfter``; negative once it has expired."""
    dns_rcode: str | None = None
    ips: tuple[str, ...] = ()
    """The address connected to first, then the other DNS answers."""
    connected: bool = False
    phase_ms: Mapping[str, float] = field(default_factory=dict)
    """Keys ``dns``, ``connect``, ``tls``, ``ssh``, ``smtp``, ``ws``, ``ttfb``,
    ``transfer``; absent when not run."""
    banner: str | None = None
    """The server's first words: an SSH identification line, an SMTP greeting's text."""
    packet_loss_percent: float | None = None
    """An icmp:// check's share of echo requests unanswered, 0 to 100."""
    rtt_ms: float | None = None
    """An icmp:// check's average round trip over the replies that came back."""


def context_from_probe(
    result: ProbeResult,
    body: bytes | str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> ProbeContext:
    """Fill a :class:`ProbeContext` from a probe's phases.

    The body and headers come from ``result.body`` and ``result.headers`` (a probe made
    with ``ProbeOptions(keep_body=...)``) unless passed here.  With ``now`` the certificate's
    remaining time is exact; without it, it is the phase's whole ``days_left``.
    """
    phases = {p.name: p for p in result.phases}
    details = {name: p.details for name, p in phases.items()}
    http = details.get("http") or details.get("ws", {})  # ws://: the upgrade's status
    timings: dict[str, float] = {}
    for name in ("dns", "connect", "tls", "ssh", "smtp", "icmp", "ws"):
        phase = phases.get(name)
        # A proxy tunnel records dns and connect as skipped, with 0 ms: not a timing.
        if phase is not None and "skipped" not in phase.details:
            timings[name] = phase.ms
    ttfb = http.get("ttfb_ms")
    if ttfb is not None:
        timings["ttfb"] = float(ttfb)
        timings["transfer"] = max(0.0, phases["http"].ms - float(ttfb))
    return ProbeContext(
        status=http.get("status"),
        response_time_ms=sum(p.ms for p in result.phases),
        body=body if body is not None else result.body,
        headers=dict(headers)
        if headers is not None
        else (dict(result.headers) if result.headers else _known_headers(http)),
        certificate_expires_in_s=_certificate_seconds(details.get("tls", {}), now),
        dns_rcode=_rcode(phases.get("dns")),
        ips=_addresses(details),
        connected=_connected(phases),
        phase_ms=timings,
        banner=details.get("ssh", {}).get("banner") or details.get("smtp", {}).get("banner"),
        packet_loss_percent=details.get("icmp", {}).get("loss_percent"),
        rtt_ms=details.get("icmp", {}).get("rtt_avg_ms"),
    )


def _known_headers(http: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: str(http[key])
        for name, key in (("retry-after", "retry_after"), ("location", "location"))
        if http.get(key) is not None
    }


def _certificate_seconds(tls: Mapping[str, Any], now: dt.datetime | None) -> float | None:
    chain = tls.get("chain") or []
    if not chain:
        return None
    leaf = chain[0]
    if now is not None and leaf.get("not_after"):
        return (dt.datetime.fromisoformat(leaf["not_after"]) - now).total_seconds()
    return float(leaf["days_left"]) * 86400.0


def _rcode(phase: Phase | None) -> str | None:
    if phase is None or phase.details.get("literal") or "skipped" in phase.details:
        return None  # no query was made
    rcodes = phase.details.get("rcode", "system")
    if isinstance(rcodes, dict) and rcodes:
        # One answer per record type: the worst decides, as the dns phase's verdict does.
        return worst_rcode(rcodes.values())
    if rcodes == "system":
        return rcode_of_kind(phase.failure.kind if phase.failure is not None else None)
    return None  # the server did not answer


def _addresses(details: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    found: list[str] = []
    connected = details.get("connect", {}).get("address")
    if connected:
        found.append(str(connected))
    for answer in details.get("dns", {}).get("answers") or []:
        address = str(answer.get("address"))
        if address not in found:
            found.append(address)
    return tuple(found)


def _connected(phases: Mapping[str, Phase]) -> bool:
    connect = phases.get("connect")
    if connect is not None:
        return bool(connect.ok)
    proxy = phases.get("proxy")
    # An http:// request through a forwarding proxy records no connect phase.
    return proxy is not None and bool(proxy.ok) and "mode" in proxy.details


# -- tokens --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    """placeholder, key, index, op, (, ), ",", string, word or end."""
    text: str
    """As written."""
    value: str | int
    pos: int
    end: int


_WORD_STOP: Final = frozenset("()[],\"'<>=!")
_KEY_STOP: Final = _WORD_STOP | {"."}
_OPS: Final = ("==", "!=", "<=", ">=", "<", ">")
# ASCII digits only, and few enough for any list: int() reads "١٢" and refuses 5,000 digits.
_INDEX_RE: Final = re.compile(r"\[\s*(-?[0-9]{1,18})\s*\]")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    in_path = False  # right after a placeholder or a path step, with no space between
    while i < n:
        c = text[i]
        if in_path and c == ".":
            token = _path_key(text, i)
        elif in_path and c == "[":
            token = _path_index(text, i)
        elif c.isspace():
            in_path = False
            i += 1
            continue
        elif c == "[":
            token = _placeholder(text, i)
        elif c in "(),":
            token = _Token(c, c, c, i, i + 1)
        elif c in "<>=!":
            token = _operator(text, i)
        elif c in "\"'":
            token = _string(text, i)
        elif c == "]":
            # Every other character starts a token or a word; a stray ']' would start an
            # empty word and the loop would never move on.
            raise ConditionError(
                f"']' at column {i + 1} closes nothing: a placeholder is written like [STATUS]",
                i,
                text,
            )
        else:
            j = i
            while j < n and text[j] not in _WORD_STOP and not text[j].isspace():
                j += 1
            token = _Token("word", text[i:j], text[i:j], i, j)
        if token.end <= i:  # every branch above moves on; say so rather than spin
            raise AssertionError(f"the tokenizer did not advance at column {i + 1}")
        tokens.append(token)
        in_path = token.kind in ("placeholder", "key", "index")
        i = token.end
    tokens.append(_Token("end", "", "", n, n))
    return tokens


def _placeholder(text: str, i: int) -> _Token:
    close = i + 1
    while close < len(text) and text[close] not in "[]" and not text[close].isspace():
        close += 1
    if close >= len(text) or text[close] != "]":
        raise ConditionError(
            f"'[' at column {i + 1} is not closed: a placeholder is written like [STATUS]", i, text
        )
    name = text[i + 1 : close]
    if not name:
        raise ConditionError(
            f"empty placeholder [] at column {i + 1}: write one like [STATUS]", i, text
        )
    return _Token("placeholder", text[i : close + 1], name, i, close + 1)


def _path_key(text: str, i: int) -> _Token:
    """``.name`` or ``."quoted name"`` after a placeholder."""
    start = i + 1
    if start < len(text) and text[start] in "\"'":
        quoted = _string(text, start)
        return _Token("key", text[i : quoted.end], quoted.value, i, quoted.end)
    j = start
    while j < len(text) and text[j] not in _KEY_STOP and not text[j].isspace():
        j += 1
    if j == start:
        raise ConditionError(
            f"expected a key after '.' at column {start + 1}, as in [BODY].status", start, text
        )
    return _Token("key", text[i:j], text[start:j], i, j)


def _path_index(text: str, i: int) -> _Token:
    """``[0]``, ``[-1]`` or ``["quoted key"]`` after a placeholder."""
    if match := _INDEX_RE.match(text, i):
        return _Token("index", match.group(0), int(match.group(1)), i, match.end())
    j = i + 1
    if j < len(text) and text[j] in "\"'":
        quoted = _string(text, j)
        if quoted.end < len(text) and text[quoted.end] == "]":
            return _Token("key", text[i : quoted.end + 1], quoted.value, i, quoted.end + 1)
    raise ConditionError(
        f'expected an index like [0] or a quoted key like ["name"] at column {i + 1}', i, text
    )


def _operator(text: str, i: int) -> _Token:
    two = text[i : i + 2]
    for op in _OPS:
        if text.startswith(op, i):
            return _Token("op", op, op, i, i + len(op))
    if text[i] == "=":
        hint = "'>='" if two == "=>" else "'<='" if two == "=<" else "'=='"
        raise ConditionError(f"'=' at column {i + 1} does not compare: write {hint}", i, text)
    raise ConditionError(
        f"'!' at column {i + 1} must be followed by '=': write '!=' or 'not contains'", i, text
    )


_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r"}


def _string(text: str, i: int) -> _Token:
    quote = text[i]
    out: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            out.append(_ESCAPES.get(text[j + 1], text[j + 1]))
            j += 2
        elif c == quote:
            return _Token("string", text[i : j + 1], "".join(out), i, j + 1)
        else:
            out.append(c)
            j += 1
    raise ConditionError(
        f"the string starting at column {i + 1} is not closed: end it with {quote}", i, text
    )


# -- placeholders and the kinds of value they hold ------------------------------------

# A kind decides which operators apply and how a written value is read.
_NUMBER, _DURATION, _TEXT, _JSON, _RCODE, _IP, _BOOL, _PERCENT = (
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
_OPERATORS: Final[dict[str, tuple[str, ...]]] = {
    _NUMBER: ("==", "!=", *_ORDERING, "in", "not in"),
    _DURATION: ("==", "!=", *_ORDERING),
    _PERCENT: ("==", "!=", *_ORDERING),
    _TEXT: ("==", "!=", "contains", "not contains", "in", "not in"),
    _JSON: ("==", "!=", *_ORDERING, "contains", "not contains", "in", "not in"),
    _RCODE: ("==", "!=", "in", "not in"),
    _IP: ("==", "!=", "in", "not in"),
    _BOOL: ("==", "!="),
}
_ALL_OPERATORS: Final = ("==", "!=", *_ORDERING, "contains", "not contains", "in", "not in")

_PLACEHOLDERS: Final[dict[str, str]] = {
    "STATUS": _NUMBER,
    "RESPONSE_TIME": _DURATION,
    "BODY": _TEXT,  # _JSON once a path follows
    "HEADER": _TEXT,
    "CERTIFICATE_EXPIRATION": _DURATION,
    "DNS_RCODE": _RCODE,
    "IP": _IP,
    "CONNECTED": _BOOL,
    "PHASE": _DURATION,
    "BANNER": _TEXT,
    "PACKET_LOSS": _PERCENT,
    "RTT": _DURATION,
}
PHASE_NAMES: Final = ("dns", "connect", "tls", "ssh", "smtp", "icmp", "ws", "ttfb", "transfer")
_FUNCTIONS: Final = {"len": _NUMBER, "has": _BOOL}


@dataclass(frozen=True, slots=True)
class _Operand:
    placeholder: str
    path: tuple[str | int, ...]
    function: str | None
    kind: str
    """The kind of the value compared: the function's result kind if there is one."""
    end: int
    """Where the operand ends in the text: the resolved value goes there."""


@dataclass(frozen=True, slots=True)
class _Literal:
    text: str
    """As written, quotes included."""
    value: Any
    """Read for the operand's kind: int, float, ms, str, bool, None, an address or network."""
    raw: str
    """The characters the user meant: a string's content, a word's text."""


# -- conditions and the parser ------------------------------------------------------


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
    operand: _Operand
    operator: str
    values: tuple[_Literal, ...]

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
            except _PatternTimeout:
                success = False
                ms = REGEX_TIMEOUT_S * 1000
                stopped = f" (re() stopped: the search took over {ms:g} ms)"
        shown = _show(self.operand.kind, actual)
        start = len(self.text) - len(self.text.lstrip())
        end = self.operand.end
        resolved = f"{self.text[start:end]} ({shown}){self.text[end:].rstrip()}{stopped}"
        return ConditionResult(success, resolved)


def parse_condition(text: str) -> Condition:
    """Parse ``text``; raise :class:`ConditionError` saying where and what is wrong."""
    return _Parser(text, _tokenize(text)).condition()


@dataclass(slots=True)
class _Parser:
    text: str
    tokens: list[_Token]
    at: int = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.at += 1
        return token

    def fail(self, message: str, position: int) -> ConditionError:
        return ConditionError(message, position, self.text)

    def condition(self) -> Condition:
        first = self.peek()
        if first.kind == "end":
            raise self.fail("empty condition: write one like [STATUS] == 200", 0)
        operand = self.operand()
        written = self.text[first.pos : operand.end]
        if self.peek().kind == "end":
            if operand.kind != _BOOL:
                raise self.fail(
                    f"expected an operator after {written} at column {operand.end + 1} "
                    f"({', '.join(_OPERATORS[operand.kind])})",
                    operand.end,
                )
            # A bare true/false operand reads as itself: [CONNECTED], has([BODY].id).
            return Condition(self.text, operand, "==", (_Literal("true", True, "true"),))
        operator, at = self.operator(operand, written)
        if self.at_value_function("any"):
            values = self.any_values(operand, operator, at)
            operator = "in" if operator == "==" else "not in"
        else:
            values = self.values(operand, operator, at)
        extra = self.peek()
        if extra.kind != "end":
            raise self.fail(
                f"unexpected {extra.text!r} at column {extra.pos + 1}: a condition compares "
                "one placeholder with one value (write each condition as its own item; "
                "all must pass)",
                extra.pos,
            )
        return Condition(self.text, operand, operator, values)

    # operand := PLACEHOLDER path | FUNCTION "(" PLACEHOLDER path ")"
    def operand(self) -> _Operand:
        token = self.peek()
        if token.kind == "word" and self.peek(1).kind == "(":
            name = token.text
            if name not in _FUNCTIONS:
                raise self.fail(
                    f"unknown function {name}() at column {token.pos + 1}; "
                    f"the functions are {', '.join(f'{f}()' for f in _FUNCTIONS)}"
                    + _did_you_mean(name, list(_FUNCTIONS), suffix="()"),
                    token.pos,
                )
            self.at += 2
            inner = self.placeholder()
            close = self.peek()
            if close.kind != ")":
                raise self.fail(
                    f"expected ')' to close {name}( at column {close.pos + 1}", close.pos
                )
            self.at += 1
            if name == "len" and inner.kind not in (_TEXT, _JSON):
                raise self.fail(
                    f"len() at column {token.pos + 1} measures [BODY] or a [HEADER], "
                    f"not [{inner.placeholder}]",
                    token.pos,
                )
            return _Operand(inner.placeholder, inner.path, name, _FUNCTIONS[name], close.end)
        return self.placeholder()

    def placeholder(self) -> _Operand:
        token = self.take()
        if token.kind != "placeholder":
            got = "the end" if token.kind == "end" else repr(token.text)
            raise self.fail(
                f"expected a placeholder like [STATUS] at column {token.pos + 1}, got {got}",
                token.pos,
            )
        name = str(token.value)
        if name not in _PLACEHOLDERS:
            raise self.fail(
                f"unknown placeholder {token.text} at column {token.pos + 1}"
                + _did_you_mean(name, list(_PLACEHOLDERS), prefix="[", suffix="]"),
                token.pos,
            )
        steps: list[_Token] = []
        while self.peek().kind in ("key", "index"):
            steps.append(self.take())
        path = tuple(s.value for s in steps)
        end = steps[-1].end if steps else token.end
        kind = _PLACEHOLDERS[name]
        if name == "BODY":
            kind = _JSON if path else _TEXT
        elif name in ("HEADER", "PHASE"):
            self.check_name(token, steps)
        elif steps:
            raise self.fail(
                f"{token.text} takes no path: remove {self.text[token.end : end]!r} "
                f"at column {token.end + 1}",
                token.end,
            )
        return _Operand(name, path, None, kind, end)

    def check_name(self, token: _Token, steps: list[_Token]) -> None:
        """``[HEADER]`` and ``[PHASE]`` take exactly one ``.name``."""
        example = "[HEADER].content-type" if token.value == "HEADER" else "[PHASE].connect"
        if not steps:
            raise self.fail(
                f"{token.text} needs a name at column {token.end + 1}, as in {example}",
                token.end,
            )
        if len(steps) > 1 or steps[0].kind != "key":
            bad = steps[1] if len(steps) > 1 else steps[0]
            raise self.fail(
                f"{token.text} takes one name, as in {example}; remove {bad.text!r} "
                f"at column {bad.pos + 1}",
                bad.pos,
            )
        if token.value == "PHASE" and steps[0].value not in PHASE_NAMES:
            key = str(steps[0].value)
            raise self.fail(
                f"unknown phase {key!r} at column {steps[0].pos + 2}; the phases are "
                f"{', '.join(PHASE_NAMES)}" + _did_you_mean(key, list(PHASE_NAMES)),
                steps[0].pos + 1,
            )

    # operator := == | != | < | <= | > | >= | contains | not contains | in | not in
    def operator(self, operand: _Operand, written: str) -> tuple[str, _Token]:
        token = self.take()
        operator: str | None = None
        if token.kind == "op" or (token.kind == "word" and token.text in ("contains", "in")):
            operator = token.text
        elif token.kind == "word" and token.text == "not":
            after = self.take()
            if after.kind != "word" or after.text not in ("contains", "in"):
                raise self.fail(
                    f"expected 'contains' or 'in' after 'not' at column {after.pos + 1}",
                    after.pos,
                )
            operator = f"not {after.text}"
        if operator is None:
            hint = (
                ": write the path right after the placeholder, without a space"
                if token.text.startswith(".")
                else ""
            )
            raise self.fail(
                f"expected an operator after {written} at column {token.pos + 1}, got "
                f"{token.text!r} ({', '.join(_ALL_OPERATORS)}){hint}",
                token.pos,
            )
        allowed = _OPERATORS[operand.kind]
        if operator not in allowed:
            raise self.fail(
                f"{written} cannot use {operator!r} at column {token.pos + 1}; "
                f"it compares with {', '.join(allowed)}",
                token.pos,
            )
        return operator, token

    def at_value_function(self, name: str) -> bool:
        """The next tokens are ``name(``: a value function, not the bare word ``name``."""
        token = self.peek()
        return token.kind == "word" and token.text == name and self.peek(1).kind == "("

    def check_value_function(self, operand: _Operand, operator: str) -> None:
        """``any()``, ``pat()`` and ``re()`` go after == or !=, and not for every kind."""
        token = self.peek()
        name = token.text
        if operator not in ("==", "!="):
            raise self.fail(
                f"{name}() at column {token.pos + 1} goes after == or !=, not {operator!r}",
                token.pos,
            )
        if operand.kind in (_DURATION, _PERCENT, _BOOL):
            written = self.text[self.tokens[0].pos : operand.end]
            raise self.fail(
                f"{written} cannot use {name}() at column {token.pos + 1}; "
                + (
                    f"a {operand.kind} is compared with < or >"
                    if operand.kind in (_DURATION, _PERCENT)
                    else "it is true or false"
                ),
                token.pos,
            )

    # "any" "(" item ("," item)* ")"
    def any_values(self, operand: _Operand, operator: str, at: _Token) -> tuple[_Literal, ...]:
        self.check_value_function(operand, operator)
        self.at += 2
        found = [self.item(operand, at)]
        while self.peek().kind == ",":
            comma = self.take()
            found.append(self.item(operand, comma))
        close = self.peek()
        if close.kind != ")":
            raise self.fail(
                f"expected ',' or ')' to close any( at column {close.pos + 1}", close.pos
            )
        self.at += 1
        return tuple(found)

    def item(self, operand: _Operand, after: _Token) -> _Literal:
        if self.at_value_function("pat") or self.at_value_function("re"):
            return self.pattern(operand, "==")
        if self.at_value_function("any"):
            token = self.peek()
            raise self.fail(f"any() at column {token.pos + 1} cannot go inside any()", token.pos)
        # Read as after ==: a network is not one value, so any() takes no 10.0.0.0/8.
        return self.value(operand, "==", after)

    # ("pat" | "re") "(" (STRING | WORD) ")"
    def pattern(self, operand: _Operand, operator: str) -> _Literal:
        self.check_value_function(operand, operator)
        name = self.take()
        func = name.text
        self.at += 1  # "("
        token = self.take()
        if token.kind not in ("word", "string"):
            got = "the end" if token.kind == "end" else repr(token.text)
            example = "*ok*" if func == "pat" else '"^ok"'
            raise self.fail(
                f"expected a pattern like {example} in {func}( at column {token.pos + 1}, "
                f"got {got}; quote one with spaces or ()[],<>=! in it",
                token.pos,
            )
        written = str(token.value)
        if len(written) > _MAX_PATTERN:
            raise self.fail(
                f"the pattern at column {token.pos + 1} is {len(written)} characters long; "
                f"{func}() takes at most {_MAX_PATTERN}",
                token.pos,
            )
        close = self.take()
        if close.kind != ")":
            raise self.fail(f"expected ')' to close {func}( at column {close.pos + 1}", close.pos)
        matcher: _Glob | _Regex
        if func == "pat":
            matcher = _Glob(written)
        else:
            try:
                matcher = _Regex(written)
            except ValueError as exc:
                raise self.fail(
                    f"the regular expression in re( at column {token.pos + 1} does not "
                    f"compile: {exc}",
                    token.pos,
                ) from None
        return _Literal(self.text[name.pos : close.end], matcher, written)

    # values := value | "(" value ("," value)* ")" | ("pat" | "re") "(" ... ")"
    def values(self, operand: _Operand, operator: str, at: _Token) -> tuple[_Literal, ...]:
        if self.at_value_function("pat") or self.at_value_function("re"):
            return (self.pattern(operand, operator),)
        token = self.peek()
        if token.kind == "(":
            if not operator.endswith("in"):
                raise self.fail(
                    f"a list ( ... ) at column {token.pos + 1} goes only after 'in'", token.pos
                )
            self.at += 1
            found = [self.value(operand, operator, at)]
            while self.peek().kind == ",":
                comma = self.take()
                found.append(self.value(operand, operator, comma))
            close = self.peek()
            if close.kind != ")":
                raise self.fail(
                    f"expected ',' or ')' in the list at column {close.pos + 1}", close.pos
                )
            self.at += 1
            return tuple(found)
        return (self.value(operand, operator, at),)

    def value(self, operand: _Operand, operator: str, after: _Token) -> _Literal:
        token = self.peek()
        if token.kind not in ("word", "string"):
            got = "the end" if token.kind == "end" else repr(token.text)
            raise self.fail(
                f"expected a value after {after.text!r} at column {token.pos + 1}, got {got}",
                token.pos,
            )
        self.at += 1
        try:
            return _read(operand.kind, token, operator)
        except ValueError as exc:
            raise self.fail(
                f"{self.text[self.tokens[0].pos : operand.end]} {exc}",
                token.pos,
            ) from None


def _did_you_mean(word: str, choices: Sequence[str], *, prefix: str = "", suffix: str = "") -> str:
    return did_you_mean(word, choices, sep="; ", prefix=prefix, suffix=suffix, ignore_case=True)


# -- reading values ------------------------------------------------------------------

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


def _read(kind: str, token: _Token, operator: str) -> _Literal:
    """The written value, read for the operand's kind; ValueError says what was expected."""
    raw = str(token.value)
    word = token.kind == "word"
    got = f"{token.text} at column {token.pos + 1}"

    def literal(value: Any) -> _Literal:
        return _Literal(token.text, value, raw)

    if kind == _TEXT:
        return literal(raw)
    if kind == _JSON:
        if not word:
            return literal(raw)
        if raw in ("true", "false"):
            return literal(raw == "true")
        if raw == "null":
            return literal(None)
        number = _number(raw)
        return literal(raw if number is None else number)
    # Beyond JSON, quotes change nothing: "200" can only mean 200 to [STATUS].
    if kind == _NUMBER:
        number = _number(raw)
        if number is None:
            raise ValueError(f"compares with a number; {got} is not one")
        return literal(number)
    if kind == _DURATION:
        ms = duration_ms(raw)
        if ms is None:
            fix = f"; write {raw}ms or {raw}s" if _number(raw) is not None else ""
            raise ValueError(
                f"compares with a duration (500ms, 2s, 1m, 1h, 14d); {got} is not one{fix}"
            )
        return literal(ms)
    if kind == _PERCENT:
        number = _number(raw[:-1]) if raw.endswith("%") else None
        if number is None or not 0 <= number <= 100:
            fix = f"; write {raw}%" if _number(raw) is not None else ""
            raise ValueError(f"compares with a percentage (0% to 100%); {got} is not one{fix}")
        return literal(number)
    if kind == _RCODE:
        if raw.upper() not in RCODES:
            raise ValueError(
                f"compares with a DNS rcode ({', '.join(RCODES[:6])}...); "
                f"{got} is not one" + _did_you_mean(raw, RCODES)
            )
        return literal(raw.upper())
    if kind == _IP:
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
    # _BOOL
    if raw not in ("true", "false"):
        raise ValueError(f"compares with true or false; {got} is neither")
    return literal(raw == "true")


# -- patterns ------------------------------------------------------------------------

_MAX_PATTERN: Final = 256
"""Characters in a ``pat()``: the matcher's worst case is the value's length times this."""


@dataclass(frozen=True, slots=True)
class _Glob:
    """A ``pat()``: ``*`` any run of characters, ``?`` any one character."""

    pattern: str
    pieces: tuple[_Piece, ...] = ()
    """The pattern split at each ``*``; a piece with ``?`` compiled (see :func:`_piece`)."""

    def __post_init__(self) -> None:
        pieces = tuple((_piece(p), len(p)) for p in self.pattern.split("*"))
        object.__setattr__(self, "pieces", pieces)

    def matches(self, text: str) -> bool:
        return _glob_match(self.pieces, text)


def glob_matcher(pattern: str) -> Callable[[str], bool]:
    """Whether a text is all of ``pattern`` (``*`` any run, ``?`` any one character),
    as ``pat()`` matches: a traffic monitor's ``endpoint`` uses it too."""
    return _Glob(pattern).matches


def _piece(piece: str) -> str | re.Pattern[str]:
    """A piece without ``*``: as is, or with ``?`` as a regular expression's ``.``.

    The expression has no quantifier, group or alternation, so ``re`` cannot backtrack
    into a blow-up: a search tries each start once, at most ``len(piece)`` steps each, in C.
    """
    if "?" not in piece:
        return piece
    return re.compile(".".join(re.escape(run) for run in piece.split("?")), re.DOTALL)


_Piece = tuple[str | re.Pattern[str], int]
"""A piece of a glob between stars, and how many characters it matches."""


def _glob_match(pieces: tuple[_Piece, ...], text: str) -> bool:
    """Whether ``text`` is all of the pattern; no backtracking over a ``*``.

    The pieces between stars are found each at its leftmost place after the one before:
    if a piece fits anywhere further on, it fits there too, so the leftmost place never
    loses a match.  The first piece must fit at the start and the last at the end, so the
    work is at most ``len(text) x len(pattern)`` steps, usually one ``str.find`` a piece.
    """
    if len(pieces) == 1:
        return _fits(pieces[0][0], text, 0, len(text))
    (first, at), *middle, (last, last_size) = pieces
    stop = len(text) - last_size
    if at > stop or not _fits(first, text, 0, at) or not _fits(last, text, stop, len(text)):
        return False
    for piece, size in middle:
        if isinstance(piece, str):
            found = text.find(piece, at, stop)
        else:
            hit = piece.search(text, at, stop)
            found = hit.start() if hit else -1
        if found < 0:
            return False
        at = found + size
    return True


def _fits(piece: str | re.Pattern[str], text: str, start: int, stop: int) -> bool:
    """``piece`` is exactly ``text[start:stop]``."""
    if isinstance(piece, str):
        return stop - start == len(piece) and text.startswith(piece, start)
    return piece.fullmatch(text, start, stop) is not None


REGEX_TIMEOUT_S: float = 0.05
"""How long one ``re()`` may search one value (seconds); past it the condition fails.
A module setting, so a test can make it small rather than wait."""


class _PatternTimeout(Exception):
    """A ``re()`` search ran past :data:`REGEX_TIMEOUT_S`."""


@dataclass(frozen=True, slots=True)
class _Regex:
    """A ``re()``: a regular expression searched with a time bound (the ``regex`` package)."""

    pattern: str
    compiled: Any = None

    def __post_init__(self) -> None:
        import regex  # the monitor extra's; only conditions that use re() need it

        try:
            compiled = regex.compile(self.pattern)
        except (regex.error, OverflowError, RecursionError) as exc:
            raise ValueError(str(exc)) from None
        object.__setattr__(self, "compiled", compiled)

    def matches(self, text: str) -> bool:
        try:
            return self.compiled.search(text, timeout=REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            raise _PatternTimeout(self.pattern) from None


def _as_text(kind: str, value: Any) -> str:
    """The characters a ``pat()`` is matched against: JSON other than a string as JSON."""
    if isinstance(value, str):
        return value
    if kind == _JSON:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


# -- evaluation ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Missing:
    """Why there is no value to compare; shown in place of one."""

    label: str


_MISSING: Final = _Missing("missing")


def _resolve(operand: _Operand, ctx: ProbeContext) -> Any:
    value = _placeholder_value(operand, ctx)
    if operand.function == "has":
        return not isinstance(value, _Missing)
    if operand.function == "len":
        if isinstance(value, _Missing):
            return value
        if isinstance(value, str | list | dict):
            return len(value)
        return _Missing(f"no length: {_show(_JSON, value)}")
    return value


def _placeholder_value(operand: _Operand, ctx: ProbeContext) -> Any:
    name = operand.placeholder
    value: Any
    if name == "STATUS":
        value = ctx.status
    elif name == "RESPONSE_TIME":
        value = ctx.response_time_ms
    elif name == "CERTIFICATE_EXPIRATION":
        seconds = ctx.certificate_expires_in_s
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
    elif name == "PHASE":
        value = ctx.phase_ms.get(str(operand.path[0]))
    elif name == "HEADER":
        wanted = str(operand.path[0]).lower()
        value = next((v for k, v in ctx.headers.items() if k.lower() == wanted), None)
    elif name == "IP":
        return _first_ip(ctx.ips)
    else:  # BODY
        return _body_value(ctx.body, operand.path)
    return _MISSING if value is None else value


def _first_ip(ips: tuple[str, ...]) -> Any:
    if not ips:
        return _MISSING
    try:
        return ipaddress.ip_address(ips[0])
    except ValueError:
        return _Missing(f"not an IP address: {ips[0]}")


def _body_value(body: bytes | str | None, path: tuple[str | int, ...]) -> Any:
    if body is None:
        return _MISSING
    if not path:
        return body if isinstance(body, str) else body.decode("utf-8", "replace")
    try:
        value: Any = json.loads(body)
    except (ValueError, RecursionError):
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


def _compare(kind: str, operator: str, actual: Any, values: tuple[_Literal, ...]) -> bool | None:
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
    if isinstance(expected, _Glob | _Regex):
        return expected.matches(_as_text(kind, actual))
    if kind != _JSON:
        return bool(actual == expected)
    # JSON is typed: "3" is not 3 and true is not 1; the resolved value shows which it was.
    if _is_number(actual) and _is_number(expected):
        return bool(actual == expected)
    return type(actual) is type(expected) and bool(actual == expected)


def _member(kind: str, actual: Any, expected: Any) -> bool:
    if isinstance(expected, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return actual in expected
    return _equal(kind, actual, expected)


def _contains(kind: str, actual: Any, expected: _Literal) -> bool | None:
    if isinstance(actual, str):
        return expected.raw in actual
    if kind == _JSON and isinstance(actual, list):
        return any(_equal(_JSON, item, expected.value) for item in actual)
    if kind == _JSON and isinstance(actual, dict):
        return expected.raw in actual
    return None


# -- showing resolved values ---------------------------------------------------------

_SHOWN_CHARS: Final = 80


def _show(kind: str, value: Any) -> str:
    if isinstance(value, _Missing):
        return value.label
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == _DURATION:
        return format_ms(value)
    if kind == _PERCENT:
        return f"{value:g}%"
    if kind == _JSON:
        return _clip(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    if kind == _TEXT:
        if not value:
            return '""'
        escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return _clip(escaped.replace("\t", "\\t"))
    return str(value)


def _clip(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
