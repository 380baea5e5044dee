"""botocore's own seam, its ``needs-retry`` event, on a :class:`tether.RetryPolicy`.

botocore asks the handlers of ``needs-retry`` after every attempt of every call whether to
try again, and how long to wait first; its ``standard`` and ``adaptive`` modes are such
handlers.  :func:`install` puts tether's in their place on one client (boto3's clients are
botocore's, and aiobotocore's emit the same event)::

    client = boto3.client("s3")
    tether.integrations.botocore.install(client, tether.RetryPolicy(attempts=4))

Each attempt's failure is classified as tether classifies any: a refused or reset
connection, a timeout, a 5xx, a throttling error code (``Throttling``,
``SlowDown``, ...; botocore's own list) or a 429 are worth another attempt; an access
denied is not.  A failure after the request may have reached the service is retried only for
an operation safe to repeat: one whose HTTP method is (GET, HEAD, PUT, DELETE), or whose
input carries an idempotency token (botocore fills it in, and the service honours it); or
for any with ``idempotent=True``.  The waits are the policy's backoff (and a ``Retry-After``,
capped by the policy), taken with the policy's ``sleep``; the deadline, the retry budget and
the circuit breaker are kept per endpoint host, in the client's guard.
"""

from __future__ import annotations

from tether._extras import require

# A missing client is one line naming the extra, not a bare ModuleNotFoundError.
require("tether.integrations.botocore", "botocore")

import contextlib
import functools
from typing import Any

from tether._classify import classify, classify_status
from tether._classify._services import AWS_THROTTLING
from tether._failure import Failure
from tether._hostport import default_port
from tether._retry._backoff import backoff_delay
from tether._retry._policy import RetryPolicy
from tether._retry._state import Guard

__all__ = ["install"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def install(
    client: Any,
    policy: RetryPolicy | None = None,
    *,
    guard: Guard | None = None,
    idempotent: bool = False,
) -> Guard:
    """Replace ``client``'s retry handler (``standard``, ``adaptive`` or ``legacy``) with
    tether's; returns the guard that keeps its budgets and breakers."""
    if guard is None:
        guard = Guard(policy)
    elif policy is not None and policy != guard.policy:
        raise ValueError("give a policy or a guard made with it, not both")
    name = client.meta.service_model.service_id.hyphenize()
    events = client.meta.events
    unique_id = f"retry-config-{name}"
    events.unregister(f"needs-retry.{name}", unique_id=unique_id)
    events.register(f"needs-retry.{name}", _Handler(guard, idempotent), unique_id=unique_id)
    return guard


class _Handler:
    """The ``needs-retry`` handler: None (no retry) or 0 after the policy's own wait."""

    def __init__(self, guard: Guard, idempotent: bool) -> None:
        self.guard = guard
        self.idempotent = idempotent

    def __call__(
        self,
        attempts: int,
        response: Any,
        caught_exception: BaseException | None,
        operation: Any,
        request_dict: dict[str, Any],
        **kwargs: Any,
    ) -> float | None:
        url = request_dict.get("url") or ""
        endpoint = _endpoint(url if type(url) is str else str(url))
        guard = self.guard
        if (
            attempts == 1
            and caught_exception is None
            and guard.fast
            and _healthy(response)
            and guard.fast_first(endpoint) is not None
        ):
            # A healthy first attempt, the breaker closed (issue 46 §5's fast path): counted
            # for the budget and recorded as a success, without a Failure or the lock.
            guard.first_succeeded(endpoint)
            return None
        p = guard.policy
        now = p.clock()
        context = request_dict.setdefault("context", {})
        if attempts == 1:
            context["tether_started"] = now
            self.guard.first_attempt(endpoint, now)
        failure = _failure(response, caught_exception, url)
        self.guard.record(endpoint, failure, now)
        if failure is None:
            return None
        if caught_exception is not None:
            with contextlib.suppress(AttributeError, TypeError):  # __slots__, read-only
                caught_exception.failure = failure  # type: ignore[attr-defined]
        if not self._worth_another(failure, attempts, operation):
            return None
        retry_after = failure.retry_after
        delay = backoff_delay(
            attempts,
            base=p.base,
            multiplier=p.multiplier,
            cap=p.cap,
            jitter=p.jitter,
            rand=p.rand,
        )
        if retry_after is not None:
            delay = max(delay, min(retry_after, p.retry_after_cap))
        started = context.get("tether_started", now)
        if p.deadline is not None and now + delay - started > p.deadline:
            return None
        if not self.guard.breaker_allows(endpoint, now) or not self.guard.spend_retry(
            endpoint, now
        ):
            return None
        p.sleep(delay)
        return 0  # botocore sleeps this long before the next attempt: the wait is taken

    def _worth_another(self, failure: Failure, attempts: int, operation: Any) -> bool:
        p = self.guard.policy
        if attempts >= p.attempts:
            return False
        if p.retry_if is not None and failure.cause is not None:
            worth = p.retry_if(failure.cause)
        elif failure.status is not None:
            worth = failure.status in p.statuses
        else:
            worth = failure.kind in p.kinds if p.kinds is not None else failure.retryable
        if not worth:
            return False
        safe = self.idempotent or p.retry_unsafe or _safe(operation)
        return not failure.request_sent or safe


def _failure(response: Any, caught: BaseException | None, url: str) -> Failure | None:
    if caught is not None:
        return classify(caught, url=url or None)
    if response is None:
        return None
    http, parsed = response
    status = getattr(http, "status_code", None)
    if not isinstance(status, int):
        return None
    headers = getattr(http, "headers", None)
    error = parsed.get("Error") if isinstance(parsed, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    if code in AWS_THROTTLING and status < 500:
        status = 429
    return classify_status(status, headers, url=url or None)


def _safe(operation: Any) -> bool:
    """An operation safe to send twice: a safe or idempotent HTTP method, or an input with
    an idempotency token (which botocore fills in when the caller does not)."""
    method = str(getattr(operation, "http", {}).get("method", "")).upper()
    if method in _SAFE_METHODS:
        return True
    shape = getattr(operation, "input_shape", None)
    members = getattr(shape, "members", None) or {}
    return any(getattr(m, "metadata", {}).get("idempotencyToken") for m in members.values())


def _healthy(response: Any) -> bool:
    """An answer below 400 with no error in it (botocore's own handlers, run first, have
    made an S3 error inside a 200 a 500 by now)."""
    try:
        http, parsed = response
    except (TypeError, ValueError):
        return False
    status = getattr(http, "status_code", None)
    return (
        type(status) is int
        and status < 400
        and not (isinstance(parsed, dict) and "Error" in parsed)
    )


@functools.lru_cache(maxsize=1024)
def _endpoint(url: str) -> str:
    """``host:port`` of the request's URL (cached: every attempt of every call asks)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port or default_port(parts.scheme)
    except ValueError:
        return url or "botocore"
    return f"{parts.hostname}:{port}" if parts.hostname else url or "botocore"
