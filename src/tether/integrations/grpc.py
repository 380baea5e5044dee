"""gRPC's own seam, its client interceptors, on a :class:`tether.RetryPolicy`.

:class:`RetryInterceptor` (``grpc``) and :class:`AsyncRetryInterceptor` (``grpc.aio``)
retry a call by the failure's kind, not by a list of status codes: a call that never
reached the server (no connection: refused, reset, a TLS failure; a GOAWAY before the call
was taken; ``UNAVAILABLE`` from a server that did not take it) is retried for any method;
one the server may have acted on (its stream reset, a deadline that ran out) only for the
methods named ``idempotent``.  Each attempt gets what is left of the call's deadline as its
timeout, and the retry budget and circuit breaker are kept per target.  A server's
pushback in the call's trailing metadata (``grpc-retry-pushback-ms``, gRFC A6) is the
wait before the next attempt, and a negative one means no retry::

    import grpc
    from tether.integrations.grpc import RetryInterceptor

    channel = grpc.intercept_channel(
        grpc.insecure_channel("127.0.0.1:50051"),
        RetryInterceptor(tether.RetryPolicy(attempts=3), target="127.0.0.1:50051",
                         idempotent={"/inventory.Stock/Get"}),
    )

On ``grpc.aio``: ``grpc.aio.insecure_channel(target, interceptors=[retrying, *retrying.streams])``
with ``retrying = AsyncRetryInterceptor(...)`` (``grpc.aio`` gives each interceptor one kind
of call; ``streams`` are the unary-stream and stream-unary ones, on the same guard).
The error the caller sees is gRPC's own ``RpcError``, with ``.failure`` set.

What is retried, by the shape of the call (as in gRPC's own retry, proposal A6, a call is
committed once a response message was handed on or its request messages outgrew what is
kept to send again):

- unary-unary: the whole call.
- unary-stream: until its first response message; once one has been handed on, a failure
  is the caller's, as gRPC's own error, never retried (the caller may have acted on it).
- stream-unary: the request messages are kept as gRPC's channel sends them, up to
  ``replay_limit`` bytes (256 KiB, gRPC's own per-call retry buffer), and sent again to a
  new attempt; a call whose messages outgrew it is not retried (nor a message whose size
  cannot be told: neither ``ByteSize()`` nor ``len()``).  Never hedged.
- stream-stream, and a ``grpc.aio`` stream-unary call whose requests are written with
  ``call.write()`` (they cannot be kept): passed through unretried.

Hedging (a policy's :class:`~tether.Hedge`) is tether's one hedging race
(:mod:`tether._retry._hedging`), on ``grpc.aio`` only, as for every other seam: each hedge
would take a thread on the sync channel.  Only the methods named ``idempotent`` are hedged;
``retry_unsafe=True`` beside a hedge is refused, since it would hedge every method.  A hedged
unary-stream call races until the first response message, the losers cancelled.
"""

from __future__ import annotations

from tether._extras import require

# A missing client is one line naming the extra, not a bare ModuleNotFoundError.
require("tether.integrations.grpc", "grpcio")

import asyncio
import dataclasses
import inspect
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import grpc
import grpc.aio

from tether._retry._decorator import annotate, retry
from tether._retry._loop import Call, run_async, run_sync
from tether._retry._policy import RetryPolicy, Timeouts
from tether._retry._state import Guard

__all__ = ["AsyncRetryInterceptor", "RetryInterceptor"]

_RUNNERS = 1024
"""Unary runners kept per interceptor, one per method called."""

REPLAY_LIMIT = 256 * 1024
"""Bytes of request messages a stream-unary call keeps to send again: gRPC's own
``grpc.per_rpc_retry_buffer_size``."""


class _Rules:
    """What both interceptors share: the guard (the budgets and breakers), the target, the
    idempotent methods, and a runner per method for unary calls."""

    def __init__(
        self,
        policy: RetryPolicy | None,
        guard: Guard | None,
        target: str | None,
        idempotent: Iterable[str],
        attempt: Callable[..., Any],
    ) -> None:
        if guard is None:
            guard = Guard(policy)
        elif policy is not None and policy != guard.policy:
            raise ValueError("give a policy or a guard made with it, not both")
        if guard.policy.hedge is not None and guard.policy.retry_unsafe:
            raise ValueError(
                "retry_unsafe=True beside a hedge would hedge every gRPC method, sending it "
                "again while the first may still be running; name the methods safe to hedge "
                "in idempotent= instead"
            )
        self.guard = guard
        self.policy = guard.policy
        self.unhedged = dataclasses.replace(guard.policy, hedge=None)
        """For stream-unary calls: their replay feeds one attempt at a time."""
        self.target = target
        self.idempotent = frozenset(idempotent)
        self.clock = guard.policy.clock
        self.attempt = attempt
        self.runners: dict[str | bytes, Callable[..., Any]] = {}
        """A unary runner per method, made at its first call, so that what tether says of
        a call (its note, its log line) names the method."""

    def name(self, method: str | bytes) -> str:
        return method.decode() if isinstance(method, bytes) else method

    def runner(self, method: str | bytes) -> Callable[..., Any]:
        run = self.runners.get(method)
        if run is None:
            if len(self.runners) >= _RUNNERS:
                self.runners.clear()  # a proxy of endless method names: start again
            run = self.runners[method] = self._runner(self.name(method))
        return run

    def _runner(self, name: str) -> Callable[..., Any]:
        attempt = self.attempt
        named: Callable[..., Any]
        if inspect.iscoroutinefunction(attempt):

            async def named(*args: Any) -> Any:
                return await attempt(*args)

        else:

            def named(*args: Any) -> Any:
                return attempt(*args)

        named.__qualname__ = name  # the decorator's label: "/pkg.Service/Method()"
        safe = name in self.idempotent
        return retry(guard=self.guard, idempotent=safe, endpoint=self.target)(named)

    def call(self, method: str | bytes, *, hedged: bool = True) -> Call:
        """A :class:`Call` for a streaming call: its records kept per target, else (no
        target given) by the address its failures name; ``hedged=False``: never hedged."""
        name = self.name(method)
        return Call(
            self.policy if hedged else self.unhedged,
            "",
            name,
            idempotent=name in self.idempotent,
            endpoint=self.target or name,
            by_failure=self.target is None,
            guard=self.guard,
        )

    def remainder(self, timeout: float | None) -> Callable[[], float | None]:
        """What is left of the call's own deadline at each attempt's start (None: none)."""
        if timeout is None:
            return lambda: None
        ends = self.clock() + timeout
        return lambda: max(ends - self.clock(), 0.0)


class RetryInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
):
    """A client interceptor that retries as ``policy`` says (see the module)."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        guard: Guard | None = None,
        target: str | None = None,
        idempotent: Iterable[str] = (),
        replay_limit: int = REPLAY_LIMIT,
    ) -> None:
        self._rules = _Rules(policy, guard, target, idempotent, _attempt)
        self._replay_limit = replay_limit

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        run = self._rules.runner(client_call_details.method)
        left = self._rules.remainder(client_call_details.timeout)
        try:
            return run(continuation, client_call_details, request, left)
        except grpc.RpcError as error:
            if isinstance(error, grpc.Call):
                return error  # gRPC raises it from result(), as it does without us
            raise

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        call = self._rules.call(client_call_details.method)
        left = self._rules.remainder(client_call_details.timeout)

        def send(_t: Timeouts) -> tuple[Any, Any]:
            stream = continuation(_with_timeout(client_call_details, left()), request)
            try:
                return stream, next(stream)
            except StopIteration:
                return stream, _EMPTY
            # an RpcError is the call itself (gRPC raises it from next()): tried again

        outcome = run_sync(call, send)
        if outcome.failure is not None:
            return _given_up(call, outcome)
        assert outcome.response is not None
        stream, first = outcome.response
        return _Resumed(stream, first)

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        call = self._rules.call(client_call_details.method)
        left = self._rules.remainder(client_call_details.timeout)
        replay = _Replay(request_iterator, self._replay_limit)

        def send(_t: Timeouts) -> Any:
            outcome = continuation(_with_timeout(client_call_details, left()), replay.again())
            error = outcome.exception()
            if error is not None:
                if replay.spilled:
                    # Messages that outgrew what is kept cannot be sent again, wherever
                    # the call failed: this attempt is its last.
                    call.max_attempts = call.made
                raise error
            return outcome

        outcome = run_sync(call, send)
        if outcome.failure is not None:
            return _given_up(call, outcome)
        return outcome.response


def _attempt(
    continuation: Callable[..., Any],
    details: Any,
    request: Any,
    left: Callable[[], float | None],
) -> Any:
    outcome = continuation(_with_timeout(details, left()), request)
    error = outcome.exception()
    if error is not None:
        raise error
    return outcome


def _given_up(call: Call, outcome: Any) -> Any:
    """The call the caller gets when tether gave up: gRPC's own failed call, which raises
    itself when read, with ``.failure`` and tether's note; tether's error if none was made."""
    error = outcome.error
    if error is None:
        raise call.error(outcome)
    annotate(error, call, outcome)
    if isinstance(error, grpc.Call):
        return error
    raise error


_EMPTY: Any = object()
"""A response stream that ended with no message: a success with nothing to hand on."""


class _Resumed(grpc.Call, grpc.Future):  # type: ignore[misc]
    """A unary-stream call whose first message tether already read: the messages from
    that one on, and the call's own state, of the attempt that gave them."""

    def __init__(self, stream: Any, first: Any) -> None:
        self._stream = stream
        self._first = first

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        first, self._first = self._first, _EMPTY
        if first is not _EMPTY:
            return first
        return next(self._stream)

    def is_active(self) -> bool:
        return bool(self._stream.is_active())

    def time_remaining(self) -> float | None:
        return self._stream.time_remaining()  # type: ignore[no-any-return]

    def cancel(self) -> bool:
        return bool(self._stream.cancel())

    def cancelled(self) -> bool:
        return bool(self._stream.cancelled())

    def running(self) -> bool:
        return bool(self._stream.running())

    def done(self) -> bool:
        return bool(self._stream.done())

    def result(self, timeout: float | None = None) -> Any:
        return self._stream.result(timeout)

    def exception(self, timeout: float | None = None) -> Any:
        return self._stream.exception(timeout)

    def traceback(self, timeout: float | None = None) -> Any:
        return self._stream.traceback(timeout)

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return bool(self._stream.add_callback(callback))

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        self._stream.add_done_callback(fn)

    def initial_metadata(self) -> Any:
        return self._stream.initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._stream.trailing_metadata()

    def code(self) -> Any:
        return self._stream.code()

    def details(self) -> Any:
        return self._stream.details()

    def debug_error_string(self) -> Any:
        return self._stream.debug_error_string()


class _Replay:
    """A stream-unary call's request messages, kept as gRPC's channel takes them so that
    a new attempt sends the same ones again, until they outgrow ``limit`` bytes.

    gRPC pulls the messages in a thread of its own for each attempt: one that is over
    stops pulling (its call has ended), and the lock keeps the source read by one at a
    time, so a message taken by an attempt just ended is kept for the next.
    """

    def __init__(self, source: Iterable[Any] | AsyncIterable[Any], limit: int) -> None:
        self._aiter = aiter(source) if isinstance(source, AsyncIterable) else None
        self._source = iter(source) if isinstance(source, Iterable) else iter(())
        self._limit = limit
        self._lock = threading.Lock()
        self._alock = asyncio.Lock()
        self._kept: list[Any] | None = []
        self._size = 0
        self._ended = False
        self._attempt = 0
        self.spilled = False
        """More was taken than is kept: the call cannot be sent again."""

    def again(self) -> Iterator[Any]:
        """The messages for the next attempt: those already taken, then the rest."""
        assert not (self.spilled and self._attempt), "never a truncated stream"
        self._attempt += 1
        return self._messages(self._attempt)

    def _messages(self, mine: int) -> Iterator[Any]:
        at = 0
        while True:
            with self._lock:
                if mine != self._attempt:
                    return  # an attempt that has ended
                kept = self._kept
                if kept is not None and at < len(kept):
                    message = kept[at]
                elif self._ended:
                    return
                else:
                    try:
                        message = next(self._source)
                    except StopIteration:
                        self._ended = True
                        return
                    self._keep(message)
            at += 1
            yield message

    def again_async(self) -> AsyncIterator[Any]:
        """:meth:`again` for ``grpc.aio``, whose source may be an async iterable."""
        assert not (self.spilled and self._attempt), "never a truncated stream"
        self._attempt += 1
        return self._messages_async(self._attempt)

    async def _messages_async(self, mine: int) -> AsyncIterator[Any]:
        at = 0
        while True:
            async with self._alock:
                if mine != self._attempt:
                    return  # an attempt that has ended
                kept = self._kept
                if kept is not None and at < len(kept):
                    message = kept[at]
                elif self._ended:
                    return
                else:
                    try:
                        if self._aiter is not None:
                            message = await anext(self._aiter)
                        else:
                            message = next(self._source)
                    except (StopIteration, StopAsyncIteration):
                        self._ended = True
                        return
                    self._keep(message)
            at += 1
            yield message

    def _keep(self, message: Any) -> None:
        if self._kept is None:
            return
        size = _size(message)
        self._size += size if size is not None else self._limit + 1
        if self._size > self._limit:
            self._kept, self.spilled = None, True
        else:
            self._kept.append(message)


def _size(message: Any) -> int | None:
    """A request message's size in bytes, before it is serialized: a protobuf message's
    ``ByteSize()``, or ``len()`` of bytes and text; None if it cannot be told."""
    byte_size = getattr(message, "ByteSize", None)
    if callable(byte_size):
        return int(byte_size())
    if isinstance(message, bytes | bytearray | memoryview | str):
        return len(message)
    return None


class AsyncRetryInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """:class:`RetryInterceptor` for ``grpc.aio`` channels, hedging the idempotent methods
    when the policy has a :class:`~tether.Hedge`.

    ``grpc.aio`` gives each interceptor one kind of call, so unary-stream and stream-unary
    calls have one each, in :attr:`streams`, on the same guard:
    ``interceptors=[retrying, *retrying.streams]``.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        guard: Guard | None = None,
        target: str | None = None,
        idempotent: Iterable[str] = (),
        replay_limit: int = REPLAY_LIMIT,
    ) -> None:
        self._rules = _Rules(policy, guard, target, idempotent, _attempt_async)
        self.streams: tuple[
            grpc.aio.UnaryStreamClientInterceptor, grpc.aio.StreamUnaryClientInterceptor
        ] = (_AsyncStreams(self._rules), _AsyncUploads(self._rules, replay_limit))
        """The unary-stream and stream-unary interceptors that go with this one."""

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        run = self._rules.runner(client_call_details.method)
        left = self._rules.remainder(client_call_details.timeout)
        return await run(continuation, client_call_details, request, left)


class _AsyncStreams(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """:attr:`AsyncRetryInterceptor.streams`: unary-stream calls, retried (and hedged, for
    idempotent methods) until their first response message."""

    def __init__(self, rules: _Rules) -> None:
        self._rules = rules

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        call = self._rules.call(client_call_details.method)
        left = self._rules.remainder(client_call_details.timeout)

        async def send(_t: Timeouts) -> tuple[Any, AsyncIterator[Any], Any]:
            stream = await continuation(_with_timeout(client_call_details, left()), request)
            messages = stream.__aiter__()
            try:
                return stream, messages, await messages.__anext__()
            except StopAsyncIteration:
                return stream, messages, _EMPTY
            except BaseException:
                stream.cancel()  # a hedge that lost, cancelled while it waited
                raise

        async def discard(response: tuple[Any, AsyncIterator[Any], Any]) -> None:
            response[0].cancel()  # a hedge that answered after the winner

        outcome = await run_async(call, send, discard=discard)
        if outcome.failure is not None:
            error = outcome.error
            if error is None:
                raise call.error(outcome)
            annotate(error, call, outcome)
            raise error
        assert outcome.response is not None
        _stream, messages, first = outcome.response
        return _resumed_async(messages, first)


class _AsyncUploads(grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    """The stream-unary one of :attr:`AsyncRetryInterceptor.streams`: the call sent again
    with its request messages, while they fit in ``replay_limit`` bytes; never hedged (the
    messages are kept for one attempt at a time).  A call whose messages the caller writes
    with ``call.write()`` (no iterator) passes through."""

    def __init__(self, rules: _Rules, replay_limit: int) -> None:
        self._rules = rules
        self._replay_limit = replay_limit

    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        if request_iterator is None or _written(request_iterator):
            return await continuation(client_call_details, request_iterator)
        call = self._rules.call(client_call_details.method, hedged=False)
        left = self._rules.remainder(client_call_details.timeout)
        replay = _Replay(request_iterator, self._replay_limit)

        async def send(_t: Timeouts) -> Any:
            upload = await continuation(
                _with_timeout(client_call_details, left()), replay.again_async()
            )
            try:
                await upload  # raises grpc.aio.AioRpcError when the call failed
            except Exception:
                if replay.spilled:
                    call.max_attempts = call.made  # see RetryInterceptor's
                raise
            return upload

        outcome = await run_async(call, send)
        if outcome.failure is not None:
            error = outcome.error
            if error is None:
                raise call.error(outcome)
            annotate(error, call, outcome)
            raise error
        return outcome.response


def _written(requests: Any) -> bool:
    """Are these the messages the caller writes with ``call.write()``?  grpc.aio hands an
    interceptor its own generator of them, which waits for the interceptors to return
    before it yields: one that awaited the call's end would wait for ever."""
    return getattr(requests, "__name__", None) == "_proxy_writes_as_request_iterator"


async def _resumed_async(messages: AsyncIterator[Any], first: Any) -> AsyncIterator[Any]:
    """The first message tether read, then the rest of the stream (grpc.aio wraps this
    in the call's own state, that of the attempt that gave them)."""
    if first is _EMPTY:
        return
    yield first
    async for message in messages:
        yield message


async def _attempt_async(
    continuation: Callable[..., Any],
    details: Any,
    request: Any,
    left: Callable[[], float | None],
) -> Any:
    call = await continuation(_with_timeout(details, left()), request)
    await call  # raises grpc.aio.AioRpcError when the call failed
    return call


def _with_timeout(details: Any, timeout: float | None) -> Any:
    """The call's details with this attempt's timeout (both gRPC's are named tuples)."""
    if timeout is None:
        return details
    # Spent: the attempt fails at once with DEADLINE_EXCEEDED, as gRPC itself would say.
    return details._replace(timeout=max(timeout, 1e-3))
