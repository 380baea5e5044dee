"""redis-py's ``retry=`` seam on tether's policy (issue 71 §2): against a real Redis from
Debian and the service lab's servers, with the sleeps injected (no real waits)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio

from tests.helpers.db_servers import REDIS_PASSWORD, Redis
from tether import Kind, RetryPolicy
from tether.integrations.redis import AsyncRetry, Retry
from tether.lab._services import ServiceLab


@pytest.fixture(scope="module")
def service_lab() -> Iterator[ServiceLab]:
    with ServiceLab() as lab:
        yield lab


@pytest.fixture(scope="module")
def server() -> Iterator[Redis]:
    s = Redis()
    s.start()
    yield s
    s.stop()


def _policy(waits: list[float], attempts: int = 3) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, deadline=30, sleep=waits.append, jitter="none")


# redis-py before 6 uses retry= only when retry_on_error (or retry_on_timeout) is given too;
# from 6 on it is used as given, and retry_on_error adds nothing tether reads.
ON_ERROR = [redis.ConnectionError, redis.TimeoutError]


def _client(host: str, port: int, retry: object, **kwargs: object) -> redis.Redis:
    return redis.Redis(
        host=host,
        port=port,
        socket_timeout=1,
        socket_connect_timeout=1,
        retry=retry,
        retry_on_error=ON_ERROR,
        **kwargs,
    )


def test_a_refused_server_gets_every_attempt(service_lab: ServiceLab) -> None:
    """A server that is down: connect.refused, tried as often as the policy says, with its
    backoff between; the error is redis-py's own, with tether's failure on it."""
    waits: list[float] = []
    fault = service_lab["refused"]
    client = _client(fault.host, fault.port, Retry(_policy(waits)))
    with pytest.raises(redis.ConnectionError) as caught:
        client.get("k")
    assert caught.value.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]
    assert len(waits) == 2  # three attempts
    assert waits[0] < waits[1]


def test_a_refusal_that_will_not_change_is_not_retried(service_lab: ServiceLab) -> None:
    """NOAUTH is db.auth_failed: no retry, whatever redis-py's own classes would say."""
    waits: list[float] = []
    fault = service_lab["redis_noauth"]
    with pytest.raises(redis.AuthenticationError):
        _client(fault.host, fault.port, Retry(_policy(waits))).get("k")
    assert waits == []


def test_loading_is_retried(service_lab: ServiceLab) -> None:
    """LOADING is server.unavailable: retried."""
    waits: list[float] = []
    fault = service_lab["redis_loading"]
    with pytest.raises(redis.BusyLoadingError):
        _client(fault.host, fault.port, Retry(_policy(waits))).get("k")
    assert len(waits) == 2


def _blocked(admin: redis.Redis, name: str) -> None:
    """Until the client named ``name`` is blocked in BLPOP on the server (bounded)."""
    for _ in range(2000):
        clients = admin.client_list()
        if any(c.get("name") == name and c.get("cmd") == "blpop" for c in clients):
            return
    raise AssertionError(f"{name} never blocked")


def _kill_mid_command(server: Redis, idempotent: bool) -> tuple[object, list[float]]:
    """BLPOP sent and blocking on the server, then the server kills the connection: a
    failure after the command left.  With ``idempotent`` the retry blocks again, and an
    LPUSH answers it."""
    waits: list[float] = []
    name = f"victim-{idempotent}"
    client = redis.Redis(
        host="127.0.0.1",
        port=server.port,
        password=REDIS_PASSWORD,
        socket_timeout=10,
        client_name=name,
        retry=Retry(_policy(waits), idempotent=idempotent),
        retry_on_error=ON_ERROR,
    )
    admin = redis.Redis(host="127.0.0.1", port=server.port, password=REDIS_PASSWORD)
    queue = f"queue-{idempotent}"

    def server_side() -> None:
        _blocked(admin, name)
        (victim,) = [c for c in admin.client_list() if c.get("name") == name]
        admin.client_kill_filter(_id=victim["id"])
        if idempotent:
            _blocked(admin, name)
            admin.lpush(queue, "x")

    helper = threading.Thread(target=server_side)
    helper.start()
    try:
        try:
            outcome: object = client.blpop([queue], timeout=0)
        except redis.ConnectionError as exc:
            outcome = exc
    finally:
        helper.join(timeout=30)
        admin.close()
        client.close()
    return outcome, waits


def test_a_command_that_may_have_run_is_not_sent_twice(server: Redis) -> None:
    """A connection lost after the command left (the server killed it mid-BLPOP): not sent
    again, since a command sent twice may act twice; with idempotent=True it is, on a new
    connection, and its answer comes."""
    outcome, waits = _kill_mid_command(server, idempotent=False)
    assert isinstance(outcome, redis.ConnectionError)
    assert outcome.failure.request_sent  # type: ignore[attr-defined]
    assert waits == []
    outcome, waits = _kill_mid_command(server, idempotent=True)
    assert outcome == (b"queue-True", b"x")
    assert len(waits) == 1


def test_a_server_that_comes_back_is_reached() -> None:
    """Redis down at the first attempt and up by the second (started during the backoff's
    wait): the call succeeds, one wait taken."""
    later = Redis()
    waits: list[float] = []

    def sleep(delay: float) -> None:
        waits.append(delay)
        later.start()

    policy = RetryPolicy(attempts=3, deadline=60, sleep=sleep, jitter="none")
    client = _client("127.0.0.1", later.port, Retry(policy), password=REDIS_PASSWORD)
    try:
        assert client.ping() is True
    finally:
        client.close()
        later.stop()
    assert len(waits) == 1


def test_async_retry_on_a_refused_server(service_lab: ServiceLab) -> None:
    """redis.asyncio with AsyncRetry: the same attempts, awaited."""
    waits: list[float] = []
    fault = service_lab["refused"]

    async def sleep(delay: float) -> None:
        waits.append(delay)

    policy = RetryPolicy(attempts=3, deadline=30, async_sleep=sleep, jitter="none")

    async def call() -> None:
        client = redis.asyncio.Redis(
            host=fault.host,
            port=fault.port,
            socket_connect_timeout=1,
            retry=AsyncRetry(policy),
            retry_on_error=ON_ERROR,
        )
        try:
            await client.get("k")
        finally:
            await client.aclose()

    with pytest.raises(redis.ConnectionError):
        asyncio.run(call())
    assert len(waits) == 2


def test_is_retryable_vetoes() -> None:
    """redis-py's own is_retryable (a cluster's redirect) stops the retries, and its error
    is raised as it is."""
    waits: list[float] = []
    retry = Retry(_policy(waits))
    calls: list[int] = []

    def do() -> None:
        calls.append(1)
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    with pytest.raises(redis.ConnectionError):
        retry.call_with_retry(do, lambda error: None, is_retryable=lambda error: False)
    assert calls == [1]
    assert waits == []


def test_a_policy_and_a_guard_not_made_with_it_are_refused() -> None:
    """As everywhere in tether: give a policy, or a guard made with it, not both."""
    import tether

    with pytest.raises(ValueError, match="not both"):
        Retry(RetryPolicy(attempts=2), guard=tether.Guard(RetryPolicy(attempts=3)))
