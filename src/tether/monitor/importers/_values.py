"""Small readings the importers share: Go's and Prometheus's durations, ``$VAR``
references, and reading a YAML file into one ``ImportFailed`` line when it cannot be."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import yaml
from pydantic import TypeAdapter, ValidationError

from tether.monitor.config._errors import render_path
from tether.monitor.config._fields import Name
from tether.monitor.config._yaml import MAX_CHARS, TooLarge, read_plain
from tether.monitor.importers._common import ImportFailed, printable

_NAME: Final = TypeAdapter(Name)


shown = printable
"""``value`` for a left-out line (``_common.printable``): a character a terminal would
obey written as its escape."""


def name_problem(name: str) -> str | None:
    """Why tether refuses ``name`` as a name (a control or bidirectional character...),
    in its loader's words; ``None`` when it takes it."""
    try:
        _NAME.validate_python(name)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"])
    return None


__all__ = [
    "go_duration",
    "monitor_problem",
    "name_problem",
    "read_yaml",
    "seconds_text",
    "shown",
    "with_env_references",
]

_GO_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w|y)")
_GO_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    # Prometheus's durations also take days, weeks and years (Go's do not).
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}


def go_duration(value: object) -> float | None:
    """Seconds of a Go (``1h30m``, ``1.5s``, ``300ms``) or Prometheus (``15s``, ``1d``)
    duration; ``None`` when ``value`` is not one.  A bare ``0`` is zero, as in Go."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    if text == "0":
        return 0.0
    parts = _GO_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _GO_UNITS[unit] for number, unit in parts)


def seconds_text(seconds: float) -> str:
    """``seconds`` as tether writes a duration: the largest units first, each once
    (``90`` → ``1m30s``, ``0.25`` → ``250ms``); below a millisecond, ``1ms``."""
    millis = max(1, round(seconds * 1000))
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, millis = divmod(millis, size)
        if count:
            out.append(f"{count}{unit}")
    if millis:
        out.append(f"{millis}ms")
    return "".join(out)


_ENV: Final = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def with_env_references(text: str) -> str:
    """Gatus's ``$NAME`` and ``${NAME}`` (Go's ``os.ExpandEnv`` over the file) as tether's
    ``${NAME}``; Gatus's ``$$`` (a literal ``$``) as ``$``, or ``$${`` before a brace, which
    is how tether writes a literal ``${``."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            follows = text[match.end() : match.end() + 1]
            return "$$" if follows == "{" else "$"
        return "${" + (match[1] or match[2]) + "}"

    return _ENV.sub(one, text)


def monitor_problem(monitor: Mapping[str, Any]) -> str | None:
    """Why tether's loader refuses ``monitor`` on its own (its alerts aside: the channels
    are checked with the whole file), in its words; ``None`` when it takes it, or when it
    reads the environment (``${NAME}``), which is for where it runs to say."""
    from tether.monitor.config import ConfigError, parse_config

    alone = {k: v for k, v in monitor.items() if k != "alerts"}
    text = yaml.safe_dump({"monitors": [alone]}, allow_unicode=True)
    if "${" in text:
        return None
    try:
        parse_config(text, env={})
    except ConfigError as exc:
        return "; ".join(line.removeprefix("monitors[0].") for line in exc.errors)
    return None


def read_yaml(path: str, tool: str) -> Any:
    """The YAML document of ``path``; :class:`ImportFailed` naming the file (and the line,
    for a YAML mistake) when it cannot be read.  The file is another tool's, so hostile
    until read: read as the monitor reads its own (``config/_yaml.py``), its size, its
    nesting and what its aliases expand to bounded while it is read."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(MAX_CHARS + 1)
    except UnicodeDecodeError:
        raise ImportFailed(f"{path}: is not text (UTF-8), so not a {tool} file") from None
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        data = read_plain(text.removeprefix("\ufeff"))  # the text gate's refusal: TooLarge
    except TooLarge as exc:
        if not exc.path:  # the file itself
            raise ImportFailed(f"{path}: {exc.message}, more than a {tool} file needs") from None
        raise ImportFailed(f"{path}: {render_path(exc.path)}: {exc.message}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ImportFailed(f"{where}: is not valid YAML: {problem}") from None
    return data
