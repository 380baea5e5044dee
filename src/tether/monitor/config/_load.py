"""Loading: YAML text or a file in, a :class:`MonitorConfig` with defaults applied out,
or a :class:`ConfigError` listing every problem."""

from __future__ import annotations

import copy
import os
import re
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import ValidationError

from tether._text import visible
from tether.monitor.config._checks import cross_check
from tether.monitor.config._discovered import check_templates
from tether.monitor.config._errors import ConfigError, config_error, show
from tether.monitor.config._fields import AUTO, ConditionValidator
from tether.monitor.config._models import MaintenanceWindow, Monitor, MonitorConfig, aware
from tether.monitor.config._translate import translate
from tether.monitor.config._yaml import (
    MAX_CHARS,
    MIN_ALIAS_VALUES,
    Document,
    TooLarge,
    compose,
    yaml_problem,
)
from tether.monitor.config.browser._checks import with_browser_settings

__all__ = ["load_config", "loaded", "parse_config"]

_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def parse_config(
    text: str,
    *,
    env: Mapping[str, str] | None = None,
    source: str = "<string>",
    condition_validator: ConditionValidator | None = None,
) -> MonitorConfig:
    """Validate the YAML ``text`` and return the configuration with defaults applied.

    ``env`` replaces ``os.environ`` for ``${NAME}`` references.  ``condition_validator``
    checks each condition and raises :class:`ValueError` to reject it; by default
    ``tether.monitor.config._conditions.parse_condition`` (``lambda text: None`` skips the check).
    Raises :class:`ConfigError` listing every problem.
    """
    if len(text) > MAX_CHARS:
        raise ConfigError([_too_large(source)])
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        # Text no file can hold (its UTF-8 reading would have failed), and libyaml
        # raises UnicodeEncodeError on it.
        row = text.count("\n", 0, surrogate.start()) + 1
        column = surrogate.start() - text.rfind("\n", 0, surrogate.start())
        raise ConfigError(
            [f"{source}:{row}:{column}: {surrogate[0]!a} is a lone surrogate, not a character"]
        )
    document = Document(env=os.environ if env is None else env)
    try:
        node, written = compose(text)
        # What the file writes, and what its aliases add: as much again, or 10,000 values.
        document.budget = written + max(written, MIN_ALIAS_VALUES)
        data = {} if node is None else document.build(node, ())
    except yaml.YAMLError as exc:
        raise ConfigError([visible(yaml_problem(exc, source))]) from None
    except TooLarge as exc:
        raise config_error([(exc.path, exc.message)], document.marks, source) from None
    document.marks[()] = (1, 1)
    errors = list(document.errors)
    if not isinstance(data, dict):
        errors.append(((), f"{show(data)} is not a mapping of keys such as monitors and alerts"))
        raise config_error(errors, document.marks, source)
    context = {"condition_validator": condition_validator or AUTO, "conditions_passed": set()}
    try:
        config = MonitorConfig.model_validate(data, context=context)
    except ValidationError as exc:
        broken = [path for path, _ in errors]
        found = [translate(error) for error in exc.errors(include_url=False)]
        for path, message in found:
            # A value whose ${NAME} was missing is already reported once.
            if not any(path[: len(b)] == b for b in broken):
                errors.append((path, message))
        # The references too (an alert channel misspelt), so every mistake is reported
        # at once: checked on the file with the wrong values left out, when that is valid.
        bad = [path for path, _ in found]
        errors += [
            (path, message)
            for path, message in _references_without(data, bad, context)
            # Not about a wrong value, nor about what holds one (left out, it may read so).
            if not any(path[: len(b)] == b or b[: len(path)] == path for b in bad)
        ]
        raise config_error(errors, document.marks, source) from None
    errors += cross_check(config)
    if not errors and config.discover:
        errors += check_templates(config)
    if errors:
        raise config_error(errors, document.marks, source)
    return loaded(config)


def loaded(config: MonitorConfig) -> MonitorConfig:
    """``config`` as the monitor runs it: ``defaults`` applied to each monitor, the
    ``probe:`` section's browser settings given to each browser check, every location to
    a monitor that names none, and each maintenance window's times in its zone."""
    return config.model_copy(
        update={
            "monitors": tuple(
                _placed(_browsing(config.defaults.apply(m), config), config.locations)
                for m in config.monitors
            ),
            "maintenance": tuple(_with_zones(w) for w in config.maintenance),
        }
    )


def _references_without(
    data: dict[str, Any], bad: list[tuple[str | int, ...]], context: dict[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    """The cross-check's problems of ``data`` with the keys at ``bad`` left out (their
    defaults then apply), when that validates; none when a problem is not a key that can
    be left out (an item of a list, a whole section, a required key)."""
    pruned = copy.deepcopy(data)
    for path in bad:
        if not path or not isinstance(path[-1], str):
            return []
        parent: Any = pruned
        for step in path[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                return []
        if not isinstance(parent, dict) or path[-1] not in parent:
            return []
        del parent[path[-1]]
    try:
        config = MonitorConfig.model_validate(pruned, context=context)
        return list(cross_check(config))
    except Exception:  # a bonus to the errors found, never an error of its own
        return []


def load_config(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    condition_validator: ConditionValidator | None = None,
) -> MonitorConfig:
    """:func:`parse_config` on the file at ``path``.  An unreadable file raises
    :class:`OSError`; one that is not UTF-8 text, or larger than :data:`MAX_CHARS`
    (25,000,000) characters, raises :class:`ConfigError`."""
    with Path(path).open("rb") as file:
        # Never more than the bound (UTF-8 takes up to 4 bytes a character): a
        # configuration cannot make the monitor read a disk into memory.
        raw = file.read(4 * MAX_CHARS + 1)
    if len(raw) > 4 * MAX_CHARS:
        raise ConfigError([_too_large(str(path))])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})"]
        ) from None
    return parse_config(text, env=env, source=str(path), condition_validator=condition_validator)


def _too_large(source: str) -> str:
    return (
        f"{source}: larger than {MAX_CHARS:,} characters, more than a configuration needs; "
        "is this the right file?"
    )


def _browsing(monitor: Monitor, config: MonitorConfig) -> Monitor:
    probe = config.probe
    return with_browser_settings(monitor, probe.browser_concurrency, probe.browser_executable)


def _placed(monitor: Monitor, locations: tuple[str, ...]) -> Monitor:
    """A monitor that names no locations, nor its defaults, is probed from all of them:
    loaded, ``monitor.locations`` is always the list."""
    if monitor.locations:
        return monitor
    return monitor.model_copy(update={"locations": locations})


def _with_zones(window: MaintenanceWindow) -> MaintenanceWindow:
    zone = zoneinfo.ZoneInfo(window.timezone)
    return window.model_copy(
        update={"start": aware(window.start, zone), "end": aware(window.end, zone)}
    )
