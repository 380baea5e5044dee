"""Reading the ``discover:`` sources while the monitor runs, and handing what they make
to the runner as monitors.

Each source is read at start; then a ``file_sd`` source again when one of its files
changes (their modification times and sizes, and the glob's matches, looked at every
``poll_every`` seconds: Prometheus uses inotify, which this polling stands in for) and
every ``refresh_interval`` in any case; an ``http_sd`` source every
``refresh_interval``.  A read that fails (a file that cannot be read or parsed, an
answer other than ``200 application/json``, a connection refused) keeps the source's
last good targets, is logged once per episode, and shows on the dashboard and in
``/metrics`` until a read succeeds again.

The discovered monitors are the file's monitors' equals: the runner gets the file's
configuration with them added, through its reload (``Runner.reload``), so alerts,
labels, routes and the pages see them as monitors; one that appears is probed at once.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from tether._redact import redact_text, redact_url
from tether.monitor.config import Monitor, MonitorConfig
from tether.monitor.config._discovered import monitors_from
from tether.monitor.config._discovery import (
    MAX_GROUP_BYTES,
    DiscoverySource,
    GroupsError,
    HttpSD,
    TargetGroup,
    groups_from_json,
    groups_from_yaml,
)
from tether.monitor.engine._discovery import SourceSet, SourceStatus, combine

__all__ = ["Discovery", "Reloadable", "SourceError", "read_files", "read_http"]

log = logging.getLogger("tether.monitor")

HTTP_TIMEOUT = 10.0
"""Seconds an ``http_sd`` request may take (at most its refresh interval)."""


class SourceError(Exception):
    """A read of a source failed; the message is one line, redacted."""


class Reloadable(Protocol):
    """The runner, as discovery hands it monitors."""

    def reload(self, config: MonitorConfig) -> list[str]: ...
    def reprobe(self, name: str, delay: float) -> None: ...


Fetch = Callable[[HttpSD], Awaitable[list[TargetGroup]]]


def _files(patterns: tuple[str, ...], base: str) -> dict[str, tuple[int, int]]:
    """Each file the globs match now, with its modification time and size."""
    out: dict[str, tuple[int, int]] = {}
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
        for path in sorted(glob.glob(full)):
            try:
                st = os.stat(path)
            except OSError:
                continue
            out[path] = (st.st_mtime_ns, st.st_size)
    return out


def read_files(paths: list[str]) -> list[TargetGroup]:
    """The target groups of every file, each group with ``__meta_filepath``."""
    out: list[TargetGroup] = []
    for path in paths:
        try:
            with open(path, "rb") as file:
                raw = file.read(MAX_GROUP_BYTES + 1)
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(raw) > MAX_GROUP_BYTES:
            raise SourceError(f"{path}: larger than {MAX_GROUP_BYTES:,} bytes")
        meta = {"__meta_filepath": path}
        try:
            text = raw.decode("utf-8")
            if path.endswith(".json"):
                out += groups_from_json(text, meta)
            else:
                out += groups_from_yaml(text, meta)
        except UnicodeDecodeError:
            raise SourceError(f"{path}: not UTF-8 text") from None
        except GroupsError as exc:
            raise SourceError(f"{path}: {exc}") from None
    return out


async def read_http(sd: HttpSD) -> list[TargetGroup]:
    """One ``GET`` of an ``http_sd`` URL, as Prometheus makes it: verified TLS, the
    authorization sent; only ``200`` with ``application/json`` is an answer."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=min(HTTP_TIMEOUT, sd.refresh_interval))
    where = redact_url(sd.url)
    try:
        context = ssl.create_default_context(cafile=sd.tls.ca_file if sd.tls else None)
        async with (
            aiohttp.ClientSession(timeout=timeout, trust_env=False) as session,
            session.get(sd.url, headers=sd.headers(), ssl=context) as answer,
        ):
            if answer.status != 200:
                raise SourceError(f"{where} answered {answer.status} {answer.reason or ''}".strip())
            if answer.content_type != "application/json":
                raise SourceError(
                    f"{where} answered Content-Type {answer.content_type}, not application/json"
                )
            body = await answer.content.read(MAX_GROUP_BYTES + 1)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        raise SourceError(f"{where}: {redact_text(str(exc)) or type(exc).__name__}") from None
    if len(body) > MAX_GROUP_BYTES:
        raise SourceError(f"{where}: answer larger than {MAX_GROUP_BYTES:,} bytes")
    try:
        return groups_from_json(body, {"__meta_url": sd.url})
    except GroupsError as exc:
        raise SourceError(f"{where}: {exc}") from None


@dataclass
class _Source:
    """One source's reads and what they made."""

    config: DiscoverySource
    groups: list[TargetGroup] | None = None
    """The latest good read's groups (None: none yet)."""
    made: SourceSet[Monitor] = field(default_factory=SourceSet)
    problems: list[str] = field(default_factory=list)
    seen: dict[str, tuple[int, int]] | None = None
    next_read: float = 0.0
    last_success: float | None = None
    error: str | None = None
    failing_since: float | None = None

    def status(self) -> SourceStatus:
        return SourceStatus(
            self.config.name,
            self.config.kind,
            len(self.made.kept),
            self.error is None and self.last_success is not None,
            self.last_success,
            self.error,
            self.failing_since,
        )


class Discovery:
    """The sources of one configuration, read on their schedules."""

    def __init__(
        self,
        config: MonitorConfig,
        base: str = ".",
        *,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        fetch: Fetch = read_http,
        poll_every: float = 2.0,
    ) -> None:
        """``base``: the folder relative ``file_sd`` paths start from (the
        configuration file's)."""
        self.base = base
        self.wall, self._sleep, self._fetch = wall, sleep, fetch
        self.poll_every = poll_every
        self._sources: dict[str, _Source] = {}
        self._said: set[str] = set()
        self.config = config
        self.configure(config)

    def configure(self, config: MonitorConfig) -> None:
        """Take the file's configuration (at start, on a reload): a source kept as it was
        keeps its reads; what its groups make is made again under the new file."""
        self.config = config
        before = self._sources
        self._sources = {}
        for source in config.discover:
            kept = before.get(source.name) or _Source(source)
            if kept.config != source:  # read again at once; its monitors kept meanwhile
                kept.config, kept.seen, kept.next_read = source, None, 0.0
            if kept.groups is not None:
                self._make(kept, kept.groups, self.wall())
            self._sources[source.name] = kept

    def merged(self, config: MonitorConfig | None = None) -> MonitorConfig:
        """The file's configuration with the discovered monitors added."""
        config = config or self.config
        monitors, said = combine(
            (m.name for m in config.monitors),
            ((s.config.name, s.made.monitors) for s in self._sources.values()),
        )
        for line in set(said) - self._said:
            log.warning("discovery source %s", line, extra={"event": "discovery.left_out"})
        self._said = set(said)
        if not monitors:
            return config
        return config.model_copy(update={"monitors": (*config.monitors, *monitors)})

    def status(self) -> list[SourceStatus]:
        """Each source's state, in the file's order."""
        return [s.status() for s in self._sources.values()]

    # -- reading -----------------------------------------------------------------------

    async def step(self) -> bool:
        """Read each source that is due, and let the grace periods run out: whether the
        discovered monitors changed."""
        before = self._names_and_monitors()
        now = self.wall()
        for source in list(self._sources.values()):
            groups = await self._read_if_due(source, now)
            if groups is not None:
                self._make(source, groups, now)
            else:
                source.made = source.made.expire(now, source.config.grace)
        return self._names_and_monitors() != before

    def _names_and_monitors(self) -> dict[str, object]:
        return {n: m for s in self._sources.values() for n, m in s.made.monitors.items()}

    def _make(self, source: _Source, groups: list[TargetGroup], now: float) -> None:
        made = monitors_from(source.config, groups, self.config)
        for line in made.problems:
            if line not in source.problems:
                log.warning(
                    "discovery source %s: %s",
                    source.config.name,
                    line,
                    extra={"event": "discovery.left_out"},
                )
        source.problems = made.problems
        source.made = source.made.advance(made.monitors, now, source.config.grace)

    async def _read_if_due(self, source: _Source, now: float) -> list[TargetGroup] | None:
        cfg = source.config
        try:
            if cfg.file_sd is not None:
                files = await asyncio.to_thread(_files, cfg.file_sd.files, self.base)
                if files == source.seen and now < source.next_read:
                    return None
                source.seen = files
                source.next_read = now + cfg.file_sd.refresh_interval
                groups = await asyncio.to_thread(read_files, list(files))
            else:
                assert cfg.http_sd is not None
                if now < source.next_read:
                    return None
                source.next_read = now + cfg.http_sd.refresh_interval
                groups = await self._fetch(cfg.http_sd)
        except SourceError as exc:
            self._failed(source, str(exc), now)
            return None
        if source.error is not None:
            log.info(
                "discovery source %s read again: %d targets",
                cfg.name,
                sum(len(g.targets) for g in groups),
                extra={"event": "discovery.recovered"},
            )
        source.error, source.failing_since, source.last_success = None, None, now
        source.groups = groups
        return groups

    def _failed(self, source: _Source, error: str, now: float) -> None:
        if cfg_file := source.config.file_sd:
            source.seen = None  # read again at the next look, fixed or not
            source.next_read = now + cfg_file.refresh_interval
        if source.error is None:
            log.warning(
                "discovery source %s failing, its last %d monitors kept: %s",
                source.config.name,
                len(source.made.kept),
                error,
                extra={"event": "discovery.failing"},
            )
            source.failing_since = now
        source.error = error

    async def run(self, stop: asyncio.Event, runner: Reloadable) -> None:
        """Read the sources until ``stop`` is set, handing each change to ``runner``."""
        while not stop.is_set():
            try:
                if await self.step():
                    self.apply(runner)
            except Exception:  # a step that raises is a bug; the next one runs anyway
                log.exception("discovery step failed")
            await self._sleep(self.poll_every)

    def apply(self, runner: Reloadable) -> list[str]:
        """Run the file's monitors and the discovered ones from now on; a monitor new to
        the runner is probed at once."""
        config = self.merged()
        changes = runner.reload(config)
        for line in changes:
            if line.startswith("added "):
                runner.reprobe(line.removeprefix("added "), 0.0)
        if changes:
            log.info(
                "discovered monitors: %s", "; ".join(changes), extra={"event": "discovery.changed"}
            )
        return changes
