"""A route of the monitor's server as a value, as Starlette's ``Route`` is: a method, a
path and the handler that answers it.  ``_web.routes`` lists every route the monitor
serves in one table, in the order aiohttp tries them, and ``make_app`` adds them in one
loop; the feature modules give handlers, not routes.  The paths that a document or a page
links to are made here too (:func:`monitor_path`, :func:`series_path`), beside the routes
that answer them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

__all__ = ["Handler", "Route", "monitor_path", "series_path"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """``method path`` answered by ``handler``.  A GET answers HEAD too (aiohttp's
    ``add_get``, Starlette's ``Route``) unless ``head`` is false."""

    method: str
    path: str
    handler: Handler
    head: bool = True

    def __repr__(self) -> str:
        return f"<Route {self.method} {self.path}>"

    def add_to(self, router: web.UrlDispatcher) -> None:
        """Add this route to ``router``, after those it has (the first whose path
        matches a request answers it)."""
        if self.method == "GET":
            router.add_get(self.path, self.handler, allow_head=self.head)
        else:
            router.add_route(self.method, self.path, self.handler)


def monitor_path(name: str) -> str:
    """The page of monitor ``name``; any character of a name survives the trip."""
    return "/monitors/" + quote(name, safe="")


def series_path(name: str) -> str:
    """Where monitor ``name``'s chart reads its points (add ``?range=1h|24h|7d|30d``)."""
    return "/api/series/" + quote(name, safe="")
