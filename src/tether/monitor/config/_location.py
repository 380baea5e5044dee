"""Which of the file's ``locations`` this instance runs at.

Instances share one configuration file, so an instance's own location is not in it: it
comes from ``tether monitor --location NAME``, else the ``TETHER_LOCATION`` environment
variable, else it is the file's only location (``local`` when the file names none).  A
file with several locations and an instance that says nothing is refused rather than
guessed: an instance counted at the wrong location would move every quorum it is part of.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from tether._suggest import did_you_mean
from tether.monitor.config._errors import show
from tether.monitor.config._models import MonitorConfig

__all__ = ["ENV_LOCATION", "LocationError", "resolve_location"]

ENV_LOCATION: Final = "TETHER_LOCATION"


class LocationError(ValueError):
    """This instance's location is missing or not one of the file's; ``str()`` is one line
    the CLI prints as it is (a usage error: exit 2)."""


def resolve_location(
    config: MonitorConfig, given: str | None = None, env: Mapping[str, str] | None = None
) -> str:
    """This instance's location: ``given`` (``--location``), else ``TETHER_LOCATION`` from
    ``env`` (``os.environ`` by default; empty counts as unset), else the file's only one.
    Raises :class:`LocationError` when the name is not in ``config.locations``, or when the
    file has several and none was given."""
    known = config.locations
    env = os.environ if env is None else env
    if given is not None:
        name, source = given, "--location"
    elif env.get(ENV_LOCATION):
        name, source = env[ENV_LOCATION], ENV_LOCATION
    elif len(known) == 1:
        return known[0]
    else:
        raise LocationError(
            f"this instance's location is not set: give --location NAME or {ENV_LOCATION}, "
            f"one of {', '.join(known)}"
        )
    if name in known:
        return name
    hint = did_you_mean(name, known) or f"; the file's locations are {', '.join(known)}"
    raise LocationError(f"{source} {show(name)} is not a location of the file{hint}")
