"""``tether.integrations.httpx.Transport`` and ``AsyncTransport`` against the fault lab:
what the other integrations' tests do not hold them to (test_integrations.py does, for
every client).

Each test runs twice: through ``httpx.Client`` (``[httpx]``) and through
``httpx.AsyncClient`` driven by ``asyncio.run`` (``[httpx-async]``).  Waits between
attempts go to a fake clock.
"""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.clients import BY_NAME, Client
from tests.helpers.fakes import Recorder
from tether import Kind
from tether.lab import Lab

each_mode = pytest.mark.parametrize("client", [BY_NAME["httpx"], BY_NAME["httpx-async"]], ids=repr)


@each_mode
def test_truncated_body_is_retried_for_get(lab: Lab, client: Client) -> None:
    """A body cut short is read inside the attempt, so a GET retries it."""
    r = Recorder()
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        client.send(r.policy, "GET", lab["truncated_body"].url)
    assert caught.value.failure.kind is Kind.RESPONSE_TRUNCATED  # type: ignore[attr-defined]
    assert [d.failure.kind for d in r.retries] == [Kind.RESPONSE_TRUNCATED] * 2
    assert r.give_ups[0].attempts == 3


@each_mode
def test_503_is_returned_after_giving_up(lab: Lab, client: Client) -> None:
    """A 503 without Retry-After is retried, then the last 503 response is returned."""
    r = Recorder()
    url = lab["http_404"].url.rsplit("/", 1)[0] + "/503"
    status, body = client.send(r.policy, "GET", url)
    assert status == 503
    assert body == b"status 503\n"
    assert len(r.retries) == 2
    assert r.give_ups[0].failure.status == 503
