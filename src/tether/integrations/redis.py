"""redis-py's own seam, its ``retry=`` parameter, on a :class:`tether.RetryPolicy`.

redis-py runs every command, and every connect, through the client's ``retry`` object's
``call_with_retry(do, fail)``: ``do`` sends the command and reads its reply, ``fail``
drops the connection that failed.  :class:`Retry` (and :class:`AsyncRetry` for
``redis.asyncio``) keep that contract, and decide as tether decides: by the failure's kind
(a refused or reset connection, ``LOADING``, a timeout: retried; ``NOAUTH``, ``WRONGTYPE``:
not), with the policy's backoff and jitter, its deadline, and a retry budget and circuit
breaker per Redis server (``host:port``)::

    import redis
    from tether.integrations.redis import Retry

    client = redis.Redis(host="127.0.0.1", port=6379, retry=Retry(tether.RetryPolicy(attempts=3)))

A command that may have reached the server (a connection lost after it was sent) is not
sent again unless ``idempotent=True`` says every command this client sends may be: an
``INCR`` sent twice counts twice.  A failure while connecting sent nothing, and is retried
whatever ``idempotent`` says.
"""

from __future__ import annotations

from tether._extras import require

# A missing client is one line naming the extra, not a bare ModuleNotFoundError.
require("tether.integrations.redis", "redis")

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio.retry
import redis.backoff
import redis.retry

from tether._retry._decorator import retry
from tether._retry._policy import RetryPolicy
from tether._retry._state import Guard

if int(redis.__version__.partition(".")[0]) < 8:
    raise ImportError(
        f"tether.integrations.redis needs redis-py 8 or later, not {redis.__version__}: "
        "before 8, redis-py raises a connect's error from outside its retry= object"
    )

T = TypeVar("T")

__all__ = ["AsyncRetry", "Retry"]

_ANY_ERROR = (Exception,)
"""What redis-py hands to ``call_with_retry``'s loop: all of it, since tether's policy, not
an exception class, decides what is worth another attempt."""


class _Vetoed(Exception):
    """redis-py's own ``is_retryable`` said no (a cluster's redirect, say): ``error`` is
    carried out of tether's loop, which classifies this carrier as nothing worth another
    attempt, and raised as it is."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


def _guard(policy: RetryPolicy | None, guard: Guard | None) -> Guard:
    if guard is None:
        return Guard(policy)
    if policy is not None and policy != guard.policy:
        raise ValueError("give a policy or a guard made with it, not both")
    return guard


class Retry(redis.retry.Retry):
    """A ``retry=`` for ``redis.Redis`` (and its pools) that retries as ``policy`` says.

    ``guard`` shares budgets and breakers with other clients (``tether.Guard(policy)``);
    ``idempotent`` says every command may be sent twice.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        guard: Guard | None = None,
        idempotent: bool = False,
    ) -> None:
        self.guard = _guard(policy, guard)
        self.policy = self.guard.policy
        self.idempotent = idempotent
        super().__init__(redis.backoff.NoBackoff(), max(self.policy.attempts - 1, 0), _ANY_ERROR)
        self._run: Callable[..., Any] = retry(guard=self.guard, idempotent=idempotent)(_attempt)

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def __deepcopy__(self, memo: dict[int, Any]) -> Retry:
        # redis-py copies the retry object into each connection pool's arguments: the copy
        # shares this one's guard, so budgets and breakers stay one per Redis server.
        return Retry(guard=self.guard, idempotent=self.idempotent)

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        try:
            result: T = self._run(do, fail, is_retryable, with_failure_count, [0])
        except _Vetoed as vetoed:
            raise vetoed.error from None
        return result


def _attempt(
    do: Callable[[], T],
    fail: Callable[..., Any],
    is_retryable: Callable[[Exception], bool] | None,
    with_failure_count: bool,
    counted: list[int],
) -> T:
    try:
        return do()
    except Exception as error:
        counted[0] += 1
        if with_failure_count:
            fail(error, counted[0])
        else:
            fail(error)
        if is_retryable is not None and not is_retryable(error):
            raise _Vetoed(error) from None
        raise


class AsyncRetry(redis.asyncio.retry.Retry):
    """A ``retry=`` for ``redis.asyncio.Redis``: :class:`Retry`'s rules, awaited."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        guard: Guard | None = None,
        idempotent: bool = False,
    ) -> None:
        self.guard = _guard(policy, guard)
        self.policy = self.guard.policy
        self.idempotent = idempotent
        retries = max(self.policy.attempts - 1, 0)
        super().__init__(redis.backoff.NoBackoff(), retries, _ANY_ERROR)  # type: ignore[arg-type]
        self._run: Callable[..., Awaitable[Any]] = retry(guard=self.guard, idempotent=idempotent)(
            _attempt_async
        )

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def __deepcopy__(self, memo: dict[int, Any]) -> AsyncRetry:
        return AsyncRetry(guard=self.guard, idempotent=self.idempotent)

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        try:
            result: T = await self._run(do, fail, is_retryable, with_failure_count, [0])
        except _Vetoed as vetoed:
            raise vetoed.error from None
        return result


async def _attempt_async(
    do: Callable[[], Awaitable[T]],
    fail: Callable[..., Any],
    is_retryable: Callable[[Exception], bool] | None,
    with_failure_count: bool,
    counted: list[int],
) -> T:
    try:
        return await do()
    except Exception as error:
        counted[0] += 1
        handled = fail(error, counted[0]) if with_failure_count else fail(error)
        if handled is not None and hasattr(handled, "__await__"):
            await handled
        if is_retryable is not None and not is_retryable(error):
            raise _Vetoed(error) from None
        raise
