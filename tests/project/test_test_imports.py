"""No test module imports another test module (issue 25, section 6).

What tests share lives in ``tests/helpers/`` (or a folder's ``conftest.py``); a test that
imported another test's helper made pytest's collection of one module depend on another,
ran nothing twice only by luck, and hid the helper where the next test would not look.
Every import of every file under ``tests/`` is read with :mod:`ast`, wherever it is in
the file, relative imports resolved against the file's package.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


def _is_test_module(dotted: str) -> bool:
    parts = dotted.split(".")
    return parts[0] == "tests" and parts[-1].startswith("test_")


def imported_test_modules(source: str, package: str) -> list[str]:
    """The modules named ``test_*`` under ``tests`` that ``source`` imports (as a module,
    or a name from one, or one as a name from its package); ``package`` is the dotted
    package the source is in, for relative imports."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if _is_test_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if _is_test_module(module):
                found.append(module)
            found += [
                f"{module}.{a.name}" for a in node.names if _is_test_module(f"{module}.{a.name}")
            ]
    return found


def test_the_check_finds_each_form_of_import() -> None:
    """The check sees a test module imported absolutely, by name from its package,
    relatively, and inside a function; helpers and conftests are not test modules."""
    source = (  # split where a grep for such imports would take them for real ones
        "from tests.cli."
        "test_monitor_cli import free_port\n"
        "import tests.monitor.store."
        "test_store\n"
        "from tests.monitor.web import test_login\n"
        "from .test_incidents import World\n"
        "from . import test_store_incident_rows\n"
        "def later():\n"
        "    from tests.monitor.web."
        "test_dashboard import iso\n"
        "from tests.helpers.ports import free_port\n"
        "from tests.monitor.web.conftest import browser\n"
    )
    assert imported_test_modules(source, "tests.monitor.engine") == [
        "tests.cli.test_monitor_cli",
        "tests.monitor.store.test_store",
        "tests.monitor.web.test_login",
        "tests.monitor.engine.test_incidents",
        "tests.monitor.engine.test_store_incident_rows",
        "tests.monitor.web.test_dashboard",
    ]


VENDORED = TESTS / "compat" / "vendored"
"""Other projects' tests, copied as they are (their README.md): their imports are theirs."""


def test_no_test_module_imports_another() -> None:
    """Every file under tests/ imports test modules of no other: what two tests share is
    in tests/helpers/ or the conftest.py of their nearest common folder."""
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.is_relative_to(VENDORED):
            continue
        package = ".".join(path.parent.relative_to(ROOT).parts)
        for module in imported_test_modules(path.read_text(), package):
            offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == [], "move the shared helper into tests/helpers/:\n" + "\n".join(offenders)
