"""The probe's path compiled by mypyc: pyproject.toml's build hook, off by default
(docs/install.md, issue 46 §7).

.ci/run builds the wheel with the hook on, installs it in a virtual environment over the
test environment and runs tests/probe and /probe's tests against it with
``TETHER_REQUIRE_COMPILED=1``: there every module the hook names must be the compiled one,
or the leg would have tested the pure tree again.  Everywhere else each is its source: a
stale extension module beside a source (``build_ext --inplace`` writes them there) would
run instead of the code being edited."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from tests.helpers.compiled import ROOT, compiled, hook, hook_modules

LEG = os.environ.get("TETHER_REQUIRE_COMPILED") == "1"


def test_the_hook_is_off_by_default_and_names_modules_that_exist() -> None:
    """A pure install is the default; the hook names source files of the package (a
    renamed module would otherwise drop out of the build without a word), sorted, and
    none of the three that mypyc cannot compile as they are (pyproject.toml says why)."""
    table = hook()
    assert table["enable-by-default"] is False
    include = table["include"]
    assert isinstance(include, list)
    assert include == sorted(include)
    for path in include:
        assert (ROOT / str(path)).is_file(), path
        assert str(path).startswith("src/tether/"), path
    for left_out in ("_connect.py", "_allow.py", "_browser.py"):
        assert f"src/tether/probe/{left_out}" not in include


@pytest.mark.skipif(not LEG, reason="the compiled leg of .ci/run (TETHER_REQUIRE_COMPILED=1)")
def test_the_compiled_leg_runs_every_named_module_compiled() -> None:
    for name in hook_modules():
        module = importlib.import_module(name)
        assert compiled(module), (name, module.__file__)


@pytest.mark.skipif(LEG, reason="the pure tree's test; the compiled leg checks the opposite")
def test_the_pure_install_runs_every_named_module_from_its_source() -> None:
    for name in hook_modules():
        module = importlib.import_module(name)
        assert not compiled(module), (name, module.__file__)
        assert (module.__file__ or "").endswith(".py"), (name, module.__file__)


def test_the_walk_and_the_browser_walk_need_no_mypy_extensions() -> None:
    """The walk names mypyc's ``allow_interpreted_subclasses`` from mypy_extensions,
    which comes with mypy, not with tether: without it the walk and the browser's walk
    (an interpreted subclass) still import and build."""
    code = (
        "import sys; sys.modules['mypy_extensions'] = None\n"
        "from tether.probe._browser import _PageWalk\n"
        "from tether.probe._options import ProbeOptions\n"
        "walk = _PageWalk('http://127.0.0.1:9/', ProbeOptions())\n"
        "print(type(walk).__mro__[1].__name__, walk.given, walk.doing == '')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Walk", "http://127.0.0.1:9/", "True"]
