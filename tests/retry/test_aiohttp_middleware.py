"""``tether.integrations.aiohttp``: what sets ``session()`` apart from ``middleware()`` on
a ``ClientSession`` of the user's own, against the fault lab (what both do like every
other integration is test_integrations.py's).  Waits between attempts go to a fake
clock.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.helpers.clients import BY_NAME
from tests.helpers.fakes import Recorder
from tether.lab import Lab


def test_session_factory_switches_off_aiohttp_resend(lab: Lab) -> None:
    """session() runs tether's loop once; a plain session with the middleware resends around
    it, so the whole loop runs twice."""
    url = lab["close_no_response"].url
    ours, theirs = (Recorder(breaker=None, budget=None) for _ in range(2))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        BY_NAME["aiohttp-session"].send(ours.policy, "GET", url)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        BY_NAME["aiohttp-middleware"].send(theirs.policy, "GET", url)
    assert [g.attempts for g in ours.give_ups] == [3]
    assert len(ours.retries) == 2
    assert [g.attempts for g in theirs.give_ups] == [3, 3]
    assert len(theirs.retries) == 4
