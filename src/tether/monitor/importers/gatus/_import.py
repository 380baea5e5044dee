"""``tether import gatus config.yaml``: Gatus's configuration as tether's.

What Gatus's README documents, and where it goes (docs/migrating.md, "From Gatus"):
``endpoints`` are monitors (``gatus/_endpoints.py``), ``external-endpoints`` push
monitors, ``alerting`` providers alert channels (``gatus/_alerting.py``), ``maintenance``
and ``endpoints[].maintenance-windows`` maintenance windows.  ``$NAME`` and ``${NAME}``
become tether's ``${NAME}``, which tether reads from the environment the same way.
``storage``, ``ui``, ``web``, ``security`` and the rest are left out, each with why.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any, Final

from tether.monitor.config._fields import push_token_problem
from tether.monitor.importers._common import Imported, ImportFailed, LeftOut
from tether.monitor.importers._values import (
    go_duration,
    monitor_problem,
    name_problem,
    read_yaml,
    seconds_text,
    shown,
    with_env_references,
)
from tether.monitor.importers.gatus._alerting import channels_of
from tether.monitor.importers.gatus._endpoints import (
    Alerting,
    alerts_of,
    endpoint_monitor,
    endpoint_name,
    labels_of,
)

__all__ = ["import_gatus"]

_TOP_LEFT: Final[Mapping[str, str]] = {
    "storage": "tether keeps its own history (storage.path, SQLite, or storage.postgres); "
    "Gatus's results are not moved",
    "ui": "tether's dashboard has its own look; public pages are status_pages "
    "(docs/status-pages.md)",
    "web": "tether listens on server.listen (127.0.0.1:8800 by default); TLS goes in a "
    "reverse proxy in front (docs/deployment.md)",
    "security": "tether's users and tokens hold scrypt and sha256 hashes of its own "
    "(tether hash-password, tether new-token; docs/security.md); Gatus's bcrypt hash "
    "and OIDC are not carried",
    "metrics": "tether always serves /metrics (docs/monitor.md)",
    "announcements": "tether's announcements belong to a status page "
    "(status_pages[].announcements, docs/status-pages.md)",
    "suites": "tether has no sequences of requests sharing a context",
    "connectivity": "tether tells its own network's failures from the target's by "
    "locations and quorum (docs/detection.md)",
    "remote": "tether shares monitors among instances with locations and agents, not "
    "by reading another instance's API",
    "tunneling": "tether has no SSH tunnels: run an agent where the endpoint can be "
    "reached (docs/agents.md)",
    "concurrency": "tether probes every monitor on its own schedule, with worker processes "
    "(workers:)",
    "disable-monitoring-lock": "tether probes every monitor on its own schedule",
    "skip-invalid-config-update": "tether keeps the running configuration when a reload "
    "finds a mistake, always",
}
_KNOWN: Final = {"endpoints", "external-endpoints", "alerting", "maintenance"} | set(_TOP_LEFT)
_DAYS: Final = {
    day: day[:3]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}


def _env_everywhere(value: Any, nuls: list[bool]) -> Any:
    """Every text of the file with tether's ``${NAME}``, and without NUL characters, which
    no tether file holds (``nuls`` records that one was dropped)."""
    if isinstance(value, str):
        if "\0" in value:
            nuls.append(True)
        return with_env_references(value.replace("\0", ""))
    if isinstance(value, Mapping):
        return {k: _env_everywhere(v, nuls) for k, v in value.items()}
    if isinstance(value, list):
        return [_env_everywhere(v, nuls) for v in value]
    return value


def import_gatus(path: str) -> Imported:
    """Gatus's configuration at ``path`` as tether's, and what was left out with why."""
    data = read_yaml(path, "Gatus")
    if not isinstance(data, Mapping) or not (
        isinstance(data.get("endpoints"), list) or isinstance(data.get("external-endpoints"), list)
    ):
        raise ImportFailed(
            f"{path}: is not a Gatus configuration: it has no list of endpoints "
            "(or external-endpoints)"
        )
    nuls: list[bool] = []
    data = _env_everywhere(data, nuls)
    left: list[LeftOut] = []
    if nuls:
        left.append(
            LeftOut(
                "NUL characters", "dropped from the text holding them: no tether file can hold one"
            )
        )
    notes: list[str] = []
    made, defaults, refused = channels_of(data.get("alerting"), left)
    alerting = Alerting({c["name"] for c in made}, defaults, refused)
    monitors: list[dict[str, Any]] = []
    windows: list[dict[str, Any]] = []
    for index, ep in enumerate(data.get("endpoints") or []):
        if not isinstance(ep, Mapping):
            left.append(LeftOut(f"endpoints[{index}]", "not an endpoint (a mapping)"))
            continue
        monitor = endpoint_monitor(index, ep, alerting, left)
        if monitor is None:
            continue
        problem = monitor_problem(monitor)
        if problem is not None:  # a net under the importer: said, never printed
            what = f"endpoints[{index}] ({shown(ep.get('name'))})"
            left.append(LeftOut(what, f"tether refuses it: {shown(problem)}"))
            continue
        monitor["name"] = _unique(monitor["name"], ep.get("group"), monitors)
        monitors.append(monitor)
        for number, window in enumerate(ep.get("maintenance-windows") or []):
            where = f"endpoints[{index}] ({shown(ep['name'])}): maintenance-windows[{number}]"
            made_window = _window(window, f"{monitor['name']} {number + 1}", where, left)
            if made_window is not None:
                windows.append({**made_window, "monitors": [monitor["name"]]})
    for index, ep in enumerate(data.get("external-endpoints") or []):
        monitor = _external(index, ep, alerting, left, notes)
        if monitor is not None:
            monitor["name"] = _unique(monitor["name"], ep.get("group"), monitors)
            monitors.append(monitor)
    if data.get("maintenance") is not None:
        window = _window(data["maintenance"], "gatus maintenance", "maintenance", left)
        if window is not None:
            windows.append(window)
    for key in data:
        if key in _TOP_LEFT:
            left.append(LeftOut(str(key), _TOP_LEFT[key]))
        elif key not in _KNOWN:
            left.append(LeftOut(shown(key), "not a key Gatus's README documents"))
    if not monitors:
        raise ImportFailed(
            f"{path}: none of its endpoints can be carried over: "
            + "; ".join(f"{item.what}: {item.why}" for item in left[:3])
        )
    config: dict[str, Any] = {}
    channels = [c for c in made if c["name"] in alerting.used]
    for channel in made:
        if channel["name"] not in alerting.used:
            left.append(LeftOut(f"alerting.{channel['name']}", "no endpoint alerts through it"))
    if channels:
        config["alerts"] = channels
    if windows:
        config["maintenance"] = windows
    config["monitors"] = monitors
    return Imported(config, tuple(left), f"Gatus {path}", tuple(notes))


def _unique(name: str, group: object, monitors: list[dict[str, Any]]) -> str:
    """Gatus tells endpoints apart by group and name; tether by name alone."""
    taken = {m["name"] for m in monitors}
    if name not in taken:
        return name
    prefix = str(group or "").strip()
    candidate = f"{prefix}/{name}" if prefix else name
    if name_problem(candidate) is not None:
        candidate = name
    number = 2
    while candidate in taken:
        candidate = f"{name} ({number})"
        number += 1
    return candidate


def _window(window: object, name: str, where: str, left: list[LeftOut]) -> dict[str, Any] | None:
    """Gatus's ``start: hh:mm``, ``duration``, ``timezone``, ``every: [Monday]`` as a weekly
    window: ``schedule: "MM HH * * mon"``."""
    if not isinstance(window, Mapping):
        left.append(LeftOut(where, "not a maintenance window (a mapping)"))
        return None
    if window.get("enabled") is False:
        left.append(LeftOut(where, "it is disabled (enabled: false)"))
        return None
    start = window.get("start")
    if isinstance(start, int) and not isinstance(start, bool):
        # YAML 1.1 (PyYAML) reads an unquoted 23:00 as sexagesimal: 23 * 60 + 0.
        start = f"{start // 60:02d}:{start % 60:02d}"
    found = re.fullmatch(r"(\d{1,2}):(\d{2})", str(start or ""))
    duration = go_duration(window.get("duration"))
    if not found or int(found[1]) > 23 or int(found[2]) > 59 or not duration:
        left.append(LeftOut(where, "it needs start (hh:mm) and duration, as Gatus does"))
        return None
    days = []
    for day in window.get("every") or []:
        short = _DAYS.get(str(day).lower())
        if short is None:
            left.append(LeftOut(where, f"{day!r} is not a day of the week"))
            return None
        days.append(short)
    out: dict[str, Any] = {
        "name": name,
        "schedule": f"{int(found[2])} {int(found[1])} * * {','.join(days) or '*'}",
        "duration": seconds_text(duration),
    }
    if window.get("timezone"):
        out["timezone"] = str(window["timezone"])
    return out


def _external(
    index: int, ep: object, alerting: Alerting, left: list[LeftOut], notes: list[str]
) -> dict[str, Any] | None:
    """An external endpoint as a push monitor: tether's push URL is ``/api/push/TOKEN``,
    so the job that pushes changes its URL either way."""
    if not isinstance(ep, Mapping):
        left.append(LeftOut(f"external-endpoints[{index}]", "not an endpoint (a mapping)"))
        return None
    what = f"external-endpoints[{index}] ({shown(ep.get('name'))})"
    name = endpoint_name(ep, what, f"external-endpoints[{index}]", left)
    if name is None:
        return None
    out: dict[str, Any] = {"name": name, "type": "push"}
    token = str(ep.get("token") or "")
    if push_token_problem(token) is None or token.startswith("${"):
        out["token"] = token
    else:
        out["token"] = secrets.token_hex(16)
        notes.append(
            f"{name}: a new push token was made: Gatus's is not one tether takes (10 to 256 "
            "letters, digits, -, _, . or ~); the job pushes to /api/push/TOKEN (docs/monitor.md)"
        )
    heartbeat = ep.get("heartbeat")
    every = go_duration(heartbeat.get("interval")) if isinstance(heartbeat, Mapping) else None
    if every:
        out["interval"] = seconds_text(every)
    else:
        notes.append(
            f"{name}: Gatus expected no push at any time (no heartbeat); tether "
            "expects one every interval (60s unless you set it)"
        )
    labels = labels_of(ep, what, left)
    alerts_of(ep, out, labels, what, alerting, left)
    out.pop("success_threshold", None)  # one push brings a push monitor back
    if labels:
        out["labels"] = labels
    if ep.get("enabled") is False:
        out["paused"] = True
    return out
