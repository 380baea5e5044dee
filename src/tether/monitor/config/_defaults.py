"""The monitors' defaults, and how the ``defaults`` section reaches each monitor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from tether.monitor.config._models import Monitor, MonitorDefaults

DEFAULT_TIMEOUT: Final = 10.0
# A timeout left unset is capped below a short interval instead of making the file
# invalid for a key the user never wrote.
TIMEOUT_SHARE: Final = 0.8


def with_defaults(monitor: Monitor, defaults: MonitorDefaults) -> Monitor:
    own, inherited = monitor.model_fields_set, defaults.model_fields_set
    changes: dict[str, Any] = {
        key: getattr(defaults, key) for key in INHERITED if key in inherited and key not in own
    }
    if monitor.scheme in ("http", "https") and defaults.headers:
        mine = {name.lower() for name in monitor.headers}
        changes["headers"] = {
            **{k: v for k, v in defaults.headers.items() if k.lower() not in mine},
            **monitor.headers,
        }
    if "timeout" not in own and "timeout" not in inherited:
        interval = changes.get("interval", monitor.interval)
        changes["timeout"] = min(DEFAULT_TIMEOUT, interval * TIMEOUT_SHARE)
    # Copy only what changes: a file of many monitors mostly keeps the defaults as they are.
    changes = {k: v for k, v in changes.items() if getattr(monitor, k) != v}
    return monitor.model_copy(update=changes) if changes else monitor


INHERITED: Final = (
    "interval",
    "timeout",
    "failure_threshold",
    "success_threshold",
    "alerts",
    "resolver",
    "latency_margin",
)
