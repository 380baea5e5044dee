"""The overview's view of thousands of monitors: which ones a request asks for, in what
order, and which page of them, from its query string alone.

    /?state=down&q=shop&sort=uptime_30d&order=asc&page=2&per_page=100
    /?match={team="payments",tier=~"1|2"}

``q`` and ``match`` choose the monitors the page is about (:func:`scope`): everything
it shows is of those alone, the counts by state, the rows, the open incidents.
``state`` then chooses among them the rows listed; the counts stay those of every
state, so that each is a link to its rows.

``match`` takes Alertmanager's matchers (``config/labels/_labels.py``) over a monitor's labels and
``monitor``, its name: a matcher that cannot be read is a :class:`BadMatch`, which the
dashboard shows on the page and ``/api/status`` answers as a JSON error.

The dashboard's page and ``/api/status`` read the same parameters (:meth:`View.parse`),
so a page works without JavaScript: the column headers, the page links and the filter
form are plain links and a GET form to the same address.  A value that is not one the
parameter takes is one 400 answer saying what to send, as :mod:`tether.monitor.web._params`
answers a bad number.

:func:`arrange` is pure: it sorts and filters what the caller gathered of every monitor
(:class:`OverviewEntry`: a few fields each, from the runner's memory and the cached uptimes) and
cuts out the page; only that page's rows are then read from the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

from aiohttp import web

from tether.monitor._state import State
from tether.monitor.config.labels._labels import Matchers, matches, parse_matchers
from tether.monitor.config.labels._regex import SCAN_MEMORY_MAX, untrusted_problem
from tether.monitor.web._params import request_number

if TYPE_CHECKING:
    from tether.monitor.config import Monitor

__all__ = [
    "QUERY_MAX",
    "SORTS",
    "BadMatch",
    "Order",
    "OverviewEntry",
    "Paged",
    "View",
    "arrange",
    "arrange_in_order",
    "in_order",
    "order_of",
    "scope",
]

SORTS: Final = (
    "config",
    "state",
    "name",
    "for",
    "latency",
    "uptime_24h",
    "uptime_30d",
    "certificate",
)
"""What the overview sorts by: the configuration's order (the default), the state (what
needs a look first: down, flapping, degraded, up, paused, unknown), the name, how long
in the state, the last check's latency, the uptime over 24 h or 30 d, and the days the
certificate has left."""
ORDERS: Final = ("asc", "desc")
PER_PAGE: Final = 100
PER_PAGE_MAX: Final = 1000
QUERY_MAX: Final = 200
"""The longest search text taken (characters)."""
PAGE_MAX: Final = 999_999

_STATE_RANK: Final = {
    s: i
    for i, s in enumerate(
        (State.DOWN, State.FLAPPING, State.DEGRADED, State.UP, State.PAUSED, State.UNKNOWN)
    )
}


def _bad(name: str, wanted: str, raw: str) -> web.HTTPBadRequest:
    shown = raw if len(raw) <= 40 else raw[:39] + "…"
    return web.HTTPBadRequest(text=f"{name}: give {wanted}, not {shown!r}\n")


class BadMatch(web.HTTPBadRequest):
    """``match`` holds what is not a matcher: ``why`` says why, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(text=reason + "\n")
        self.why = reason


def _matchers(raw: str) -> Matchers:
    """``match``'s matchers; raises :class:`BadMatch`."""
    if len(raw) > QUERY_MAX:
        raise BadMatch(f"match: give at most {QUERY_MAX} characters")
    try:
        matchers = parse_matchers(raw, memory=SCAN_MEMORY_MAX)
    except ValueError as exc:
        raise BadMatch(f"match: {exc}") from None
    # Typed by anyone who may read: on the fallback engine (no RE2), an expression that
    # backtracks would spend its time bound at every monitor.
    for m in matchers:
        problem = None if m.pattern is None else untrusted_problem(m.value)
        if problem is not None:
            raise BadMatch(f"match: {problem}")
    return matchers


@dataclass(frozen=True, slots=True)
class View:
    """What one request asks of the overview; the defaults are what ``/`` shows."""

    state: State | None = None
    """Only the monitors in this state."""
    q: str = ""
    """Only the monitors whose name or (redacted) URL holds this text, in any case."""
    sort: str = "config"
    order: str = "asc"
    page: int = 1
    per_page: int = PER_PAGE
    match: str = ""
    """Only the monitors whose labels (and ``monitor``, the name) these matchers match."""

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> View:
        """The view a query string asks for; other parameters (``fragment``) are left to
        their readers.  Raises :class:`aiohttp.web.HTTPBadRequest` with one line."""
        view = cls()
        if (raw := query.get("state")) is not None and raw != "":
            try:
                view = replace(view, state=State(raw))
            except ValueError:
                names = ", ".join(str(s) for s in _STATE_RANK)
                raise _bad("state", f"one of {names}", raw) from None
        if (raw := query.get("q")) is not None:
            if len(raw) > QUERY_MAX:
                raise _bad("q", f"at most {QUERY_MAX} characters", raw)
            view = replace(view, q=raw.strip())
        if (raw := query.get("match", "").strip()) != "":
            _matchers(raw)
            view = replace(view, match=raw)
        if (raw := query.get("sort")) is not None:
            if raw not in SORTS:
                raise _bad("sort", f"one of {', '.join(SORTS)}", raw)
            view = replace(view, sort=raw)
        if (raw := query.get("order")) is not None:
            if raw not in ORDERS:
                raise _bad("order", "asc or desc", raw)
            view = replace(view, order=raw)
        if (raw := query.get("page")) is not None:
            page = request_number(raw, "page", least=1, most=PAGE_MAX, whole=True)
            view = replace(view, page=int(page))
        if (raw := query.get("per_page")) is not None:
            per_page = request_number(raw, "per_page", least=1, most=PER_PAGE_MAX, whole=True)
            view = replace(view, per_page=int(per_page))
        return view

    def params(self) -> dict[str, str]:
        """The parameters that differ from the defaults, in a stable order."""
        default = View()
        out: dict[str, str] = {}
        for name in ("state", "q", "match", "sort", "order", "per_page", "page"):
            value = getattr(self, name)
            if value != getattr(default, name):
                out[name] = str(value)
        return out

    def href(self, **changes: object) -> str:
        """The overview's address for this view with ``changes``: ``/`` alone for the
        defaults, so that the plain page has one address."""
        query = urlencode(replace(self, **changes).params())  # type: ignore[arg-type]
        return "/?" + query if query else "/"

    @property
    def scoped(self) -> bool:
        """Whether ``q`` or ``match`` narrow the monitors the page is about."""
        return bool(self.q or self.match)

    def sorted_by(self, key: str) -> str:
        """Where a column header's link goes: sorted by ``key`` from the first page,
        ascending, or the other way round when it is sorted by ``key`` already."""
        order = "desc" if self.sort == key and self.order == "asc" else "asc"
        return self.href(sort=key, order=order, page=1)


@dataclass(frozen=True, slots=True)
class OverviewEntry:
    """What the overview sorts and filters a monitor by, gathered for every monitor."""

    position: int
    """Its place in the configuration."""
    name: str
    url: str
    """As shown: redacted."""
    state: State
    since: float | None
    latency_ms: float | None
    uptime_24h: float | None
    uptime_30d: float | None
    cert_expires: float | None
    labels: Mapping[str, str] = field(default_factory=dict)

    def key(self, sort: str) -> float | str | None:
        """The value sorted on; ``None`` (not known) goes last in either order."""
        if sort == "config":
            return self.position
        if sort == "name":
            return self.name.casefold()
        if sort == "state":
            return _STATE_RANK[self.state]
        if sort == "for":  # the shortest time in its state first
            return None if self.since is None else -self.since
        if sort == "latency":
            return self.latency_ms
        if sort == "uptime_24h":
            return self.uptime_24h
        if sort == "uptime_30d":
            return self.uptime_30d
        return self.cert_expires  # certificate: the soonest to expire first


@dataclass(frozen=True, slots=True)
class Paged:
    """One page of the monitors a view asks for."""

    names: tuple[str, ...]
    """The page's monitors, in the view's order."""
    matching: int
    """How many monitors the filter keeps, over every page."""
    pages: int
    page: int
    """The page shown: the one asked for, or the last when there are fewer now."""

    @classmethod
    def cut(cls, view: View, ordered: Sequence[str]) -> Paged:
        """The page ``view`` asks for of ``ordered`` (every monitor it keeps, in its
        order); a page past the last shows the last, as a filter's matches may shrink
        while a page is open."""
        pages = max(1, math.ceil(len(ordered) / view.per_page))
        page = min(view.page, pages)
        start = (page - 1) * view.per_page
        return cls(tuple(ordered[start : start + view.per_page]), len(ordered), pages, page)


@dataclass(frozen=True, slots=True)
class Order:
    """What a page needs of the configuration's monitors that changes only with it: their
    names in its order and sorted, and each by name.  Made once per configuration
    (:func:`order_of`), not at each request: sorting 20,000 names at each refresh cost
    the page more than its rows."""

    monitors: tuple[Monitor, ...]
    names: tuple[str, ...]
    sorted: tuple[str, ...]
    by_name: Mapping[str, Monitor]
    name_set: frozenset[str]


_ORDER: list[Order] = []
"""The last configuration's :class:`Order` (one: a reload replaces it)."""


def order_of(monitors: tuple[Monitor, ...]) -> Order:
    """The :class:`Order` of ``monitors`` (the runner's configuration's, kept while it is
    the same tuple); thread-safe: made again at worst, never mixed."""
    known = _ORDER[0] if _ORDER else None
    if known is not None and known.monitors is monitors:
        return known
    names = tuple(m.name for m in monitors)
    order = Order(
        monitors, names, tuple(sorted(names)), {m.name: m for m in monitors}, frozenset(names)
    )
    _ORDER[:] = [order]
    return order


def in_order(view: View) -> bool:
    """Whether ``view`` keeps the configuration's order and filters by state alone: then
    :func:`arrange_in_order` cuts its page without an :class:`OverviewEntry` for every monitor."""
    return view.sort == "config" and not view.scoped


def scope(view: View, entries: Sequence[OverviewEntry]) -> list[OverviewEntry]:
    """The entries of the monitors ``view`` is about (its ``q`` and ``match``), in their
    order: every one without either."""
    if not view.scoped:
        return list(entries)
    needle = view.q.casefold()
    wanted = _matchers(view.match) if view.match else ()
    return [
        e
        for e in entries
        if (not needle or needle in e.name.casefold() or needle in e.url.casefold())
        and (not wanted or matches(wanted, {**e.labels, "monitor": e.name}))
    ]


def arrange_in_order(view: View, names: Sequence[str], states: Mapping[str, State]) -> Paged:
    """What :func:`arrange` gives for a view that is :func:`in_order`, from the monitors'
    ``names`` in configuration order and their ``states`` (unknown when absent) alone:
    the default view of every page and of ``/api/status`` costs no walk over every
    monitor."""
    kept: Sequence[str] = names
    if view.state is State.UNKNOWN:
        kept = [n for n in names if states.get(n, State.UNKNOWN) is State.UNKNOWN]
    elif view.state is not None:
        wanted = view.state
        kept = [n for n in names if states.get(n) is wanted]
    return Paged.cut(view, kept if view.order == "asc" else kept[::-1])


def arrange(view: View, entries: Sequence[OverviewEntry], *, scoped: bool = False) -> Paged:
    """Filter ``entries`` (in configuration order; ``scoped``: cut to the view's
    :func:`scope` already), sort them (ties keep that order) and cut out the page
    ``view`` asks for (:meth:`Paged.cut`)."""
    within = entries if scoped else scope(view, entries)
    kept = [e for e in within if view.state is None or e.state is view.state]
    known = [(k, e) for e in kept if (k := e.key(view.sort)) is not None]
    unknown = [e for e in kept if e.key(view.sort) is None]
    known.sort(key=lambda pair: pair[0], reverse=view.order == "desc")
    return Paged.cut(view, [e.name for _, e in known] + [e.name for e in unknown])
