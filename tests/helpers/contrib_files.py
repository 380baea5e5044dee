"""What the tests of ``contrib/`` read from its files: the Grafana dashboard's queries and
template variables, the Prometheus rules, and the series an alert expression reads (its
operands, without the comparisons that make it fire only in trouble)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "contrib" / "grafana" / "tether.json"
RULES = ROOT / "contrib" / "prometheus" / "tether-rules.yml"
RULE_TESTS = ROOT / "contrib" / "prometheus" / "tether-rules.test.yml"
PROVISIONING = ROOT / "contrib" / "grafana" / "provisioning"


def dashboard() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return found


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too (rows themselves included)."""
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


@dataclass(frozen=True, slots=True)
class Query:
    panel: str
    ref: str
    expr: str


def queries(board: dict[str, Any]) -> list[Query]:
    """Every panel's every query."""
    return [
        Query(p["title"], t["refId"], t["expr"])
        for p in panels(board)
        for t in p.get("targets", [])
    ]


LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.*),\s*(?P<label>\w+)\)$", re.S)


def variable_query(variable: dict[str, Any]) -> tuple[str, str]:
    """A query variable's series selector and label (``label_values(SELECTOR, LABEL)``)."""
    query = variable["query"]
    text = query["query"] if isinstance(query, dict) else query
    match = LABEL_VALUES.match(text.strip())
    assert match, f"variable {variable['name']}: not label_values(...): {text}"
    return match["selector"].strip(), match["label"]


_REGEX_SPECIAL = re.compile(r"([\\^$*+?.()|{}\[\]])")


def multi_value(values: list[str]) -> str:
    """Several values of a variable in a ``=~`` matcher, as Grafana's Prometheus data
    source writes them: each one's regex characters escaped for the regex and again for
    the string literal it sits in (``a\\\\.b``), ``(a|b)``."""
    escaped = [_REGEX_SPECIAL.sub(r"\\\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(expr: str, values: dict[str, str]) -> str:
    """``expr`` with ``$name`` and ``${name}`` of each variable replaced by its value."""
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    return expr


def rules() -> list[dict[str, Any]]:
    """Every rule of the rules file, each with its group's name as ``group``."""
    doc = yaml.safe_load(RULES.read_text())
    return [{**rule, "group": g["name"]} for g in doc["groups"] for rule in g["rules"]]


# -- the series an alert reads -------------------------------------------------------------

_SPLIT = re.compile(r"==|!=|>=|<=|>|<|\b(?:and|or|unless)\b")
_MODIFIER = re.compile(r"^(?:bool\b|(?:on|ignoring|group_left|group_right)\s*(?:\([^)]*\))?)\s*")
_SCALAR = re.compile(r"^[\d.\s*/+\-()e]*$|^vector\(\s*[\d.]+\s*\)$")
_ABSENT = re.compile(r"^absent\((?P<inner>.*)\)$", re.S)


def _top_level(expr: str) -> list[str]:
    """``expr`` cut at its comparison and set operators outside brackets and strings."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    start = i = 0
    while i < len(expr):
        c = expr[i]
        if quote is not None:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and (m := _SPLIT.match(expr, i)):
            parts.append(expr[start:i])
            start = i = m.end()
            continue
        i += 1
    parts.append(expr[start:])
    return parts


def _wrapped(expr: str) -> bool:
    """Whether ``expr`` is one pair of parentheses around the whole of it."""
    if not (expr.startswith("(") and expr.endswith(")")):
        return False
    depth = 0
    for i, c in enumerate(expr):
        depth += c == "("
        depth -= c == ")"
        if depth == 0 and i < len(expr) - 1:
            return False
    return True


def operands(expr: str) -> list[str]:
    """The series an alert expression reads: its operands around every comparison and
    ``and``/``or``/``unless`` (outside brackets, parentheses opened recursively), the
    matching modifiers (``on (...)``, ``bool``) dropped, numbers left out, ``absent(X)``
    read as X.  ``max(a) == 0 or absent(b)`` reads ``max(a)`` and ``b``."""
    out: list[str] = []
    for cut in _top_level(" ".join(expr.split())):
        part = cut.strip()
        while (m := _MODIFIER.match(part)) and m.group():
            part = part[m.end() :].strip()
        if not part or _SCALAR.match(part):
            continue
        if _wrapped(part):
            out += operands(part[1:-1])
        elif absent := _ABSENT.match(part):
            out += operands(absent["inner"])
        else:
            out.append(part)
    return out
