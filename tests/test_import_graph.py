"""No import circle in ``src/`` (issue 25, section 2).

Every import of every module is read with :mod:`ast`: at the top, under
``TYPE_CHECKING`` and inside functions alike (an import hidden in a function to dodge a
circle is still one).  ``from package import name`` counts as an import of the
submodule ``package.name`` when there is one, else of the package.  The modules and
their imports make a graph; a strongly connected part of more than one module is a
circle, and the test names its modules and the imports that tie them.

Before issue 25's first steps it found four circles (the reporting path, the lab's matrix
and exhaustion scenarios, the runner with its metrics and views, and six modules of the
web layer); what is left of the issue's section 2, the allowed order of layers, comes
with the layout it orders.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


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
    assert "tether.monitor._runner" in graph
    assert "tether.monitor._incidents" in graph["tether.monitor._runner"]
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
