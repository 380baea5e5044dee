"""The monitor started as its users start it: a YAML file, ``tether monitor --config FILE``.

Shared by ``bench_scale.py`` and ``bench_mass.py`` (issue 46 section 1: every figure
through the user's own path).  Two ways of putting N monitors in the file:

- ``file``: the monitors written in it, one short line each, as the issue's example
  (``- {name: m000001, url: 'http://127.0.40.2:PORT/health', conditions: [...]}``), the
  interval in ``defaults`` (the timeout left to the file's default);
- ``discover``: none written, a ``file_sd`` source beside the file naming every target
  (one group a monitor, its name in a label), the template making each monitor.

Either way the file is read by the real loader (``parse_config``, the size guard of
``config/_yaml.py`` included: 25,000,000 characters) and the process is the real CLI
(``python -m tether.cli monitor --config FILE --log-format json``), its workers, its
store and its server as the file says.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SOURCES = ("python", "file", "discover")
"""How a benchmark's monitor gets its configuration: built in Python (``run_monitor``
called directly: no file, the configuration's loading not measured), or a file of either
kind above."""


def _interval_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms"


def write_config(
    folder: Path,
    source: str,
    urls: list[str],
    count: int,
    interval: float,
    *,
    top: dict[str, Any],
    defaults: dict[str, Any] | None = None,
    more: list[dict[str, Any]] | None = None,
    condition: str | None = "[STATUS] == 200",
    own_paths: bool = False,
) -> Path:
    """Write ``folder/tether.yaml`` (and, for ``discover``, ``folder/targets.json``) with
    ``count`` HTTP monitors ``m000000``... on ``urls`` (round robin, ``http://URL/health``)
    at ``interval`` (in ``defaults``, with ``defaults``' other keys).  ``top``: the file's
    other top-level keys (``workers``, ``storage``, ``server``, ``alerts``...); ``more``:
    monitors written in the file in either case.  ``own_paths``: each monitor's URL its
    own, as in a real fleet (``http://URL/health/m000001``), so no cache keyed by a URL
    is shared between monitors.  Each value is written as JSON, which YAML reads as it
    is.  The file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}: {json.dumps(value)}" for key, value in top.items()]
    lines.append(
        f"defaults: {json.dumps({'interval': _interval_text(interval), **(defaults or {})})}"
    )
    conditions = f", conditions: [{json.dumps(condition)}]" if condition else ""
    written = [json.dumps(m) for m in more or []]
    if source == "file":
        written += [
            f"{{name: m{i:06d}, url: 'http://{urls[i % len(urls)]}/health{own}'{conditions}}}"
            for i in range(count)
            for own in [f"/m{i:06d}" if own_paths else ""]
        ]
    elif source == "discover":
        groups = [
            {"targets": [urls[i % len(urls)]], "labels": {"n": f"m{i:06d}"}} for i in range(count)
        ]
        (folder / "targets.json").write_text(json.dumps(groups))
        lines += [
            "discover:",
            "  - name: fleet",
            "    file_sd: {files: [targets.json]}",
            "    template:",
            "      name: '{{labels.n}}'",
            "      url: 'http://{{address}}/health" + ("/{{labels.n}}'" if own_paths else "'"),
        ]
        if condition:
            lines.append(f"      conditions: [{json.dumps(condition)}]")
    else:
        raise ValueError(f"source: {source!r} writes no file")
    if written:
        lines.append("monitors:")
        lines.extend(f"  - {m}" for m in written)
    path = folder / "tether.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def monitor_command(path: Path) -> list[str]:
    """``tether monitor --config FILE --log-format json``, through this interpreter (the
    ``tether`` script's own entry point, ``tether.cli:main``)."""
    return [
        sys.executable,
        "-m",
        "tether.cli",
        "monitor",
        "--config",
        str(path),
        "--log-format",
        "json",
    ]


def describe_source(source: str, path: Path | None) -> str:
    """One sentence for a report: where the monitor's configuration came from."""
    if source == "python" or path is None:
        return (
            "the configuration built in Python and handed to run_monitor (no file read: "
            "not the user's path)"
        )
    size = path.stat().st_size
    sd = path.parent / "targets.json"
    if source == "discover":
        return (
            f"tether monitor --config FILE --log-format json, the monitors discovered from a "
            f"file_sd source of {sd.stat().st_size / 1e6:.1f} MB (the file {size:,} bytes)"
        )
    return (
        f"tether monitor --config FILE --log-format json, every monitor written in the file "
        f"({size / 1e6:.1f} MB, one line a monitor)"
    )
