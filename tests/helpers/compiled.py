"""Whether a module runs compiled by mypyc (pyproject.toml's build hook, docs/install.md):
.ci/run's compiled leg installs that wheel and runs the probe's tests against it."""

from __future__ import annotations

import importlib.machinery
import tomllib
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def compiled(module: ModuleType) -> bool:
    """True where ``module`` was loaded from an extension module rather than its source."""
    return (module.__file__ or "").endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def hook() -> dict[str, object]:
    """pyproject.toml's mypyc build hook, as written."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        table = tomllib.load(f)
    found: dict[str, object] = table["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    return found


def hook_modules() -> list[str]:
    """The dotted names of the modules the hook compiles."""
    include = hook()["include"]
    assert isinstance(include, list)
    paths = (str(path).removeprefix("src/").removesuffix(".py") for path in include)
    return [path.replace("/", ".") for path in paths]
