"""``@tether.retry`` around real requests, httpx and aiohttp calls to the fault lab.

The decorator classifies whatever the wrapped call raises, so these tests use
each library the way user code does (``raise_for_status()`` included) and
check what was retried, what was re-raised and what the exception carries.
Waits go to a fake clock or to the ``fast_retries`` fixture; nothing sleeps.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
import pytest
import requests

import tether
from tests.helpers.fakes import Recorder
from tether import Kind
from tether.lab import Lab
from tether.testing import Override


def status_url(lab: Lab, code: int, query: str = "") -> str:
    """The lab's status server, answering ``code``."""
    return lab["http_404"].url.rsplit("/", 1)[0] + f"/{code}{query}"


# -- sync --------------------------------------------------------------------------


def test_requests_503_from_raise_for_status_is_retried(lab: Lab) -> None:
    """An HTTPError for a 503 is retried; the last one is re-raised with .failure and a note."""
    r, calls = Recorder(), []

    @tether.retry(policy=r.policy)
    def fetch() -> str:
        response = requests.get(status_url(lab, 503), timeout=2)
        calls.append(response.status_code)
        response.raise_for_status()
        return response.text

    with pytest.raises(requests.HTTPError) as caught:
        fetch()
    assert calls == [503, 503, 503]
    assert caught.value.failure.status == 503  # type: ignore[attr-defined]
    assert caught.value.response is not None
    assert caught.value.response.status_code == 503
    note = caught.value.__notes__[-1]
    assert note.startswith("tether: fetch() failed after 3 attempts in ")


def test_requests_500_is_not_retried(lab: Lab) -> None:
    """A 500 is a bug, not a blip: one attempt, and the reason names the status."""
    r, calls = Recorder(), []

    @tether.retry(policy=r.policy)
    def fetch() -> None:
        response = requests.get(status_url(lab, 500), timeout=2)
        calls.append(response.status_code)
        response.raise_for_status()

    with pytest.raises(requests.HTTPError) as caught:
        fetch()
    assert calls == [500]
    assert caught.value.failure.status == 500  # type: ignore[attr-defined]
    assert r.give_ups[0].reason == "status 500 is not one the policy retries"
    assert r.clock.slept == []


def test_retry_after_from_an_http_error_is_honoured(lab: Lab) -> None:
    """The Retry-After of the response inside an HTTPError sets the wait."""
    r = Recorder()

    @tether.retry(policy=r.policy)
    def fetch() -> None:
        requests.get(status_url(lab, 429, "?retry_after=2"), timeout=2).raise_for_status()

    with pytest.raises(requests.HTTPError):
        fetch()
    assert r.clock.slept == [2.0, 2.0]


def test_httpx_refused_is_retried_then_reraised(lab: Lab, fast_retries: Override) -> None:
    """A refused httpx call is retried, then the original exception is re-raised, annotated."""
    r = Recorder()
    raised: list[BaseException] = []

    @tether.retry(policy=r.policy, endpoint="refused-httpx")
    def fetch() -> None:
        try:
            httpx.get(lab["refused"].url, timeout=2)
        except httpx.ConnectError as exc:
            raised.append(exc)
            raise

    with pytest.raises(httpx.ConnectError) as caught:
        fetch()
    assert len(raised) == 3
    assert caught.value is raised[-1]
    assert caught.value.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]
    [note] = caught.value.__notes__
    assert note.startswith("tether: fetch() failed after 3 attempts in ")
    assert len(fast_retries.waits) == 2
    assert r.clock.slept == []


def test_retries_until_the_call_works(lab: Lab) -> None:
    """A call that fails once and then works returns its value after one retry."""
    r = Recorder()
    urls = iter([lab["refused"].url, lab["healthy"].url])

    @tether.retry(policy=r.policy)
    def fetch() -> str:
        return requests.get(next(urls), timeout=2).text

    assert fetch() == "ok\n"
    assert [d.failure.kind for d in r.retries] == [Kind.CONNECT_REFUSED]
    assert r.give_ups == []


@pytest.mark.parametrize(("idempotent", "attempts"), [(True, 3), (False, 1)])
def test_idempotent_false_stops_after_the_request_was_sent(
    lab: Lab, idempotent: bool, attempts: int
) -> None:
    """idempotent=False keeps a failure after sending from being retried; the default retries."""
    r = Recorder()

    @tether.retry(policy=r.policy, idempotent=idempotent)
    def submit() -> None:
        requests.post(lab["close_no_response"].url, data=b"order", timeout=2)

    with pytest.raises(requests.ConnectionError):
        submit()
    assert r.give_ups[0].attempts == attempts


# -- async -------------------------------------------------------------------------


def test_async_aiohttp_refused_is_retried_then_reraised(lab: Lab) -> None:
    """An async function calling aiohttp: refusals retried, aiohttp's error re-raised with
    .failure and a note."""
    r, tries = Recorder(), []

    @tether.retry(policy=r.policy, endpoint="refused-aiohttp")
    async def fetch() -> bytes:
        tries.append(1)
        async with (
            aiohttp.ClientSession() as session,
            session.get(lab["refused"].url) as response,
        ):
            return await response.read()

    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        asyncio.run(fetch())
    assert len(tries) == 3
    assert caught.value.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]
    assert caught.value.__notes__[-1].startswith("tether: ")
    assert "failed after 3 attempts" in caught.value.__notes__[-1]
    assert r.clock.slept == [d.delay for d in r.retries]
    assert len(r.retries) == 2


def test_async_httpx_503_is_retried_and_500_is_not(lab: Lab) -> None:
    """Async httpx with raise_for_status: 503 retried to the end, 500 given up at once."""
    r = Recorder()
    codes: list[int] = []

    @tether.retry(policy=r.policy)
    async def fetch(code: int) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.get(status_url(lab, code))
            codes.append(response.status_code)
            response.raise_for_status()

    for code in (503, 500):
        with pytest.raises(httpx.HTTPStatusError) as caught:
            asyncio.run(fetch(code))
        assert caught.value.failure.status == code  # type: ignore[attr-defined]
    assert codes == [503, 503, 503, 500]
    assert [g.attempts for g in r.give_ups] == [3, 1]


def test_async_success_after_a_refusal(lab: Lab) -> None:
    """An async call that is refused once and then answers returns its value."""
    r = Recorder()
    urls = iter([lab["refused"].url, lab["healthy"].url])

    @tether.retry(policy=r.policy)
    async def fetch() -> bytes:
        async with aiohttp.ClientSession() as session, session.get(next(urls)) as response:
            return await response.read()

    assert asyncio.run(fetch()) == b"ok\n"
    assert len(r.retries) == 1
    assert r.give_ups == []


# -- which endpoint the records belong to ------------------------------------------


def test_a_dead_host_does_not_open_the_circuit_for_a_healthy_one(lab: Lab) -> None:
    """Without endpoint=, breaker and health are keyed by the host:port that failed: refusals
    from one lab port open its circuit and leave another port's closed."""
    r = Recorder(breaker=tether.Breaker(failures=2, cooldown=30), budget=None)
    fetched: list[str] = []

    @tether.retry(policy=r.policy)
    def fetch(url: str) -> str:
        fetched.append(url)
        return requests.get(url, timeout=2).text

    refused, healthy = lab["refused"], lab["healthy"]
    with pytest.raises(requests.ConnectionError):
        fetch(refused.url)
    assert fetch.guard.breaker_state(refused.url) is tether.BreakerState.OPEN
    assert r.give_ups[-1].endpoint == f"{refused.host}:{refused.port}"
    assert fetch(healthy.url) == "ok\n"
    assert fetch.guard.breaker_state(healthy.url) is tether.BreakerState.CLOSED
    assert fetch.guard.health(healthy.url).consecutive_failures == 0
    fetched.clear()
    with pytest.raises(requests.ConnectionError) as caught:
        fetch(refused.url)
    # Where the first attempt goes is unknown until it fails; the open circuit stops the rest.
    assert fetched == [refused.url]
    assert f"the circuit for {refused.host}:{refused.port} is open" in caught.value.__notes__[-1]


def test_a_named_endpoint_shares_one_record_for_every_call(lab: Lab) -> None:
    """With endpoint=, every call shares one breaker, checked before the first attempt."""
    r = Recorder(breaker=tether.Breaker(failures=2, cooldown=30), budget=None)
    fetched: list[str] = []

    @tether.retry(policy=r.policy, endpoint="backend")
    def fetch(url: str) -> str:
        fetched.append(url)
        return requests.get(url, timeout=2).text

    with pytest.raises(requests.ConnectionError):
        fetch(lab["refused"].url)
    assert fetch.guard.breaker_state("backend") is tether.BreakerState.OPEN
    with pytest.raises(tether.CircuitOpenError):
        fetch(lab["healthy"].url)
    assert fetched == [lab["refused"].url] * 2


def test_a_failure_without_a_host_is_kept_under_the_function_name() -> None:
    """A failure naming no host is recorded under the function's qualified name."""
    r = Recorder(attempts=2, budget=None)

    @tether.retry(policy=r.policy)
    def work() -> None:
        raise ConnectionResetError(104, "Connection reset by peer")

    with pytest.raises(ConnectionResetError):
        work()
    name = work.__qualname__
    assert work.guard.health(name).consecutive_failures == 2
    assert r.give_ups[-1].endpoint == name
