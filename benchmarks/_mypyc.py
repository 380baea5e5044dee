"""A copy of a source tree with some of its modules compiled by mypyc: what issue 46 §2, §5
and §7 allow for the typed, pure hot modules ("as black and mypy ship").

``with compiled_copy(src, PROBE_PATH) as tree:`` copies ``src`` to a temporary directory
and compiles the named modules there (``mypyc``, from the mypy the test dependencies
install).  PROBE_PATH is the set that pyproject.toml's build hook ships, off by default
(docs/install.md); GUARD_PATH is measured and not shipped.  The benchmarks put the copy
first on ``PYTHONPATH`` beside the tree it came from, and it is removed when they are
done.  Each set is closed under the classes its modules share: mypyc refuses an
interpreted class that inherits from a compiled one unless the compiled class allows it,
so the walk's mixins are compiled together.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path


def _shipped() -> tuple[str, ...]:
    """The modules of pyproject.toml's mypyc build hook (the probe's path, issue 46 §7,
    §2: the walk and its mixins, the wire and h11's rules, the answer's text, the
    handler), as paths under ``src``: the benchmarks measure the set that ships."""
    with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as f:
        hook = tomllib.load(f)["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    return tuple(path.removeprefix("src/") for path in hook["include"])


PROBE_PATH = _shipped()
GUARD_PATH = (
    # tether.Session's fast path (issue 46 §5): the guard, its windows and policy, the
    # testing overrides it reads, the cutoff's timers.
    "tether/_retry/_limits.py",
    "tether/_retry/_loop.py",
    "tether/_retry/_policy.py",
    "tether/_retry/_state.py",
    "tether/_retry/_testing.py",
    "tether/integrations/_cutoff.py",
)
SETS = {"probe": PROBE_PATH, "guard": GUARD_PATH}


@contextlib.contextmanager
def compiled_copy(src: Path, modules: tuple[str, ...]) -> Iterator[Path]:
    """A copy of ``src`` in a temporary directory with ``modules`` (paths under it)
    compiled in place, removed on leaving; RuntimeError with mypyc's last lines if it
    fails.  About a minute and a half of one core for PROBE_PATH."""
    with tempfile.TemporaryDirectory(prefix="tether-mypyc-") as made:
        tree = Path(made) / "src"
        shutil.copytree(src, tree, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        mypyc = shutil.which("mypyc") or str(Path(sys.executable).with_name("mypyc"))
        done = subprocess.run(
            [mypyc, *modules], cwd=tree, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"mypyc failed:\n{(done.stdout + done.stderr)[-3000:]}")
        shutil.rmtree(tree / "build", ignore_errors=True)
        yield tree
