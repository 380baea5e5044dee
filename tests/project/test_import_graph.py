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
from the ground up, and a module may import only from its own layer or one below it; and
the web's rooms (issue 47): :data:`WEB_ROOMS` says which of them each may import, and
:data:`WEB_FOR_RUNTIME` what of the web the runtime takes.
"""

from __future__ import annotations

import ast
import functools
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


@functools.cache
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
    ("metrics", ("tether.monitor.metrics",)),
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


WEB = "tether.monitor.web"
WEB_SERVER = "tether.monitor.web._web"
WEB_ROOMS: dict[str, tuple[str, ...]] = {
    "auth": (),
    "documents": (),
    "api": (),
    "scrape": (),
    "pages": ("documents", "api", "scrape"),
    "status": ("pages", "auth"),
}
"""The web's rooms (its sub-packages), each with the other rooms it may import: the
dashboard's pages render the documents, hold the write API's forms and the discovery
sources' banner; a status page shows an objective's share as the objectives' pages write it,
and its subscribe form is limited per client as the login is (``auth``).
Every room may import the web's shared top level (the modules of ``web/`` itself), which
imports no room; only the server, ``web/_web.py`` and its one table of routes, imports them
all, and no module of the web imports it."""

WEB_FOR_RUNTIME = frozenset(
    {
        "tether.monitor.web._web",
        "tether.monitor.web._listen",
        "tether.monitor.web._limits",
        "tether.monitor.web._params",
        "tether.monitor.web.auth._auth",
        # the herald tells a status page's subscribers what the page shows: it builds the
        # page's own document, from the same Running view the page reads (issue 48)
        "tether.monitor.web._running",
        "tether.monitor.web.status._statuspage",
        "tether.monitor.web.status._status_news",
    }
)
"""What the runtime imports of the web: the server it starts (and each worker's), its
listening sockets and limits, the request body's reading a worker's forwarder shares, and
the bearer gate and tokens of ``auth``; the status page's document and news, which the
subscribers' herald tells.  The collectors the runtime feeds are not the web's:
they are ``monitor/metrics/``, a layer below it."""


def _web_place(module: str) -> str | None:
    """``"server"``, ``"shared"`` (a module of ``web/`` itself), a room's name, or None
    for a module outside the web."""
    if module == WEB_SERVER:
        return "server"
    if module == WEB or not module.startswith(WEB + "."):
        return "shared" if module == WEB else None
    rest = module[len(WEB) + 1 :].split(".")
    return "shared" if len(rest) == 1 else rest[0]


def _web_crossings(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The imports inside the web that :data:`WEB_ROOMS` does not allow."""
    out = set()
    for module, imported in graph.items():
        here = _web_place(module)
        if here in (None, "server"):
            continue
        for other in imported:
            there = _web_place(other)
            if there in (None, "shared", here):
                continue
            if there == "server" or here == "shared" or there not in WEB_ROOMS.get(here, ()):
                out.add((module, other))
    return out


def test_the_web_rooms_are_listed() -> None:
    """Each sub-package of ``web/`` is a room of :data:`WEB_ROOMS` and each room listed is
    one, so a new room comes with its rules; the check finds a made-up import of the shared
    top level into a room, of a room into another, and of the server."""
    rooms = {
        p.name
        for p in (SRC / "tether" / "monitor" / "web").iterdir()
        if (p / "__init__.py").exists()
    }
    assert rooms == WEB_ROOMS.keys()
    assert all(set(allowed) <= rooms for allowed in WEB_ROOMS.values())
    made_up = {
        "tether.monitor.web._html": {"tether.monitor.web.documents._documents"},
        "tether.monitor.web.api._actions": {
            "tether.monitor.web.pages._pages",
            "tether.monitor.web._params",
        },
        "tether.monitor.web.pages._pages": {"tether.monitor.web.documents._status"},
        "tether.monitor.web.status._badges": {WEB_SERVER},
    }
    assert _web_crossings(made_up) == {
        ("tether.monitor.web._html", "tether.monitor.web.documents._documents"),
        ("tether.monitor.web.api._actions", "tether.monitor.web.pages._pages"),
        ("tether.monitor.web.status._badges", WEB_SERVER),
    }


def test_the_web_rooms_import_only_what_they_may() -> None:
    """No import inside the web crosses between rooms but those :data:`WEB_ROOMS` allows;
    the shared top level imports no room, and nothing in the web imports the server."""
    found = sorted(_web_crossings(_graph()))
    assert not found, "\n".join(f"{a} -> {b}" for a, b in found)


def test_the_runtime_imports_of_the_web_only_its_servers() -> None:
    """The runtime, the one layer above the web, imports of it only
    :data:`WEB_FOR_RUNTIME` (issue 47: it imported five of the web's modules, the metrics'
    collectors among them, which now stand below the web)."""
    graph = _graph()
    taken = sorted(
        f"{module} -> {other}"
        for module, imported in graph.items()
        if module.startswith("tether.monitor.runtime")
        for other in imported
        if _web_place(other) is not None and other not in WEB_FOR_RUNTIME
    )
    assert not taken, "\n".join(taken)
