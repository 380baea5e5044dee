"""Reading the ``discover:`` sources while the monitor runs, keeping the discovered set
in the store, and handing each change of it to the runner as a change of its monitors.

Each source is read at start; then a ``file_sd`` source again when one of its files
changes (their modification times and sizes, and the glob's matches, looked at every
``poll_every`` seconds: Prometheus uses inotify, which this polling stands in for) and
every ``refresh_interval`` in any case; an ``http_sd`` source every
``refresh_interval``.  Each source fails alone: whatever its read or its parse raises
(a file that cannot be read or parsed, JSON nested past what can be read, an answer
other than ``200 application/json``, one larger than the limit or not whole within its
deadline, a connection refused) is that source's error, said once per episode; it keeps
its last good targets, shows on the dashboard and in ``/metrics`` until a read succeeds
again, and the other sources go on.

The discovered monitors are the file's monitors' equals.  The set is kept in the store
(``store/_discovered.py``) as it changes, so ``tether status``, ``tether history`` and a
monitor started again read it before any source answers (:func:`with_discovered`).  A
change of it reaches the runner as the monitors it puts and removes
(:meth:`Runner.change_monitors`, ``_monitor_set.py``: at the change's cost, as
Prometheus's scrape pool starts and stops only the targets that changed); one that
appears is probed at once.  In a cluster, the leader reads the sources and writes the
set; the other instances follow it from the store.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import ssl
import stat
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tether._classify._evidence import first_line
from tether._redact import redact_text, redact_url
from tether.monitor.config import Monitor, MonitorConfig
from tether.monitor.config._discovered import Discovered, Maker
from tether.monitor.config._discovery import (
    MAX_GROUP_BYTES,
    DiscoverySource,
    GroupsError,
    HttpSD,
    TargetGroup,
    groups_from_json,
    groups_from_yaml,
)
from tether.monitor.engine._discovery import Kept, SourceSet, SourceStatus, combine, owner
from tether.monitor.runtime._monitor_set import SetChange
from tether.monitor.store import DiscoveredRow, SourceRow, Store, StoreError

__all__ = [
    "Discovery",
    "Reloadable",
    "SourceError",
    "read_files",
    "read_http",
    "with_discovered",
]

log = logging.getLogger("tether.monitor")

HTTP_TIMEOUT = 10.0
"""Seconds an ``http_sd`` answer may take, whole (at most its refresh interval)."""
_CHUNK = 64 * 1024


class SourceError(Exception):
    """A read of a source failed; the message is one line, redacted."""


class Reloadable(Protocol):
    """The runner, as discovery hands it monitors."""

    @property
    def leading(self) -> bool: ...
    def change_monitors(self, change: SetChange) -> list[str]: ...
    def reprobe(self, name: str, delay: float) -> None: ...


Fetch = Callable[[HttpSD], Awaitable[list[TargetGroup]]]


def _files(patterns: tuple[str, ...], base: str) -> dict[str, tuple[int, int]]:
    """Each file the globs match now, with its modification time and size: one gone
    since the glob (a dangling symlink too) is left out; one that cannot be looked at
    (a symlink that loops, a folder not searchable) is kept, for its read to say why."""
    out: dict[str, tuple[int, int]] = {}
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
        for path in sorted(glob.glob(full)):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            except OSError:
                out[path] = (-1, -1)
                continue
            out[path] = (st.st_mtime_ns, st.st_size)
    return out


def read_files(paths: list[str]) -> list[TargetGroup]:
    """The target groups of every file, each group with ``__meta_filepath``.  A file is
    read once, whole, up to the limit: one swapped or cut while it is read is read as
    it was at that moment (the next look reads it again if it changed).  Only a regular
    file is read (a symlink is followed to one): a FIFO would hold the read for as long
    as no one writes to it, a device (``/dev/zero``) never ends.  A file gone since the
    glob matched it is left out, as the next look leaves it out."""
    out: list[TargetGroup] = []
    for path in paths:
        raw = _read_one(path)
        if raw is None:
            continue
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


def _read_one(path: str) -> bytes | None:
    """A regular file's bytes, up to one past the limit (None: gone since the glob)."""
    try:
        # Not blocking: opening a FIFO that no one writes to would wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceError(f"cannot read {path}: not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_GROUP_BYTES and (chunk := os.read(fd, MAX_GROUP_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        raw = b"".join(chunks)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_GROUP_BYTES:
        raise SourceError(f"{path}: larger than {MAX_GROUP_BYTES:,} bytes")
    return raw


async def read_http(sd: HttpSD, *, deadline: float = HTTP_TIMEOUT) -> list[TargetGroup]:
    """One ``GET`` of an ``http_sd`` URL, as Prometheus makes it: verified TLS, the
    authorization sent; only ``200`` with ``application/json`` is an answer, read whole
    up to :data:`MAX_GROUP_BYTES` (a larger one is said to be), and whole within
    ``deadline`` seconds (at most the refresh interval) from the request."""
    import aiohttp

    limit = min(deadline, sd.refresh_interval)
    where = redact_url(sd.url)
    try:
        context = ssl.create_default_context(cafile=sd.tls.ca_file if sd.tls else None)
        async with asyncio.timeout(limit):
            body = await _answer(sd, context, where)
    except TimeoutError:
        raise SourceError(f"{where}: no whole answer within {limit:g} s") from None
    except aiohttp.ClientConnectorError as exc:  # its own text shows the TLS context's repr
        why = exc.os_error.strerror or type(exc.os_error).__name__
        raise SourceError(f"{where}: cannot connect: {why}") from None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise SourceError(f"{where}: {redact_text(str(exc)) or type(exc).__name__}") from None
    try:
        return groups_from_json(body, {"__meta_url": sd.url})
    except GroupsError as exc:
        raise SourceError(f"{where}: {exc}") from None


async def _answer(sd: HttpSD, context: ssl.SSLContext, where: str) -> bytes:
    """The whole body of a ``200 application/json`` answer, refused past the limit."""
    import aiohttp

    too_large = f"{where}: answer larger than {MAX_GROUP_BYTES:,} bytes"
    async with (
        aiohttp.ClientSession(trust_env=False) as session,
        session.get(sd.url, headers=sd.headers(), ssl=context) as answer,
    ):
        if answer.status != 200:
            raise SourceError(f"{where} answered {answer.status} {answer.reason or ''}".strip())
        if answer.content_type != "application/json":
            raise SourceError(
                f"{where} answered Content-Type {answer.content_type}, not application/json"
            )
        if (answer.content_length or 0) > MAX_GROUP_BYTES:
            raise SourceError(too_large)
        chunks: list[bytes] = []
        size = 0
        # content.read(n) gives what one buffer holds: the whole body is read in chunks.
        async for chunk in answer.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > MAX_GROUP_BYTES:
                raise SourceError(too_large)
            chunks.append(chunk)
    return b"".join(chunks)


def _said(exc: BaseException) -> str:
    """Whatever a source's read or parse raised, as its error: one line."""
    if isinstance(exc, SourceError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "nested too deeply to be read"
    return f"{type(exc).__name__}: {redact_text(first_line(exc) or '')}".rstrip(": ")


@dataclass
class _Source:
    """One source's reads and what they made."""

    config: DiscoverySource
    maker: Maker
    made: SourceSet[Discovered] = field(default_factory=SourceSet)
    problems: list[str] = field(default_factory=list)
    seen: dict[str, tuple[int, int]] | None = None
    next_read: float = 0.0
    last_success: float | None = None
    error: str | None = None
    failing_since: float | None = None
    stored: float | None = None
    """When the store's set of this source last changed, as written or read here."""
    rewrite: bool = False
    """The store's names are not the set's (its template changed): write it whole."""

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
    """The sources of one configuration, read on their schedules, their set kept in
    ``store`` (none: in memory only)."""

    def __init__(
        self,
        config: MonitorConfig,
        base: str = ".",
        *,
        store: Store | None = None,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        fetch: Fetch = read_http,
        poll_every: float = 2.0,
    ) -> None:
        """``base``: the folder relative ``file_sd`` paths start from (the
        configuration file's).  With ``store``, the set it holds is taken at once."""
        self.base = base
        self.store = store
        self.wall, self._sleep, self._fetch = wall, sleep, fetch
        self.poll_every = poll_every
        self._sources: dict[str, _Source] = {}
        self._said: set[str] = set()
        self._running: dict[str, Monitor] = {}
        """The discovered monitors the runner was handed, by name."""
        self._dirty: set[str] = set()
        """Names whose monitor may have changed since the runner was last handed them."""
        self._dropped = False
        self.config = config
        self.configure(config)
        if store is not None:
            self._restore(store)

    # -- the configuration -------------------------------------------------------------

    def configure(self, config: MonitorConfig) -> None:
        """Take the file's configuration (at start, on a reload): a source kept as it was
        keeps its reads; its monitors are made again under the new file."""
        self.config = config
        self._own = frozenset(m.name for m in config.monitors)
        before = self._sources
        self._sources = {}
        for source in config.discover:
            kept = before.get(source.name)
            if kept is None:
                kept = _Source(source, Maker(source, config))
            else:
                if kept.config != source:  # read again at once; its monitors kept meanwhile
                    kept.config, kept.seen, kept.next_read = source, None, 0.0
                    kept.rewrite = True
                kept.maker = Maker(source, config)
                kept.made = self._remade(kept, _targets(kept.made))
            self._sources[source.name] = kept
        if self.store is not None and before.keys() - self._sources.keys():
            self._drop_removed()

    def _remade(self, source: _Source, kept: Iterable[_Target]) -> SourceSet[Discovered]:
        """The targets ``kept`` (each with since when it is missing) made into monitors
        again by the source's maker: names may change with the template, and a target
        that no longer makes a valid monitor is left out."""
        targets = list(kept)
        made = source.maker.make(
            [TargetGroup((address,), labels) for address, labels, _ in targets]
        )
        by_target = {(d.address, _items(d.labels)): d for d in made.found.values()}
        out: dict[str, Kept[Discovered]] = {}
        for address, labels, gone_since in targets:
            found = by_target.get((address, _items(labels)))
            if found is not None:
                out[found.monitor.name] = Kept(found, gone_since)
        self._dirty.update(source.made.kept, out)
        return SourceSet(out)

    def _restore(self, store: Store) -> None:
        """The set the store holds, taken before any source answers (a restart)."""
        try:
            rows = store.discovered(self._sources)
            sources = {row.source: row for row in store.discovery_sources()}
        except StoreError as exc:
            log.warning("the discovered set was not read, the sources make it: %s", exc)
            return
        by_source: dict[str, list[DiscoveredRow]] = {}
        for row in rows:
            by_source.setdefault(row.source, []).append(row)
        for name, source in self._sources.items():
            stored = by_source.get(name, [])
            self._take(source, stored)
            kept = sources.get(name)
            if kept is not None:
                source.stored, source.last_success = kept.changed, kept.last_success

    def _take(self, source: _Source, rows: Iterable[DiscoveredRow]) -> None:
        """``source``'s set from the store's ``rows``."""
        stored = list(rows)
        source.made = self._remade(source, ((r.address, r.labels, r.gone_since) for r in stored))
        source.rewrite = source.rewrite or set(source.made.kept) != {r.name for r in stored}

    # -- what the runner and the pages read ----------------------------------------------

    def merged(self, config: MonitorConfig | None = None) -> MonitorConfig:
        """The file's configuration with the discovered monitors added: what the runner
        runs from now on (at start, on a reload)."""
        config = config or self.config
        monitors, said = combine(
            (m.name for m in config.monitors),
            ((s.config.name, s.made.monitors) for s in self._sources.values()),
        )
        self._say(set(said) - self._said)
        self._said = set(said)
        self._running = {d.monitor.name: d.monitor for d in monitors}
        self._dirty.clear()
        if not monitors:
            return config
        discovered = tuple(d.monitor for d in monitors)
        return config.model_copy(update={"monitors": (*config.monitors, *discovered)})

    def status(self) -> list[SourceStatus]:
        """Each source's state, in the file's order."""
        return [s.status() for s in self._sources.values()]

    def change(self) -> SetChange:
        """What changed in the discovered monitors since the runner was last handed them
        (:meth:`merged` or :meth:`apply`): worked out for the names that changed alone."""
        sources = [(s.config.name, s.made.kept) for s in self._sources.values()]
        put: dict[str, Monitor] = {}
        removed: set[str] = set()
        said: set[str] = set()
        for name in sorted(self._dirty):
            found = owner(name, self._own, sources)
            claimed = [s for s, kept in sources if name in kept]
            if len(claimed) > (0 if found is None else 1):
                by = "a monitor of the file" if found is None else f"made by source {found[0]}"
                said.update(
                    f"{s}: monitor {name!r} left out: the name is {by}"
                    for s in claimed
                    if found is None or s != found[0]
                )
            before = self._running.get(name)
            if found is None:
                if before is not None:
                    removed.add(name)
                continue
            monitor = found[1].monitor.monitor
            if before is not monitor and before != monitor:
                put[name] = monitor
        self._say(said - self._said)
        self._said |= said
        return SetChange(put, frozenset(removed))

    def _say(self, lines: Iterable[str]) -> None:
        for line in sorted(lines):
            log.warning("discovery source %s", line, extra={"event": "discovery.left_out"})

    # -- reading -----------------------------------------------------------------------

    async def step(self, *, lead: bool = True) -> bool:
        """Read each source that is due, and let the grace periods run out (``lead``),
        or follow the set the leader keeps in the store: whether the discovered
        monitors changed."""
        now = self.wall()
        if not lead and self.store is not None:
            return await self._follow()
        changed = False
        for source in list(self._sources.values()):
            grace = source.config.grace
            read = False
            try:
                groups = await self._read_if_due(source, now)
                if groups is None:
                    after = source.made.expire(now, grace)
                else:
                    read = True
                    made = source.maker.make(groups)
                    self._problems(source, made.problems)
                    after = source.made.advance(made.found, now, grace)
            except Exception as exc:  # whatever a source raises is its own (issue 45 §3)
                self._failed(source, _said(exc), now)
                log.debug("discovery source %s", source.config.name, exc_info=True)
                after = source.made.expire(now, grace)
            else:
                if read:
                    self._read(source, groups or [], now)
            changed = self._set(source, after, now, read=read) or changed
        return changed

    def _set(
        self, source: _Source, after: SourceSet[Discovered], now: float, *, read: bool
    ) -> bool:
        """``source``'s set is ``after`` from now on: what changed is noted for the
        runner and written to the store.  Whether anything changed."""
        before = source.made
        put, removed = after.changes(before)
        source.made = after
        # A monitor entering its grace period is kept as it was: written, not run anew.
        moved = {
            n for n, k in put.items() if (b := before.kept.get(n)) is None or b.monitor != k.monitor
        }
        self._dirty.update(moved, removed)
        if self.store is not None and (put or removed or read or source.rewrite):
            self._write(source, put, removed, now, changed=bool(put or removed))
        return bool(moved or removed)

    def _write(
        self,
        source: _Source,
        put: Mapping[str, Kept[Discovered]],
        removed: Iterable[str],
        now: float,
        *,
        changed: bool,
    ) -> None:
        assert self.store is not None
        name = source.config.name
        whole = source.rewrite
        if whole:
            put = source.made.kept
        if changed or whole or source.stored is None:
            source.stored = now
        rows = [
            DiscoveredRow(name, n, k.monitor.address, k.monitor.labels, k.gone_since)
            for n, k in put.items()
        ]
        try:
            if not self._dropped:
                self._drop_removed()
            self.store.save_discovered(
                SourceRow(name, source.stored, source.last_success),
                rows,
                () if whole else frozenset(removed),
                whole=whole,
            )
            source.rewrite = False
        except StoreError as exc:  # closed: nothing more to keep
            log.debug("the discovered set of %s was not written: %s", name, exc)

    def _drop_removed(self) -> None:
        """The store's sets of sources no longer in the file go."""
        assert self.store is not None
        try:
            self.store.drop_discovery_sources(self._sources)
            self._dropped = True
        except StoreError as exc:
            log.debug("the sets of removed sources were not dropped: %s", exc)

    async def _follow(self) -> bool:
        """Take the set the leader wrote, for each source whose set changed since it was
        last read here."""
        store = self.store
        assert store is not None
        try:
            rows = {r.source: r for r in await asyncio.to_thread(store.discovery_sources)}
            stale = [
                n for n, s in self._sources.items() if n in rows and rows[n].changed != s.stored
            ]
            targets = await asyncio.to_thread(store.discovered, stale) if stale else []
        except StoreError as exc:
            log.debug("the discovered set was not read: %s", exc)
            return False
        changed = False
        for name, source in self._sources.items():
            row = rows.get(name)
            if row is not None:
                source.last_success = row.last_success
            if name not in stale or row is None:
                continue
            before = source.made
            self._take(source, (t for t in targets if t.source == name))
            source.rewrite, source.stored = False, row.changed
            put, removed = source.made.changes(before)
            moved = [
                n
                for n, k in put.items()
                if (b := before.kept.get(n)) is None or b.monitor != k.monitor
            ]
            changed = changed or bool(moved or removed)
        return changed

    def _problems(self, source: _Source, problems: list[str]) -> None:
        for line in problems:
            if line not in source.problems:
                log.warning(
                    "discovery source %s: %s",
                    source.config.name,
                    line,
                    extra={"event": "discovery.left_out"},
                )
        source.problems = problems

    async def _read_if_due(self, source: _Source, now: float) -> list[TargetGroup] | None:
        """The source's groups, when it is due to be read; None when it is not."""
        cfg = source.config
        if cfg.file_sd is not None:
            files = await asyncio.to_thread(_files, cfg.file_sd.files, self.base)
            if files == source.seen and now < source.next_read:
                return None
            source.seen = files
            source.next_read = now + cfg.file_sd.refresh_interval
            return await asyncio.to_thread(read_files, list(files))
        assert cfg.http_sd is not None
        if now < source.next_read:
            return None
        source.next_read = now + cfg.http_sd.refresh_interval
        return await self._fetch(cfg.http_sd)

    def _read(self, source: _Source, groups: list[TargetGroup], now: float) -> None:
        if source.error is not None:
            log.info(
                "discovery source %s read again: %d targets",
                source.config.name,
                sum(len(g.targets) for g in groups),
                extra={"event": "discovery.recovered"},
            )
        source.error, source.failing_since, source.last_success = None, None, now

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
        """Read the sources (or follow the leader's set) until ``stop`` is set, handing
        each change to ``runner``."""
        while not stop.is_set():
            try:
                if await self.step(lead=runner.leading):
                    self.apply(runner)
            except Exception:  # a step that raises is a bug; the next one runs anyway
                log.exception("discovery step failed")
            await self._sleep(self.poll_every)

    def apply(self, runner: Reloadable) -> list[str]:
        """Hand the runner what changed in the discovered monitors: the monitors put
        and removed, no other; a monitor new to it is probed at once."""
        change = self.change()
        self._dirty.clear()
        if not change:
            return []
        new = [name for name in change.put if name not in self._running]
        for name in change.removed:
            self._running.pop(name, None)
        self._running.update(change.put)
        lines = runner.change_monitors(change)
        for name in new:
            runner.reprobe(name, 0.0)
        if lines:
            log.info(
                "discovered monitors: %s", "; ".join(lines), extra={"event": "discovery.changed"}
            )
        return lines


_Target = tuple[str, Mapping[str, str], float | None]
"""A target (its address and its group's labels) and since when it is missing."""


def _targets(made: SourceSet[Discovered]) -> list[_Target]:
    return [(k.monitor.address, k.monitor.labels, k.gone_since) for k in made.kept.values()]


def _items(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def with_discovered(config: MonitorConfig, store: Store) -> MonitorConfig:
    """The file's configuration with the discovered set the store holds: what ``tether
    status`` and ``tether history`` read (no source is read, nothing is written)."""
    return Discovery(config, store=store).merged()
