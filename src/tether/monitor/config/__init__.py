"""The monitor's configuration: one YAML file, validated, with errors that name the key path.

Loading goes one way, and each step keeps the key path of every value:

1. YAML is composed into nodes (so every key keeps its line and column) and built into
   plain data: the keys as written (``on:`` stays ``"on"``), merge keys (``<<: *base``)
   applied, a key written twice reported (:mod:`._yaml`).
2. ``${NAME}`` and ``${NAME:-default}`` in string values are replaced from the environment
   (:mod:`._yaml`).
3. pydantic validates the shape (:mod:`._models`, :mod:`._fields`); its errors are
   rewritten as ``key.path: message`` with the value shown (secrets masked) and no
   pydantic boilerplate (:mod:`._translate`, :mod:`._errors`).
4. What one field cannot see is checked across the file: unique names, alert channels and
   dependencies that exist, no dependency cycle, a timeout shorter than its interval,
   options that fit the monitor's scheme, locations listed at the top and a quorum they
   can reach (:mod:`._checks`).
5. ``defaults`` are applied to every monitor that does not set the key itself
   (:mod:`._defaults`, where each default is written once), and a monitor that names no
   ``locations`` gets every one.

The instance's own location is not in the file (instances share it):
:func:`resolve_location` takes it from ``--location`` or ``TETHER_LOCATION``.

Every problem found is reported at once, one line each, in file order::

    monitors[3].interval: "5" is not a duration, write 5s
    monitors[4].alerts[0]: no alert channel named "opz", did you mean ops?
"""

from tether.monitor.config._alertmanager import AlertmanagerChannelConfig
from tether.monitor.config._capabilities import cannot_run
from tether.monitor.config._channels import (
    AlertChannel,
    AppriseChannelConfig,
    ChannelConfig,
    EmailChannelConfig,
    WebhookChannelConfig,
)
from tether.monitor.config._checks import config_warnings
from tether.monitor.config._defaults import default_timeout
from tether.monitor.config._dns import DnsOptions
from tether.monitor.config._errors import ConfigError
from tether.monitor.config._load import load_config, parse_config
from tether.monitor.config._location import ENV_LOCATION, LocationError, resolve_location
from tether.monitor.config._models import (
    Announcement,
    ApiToken,
    ClusterSettings,
    Escalation,
    IncidentNote,
    MaintenanceWindow,
    Monitor,
    MonitorConfig,
    MonitorDefaults,
    ProbeSettings,
    Server,
    StatusGroup,
    StatusMonitor,
    StatusPage,
    TlsOptions,
    User,
)
from tether.monitor.config._storage import Storage

__all__ = [
    "ENV_LOCATION",
    "AlertChannel",
    "AlertmanagerChannelConfig",
    "Announcement",
    "ApiToken",
    "AppriseChannelConfig",
    "ChannelConfig",
    "ClusterSettings",
    "ConfigError",
    "DnsOptions",
    "EmailChannelConfig",
    "Escalation",
    "IncidentNote",
    "LocationError",
    "MaintenanceWindow",
    "Monitor",
    "MonitorConfig",
    "MonitorDefaults",
    "ProbeSettings",
    "Server",
    "StatusGroup",
    "StatusMonitor",
    "StatusPage",
    "Storage",
    "TlsOptions",
    "User",
    "WebhookChannelConfig",
    "cannot_run",
    "config_warnings",
    "default_timeout",
    "load_config",
    "parse_config",
    "resolve_location",
]
