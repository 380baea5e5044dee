"""Write the docs' tables that restate the code, from the code, so they cannot drift.

    python3 docs/tables.py           # rewrite every generated block in docs/
    python3 docs/tables.py --check   # exit 1, naming each block that is stale

A generated block sits between ``<!-- generated: NAME (python3 docs/tables.py) -->`` and
``<!-- end of generated -->``; NAME is a key of :data:`BLOCKS`, whose function writes the
block from the registry of what tether can check (``tether.probe.SCHEMES``,
``tether/monitor/config/_capabilities.py``), the extras (``tether/_extras.py``) and the
importers' own reasons.  tests/docs/test_capability_tables.py runs the check.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tether import _extras  # noqa: E402
from tether.monitor.config import _blackbox  # noqa: E402
from tether.monitor.importers.gatus import _alerting as _gatus_alerting  # noqa: E402
from tether.monitor.importers.gatus import _endpoints as _gatus_endpoints  # noqa: E402
from tether.monitor.importers.gatus import _import as _gatus  # noqa: E402
from tether.monitor.importers.kuma import _monitors as _kuma_monitors  # noqa: E402
from tether.probe import FEATURES, SCHEMES  # noqa: E402

BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[a-z0-9-]+) \(python3 docs/tables\.py\) -->\n)"
    r"(?P<body>.*?)"
    r"(<!-- end of generated -->)",
    re.S,
)


def _codes(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _cell(text: str) -> str:
    """``text`` in a table cell: a ``|`` would end it."""
    return text.replace("|", "\\|")


def _requirements(extra: str) -> set[str]:
    """The distributions pyproject.toml's ``extra`` names, lower-cased."""
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = listed["optional-dependencies"][extra]
    return {re.split(r"[^A-Za-z0-9_.-]", t, maxsplit=1)[0].lower() for t in texts}


def check_extras() -> str:
    """install.md: which checks need an extra beyond the core, and which it is."""
    monitor = _requirements("monitor")
    rows = ["| a check of | needs | modules looked for |", "|---|---|---|"]
    by_extra: dict[str, list[str]] = {}
    for s in SCHEMES:
        if s.extra is not None:
            name = f"`{s.name}://`" if s.alias_of is None else f"(`{s.name}://`)"
            by_extra.setdefault(s.extra, []).append(name)
    wanted = [(", ".join(names).replace(", (", " ("), extra) for extra, names in by_extra.items()]
    wanted += [(f"{f.what} (`{f.written}`)", f.extra) for f in FEATURES.values()]
    for what, extra in wanted:
        also = ", or `tether[monitor]`" if _requirements(extra) <= monitor else ""
        rows.append(f"| {what} | `tether[{extra}]`{also} | {', '.join(_extras.EXTRAS[extra])} |")
    bare = [f"`{s.name}://`" for s in SCHEMES if s.extra is None and s.alias_of is None]
    return (
        "\n".join(rows)
        + "\n\nEvery other check needs nothing beyond the core (and the monitor's extra, to "
        f"be a monitor's): {', '.join(bare)}.\n\n"
        "Without its extra, a check fails at once with one line naming it (`a grpc://\n"
        f"check needs tether[grpc] (missing: {', '.join(_extras.EXTRAS['grpc'])}): pip "
        "install 'tether[grpc]'`);\n"
        "`tether check-config` and the monitor's start warn of each such monitor.\n"
    )


def gatus_left_out() -> str:
    """migrating.md: what `tether import gatus` leaves out, with the importer's reasons."""
    rows = ["| Gatus | why it is not carried over |", "|---|---|"]
    for scheme in sorted(_gatus_endpoints._GATUS_TYPES):
        if _gatus_endpoints.find_scheme(scheme) is None:
            rows.append(f"| `{scheme}://` endpoints | {_cell(_gatus_endpoints.no_check(scheme))} |")
    rows.append(
        "| `client.insecure` | tether never turns TLS verification off by itself: give "
        "`tls.ca_file`, or write `tls: {insecure: true}` yourself |"
    )
    for key, why in _gatus_endpoints._CLIENT_LEFT.items():
        rows.append(f"| `client.{key}` | {_cell(why)} |")
    for key, why in _gatus_alerting._NOT_CARRIED.items():
        rows.append(f"| `alerting.{key}` | {_cell(why)} |")
    for key, why in _gatus._TOP_LEFT.items():
        rows.append(f"| `{key}` | {_cell(why)} |")
    return "\n".join(rows) + "\n"


def kuma_no_check() -> str:
    """migrating.md: Kuma's monitor types tether has no check of."""
    rows = ["| Kuma's type (tether has no check of it) | what it is |", "|---|---|"]
    rows += [f"| `{kind}` | {_cell(what)} |" for kind, what in _kuma_monitors._NO_CHECK.items()]
    return "\n".join(rows) + "\n"


def blackbox_not_honoured() -> str:
    """monitor-config.md: blackbox_exporter's options tether does not honour."""
    parts = [
        f"in `{section}`, {_codes(sorted(keys))}"
        for section, keys in _blackbox._UNSUPPORTED.items()
    ]
    refused = [f"the `{p}` prober" for p in _blackbox._REFUSED_PROBERS]
    lines = "; ".join(refused + parts)
    return f"Not honoured (a module using one is unavailable, naming it): {lines}.\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "check-extras": check_extras,
    "gatus-left-out": gatus_left_out,
    "kuma-no-check": kuma_no_check,
    "blackbox-not-honoured": blackbox_not_honoured,
}


def render(text: str) -> str:
    """``text`` with every generated block written anew."""

    def one(found: re.Match[str]) -> str:
        return found[1] + BLOCKS[found["name"]]() + found[4]

    return BLOCK.sub(one, text)


def stale(root: Path = ROOT) -> list[str]:
    """``FILE: NAME`` of each block that is not what the code writes (and of a name no
    function writes); every block of :data:`BLOCKS` must be found somewhere."""
    out: list[str] = []
    found: set[str] = set()
    for path in sorted((root / "docs").glob("*.md")):
        text = path.read_text()
        for block in BLOCK.finditer(text):
            name = block["name"]
            found.add(name)
            if name not in BLOCKS:
                out.append(f"docs/{path.name}: {name} (no such table)")
            elif block["body"] != BLOCKS[name]():
                out.append(f"docs/{path.name}: {name}")
    out += [f"docs/: {name} (not found)" for name in BLOCKS if name not in found]
    return out


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        bad = stale()
        for line in bad:
            print(f"stale: {line} (run python3 docs/tables.py)", file=sys.stderr)
        return 1 if bad else 0
    for path in sorted((ROOT / "docs").glob("*.md")):
        text = path.read_text()
        written = render(text)
        if written != text:
            path.write_text(written)
            print(f"wrote docs/{path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
