"""Whether ``tether agent`` can run a monitor of its assignment, and if not, why, in one
line (docs/agents.md, "What it probes"):

- a monitor its tether's model refuses (a key a newer server's tether added, say);
- a monitor that is not probed, or a check this installation lacks the extra for (the
  registry's :func:`~tether.monitor.config.cannot_run`: probed, it would fail with
  ``url.invalid`` at every check, a failure the server would count against the target);
- a file the monitor names that is not on this machine (``tls.ca_file``, a DNSSEC trust
  anchor's file, an RDAP bootstrap file, the browser's executable): the server's path,
  sent as it is.

The agent reports each such monitor to the server (``Batch.cannot_run``) rather than
probe it.  Pure but for the file system's ``exists``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from tether._version import __version__
from tether.monitor.config import Monitor, cannot_run
from tether.monitor.config._monitor_wire import read_monitor

__all__ = ["assigned_monitor", "why_not_run"]


def assigned_monitor(i: int, raw: Mapping[str, Any]) -> tuple[str, Monitor | None, str | None]:
    """The ``i``-th monitor of an assignment as the agent reads it: its name (or
    ``monitors[i]`` when it has none), the monitor, or why it cannot be run."""
    name = raw.get("name")
    shown = name if isinstance(name, str) and name else f"monitors[{i}]"
    try:
        monitor = read_monitor(raw)
    except ValidationError as exc:
        said = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'monitor'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        return shown, None, f"not a monitor this agent's tether ({__version__}) can read: {said}"
    why = why_not_run(monitor)
    return monitor.name, (monitor if why is None else None), why


def why_not_run(monitor: Monitor, exists: Callable[[str], bool] = os.path.exists) -> str | None:
    """Why this agent cannot run ``monitor`` (one line), or None when it can."""
    lacking = cannot_run(monitor)
    if lacking is not None:
        return lacking
    for key, path in _files(monitor):
        if not exists(path):
            return f"{key} {path}: no such file on the agent's machine"
    return None


def _files(m: Monitor) -> Iterator[tuple[str, str]]:
    """The files ``m`` names, each with its key."""
    if m.tls is not None and m.tls.ca_file is not None:
        yield "tls.ca_file", m.tls.ca_file
    if m.dns is not None and m.dns.dnssec:
        # A record is written whole (several words); a file is named by one.
        yield from (("dns.trust_anchor", a) for a in m.dns.trust_anchor if len(a.split()) == 1)
    expiry = any("[DOMAIN_EXPIRATION]" in c for c in m.conditions)
    if expiry and m.rdap is not None and "://" not in m.rdap.bootstrap:
        yield "rdap.bootstrap", m.rdap.bootstrap
    if m.browser is not None and m.browser.executable is not None:
        yield "browser.executable", m.browser.executable
