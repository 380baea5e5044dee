"""Target groups into monitors: each target a source's ``match:`` selects, through its
``template:``, validated as a monitor of the file is (the ``Monitor`` model, then
``defaults:`` and the file's locations), and the template checked once at load on a
sample target, so a template that cannot make a monitor is a mistake of the file, said
when it is read, not at run time."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from tether.monitor.config._checks import cross_check
from tether.monitor.config._discovery import (
    DiscoverySource,
    TargetGroup,
    fill,
    monitor_labels,
)
from tether.monitor.config._errors import Problem, render_path, show
from tether.monitor.config._fields import AUTO
from tether.monitor.config._labels import matches
from tether.monitor.config._models import Monitor, MonitorConfig
from tether.monitor.config._translate import translate

__all__ = ["SAMPLE_ADDRESS", "Made", "check_templates", "monitors_from"]

SAMPLE_ADDRESS: Final = "127.0.0.1:9100"
"""The target a template is tried on when the file is read."""
SAMPLE_VALUE: Final = "sample"
"""What each label a template names holds on the sample target."""


@dataclass(frozen=True, slots=True)
class Made:
    """What a source's target groups made: its monitors by name, and what was left out,
    one line each (a target whose monitor is not valid, a name made twice)."""

    monitors: dict[str, Monitor]
    problems: list[str]


def monitors_from(
    source: DiscoverySource, groups: Iterable[TargetGroup], config: MonitorConfig
) -> Made:
    """The monitors ``source``'s target groups make under ``config`` (its defaults and
    locations applied, as to the file's monitors)."""
    template = source.template_with_name()
    context: dict[str, Any] = {"condition_validator": AUTO, "conditions_passed": set()}
    out: dict[str, Monitor] = {}
    problems: list[str] = []
    made_by: dict[str, str] = {}
    for group in groups:
        for address in group.targets:
            if not matches(source.match, {**group.labels, "__address__": address}):
                continue
            try:
                m = _monitor(template, address, group.labels, config, context)
            except ValueError as exc:
                problems.append(f"target {address}: {exc}")
                continue
            if m.name in out:
                problems.append(
                    f"target {address}: makes the monitor {show(m.name)}, as target "
                    f"{made_by[m.name]} does; left out (put {{{{address}}}} in the name)"
                )
                continue
            out[m.name] = m
            made_by[m.name] = address
    return Made(out, problems)


def _monitor(
    template: Mapping[str, Any],
    address: str,
    labels: Mapping[str, str],
    config: MonitorConfig,
    context: dict[str, Any],
) -> Monitor:
    data = fill(template, address, labels)
    own = data.get("labels")
    if own is None or isinstance(own, Mapping):
        data["labels"] = monitor_labels(labels, own or {})
    try:
        m = Monitor.model_validate(data, context=context)
    except ValidationError as exc:
        # Translated as the file's first monitor's would be, then told from the monitor.
        first = exc.errors(include_url=False)[0]
        error: dict[str, Any] = {**first, "loc": ("monitors", 0, *first["loc"])}
        path, message = translate(error)
        path = path[2:]
        raise ValueError(f"{render_path(path)}: {message}" if path else message) from None
    m = config.defaults.apply(m)
    return m if m.locations else m.model_copy(update={"locations": config.locations})


def _sample_labels(template: object) -> dict[str, str]:
    names = re.findall(r"labels\.([a-zA-Z_][a-zA-Z0-9_]*)", str(template))
    return dict.fromkeys(names, SAMPLE_VALUE)


def check_templates(config: MonitorConfig) -> list[Problem]:
    """Each source's template tried on a sample target (``127.0.0.1:9100``, every label
    it names ``sample``): what keeps it from making a monitor the file would take, at
    ``discover[i].template``."""
    out: list[Problem] = []
    context: dict[str, Any] = {"condition_validator": AUTO, "conditions_passed": set()}
    for i, source in enumerate(config.discover):
        where = ("discover", i, "template")
        template = source.template_with_name()
        try:
            m = _monitor(template, SAMPLE_ADDRESS, _sample_labels(template), config, context)
        except ValueError as exc:
            out.append((where, f"on a sample target ({SAMPLE_ADDRESS}): {exc}"))
            continue
        # References (alert channels, locations, dependencies) as the file's monitors'.
        tried = config.model_copy(update={"monitors": (*config.monitors, m)})
        n = len(config.monitors)
        for path, message in cross_check(tried):
            # (Its name the same as a file's monitor is the sample's, not the template's.)
            if path[:2] == ("monitors", n) and path[2:] != ("name",):
                out.append((where + tuple(path[2:]), message))
    names = [s.name for s in config.discover]
    out += [
        (("discover", i, "name"), f"{show(n)} names another source too")
        for i, n in enumerate(names)
        if n in names[:i]
    ]
    return out
