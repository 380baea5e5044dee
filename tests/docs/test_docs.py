"""Documentation: generated files are current, and every Python example runs."""

from __future__ import annotations

import contextlib
import inspect
import re
from pathlib import Path

import pytest

import tether.testing
from tether._explain import failures_markdown

ROOT = Path(__file__).parents[2]
RUNNABLE = [
    "README.md",
    "docs/classify.md",
    "docs/conditions.md",
    "docs/detection.md",
    "docs/diagnose.md",
    "docs/lab.md",
    "docs/migrating.md",
    "docs/monitor-config.md",
    "docs/reporting.md",
    "docs/retry.md",
]


def test_failures_doc_is_current() -> None:
    """docs/failures.md is exactly what the catalogue generates."""
    assert (ROOT / "docs/failures.md").read_text() == failures_markdown(), (
        "docs/failures.md is stale: regenerate with `tether explain --markdown > docs/failures.md`"
    )


def _examples() -> list[tuple[str, int, str]]:
    found = []
    for name in RUNNABLE:
        text = (ROOT / name).read_text()
        for match in re.finditer(r"```python\n(.*?)```", text, re.S):
            found.append((name, text[: match.start()].count("\n") + 1, match.group(1)))
    return found


@pytest.mark.parametrize(
    ("doc", "line", "code"), _examples(), ids=[f"{d}:{n}" for d, n, _ in _examples()]
)
def test_example_runs(doc: str, line: int, code: str, request: pytest.FixtureRequest) -> None:
    """The example runs as written (examples defining test_* functions are run with the
    fixtures they name: `lab`, `service_lab`)."""
    namespace: dict[str, object] = {"__name__": f"example_{line}"}
    # README's examples are plain scripts that may back off between retries:
    # skip the real waits there (retry.md's examples manage time themselves).
    fast = tether.testing.fast_retries() if doc == "README.md" else contextlib.nullcontext()
    with fast:
        exec(compile(code, f"{doc}:{line}", "exec"), namespace)
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value):
            # Each argument by name, as pytest would give it: lab, service_lab.
            parameters = inspect.signature(value).parameters
            value(*(request.getfixturevalue(p) for p in parameters))
