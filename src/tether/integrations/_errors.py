"""How a call that tether ended becomes the HTTP library's own exception: one table.

Each integration fills one :class:`Errors` row with its library's classes;
:func:`library_error` makes the same decision for all three:

=========================================  ============================================
the call ended                              raised
=========================================  ============================================
before any attempt: circuit open            ``circuit_open(message)``, no cause
before any attempt: bulkhead full           ``bulkhead_full(message)``, no cause
before any attempt: throttled               ``throttled(message)``, no cause
before any attempt, or by, the deadline     ``deadline(message)``, caused by the last error
tether's total timer cut an attempt         ``total_timeout(message)``, caused by it
the library raised anything else            ``rebuild``: its class with tether's message,
                                            or, where that cannot be, the error itself
                                            with ``.failure`` and a note (PEP 678)
=========================================  ============================================

Every exception raised carries ``.failure``.  The rows:

========  ===============================  ==================================  ============
library   circuit_open                     deadline                            rebuilds
========  ===============================  ==================================  ============
requests  ``requests.ConnectionError``     ``requests.Timeout``                yes
httpx     ``httpx.ConnectError``           ``httpx.TimeoutException``          yes
aiohttp   ``aiohttp.ClientConnectionError``  ``aiohttp.ServerTimeoutError``    no
========  ===============================  ==================================  ============

each also :class:`tether.CircuitOpenError` or :class:`tether.DeadlineExceededError`;
``bulkhead_full`` and ``throttled`` are the library's ``circuit_open`` class again, with
:class:`tether.BulkheadFullError` or :class:`tether.ThrottledError`: like an open circuit,
no request left this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tether._kinds import Kind
from tether._retry._decorator import annotate
from tether._retry._loop import Call, Outcome


@dataclass(frozen=True, slots=True)
class Errors:
    """One HTTP library's exceptions for the outcomes tether makes itself."""

    circuit_open: type[Exception]
    """The library's connection error and :class:`tether.CircuitOpenError`."""
    bulkhead_full: type[Exception]
    """The library's connection error and :class:`tether.BulkheadFullError`."""
    throttled: type[Exception]
    """The library's connection error and :class:`tether.ThrottledError`."""
    deadline: type[Exception]
    """The library's timeout and :class:`tether.DeadlineExceededError`."""
    total_timeout: type[Exception]
    """The library's read timeout: an attempt outlived the policy's ``total``."""
    new: Callable[[Any, str, Any], Exception]
    """Make one of the three with a message, for a request (the library's object)."""
    own_timeout: Callable[[BaseException], bool]
    """Did the library time out by itself (rather than tether's timer cutting it)?"""
    rebuild: Callable[[BaseException, str, Any], BaseException | None] | None = None
    """The library's error again with tether's message, for a request; None where it
    cannot be (or, for one error, returns None)."""


def library_error(
    call: Call, outcome: Outcome[Any], errors: Errors, request: Any = None
) -> BaseException:
    """The exception to raise for a call that ended in ``outcome.failure``."""
    failure = outcome.failure
    assert failure is not None
    error = outcome.error
    cls: type[Exception] | None = None
    if error is None:
        kind = failure.kind
        cls = (
            errors.circuit_open
            if kind is Kind.CIRCUIT_OPEN
            else errors.bulkhead_full
            if kind is Kind.BULKHEAD_FULL
            else errors.throttled
            if kind is Kind.THROTTLE_REJECTED
            else errors.deadline
        )
    elif failure.kind is Kind.DEADLINE_EXCEEDED:
        cls = errors.deadline
    elif failure.kind is Kind.READ_TIMEOUT and not errors.own_timeout(error):
        cls = errors.total_timeout
    if cls is not None:
        ours = errors.new(cls, call.summary(outcome), request)
        ours.failure = failure  # type: ignore[attr-defined]
        ours.__cause__ = error
        return ours
    assert error is not None
    if errors.rebuild is not None:
        again = errors.rebuild(error, call.summary(outcome), request)
        if again is not None:
            again.failure = failure  # type: ignore[attr-defined]
            again.__cause__ = error
            return again
    annotate(error, call, outcome)
    return error
