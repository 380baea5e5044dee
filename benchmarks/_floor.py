"""The floor of issue 46 §5: the least a pure-Python client does on a healthy call to keep
the promises of tether's default policy, written as tightly as Python allows, for
bench_instructions.py to count beside the peers and tether.

What a healthy call must do to keep them (docs/retries.md), and nothing else:

- find the endpoint's records (a cached ``host:port`` of the URL);
- refuse the call while the endpoint's breaker is open (one dict lookup);
- count the call for the retry budget and for the breaker's window (one ``next()`` each);
- give the attempt the policy's connect and read timeouts;
- bound the attempt's total time: requests, a per-thread moment that tether's cutoff
  watchdog reads, and the socket registered with it as the response is awaited (tether's
  own adapter, the one layer the cutoff needs); httpx, a context variable that each
  socket read checks (tether's own network backend);
- on success, record the moment (a health record's ``last_success_at``, which users see);
- requests: hand back a response whose ``raise_for_status()`` redacts the URL.

Left out, because a healthy call needs none of it: the retries, the failure's class, the
testing overrides, the sinks, a policy other than the default.  Neither client is safe for
anything but this count (no lock, the unhealthy path raises), and neither is tether's code:
it is the yardstick that says whether a target is within pure Python's reach at all.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import time
from threading import get_ident
from typing import Any

import httpx
import requests

from tether._retry._state import endpoint_of
from tether.integrations import _cutoff
from tether.integrations import httpx as thx
from tether.integrations import requests as treq

_monotonic = time.monotonic
_INF = float("inf")
_key = functools.lru_cache(maxsize=4096)(endpoint_of)
_TIMEOUT = (5.0, 30.0)
_TOTAL = 30.0


class FloorSession(requests.Session):
    """A session doing the floor's work around requests' own ``send``."""

    def __init__(self) -> None:
        super().__init__()
        self.mount("http://", treq._Adapter())  # the cutoff's socket registration
        self.open: dict[str, bool] = {}
        self.calls = itertools.count()
        self.window = itertools.count()
        self.last_success: dict[str, float] = {}

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        key = _key(request.url)
        if key in self.open:
            raise NotImplementedError("the floor measures the healthy path only")
        next(self.calls)
        timer = treq._timers.get(get_ident()) or _cutoff.timer(get_ident())
        at = timer.at = _monotonic() + _TOTAL
        timer.socks = []
        if at < _cutoff._until[0]:
            if not _cutoff._thread:
                _cutoff._start()
            _cutoff._wake.set()
        kwargs["timeout"] = _TIMEOUT
        try:
            response = requests.Session.send(self, request, **kwargs)
        finally:
            timer.at = _INF
        if response.status_code >= 400:
            raise NotImplementedError("the floor measures the healthy path only")
        next(self.window)
        self.last_success[key] = _monotonic()
        response.__class__ = treq._Response
        return response


_ends_at: contextvars.ContextVar[float | None] = thx._ends_at
_TIMEOUTS = {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 5.0}


class FloorTransport(httpx.BaseTransport):
    """A transport doing the floor's work around httpx's own."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        thx._bound_reads(self.inner)  # each socket read checks the attempt's time left
        self.open: dict[str, bool] = {}
        self.calls = itertools.count()
        self.window = itertools.count()
        self.last_success: dict[str, float] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = thx._endpoint(request.url)
        if key in self.open:
            raise NotImplementedError("the floor measures the healthy path only")
        next(self.calls)
        request.extensions = {**request.extensions, "timeout": _TIMEOUTS}
        token = _ends_at.set(_monotonic() + _TOTAL)
        try:
            response = self.inner.handle_request(request)
            response.read()
        finally:
            _ends_at.reset(token)
        if response.status_code >= 400:
            raise NotImplementedError("the floor measures the healthy path only")
        next(self.window)
        self.last_success[key] = _monotonic()
        return response

    def close(self) -> None:
        self.inner.close()
