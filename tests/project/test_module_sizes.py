"""No module of ``src/`` over 800 lines and no function over 100, outside data tables
(issue 25, "Done means"), held as a ratchet: the modules and functions still over are
listed below with their size today, none may grow, a new one may not join, and one that
has come under the limit must leave the list (so that it cannot grow back)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tether"
MODULE_MAX = 800
FUNCTION_MAX = 100

DATA_TABLES = frozenset({"_catalogue.py"})
"""Modules that are a data table (every failure kind's words and fixes): no limit."""

MODULES_OVER: dict[str, int] = {}
"""The modules still over :data:`MODULE_MAX` lines, and their size when listed."""

FUNCTIONS_OVER: dict[str, int] = {}
"""The functions still over :data:`FUNCTION_MAX` lines, and their size when listed."""

STRICTER: dict[str, int] = {"monitor/runtime/_runner.py": 600}
"""Modules held under a lower limit than :data:`MODULE_MAX`: the runner coordinates, and a
job of its own goes to a module of its own (``_rounds.py``, ``_decided.py``,
``_delivery.py``: issue 47 §6)."""


def _sizes() -> tuple[dict[str, int], dict[str, int]]:
    modules: dict[str, int] = {}
    functions: dict[str, int] = {}
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        text = path.read_text(encoding="utf-8")
        modules[name] = text.count("\n")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                functions[f"{name}:{node.name}"] = node.end_lineno - node.lineno + 1
    return modules, functions


MODULES, FUNCTIONS = _sizes()


@pytest.mark.parametrize(
    ("sizes", "listed", "limit"),
    [(MODULES, MODULES_OVER, MODULE_MAX), (FUNCTIONS, FUNCTIONS_OVER, FUNCTION_MAX)],
    ids=["modules", "functions"],
)
def test_nothing_grows_past_the_limit(
    sizes: dict[str, int], listed: dict[str, int], limit: int
) -> None:
    over = {
        name: size
        for name, size in sizes.items()
        if size > limit and name.split(":")[0] not in DATA_TABLES
    }
    new = sorted(set(over) - set(listed))
    assert not new, f"over {limit} lines: split them ({new})"
    grown = {n: (listed[n], over[n]) for n in over if over[n] > listed[n]}
    assert not grown, f"grown since listed (listed, now): {grown}"
    gone = sorted(set(listed) - set(over))
    assert not gone, f"now within {limit} lines (or gone): take them off the list: {gone}"


@pytest.mark.parametrize(("name", "limit"), sorted(STRICTER.items()))
def test_the_modules_held_stricter_stay_under_their_limit(name: str, limit: int) -> None:
    """A module held to a lower limit than the house's stays under it."""
    assert name in MODULES, f"{name} is gone: take it off STRICTER"
    assert MODULES[name] < limit, f"{name} has {MODULES[name]} lines, over {limit}: move a job out"
