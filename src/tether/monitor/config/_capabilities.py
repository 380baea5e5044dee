"""The monitor's part of the one registry of what tether can check (STYLE.md, "One
registry of capabilities"): which of a monitor's options each scheme takes, where
monitors may be discovered from, and what this installation cannot run, and why.

The schemes themselves, and the extra each check needs, are :data:`tether.probe.SCHEMES`'s;
the check types are ``Monitor.type``'s (``probe``, ``push``, ``traffic``), the probers of
blackbox_exporter's modules ``_blackbox.PROBERS``.
What reads this module: the file's cross-checks (:mod:`._checks`, an option a monitor's
scheme does not take), ``tether check-config`` (a monitor this installation cannot run is
a warning), the agents (:func:`cannot_run`: a monitor they are sent and cannot run is said,
with why), the importers (what another tool's check becomes here, or why nothing) and the
docs' tables (docs/tables.py)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from tether.monitor.config._discovery import DiscoverySource
from tether.monitor.config._models import Monitor, MonitorConfig
from tether.probe import (
    SCHEMES,
    CheckFamily,
    Scheme,
    feature_lacking,
    find_scheme,
    scheme_lacking,
)

__all__ = [
    "DISCOVERY",
    "OPTIONS",
    "cannot_run",
    "certificate_schemes",
    "config_cannot_run",
    "no_check",
    "takes",
]

DISCOVERY: Final[tuple[str, ...]] = tuple(
    name for name in DiscoverySource.model_fields if name.endswith("_sd")
)
"""Where ``discover:`` reads targets from: Prometheus's ``file_sd`` and ``http_sd``."""

OPTIONS: Final[Mapping[str, frozenset[CheckFamily]]] = MappingProxyType(
    {
        # An HTTP request's, and a WebSocket upgrade's (a GET, always: _checks.py's
        # _check_websocket says so at the key, and that it follows no redirect).
        "method": frozenset({"http", "websocket"}),
        "follow_redirects": frozenset({"http"}),
        "max_redirects": frozenset({"http"}),
        "headers": frozenset({"http", "websocket"}),
        "body": frozenset({"http", "websocket"}),
        "browser": frozenset({"http"}),
        "steps": frozenset({"http"}),
        "dns": frozenset({"dns"}),
        "query": frozenset({"database"}),
        "role": frozenset({"database"}),
    }
)
"""The options of a monitor that only some checks take, and the families that take them;
``tls`` goes with a certificate (:attr:`tether.probe.Scheme.certificate`) and
``http_version`` with a scheme's :attr:`~tether.probe.Scheme.http_versions`."""


def takes(scheme: Scheme | None, key: str) -> bool:
    """Whether a monitor of ``scheme`` takes the option ``key`` (one not in
    :data:`OPTIONS`, nor ``tls`` or ``http_version``, every probed monitor takes); a
    monitor of no scheme of the registry's (a push or traffic monitor) takes none of them."""
    if scheme is None:
        return key not in OPTIONS and key not in ("tls", "http_version")
    if key == "tls":
        return scheme.certificate
    if key == "http_version":
        return len(scheme.http_versions) > 1
    families = OPTIONS.get(key)
    return families is None or scheme.check in families


def certificate_schemes() -> tuple[str, ...]:
    """The schemes whose check may meet a certificate (``tls:`` applies), databases aside."""
    return tuple(
        s.name for s in SCHEMES if s.certificate and s.check != "database" and s.alias_of is None
    )


def no_check(name: str) -> str:
    """Why another tool's ``name://`` check has no monitor in tether, in one line."""
    return f"tether has no {name.lower()}:// check"


def cannot_run(monitor: Monitor) -> str | None:
    """Why this process cannot run ``monitor``'s check, in one line (what to install, as
    ``a grpc:// check needs tether[grpc] (missing: hpack, hyperframe): pip install
    'tether[grpc]'``), or
    None when it can.  A push or traffic monitor has nothing to run: it is reported to."""
    if not monitor.probed:
        return f"a {monitor.type} monitor: nothing to probe (it is reported to the server)"
    scheme = find_scheme(monitor.scheme)
    if scheme is None:  # the file's check refuses it first; said all the same
        return f"{no_check(monitor.scheme)} in this installation"
    lacking = scheme_lacking(scheme.name)
    if lacking is None and monitor.browser is not None:
        lacking = feature_lacking("browser")
    if lacking is None and monitor.http_version != "1.1" and takes(scheme, "http_version"):
        lacking = feature_lacking("http3")
    if lacking is None and monitor.dns is not None and monitor.dns.dnssec:
        lacking = feature_lacking("dnssec")
    return lacking


def config_cannot_run(config: MonitorConfig) -> list[str]:
    """``monitors[i] (NAME): why`` for each monitor of ``config`` this installation cannot
    run (push and traffic monitors aside: they run nothing)."""
    out = []
    for i, monitor in enumerate(config.monitors):
        why = cannot_run(monitor) if monitor.probed else None
        if why is not None:
            out.append(f"monitors[{i}] ({monitor.name}): {why}")
    return out
