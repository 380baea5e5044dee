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
from tether.monitor.config._models import Monitor, MonitorConfig
from tether.monitor.config._translate import translate
from tether.monitor.config.labels._labels import matches

__all__ = [
    "SAMPLE_ADDRESS",
    "Discovered",
    "Made",
    "Maker",
    "check_templates",
    "monitors_from",
]

SAMPLE_ADDRESS: Final = "127.0.0.1:9100"
"""The target a template is tried on when the file is read."""
SAMPLE_VALUE: Final = "sample"
"""What each label a template names holds on the sample target."""


@dataclass(frozen=True, slots=True)
class Discovered:
    """A discovered monitor and the target it was made of: its address and its group's
    labels (``__meta_*`` ones too), what the store keeps of it (``store/_discovered.py``)
    and makes it of again at a restart."""

    monitor: Monitor
    address: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Made:
    """What a source's target groups made: its monitors by name, and what was left out,
    one line each (a target whose monitor is not valid, a name made twice)."""

    found: dict[str, Discovered]
    problems: list[str]

    @property
    def monitors(self) -> dict[str, Monitor]:
        return {name: d.monitor for name, d in self.found.items()}


_Key = tuple[str, tuple[tuple[str, str], ...]]
"""A target and its group's labels, as a maker remembers what it made of them."""


class Maker:
    """Makes one source's monitors under one configuration, remembering what it made of
    each target (and its group's labels) at the last read: a target read again as it was
    is the same :class:`Discovered`, not validated again, so a read of N targets of which
    k changed validates k monitors (Prometheus's scrape pool keeps a target's loop while
    its hash stays).  A new configuration (a reload) needs a new maker."""

    def __init__(self, source: DiscoverySource, config: MonitorConfig) -> None:
        self.source, self.config = source, config
        self._template = source.template_with_name()
        self._context: dict[str, Any] = {"condition_validator": AUTO, "conditions_passed": set()}
        self._made: dict[_Key, Discovered | str] = {}

    def make(self, groups: Iterable[TargetGroup]) -> Made:
        """The monitors the target groups make (those ``match:`` selects), and what was
        left out."""
        out: dict[str, Discovered] = {}
        problems: list[str] = []
        made_by: dict[str, str] = {}
        before, self._made = self._made, {}
        selecting = self.source.match
        for group in groups:
            items = tuple(sorted(group.labels.items()))
            for address in group.targets:
                if selecting and not matches(selecting, {**group.labels, "__address__": address}):
                    continue
                key = (address, items)
                one = self._made.get(key) or before.get(key) or self._one(address, group.labels)
                self._made[key] = one
                if isinstance(one, str):
                    problems.append(one)
                    continue
                name = one.monitor.name
                if name in out:
                    problems.append(
                        f"target {address}: makes the monitor {show(name)}, as target "
                        f"{made_by[name]} does; left out (put {{{{address}}}} in the name)"
                    )
                    continue
                out[name] = one
                made_by[name] = address
        return Made(out, problems)

    def _one(self, address: str, labels: Mapping[str, str]) -> Discovered | str:
        try:
            m = _monitor(self._template, address, labels, self.config, self._context)
        except ValueError as exc:
            return f"target {address}: {exc}"
        return Discovered(m, address, dict(labels))


def monitors_from(
    source: DiscoverySource, groups: Iterable[TargetGroup], config: MonitorConfig
) -> Made:
    """The monitors ``source``'s target groups make under ``config`` (its defaults and
    locations applied, as to the file's monitors)."""
    return Maker(source, config).make(groups)


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
