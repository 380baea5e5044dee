"""Telling a status page's subscribers its news (issue 48): the herald and the deliverer.

The herald runs on the instance that leads (one of a cluster, as the incident engine):
every :data:`LOOK_EVERY` seconds it builds each subscribable page's document as the page
is served (``web/status/_statuspage.build_page``), takes its news
(``web/status/_status_news.page_news``) and tells the store each piece it has not told
(``Store.tell``: noted and queued for every confirmed subscriber in one transaction, once
per key whoever finds it). The deliverer (``alerts/_subscribers.Deliverer``) runs on every
instance and sends what the store's outbox holds, each delivery claimed by one. A restart,
a ``kill -9`` or a takeover finds the same news told and the same deliveries queued:
nothing is sent twice from the start, nothing lost (delivery is at least once: a message
sent just before a crash, not yet marked, is sent again)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from tether.monitor.alerts._subscribers import Deliverer
from tether.monitor.store import StoreError
from tether.monitor.web.status._status_news import page_news
from tether.monitor.web.status._statuspage import Sight, build_page

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tether.monitor.config import StatusPage
    from tether.monitor.web._running import Running

__all__ = ["LOOK_EVERY", "NEWS_KEPT", "UNCONFIRMED_KEPT", "Herald", "run_subscribers"]

log = logging.getLogger("tether.monitor")

LOOK_EVERY: Final = 5.0
"""Seconds between the herald's looks at the pages."""
NEWS_KEPT: Final = 90 * 86400.0
UNCONFIRMED_KEPT: Final = 7 * 86400.0
"""How long an address that never confirmed is kept: then it is forgotten, with its
confirmation if that was never sent."""
"""How long news told and deliveries done are kept (the pages show 90 days at most)."""


class Herald:
    """Finds each subscribable page's news and tells the store what it has not told."""

    def __init__(self, runner: Running) -> None:
        self.runner = runner
        self._told: dict[str, set[str]] = {}

    def look(self, page: StatusPage, sight: Sight) -> int:
        """Tell ``page``'s new news; how many deliveries it queued.  Reads and writes the
        store: run it off the loop."""
        store = self.runner.store
        told = self._told.get(page.slug)
        if told is None:
            told = self._told[page.slug] = store.news_told(page.slug)
        doc = build_page(sight, page)
        queued = 0
        for news in page_news(
            page.slug, page.title, doc["incidents"], doc.get("maintenance", []), sight.now
        ):
            if news.key in told:
                continue
            if news.at < sight.now - NEWS_KEPT / 2:
                # Older than what the store keeps of the news told (a long-open
                # incident's opening after a prune): never told again.
                told.add(news.key)
                continue
            queued += store.tell(page.slug, news.key, news.at, news.to_json(), sight.now)
            told.add(news.key)
        return queued

    async def look_all(self) -> int:
        """One look at every subscribable page, when this instance leads."""
        if not self.runner.leading:
            self._told.clear()  # another tells; read again if this one leads later
            return 0
        queued = 0
        for page in self.runner.config.status_pages:
            if page.subscribe is None:
                continue
            sight = Sight.of(self.runner)
            queued += await asyncio.to_thread(self.look, page, sight)
        return queued


async def run_subscribers(
    runner: Running,
    stop: asyncio.Event,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    *,
    every: float = 1.0,
) -> None:
    """The herald (leading instance) and the deliverer (every instance) until ``stop``."""
    herald = Herald(runner)
    deliverer = Deliverer(runner.store, lambda: runner.config, runner.cluster.id, runner.wall)

    async def heralding() -> None:
        last_prune = 0.0
        while not stop.is_set():
            try:
                await herald.look_all()
                now = runner.wall()
                if runner.leading and now - last_prune > 3600:
                    last_prune = now
                    await asyncio.to_thread(runner.store.prune_news, now - NEWS_KEPT)
                    await asyncio.to_thread(runner.store.forget_unconfirmed, now - UNCONFIRMED_KEPT)
            except StoreError as exc:
                log.debug("status page news skipped: %s", exc)
            except Exception:
                log.exception("status page news failed")
            await sleep(min(LOOK_EVERY, every * LOOK_EVERY))

    await asyncio.gather(heralding(), deliverer.run(stop, sleep, every))
