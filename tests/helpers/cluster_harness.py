"""Instances of a cluster at several locations, all in this process: each a real Runner
with a PostgreSQL store and cluster (leases, heartbeats) of its own on one shared schema,
and a probe of its own, so that one location can be cut from a target while the others
reach it.  They run on one event loop in a thread of this object's (the dashboard's
server runs there too, and Playwright's sync API keeps the main thread's), on a wall
clock the test sets: leases, heartbeats and states are all stamped with it, and nothing
waits on real time.  The test drives them: renewal rounds, checks, and the reads by which
each instance learns what the others published.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from aiohttp import web

from tether.monitor import Runner, channels_for
from tether.monitor.alerts import Outbox
from tether.monitor.config import MonitorConfig
from tether.monitor.runtime._app import close_channels
from tether.monitor.store import PostgresCluster, PostgresStore
from tether.monitor.web._web import make_app
from tether.probe import ProbeOptions, ProbeResult, probe_async

T = TypeVar("T")

EPOCH = 1_800_000_000.0  # 2027-01-15T08:00:00Z
TTL = 3600.0
"""Leases and heartbeats outlast any test: an instance is dead only when it leaves."""


class Instances:
    """One instance per location, in ``locations``' order; ``route(location, url)`` is
    the URL that location's probe really reaches for ``url`` (a refused port for a
    target cut off from there).  With ``alerts``, each instance delivers to the
    configuration's channels (:meth:`deliver`); without, alerts stay queued."""

    def __init__(
        self,
        dsn: str,
        config: MonitorConfig,
        locations: Sequence[str],
        route: Callable[[str, str], str] = lambda location, url: url,
        *,
        alerts: bool = False,
    ) -> None:
        self.now = EPOCH
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners: dict[str, Runner] = {}
        for n, location in enumerate(locations, start=1):
            store = PostgresStore(dsn, batch_seconds=0.05)
            cluster = PostgresCluster(dsn, location, ttl=TTL, id=f"{location}-1", host="lab", pid=n)

            async def probe(url: str, options: ProbeOptions, at: str = location) -> ProbeResult:
                return await probe_async(route(at, url), options)

            self.runners[location] = Runner(
                config,
                store,
                Outbox(store, channels_for(config) if alerts else {}),
                wall=lambda: self.now,
                probe=probe,
                location=location,
                cluster=cluster,
            )
        self._servers: list[web.AppRunner] = []
        self.left: set[str] = set()

    def __getitem__(self, location: str) -> Runner:
        return self.runners[location]

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def rounds(self, n: int = 2) -> None:
        """``n`` renewal rounds of every instance, in order: the first one to renew leads,
        and after two each knows every other one is alive."""
        for _ in range(n):
            for location, runner in self.runners.items():
                if location not in self.left:
                    self.call(runner.renew())

    def check(self, location: str, *names: str) -> None:
        """The instance at ``location`` checks ``names`` now."""
        runner = self.runners[location]
        for name in names:
            self.call(runner.check(name, runner.mono()))

    def settle(self) -> None:
        """Every instance's writes committed, then read by every instance (the leader
        opens or resolves incidents as it reads), then the leader's writes committed."""
        for runner in self.runners.values():
            runner.store.flush()
        for runner in self.runners.values():
            self.call(runner.poll_locations())
        for runner in self.runners.values():
            runner.store.flush()

    def deliver(self) -> None:
        """Every instance delivers the alerts due (each claims those it sends)."""
        for runner in self.runners.values():
            runner.outbox.deliver_due(self.now)

    def leave(self, location: str) -> None:
        """The instance at ``location`` stops cleanly: it leaves the cluster's list (the
        others see it gone at their next round) and takes no part in rounds any more."""
        self.left.add(location)
        self.call(asyncio.to_thread(self.runners[location].cluster.leave, self.now))

    def serve(self, location: str, port: int = 0, *, refresh: float = 5.0) -> str:
        """Serve the instance at ``location`` (its dashboard, APIs and /metrics) on
        loopback; its base URL."""

        async def start() -> web.AppRunner:
            app_runner = web.AppRunner(
                make_app(self.runners[location], refresh=refresh), access_log=None
            )
            await app_runner.setup()
            await web.TCPSite(app_runner, "127.0.0.1", port).start()
            return app_runner

        app_runner = self.call(start())
        self._servers.append(app_runner)
        host, bound = app_runner.addresses[0][:2]
        return f"http://{host}:{bound}"

    def close(self) -> None:
        for app_runner in self._servers:
            self.call(app_runner.cleanup())
        self.call(self.loop.shutdown_default_executor())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        for runner in self.runners.values():
            runner.outbox.close()
            close_channels(runner.outbox.channels)
            runner.store.close()
            runner.cluster.close()
