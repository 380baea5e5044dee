"""The probe engine: URL → proxy → DNS → TCP → TLS → HTTP (or ICMP echo), each phase timed.

``tether diagnose`` renders it; the monitor schedules it.  One engine, so both
name a failure the same way.
"""

from tether.probe._allow import AllowedTargets, TargetRefused
from tether.probe._engine import ProbeOptions, probe, probe_async, proxy_environment
from tether.probe._icmp import IcmpNotPermitted
from tether.probe._result import PHASES, Phase, ProbeResult
from tether.probe._target import redact_target

__all__ = [
    "PHASES",
    "AllowedTargets",
    "IcmpNotPermitted",
    "Phase",
    "ProbeOptions",
    "ProbeResult",
    "TargetRefused",
    "probe",
    "probe_async",
    "proxy_environment",
    "redact_target",
]
