"""No import circle in ``src/`` (issue 25, section 2).

Every import of every module is read with :mod:`ast`: at the top, under
``TYPE_CHECKING`` and inside functions alike (an import hidden in a function to dodge a
circle is still one).  ``from package import name`` counts as an import of the
submodule ``package.name`` when there is one, else of the package.  The modules and
their imports make a graph; a strongly connected part of more than one module is a
circle, and the test names its modules and the imports that tie them.

Before issue 25's first steps it found four circles (the reporting path, the lab's matrix
and exhaustion scenarios, the runner with its metrics and views, and six modules of the
web layer).

The monitor's layers (docs/architecture.md) are held here too: :data:`LAYERS` lists them
from the ground up, and a module may import only from its own layer or one below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _modules() -> dict[str, Path]:
    """Each module of the tree by its dotted name (a package by its ``__init__``'s)."""
    out: dict[str, Path] = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of the tree that module ``name`` imports, wherever in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m in known and m != name}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def test_the_graph_is_read_whole() -> None:
    """The reading finds what it must: the tree's modules, and an import hidden in a
    function (the lab's child of the exhaustion scenarios imports the lab so)."""
    graph = _graph()
    assert "tether.monitor.runtime._runner" in graph
    assert "tether.monitor.engine.incidents._engine" in graph["tether.monitor.runtime._runner"]
    assert "tether.lab._lab" in graph["tether.lab._exhaust"]  # inside main()
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_back() -> None:
    """No circle of imports in ``src/``; each found is named with the imports in it."""
    graph = _graph()
    circles = _circles(graph)
    said = [
        " -> ".join(part)
        + ": "
        + "; ".join(f"{a} imports {b}" for a in part for b in sorted(graph[a]) if b in part)
        for part in circles
    ]
    assert not circles, "\n".join(said)


LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "records",
        (
            "tether.monitor._records",
            "tether.monitor._state",
            "tether.monitor._turns",
            "tether.monitor._agent_wire",
        ),
    ),
    ("config", ("tether.monitor.config",)),
    ("engine", ("tether.monitor.engine",)),
    ("store", ("tether.monitor.store",)),
    ("alerts", ("tether.monitor.alerts",)),
    ("reports", ("tether.monitor.reports",)),
    ("cluster", ("tether.monitor.cluster",)),
    ("checks", ("tether.monitor.checks",)),
    ("importers", ("tether.monitor.importers",)),
    ("web", ("tether.monitor.web",)),
    ("runtime", ("tether.monitor.runtime",)),
    ("face", ("tether.monitor",)),
)
"""The monitor's layers, the ground first, each with the modules and packages it holds
(the longest name that fits places a module): written once, as docs/architecture.md
draws them."""

UPWARD: dict[tuple[str, str], str] = {}
"""Imports that still run up a layer, each with what removes it.  The list may only
shrink: the test fails on one not listed here, and on one listed that is gone."""


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for rank, (_, names) in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (
                best is None or len(name) > best[1]
            ):
                best = (rank, len(name))
    return None if best is None else best[0]


def _upward(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    out = set()
    for module, imported in graph.items():
        here = _layer(module)
        if here is None:
            continue
        for other in imported:
            there = _layer(other)
            if there is not None and there > here:
                out.add((module, other))
    return out


def test_the_layers_place_every_module_of_the_monitor() -> None:
    """Every module under ``tether.monitor`` is in a layer, and the check finds an import
    that runs up (a made-up graph: the store importing the web)."""
    graph = _graph()
    unplaced = sorted(m for m in graph if m.startswith("tether.monitor") and _layer(m) is None)
    assert not unplaced
    assert _layer("tether.monitor.engine.incidents._engine") == 2
    assert _layer("tether.monitor._records") == 0
    assert _layer("tether.monitor") == len(LAYERS) - 1
    made_up = {"tether.monitor.store._base": {"tether.monitor.web._web"}}
    assert _upward(made_up) == {("tether.monitor.store._base", "tether.monitor.web._web")}


def test_no_import_runs_up_a_layer() -> None:
    """An import from a lower layer to a higher one fails, but for those :data:`UPWARD`
    lists (which must all still be there: a mended one is struck off the list)."""
    found = _upward(_graph())
    new = sorted(found - UPWARD.keys())
    assert not new, "imports that run up a layer:\n" + "\n".join(f"{a} -> {b}" for a, b in new)
    mended = sorted(UPWARD.keys() - found)
    assert not mended, "no longer there, strike them from UPWARD: " + ", ".join(
        f"{a} -> {b}" for a, b in mended
    )


def test_the_architecture_page_draws_these_layers() -> None:
    """docs/architecture.md's table of layers names :data:`LAYERS`, in their order."""
    page = (SRC.parent / "docs" / "architecture.md").read_text()
    table = page.split("| layer | folder |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    assert [row.split("|")[1].strip() for row in rows] == [name for name, _ in LAYERS]


def test_the_monitor_reaches_no_private_name_of_the_probe_engine() -> None:
    """``tether.monitor`` imports the probe engine by the names ``tether.probe`` gives,
    never a private module of it (issue 25: the monitor reached into ``_engine._server``,
    ``_dns`` and ``_allow``)."""
    graph = _graph()
    reached = sorted(
        f"{module} -> {other}"
        for module, imported in graph.items()
        if module.startswith("tether.monitor")
        for other in imported
        if other.startswith("tether.probe._")
    )
    assert not reached, "\n".join(reached)
