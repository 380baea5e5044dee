"""The fault lab: servers on loopback that misbehave on purpose.

Every failure kind that tether knows has a scenario here that produces it for
real, so tether and its users can test resilience against real sockets.

Needs the ``lab`` extra (``pip install 'tether[lab]'``).  The names below load on
first use, and say which extra to install when it is missing: the pytest plugin
(``tether.lab.pytest_plugin``) lives in this package and must import without it.
"""

import typing as _typing

if _typing.TYPE_CHECKING:
    from tether.lab._lab import SPECS, Lab, Scenario
    from tether.lab._services import FAULTS as SERVICE_FAULTS
    from tether.lab._services import ServiceFault, ServiceLab

__all__ = ["SERVICE_FAULTS", "SPECS", "Lab", "Scenario", "ServiceFault", "ServiceLab"]
_HOMES = {
    "SERVICE_FAULTS": ("_services", "FAULTS"),
    "ServiceFault": ("_services", "ServiceFault"),
    "ServiceLab": ("_services", "ServiceLab"),
}


def __getattr__(name: str) -> _typing.Any:
    if name not in __all__:
        raise AttributeError(f"module 'tether.lab' has no attribute {name!r}")
    from tether._extras import require

    require("tether.lab", "lab")
    import importlib

    module, attribute = _HOMES.get(name, ("_lab", name))
    value = getattr(importlib.import_module(f"tether.lab.{module}"), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
