"""botocore's own seam, the ``needs-retry`` event, on tether's policy (issue 71 §2): a
real botocore client against an HTTP server on loopback that answers as the service would
(throttled, 503, 500), and a port that refuses; the sleeps injected through the policy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.config
import botocore.exceptions
import botocore.session
import pytest

from tether import Kind, RetryPolicy
from tether.integrations.botocore import install
from tether.lab._services import ServiceLab

LIST_BUCKETS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Owner><ID>lab</ID></Owner><Buckets></Buckets></ListAllMyBucketsResult>"
)
THROTTLED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class Service(ThreadingHTTPServer):
    """Answers each request with the next of ``script`` (a status; 200 once it runs out)."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: Service

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.requests.append(self.command)
        status = self.server.script.pop(0) if self.server.script else 200
        body = THROTTLED if status == 503 else (LIST_BUCKETS if status == 200 else b"")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def service(request: pytest.FixtureRequest) -> Iterator[Service]:
    made = Service(getattr(request, "param", []))
    thread = threading.Thread(target=made.serve_forever, daemon=True)
    thread.start()
    yield made
    made.shutdown()
    made.server_close()


def _client(name: str, port: int, **config: Any) -> Any:
    return botocore.session.get_session().create_client(
        name,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="lab",
        aws_secret_access_key="lab",
        config=botocore.config.Config(connect_timeout=1, read_timeout=2, **config),
    )


def _policy(waits: list[float]) -> RetryPolicy:
    return RetryPolicy(attempts=4, sleep=waits.append, jitter="none")


@pytest.mark.parametrize("service", [[503, 503]], indirect=True)
def test_throttling_is_retried_with_the_policys_waits(service: Service) -> None:
    """SlowDown (503) twice, then the answer: three requests, the policy's two waits."""
    waits: list[float] = []
    client = _client("s3", service.server_address[1])
    install(client, _policy(waits))
    assert client.list_buckets()["Buckets"] == []
    assert len(service.requests) == 3
    assert waits == [0.1, 0.2]


@pytest.mark.parametrize("service", [[500, 500]], indirect=True)
def test_an_unsafe_operation_is_not_sent_twice(service: Service) -> None:
    """SQS SendMessage (a POST, no idempotency token) answered 500: the service may have
    taken it, so it is not sent again; botocore's standard mode sends it three times."""
    waits: list[float] = []
    client = _client("sqs", service.server_address[1])
    install(client, _policy(waits))
    with pytest.raises(botocore.exceptions.ClientError):
        client.send_message(
            QueueUrl=f"http://127.0.0.1:{service.server_address[1]}/q", MessageBody="x"
        )
    assert len(service.requests) == 1
    assert waits == []
    peer = _client("sqs", service.server_address[1], retries={"mode": "standard"})
    service.script, service.requests = [500, 500, 500], []
    with pytest.raises(botocore.exceptions.ClientError):
        peer.send_message(
            QueueUrl=f"http://127.0.0.1:{service.server_address[1]}/q", MessageBody="x"
        )
    assert len(service.requests) == 3


def test_a_refused_endpoint_gets_every_attempt_and_the_failure() -> None:
    """Nothing listening: connect.refused, retried (nothing was sent), botocore's own
    EndpointConnectionError raised with tether's failure on it."""
    waits: list[float] = []
    with ServiceLab() as lab:
        client = _client("s3", lab["refused"].port)
        install(client, _policy(waits))
        with pytest.raises(botocore.exceptions.EndpointConnectionError) as caught:
            client.list_buckets()
    assert caught.value.failure.kind is Kind.CONNECT_REFUSED  # type: ignore[attr-defined]
    assert len(waits) == 3


@pytest.mark.parametrize("service", [[403]], indirect=True)
def test_access_denied_is_not_retried(service: Service) -> None:
    """403: http.client_error, not worth another attempt."""
    waits: list[float] = []
    client = _client("s3", service.server_address[1])
    install(client, _policy(waits))
    with pytest.raises(botocore.exceptions.ClientError):
        client.list_buckets()
    assert len(service.requests) == 1


def test_a_policy_and_a_guard_not_made_with_it_are_refused() -> None:
    """As everywhere in tether: give a policy, or a guard made with it, not both."""
    import tether

    client = _client("s3", 9)
    with pytest.raises(ValueError, match="not both"):
        install(client, RetryPolicy(attempts=2), guard=tether.Guard(RetryPolicy()))


def test_healthy_calls_count_for_the_budget(service: Service) -> None:
    """A healthy call takes the fast path (no Failure, no lock) and still earns the budget
    its share of a retry, as every first attempt does."""
    import tether

    budget = tether.Budget(ratio=0.5, per_second=0, window=1000)
    client = _client("s3", service.server_address[1])
    guard = install(client, RetryPolicy(attempts=1, budget=budget))
    for _ in range(4):
        client.list_buckets()
    assert guard.budget_left(f"127.0.0.1:{service.server_address[1]}") == 2.0


@pytest.mark.parametrize("service", [[503, 503]], indirect=True)
def test_a_healthy_call_ends_the_run_of_failures(service: Service) -> None:
    """Two calls answered 503, then a healthy one: the health record shows the run of
    failures over and the success's time, as the full path would leave it."""
    clock = [100.0]
    client = _client("s3", service.server_address[1])
    guard = install(client, RetryPolicy(attempts=1, clock=lambda: clock[0]))
    endpoint = f"127.0.0.1:{service.server_address[1]}"
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError):
            client.list_buckets()
    assert guard.health(endpoint).consecutive_failures == 2
    clock[0] = 105.0
    client.list_buckets()
    health = guard.health(endpoint)
    assert (health.consecutive_failures, health.last_success_at) == (0, 105.0)
