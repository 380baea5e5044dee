"""tether: make network failures survivable and explainable.

``tether.classify(exc)`` turns any network exception into a ``Failure`` with
a stable ``Kind``; ``tether.RetryPolicy`` with ``tether.Session``,
``@tether.retry`` and the ``tether.integrations`` retries only what a retry
can fix; ``tether.lab`` reproduces every kind for real on loopback.
"""

import typing as _typing

from tether._catalogue import CATALOGUE, Entry
from tether._classify import classify, classify_status, parse_retry_after
from tether._failure import Failure
from tether._kinds import Kind, Layer
from tether._redact import redact_url
from tether._retry._backoff import backoff_delay
from tether._retry._decorator import retry
from tether._retry._errors import CircuitOpenError, DeadlineExceededError, TetherError
from tether._retry._hooks import BreakerChange, GiveUpDetails, HealthChange, RetryDetails
from tether._retry._policy import Breaker, Budget, RetryPolicy, Timeouts
from tether._retry._state import BreakerState, Health
from tether._version import __version__

if _typing.TYPE_CHECKING:
    from tether.integrations.requests import Session

__all__ = [
    "CATALOGUE",
    "Breaker",
    "BreakerChange",
    "BreakerState",
    "Budget",
    "CircuitOpenError",
    "DeadlineExceededError",
    "Entry",
    "Failure",
    "GiveUpDetails",
    "Health",
    "HealthChange",
    "Kind",
    "Layer",
    "RetryDetails",
    "RetryPolicy",
    "Session",
    "TetherError",
    "Timeouts",
    "__version__",
    "backoff_delay",
    "classify",
    "classify_status",
    "parse_retry_after",
    "redact_url",
    "retry",
]


def __getattr__(name: str) -> _typing.Any:
    # tether.Session is a requests.Session: importing requests waits for first use.
    if name == "Session":
        from tether.integrations.requests import Session

        return Session
    raise AttributeError(f"module 'tether' has no attribute {name!r}")
