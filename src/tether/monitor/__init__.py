"""The monitor: configuration, probes judged by conditions, detection, incidents, alerts,
storage, metrics and the dashboard.

The public face the CLI, the demo and users' own tools import; everything else is
private.  Names load on first use, so ``tether check-config`` does not pay for the
probe engine or the web server.

Needs the ``monitor`` extra (``pip install 'tether[monitor]'``); without it, importing
this package raises an ImportError that says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tether._log  # noqa: F401  (the tether logger's NullHandler, before any line)
from tether._extras import require
from tether._lazy import lazy_names

require("tether.monitor", "monitor")

if TYPE_CHECKING:
    from tether.monitor._records import AlertPayload, Incident, ProbeRecord, QueuedAlert
    from tether.monitor._state import State
    from tether.monitor.alerts import Outbox
    from tether.monitor.config import (
        ConfigError,
        LocationError,
        MonitorConfig,
        load_config,
        parse_config,
        resolve_location,
    )
    from tether.monitor.engine.incidents._engine import IncidentEngine
    from tether.monitor.reports._client import (
        RemoteError,
        monitor_api_path,
        remote_request,
        server_url,
    )
    from tether.monitor.reports._documents import (
        history_report,
        history_text,
        incidents_report,
        incidents_text,
    )
    from tether.monitor.reports._uptime import format_uptime, uptimes
    from tether.monitor.runtime._app import channels_for, run_monitor
    from tether.monitor.runtime._log import logging_to
    from tether.monitor.runtime._runner import Runner
    from tether.monitor.runtime.demo._demo import run_demo
    from tether.monitor.store import Store, StoreError, open_store
    from tether.monitor.web.api._actions import acknowledge
    from tether.monitor.web.documents._status import status_report
    from tether.monitor.web.documents._statustext import status_text

__all__ = [
    "AlertPayload",
    "ConfigError",
    "Incident",
    "IncidentEngine",
    "LocationError",
    "MonitorConfig",
    "Outbox",
    "ProbeRecord",
    "QueuedAlert",
    "RemoteError",
    "Runner",
    "State",
    "Store",
    "StoreError",
    "acknowledge",
    "channels_for",
    "format_uptime",
    "history_report",
    "history_text",
    "incidents_report",
    "incidents_text",
    "load_config",
    "logging_to",
    "monitor_api_path",
    "open_store",
    "parse_config",
    "remote_request",
    "resolve_location",
    "run_demo",
    "run_monitor",
    "server_url",
    "status_report",
    "status_text",
    "uptimes",
]

_LAZY = {
    "RemoteError": "tether.monitor.reports._client",
    "monitor_api_path": "tether.monitor.reports._client",
    "remote_request": "tether.monitor.reports._client",
    "server_url": "tether.monitor.reports._client",
    "AlertPayload": "tether.monitor._records",
    "ConfigError": "tether.monitor.config",
    "Incident": "tether.monitor._records",
    "IncidentEngine": "tether.monitor.engine.incidents._engine",
    "LocationError": "tether.monitor.config",
    "MonitorConfig": "tether.monitor.config",
    "Outbox": "tether.monitor.alerts",
    "ProbeRecord": "tether.monitor._records",
    "QueuedAlert": "tether.monitor._records",
    "Runner": "tether.monitor.runtime._runner",
    "State": "tether.monitor._state",
    "Store": "tether.monitor.store",
    "StoreError": "tether.monitor.store",
    "acknowledge": "tether.monitor.web.api._actions",
    "channels_for": "tether.monitor.runtime._app",
    "format_uptime": "tether.monitor.reports._uptime",
    "history_report": "tether.monitor.reports._documents",
    "history_text": "tether.monitor.reports._documents",
    "incidents_report": "tether.monitor.reports._documents",
    "incidents_text": "tether.monitor.reports._documents",
    "load_config": "tether.monitor.config",
    "logging_to": "tether.monitor.runtime._log",
    "open_store": "tether.monitor.store",
    "parse_config": "tether.monitor.config",
    "resolve_location": "tether.monitor.config",
    "run_demo": "tether.monitor.runtime.demo._demo",
    "run_monitor": "tether.monitor.runtime._app",
    "status_report": "tether.monitor.web.documents._status",
    "status_text": "tether.monitor.web.documents._statustext",
    "uptimes": "tether.monitor.reports._uptime",
}


__getattr__, __dir__ = lazy_names("tether.monitor", _LAZY, globals(), __all__)
