"""``/metrics``: the default scrape and the scoped ones (``?shard=I&shards=N``,
``?monitor=NAME``), read from the request and answered from the runner's memory
(:class:`~tether.monitor.metrics._metrics.MonitorMetrics` writes the text).

What a request may ask is held here: ``shard`` and ``shards`` together, whole numbers
(``shards`` from 1 to :data:`~tether.monitor.metrics._metrics.SHARDS_MAX`, ``shard`` below
it), ``monitor`` as often as wanted; any other parameter is a 400 naming it, since a
misspelt ``shard`` would otherwise answer the default scrape and every shard's target
would carry the same series.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from aiohttp import web
from multidict import MultiMapping

from tether.monitor.metrics._metrics import SHARDS_MAX, Scope
from tether.monitor.store import ClusterError
from tether.monitor.web._flight import Flights
from tether.monitor.web._params import request_number
from tether.monitor.web._routing import Handler
from tether.monitor.web.scrape._discovery import discovery_metrics

if TYPE_CHECKING:
    from tether.monitor.config import MonitorConfig
    from tether.monitor.web._running import Running

__all__ = ["accepts_gzip", "metrics_handler", "scope_of", "scrape"]

TEXT_FORMAT: Final = "text/plain; version=0.0.4"
_PARAMETERS: Final = ("shard", "shards", "monitor")


def scope_of(query: MultiMapping[str]) -> Scope | None:
    """The scope a request's query asks for (None: the default scrape); raises
    :class:`aiohttp.web.HTTPBadRequest` with one line saying what to send instead."""
    if not query:
        return None
    for name in query:
        if name not in _PARAMETERS:
            raise web.HTTPBadRequest(
                text=f"metrics: unknown parameter {name!r}: give shard and shards, or monitor\n"
            )
    for name in ("shard", "shards"):
        if len(query.getall(name, ())) > 1:
            raise web.HTTPBadRequest(text=f"metrics: give {name} once\n")
    if ("shard" in query) != ("shards" in query):
        raise web.HTTPBadRequest(text="metrics: give shard and shards together\n")
    shard, shards = 0, 1
    if "shards" in query:
        shards = int(
            request_number(query["shards"], "shards", least=1, most=SHARDS_MAX, whole=True)
        )
        shard = int(request_number(query["shard"], "shard", least=0, most=shards - 1, whole=True))
    monitors = query.getall("monitor", None)
    if monitors is not None and not all(monitors):
        raise web.HTTPBadRequest(text="metrics: monitor: give a monitor's name\n")
    return Scope(shard, shards, None if monitors is None else tuple(monitors))


def metrics_handler(runner: Running) -> Handler:
    """``/metrics``: :func:`scrape`, one render shared by the scrapes of one scope and
    encoding that overlap (several Prometheus servers, a slow one); gzip for a client
    that accepts it (Prometheus always does)."""
    scrapes: Flights[bytes] = Flights()
    several = _Several()

    async def metrics(request: web.Request) -> web.Response:
        scope = scope_of(request.query)
        packed = accepts_gzip(request.headers.getall("Accept-Encoding", ()))
        body = await scrapes.run(
            ("/metrics", scope, packed), lambda: scrape(runner, scope, several, gzip=packed)
        )
        headers = {"Content-Type": TEXT_FORMAT, "Vary": "Accept-Encoding"}
        if packed:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    return metrics


def accepts_gzip(fields: Iterable[str]) -> bool:
    """Whether ``Accept-Encoding`` (each of its fields) accepts gzip: ``gzip``,
    ``x-gzip`` or ``*`` with a weight above 0 (RFC 9110, 12.5.3)."""
    for field in fields:
        for item in field.split(","):
            coding, _, params = item.partition(";")
            if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
                continue
            weight = params.strip().lower()
            if not weight.startswith("q="):
                return True
            with contextlib.suppress(ValueError):
                if float(weight[2:]) > 0:
                    return True
    return False


GZIP_LEVEL: Final = 1
"""zlib's fastest level: a shard of 10,000 monitors' 7 MB is 0.3 MB in about 18 ms of
CPU, most of it with the GIL released, against 0.28 MB and twice the time at the
default level 6."""


def _gzip(body: bytes) -> bytes:
    return zlib.compress(body, GZIP_LEVEL, wbits=31)  # 31: a gzip member, as HTTP sends


async def scrape(
    runner: Running,
    scope: Scope | None = None,
    several: _Several | None = None,
    *,
    gzip: bool = False,
) -> bytes:
    """What ``/metrics`` answers for ``scope`` (None: the default scrape), gzipped when
    ``gzip``.  The instances are read off the event loop (a query with PostgreSQL; left
    out when the database cannot be reached, the rest is served all the same), everything
    else from the runner's memory on it; the text is joined (and compressed) on a thread
    (the sources copy what they read, each a dict the event loop writes): each monitor's
    lines are written as its checks arrive, once a scrape has asked for them
    (:class:`~tether.monitor.metrics._metrics.MonitorMetrics`), so a scrape's CPU is
    what it joins and compresses.  ``runner.latest`` has the monitors this instance
    probes now (a shard that moves to another instance takes its monitors out of it).

    Its bytes are what a scrape's wall time grew with: written in pieces of the socket's
    buffer, one a turn of the event loop, in the coordinator and again in the worker
    that forwards it (a shard of 10,000 monitors' 7 MB took some 30 turns each, every
    turn as long as the checks arriving in a wave make it); gzipped, it is 0.3 MB."""
    metrics = runner.metrics
    cluster = runner.cluster_view()
    if scope is not None:  # a monitor's series: none needs the instances read
        names = metrics.scope(scope)
        of_several = (several or _Several()).names(runner.config)
        locations = runner.locations([n for n in names if n in of_several]) if of_several else {}

        def scoped() -> bytes:
            body = metrics.render(cluster, locations, runner.latest, scoped=names)
            return _gzip(body) if gzip else body

        return await asyncio.to_thread(scoped)
    # Unread, tether_cluster_instances is left out; the store's series say why.
    with contextlib.suppress(ClusterError):
        cluster = await asyncio.to_thread(cluster.read, runner.cluster, runner.wall())
    limit = runner.config.server.metrics_monitor_limit
    locations = runner.locations() if metrics.whole(limit) else {}
    discovered = discovery_metrics(runner.discovery.status())

    def default() -> bytes:
        body = metrics.render(cluster, locations, runner.latest, limit=limit) + discovered
        return _gzip(body) if gzip else body

    return await asyncio.to_thread(default)


class _Several:
    """The monitors of more than one location (those with ``tether_location_up``), worked
    out again when a reload brings a new configuration, not at each scrape."""

    def __init__(self) -> None:
        self._of: tuple[MonitorConfig, frozenset[str]] | None = None

    def names(self, config: MonitorConfig) -> frozenset[str]:
        if self._of is None or self._of[0] is not config:
            # A monitor's locations are some of the file's: with one, none has several
            # (and 240,000 monitors are not walked at a first scrape: 0.5 s of its loop).
            found = (
                frozenset(m.name for m in config.monitors if len(config.placed(m)) > 1)
                if len(config.locations) > 1
                else frozenset()
            )
            self._of = (config, found)
        return self._of[1]
