"""benchmarks/_floor.py, the yardstick of issue 46 §5, does the work it is counted for: a
real GET of the lab's healthy scenario through each floor client counts the call for the
budget and the breaker, stores the success's moment, and goes through tether's total-time
machinery (the requests floor registers its socket with the thread's timer and disarms it;
the httpx floor reads through tether's network backend).  A floor that skipped one of
these would make round 9's figures a floor of less than the promises."""

from __future__ import annotations

import math
from threading import get_ident

import httpx
import pytest

from tests.helpers.bench_runs import bench_module
from tether._retry._state import endpoint_of
from tether.integrations import _cutoff
from tether.integrations import httpx as thx
from tether.integrations import requests as treq
from tether.lab import Lab

pytestmark = pytest.mark.bench


def test_the_requests_floor_keeps_its_promises(lab: Lab) -> None:
    url = lab["healthy"].url
    floor = bench_module("_floor")
    with floor.FloorSession() as s:
        response = s.get(url)
        assert response.status_code == 200
        assert type(response) is treq._Response  # the redacting class
        assert next(s.calls) == 1  # counted once for the budget
        assert next(s.window) == 1  # and once for the breaker's window
        assert list(s.last_success) == [endpoint_of(url)]
        timer = _cutoff._timers[get_ident()]
        assert timer.at == math.inf  # disarmed after the call
        assert len(timer.socks) == 1  # the attempt's socket was watched


def test_the_httpx_floor_keeps_its_promises(lab: Lab) -> None:
    url = lab["healthy"].url
    floor = bench_module("_floor")
    transport = floor.FloorTransport()
    assert isinstance(transport.inner._pool._network_backend, thx._Backend)
    with httpx.Client(transport=transport) as client:
        response = client.get(url)
    assert response.status_code == 200
    assert response.content  # read inside the transport
    assert next(transport.calls) == 1
    assert next(transport.window) == 1
    assert list(transport.last_success) == [endpoint_of(url)]
    assert thx._ends_at.get() is None  # reset after the call
