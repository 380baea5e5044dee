"""Labels and the matchers that select by them, as Prometheus and Alertmanager write them.

A monitor's ``labels:`` is a flat map of names to text (``{team: payments, tier: "1"}``).
A name follows Prometheus's rule (a letter or ``_``, then letters, digits and ``_``;
``__`` begins names Prometheus keeps for itself), and a few names are tether's own: what it
puts beside the labels on every alert and series (``monitor``, ``location``, ``event``,
``kind``, ``incident``), so no label can be mistaken for them.

A matcher is Alertmanager's (``docs/routing.md``): ``name="value"``, ``name!="value"``,
``name=~"regex"``, ``name!~"regex"``, the value quoted or not, a regular expression in
RE2's syntax (Alertmanager's), anchored at both ends and run by an engine that cannot
backtrack (``labels/_regex.py``); a label that is not there reads as the empty text, so
``team=""`` selects what has no ``team`` and ``team!="db"`` selects it too.  A list of
matchers selects what every one of them matches.  In a configuration a list is written
as Alertmanager's ``matchers:`` (``['service="checkout"', 'tier=~"1|2"']``), as one
string of them in braces (``'{service="checkout", tier=~"1|2"}'``), or as a map of
equalities (``{service: checkout}``, Alertmanager's older ``match:``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from pydantic import BeforeValidator, PlainValidator

from tether.monitor.config._errors import fail, show
from tether.monitor.config.labels._regex import MEMORY_MAX, LabelRegex, compile_label_regex

__all__ = [
    "LABEL_MAX",
    "RESERVED",
    "LabelMap",
    "Matcher",
    "MatcherList",
    "Matchers",
    "label_problem",
    "matches",
    "parse_matchers",
]

LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
RESERVED: Final = frozenset({"monitor", "location", "event", "kind", "incident"})
"""Names tether puts beside a monitor's labels (on alerts, series, route matching)."""
LABEL_MAX: Final = 64
"""Labels a monitor may have."""
VALUE_MAX: Final = 1024
"""Characters a label's value may hold."""

Op = Literal["=", "!=", "=~", "!~"]


def label_problem(name: object) -> str | None:
    """What is wrong with ``name`` as a label name, or None."""
    if not isinstance(name, str) or not LABEL_NAME.fullmatch(name):
        return (
            f"{show(name)} is not a label name: begin with a letter or _, then letters, "
            "digits and _ (as Prometheus's)"
        )
    if name.startswith("__"):
        return f"{show(name)} begins with __, which Prometheus keeps for its own labels"
    if name in RESERVED:
        return f"{show(name)} is tether's own label on every alert and series: choose another"
    return None


def _labels(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail(f"{show(value)} is not a map of labels: write e.g. {{team: payments}}")
    if len(value) > LABEL_MAX:
        raise fail(f"has {len(value)} labels: at most {LABEL_MAX}")
    out: dict[str, str] = {}
    for name, text in value.items():
        problem = label_problem(name)
        if problem is not None:
            raise fail(problem)
        if isinstance(text, bool) or not isinstance(text, str):
            raise fail(
                f"{name}: {show(text)} is not text: write it in quotes, as in {name}: "
                f'"{str(text).lower() if isinstance(text, bool) else text}"'
            )
        if len(text) > VALUE_MAX:
            raise fail(f"{name}: its value is {len(text)} characters long: at most {VALUE_MAX}")
        out[name] = text
    return out


LabelMap = Annotated[dict[str, str], BeforeValidator(_labels)]
"""A monitor's ``labels:``: names as Prometheus's (not tether's own), values text."""


@dataclass(frozen=True, slots=True)
class Matcher:
    """One of Alertmanager's matchers: ``name op value``."""

    name: str
    op: Op
    value: str
    pattern: LabelRegex | None = None
    """The value compiled, matched against all of a label's value (``=~`` and ``!~``)."""

    @classmethod
    def of(cls, name: str, op: Op, value: str, *, memory: int = MEMORY_MAX) -> Matcher:
        """A matcher, its regular expression compiled (``memory``: RE2's, see
        ``labels/_regex.py``); raises :class:`ValueError` for a name or an expression that
        cannot be one."""
        if not LABEL_NAME.fullmatch(name):
            raise ValueError(f"{show(name)} is not a label name")
        pattern = None
        if op in ("=~", "!~"):
            try:
                pattern = compile_label_regex(value, memory=memory)
            except ValueError as exc:
                raise ValueError(f"{name}{op}{show(value)}: {exc}") from None
        return cls(name, op, value, pattern)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` (a missing one read as "") satisfy this matcher; one the
        engine could not decide in its bound (the fallback's) does not."""
        have = labels.get(self.name, "")
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(have)
        if found is None:
            return False
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Matcher):
            return NotImplemented
        return (self.name, self.op, self.value) == (other.name, other.op, other.value)

    def __hash__(self) -> int:
        return hash((self.name, self.op, self.value))


Matchers = tuple[Matcher, ...]


def matches(matchers: Matchers, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy every one of ``matchers`` (none: everything matches)."""
    return all(m.matches(labels) for m in matchers)


_ONE: Final = re.compile(
    r"""\s*(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*
    (?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^,"{}\s]*))\s*""",
    re.VERBOSE | re.DOTALL,
)
_UNESCAPE: Final = re.compile(r"\\(.)", re.DOTALL)


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def parse_matchers(text: str, *, memory: int = MEMORY_MAX) -> Matchers:
    """Matchers written as Alertmanager writes them: one (``team="db"``), or several
    separated by commas, in braces or not (``{team="db", tier=~"1|2"}``).  Raises
    :class:`ValueError` with the reason.  ``memory``: RE2's for each expression
    (``_regex.SCAN_MEMORY_MAX`` for one run over every monitor)."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise ValueError(f"{show(text)} opens a brace it does not close")
        body = body[1:-1]
    out: list[Matcher] = []
    at = 0
    while at < len(body) or not out:
        found = _ONE.match(body, at)
        if found is None:
            rest = body[at:].strip()
            if not rest and out:
                break
            raise ValueError(
                f'{show(text)} is not a matcher: write name="value", name!="value", '
                'name=~"regex" or name!~"regex"'
            )
        quoted = found.group("quoted")
        value = _unescape(quoted) if quoted is not None else found.group("bare")
        op: Op = found.group("op")  # type: ignore[assignment]  # the pattern's four
        out.append(Matcher.of(found.group("name"), op, value, memory=memory))
        at = found.end()
        if at < len(body):
            if body[at] != ",":
                raise ValueError(f"{show(text)}: expected a comma after {out[-1]}")
            at += 1
            if not body[at:].strip():  # a trailing comma, as Alertmanager allows
                break
    return tuple(out)


def _to_matchers(value: object) -> Matchers:
    if value is None:
        return ()
    if isinstance(value, Mapping):  # {service: checkout}: equalities
        out = []
        for name, text in value.items():
            if isinstance(text, bool) or not isinstance(text, str):
                raise fail(f"{name}: {show(text)} is not text: write it in quotes")
            try:
                out.append(Matcher.of(str(name), "=", text))
            except ValueError as exc:
                raise fail(str(exc)) from None
        return tuple(out)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise fail(f'{show(value)} is not a list of matchers: write e.g. ["team=\\"db\\""]')
    parsed: list[Matcher] = []
    for item in items:
        if not isinstance(item, str):
            raise fail(f'{show(item)} is not a matcher: write e.g. team="db"')
        try:
            parsed.extend(parse_matchers(item))
        except ValueError as exc:
            raise fail(str(exc)) from None
    return tuple(parsed)


MatcherList = Annotated[Matchers, PlainValidator(_to_matchers)]
"""Matchers in a configuration: a list of Alertmanager's matcher strings, one string of
them (in braces or not), or a map of equalities."""
