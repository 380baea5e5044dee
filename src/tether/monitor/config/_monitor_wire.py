"""A monitor as the agents' wire carries it (``GET /api/agent/assignment``,
docs/agents.md): what the server writes (:func:`monitor_json`) the agent reads back
(:func:`read_monitor`) as an equal monitor with the same keys set, so every validator runs
the same way on both sides.  ``tests/monitor/config/test_monitor_wire.py`` holds it over
generated monitors of every option, drawn from the models' own fields.

- **The keys set, not every key.**  A key is sent when the loaded configuration sets it:
  written in the file, or filled in by ``defaults:`` or by loading (``locations``, the
  browser settings of ``probe:``).  A key left out is left out on the wire too, and the
  agent's model gives it its default, as it would reading the file itself.  Sending every
  default would set keys the file never wrote, and a model that checks what goes together
  refuses some of those: ``alert_when: {failures: 3, within: 5m}`` sent with its default
  ``min_checks: 10`` beside it was refused by every agent (issue 44).
- **The file's own keys** (``from``, not pydantic's ``from_``), **secrets as themselves**
  (pydantic writes ``**********``: the agent probes with them), and **durations in
  seconds**, read with :data:`~._fields.SECONDS_CONTEXT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_core import to_jsonable_python

from tether.monitor.config._fields import SECONDS_CONTEXT
from tether.monitor.config._models import Monitor

__all__ = ["monitor_json", "read_monitor"]


def monitor_json(monitor: Monitor) -> dict[str, Any]:
    """``monitor`` as JSON data: the keys it has set, each secret as itself.  It may hold
    credentials (headers, a URL's password): sent only to an agent's token."""
    return _dump(monitor)


def read_monitor(data: Mapping[str, Any]) -> Monitor:
    """The monitor :func:`monitor_json` wrote; raises pydantic's ``ValidationError`` for
    one this tether's model refuses (a key a newer tether added, say)."""
    return Monitor.model_validate(data, context={SECONDS_CONTEXT: True})


def _dump(model: BaseModel) -> dict[str, Any]:
    fields = type(model).model_fields
    given = model.model_fields_set
    return {
        info.alias or name: _value(getattr(model, name))
        for name, info in fields.items()
        if name in given
    }


def _value(value: object) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return _dump(value)
    if isinstance(value, tuple | list):
        return [_value(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _value(item) for key, item in value.items()}
    return to_jsonable_python(value)
