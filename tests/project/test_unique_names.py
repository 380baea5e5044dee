"""One meaning per public class name in ``src/tether`` (issue 47, section 3).

Every module is read with :mod:`ast`; a public class (its name has no leading underscore)
defined at a module's top level, or under an ``if`` or ``try`` there, is a definition.  A
name defined in two modules or more fails the test, which names every place, so that a
reader of ``Route`` or ``Window`` never needs the import line to know which is meant.
Before issue 47 it found 27 names, among them ``Route`` three times (an HTTP route, an
alert route, an incident's route) and ``Window`` four.

Nothing is allow-listed.  One shape is not a second meaning and is not counted: a class
that refines a class of its own name, as each integration's ``CircuitOpenError`` is both
tether's ``CircuitOpenError`` and its library's connection error
(``class CircuitOpenError(httpx.ConnectError, _errors.CircuitOpenError)``), or as
``tether.integrations.requests.Session`` is requests' ``Session`` with tether's policy:
the same thing spelled for another library, by design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):  # Generic[T], Protocol[T]...
        return _base_name(node.value)
    return None


def _classes(body: list[ast.stmt]) -> Iterator[ast.ClassDef]:
    """The classes a module's top level defines, under an ``if`` or ``try`` too."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield node
        elif isinstance(node, ast.If):
            yield from _classes(node.body)
            yield from _classes(node.orelse)
        elif isinstance(node, ast.Try):
            for part in (node.body, node.orelse, node.finalbody):
                yield from _classes(part)
            for handler in node.handlers:
                yield from _classes(handler.body)


def public_classes(root: Path) -> dict[str, list[str]]:
    """Each public class name under ``root`` with the places (``path:line``) defining it,
    but for a class that refines the class of its own name."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in _classes(tree.body):
            if node.name.startswith("_"):
                continue
            if any(_base_name(base) == node.name for base in node.bases):
                continue
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            found.setdefault(node.name, []).append(where)
    return found


def defined_twice(root: Path) -> dict[str, list[str]]:
    """The public class names defined in more than one module, with their places."""
    return {name: places for name, places in public_classes(root).items() if len(places) > 1}


def test_no_public_class_name_is_defined_twice() -> None:
    """No public class name of ``src/tether`` is defined in two modules; each one found
    is named with every place that defines it."""
    twice = defined_twice(SRC / "tether")
    said = [f"{name}: {' and '.join(places)}" for name, places in sorted(twice.items())]
    assert not twice, "public class names defined twice:\n" + "\n".join(said)


def test_the_check_finds_a_name_defined_twice(tmp_path: Path) -> None:
    """The reading finds a name defined in two modules (one under ``if TYPE_CHECKING``),
    names both places, and passes over a private class and one that refines its
    namesake."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "web.py").write_text("class Route:\n    pass\n\n\nclass _Private:\n    pass\n")
    (pkg / "alerts.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n\n    class Route:\n        pass\n"
    )
    (pkg / "seam.py").write_text(
        "import web\n\n\nclass Route(web.Route):\n    pass\n\n\nclass _Private:\n    pass\n"
    )
    assert defined_twice(pkg) == {"Route": ["pkg/alerts.py:5", "pkg/web.py:1"]}
