"""tether: make network failures survivable and explainable.

``tether.classify(exc)`` turns any network exception into a ``Failure`` with
a stable ``Kind``; ``tether.RetryPolicy`` with ``tether.Session``,
``@tether.retry`` and the ``tether.integrations`` retries only what a retry
can fix; ``tether.lab`` reproduces every kind for real on loopback.
"""

import sys as _sys

from tether._lazy import lazy_names as _lazy_names
from tether._version import __version__

# A library logs and never configures logging; its one NullHandler is added by
# tether._log, which every module that logs imports.  Added here too when the
# application has loaded logging already (a cheap import then), so that the handler is
# there from `import tether` on; otherwise a plain `import tether` does not load logging.
if "logging" in _sys.modules:
    import tether._log  # noqa: F401  (its NullHandler, now)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tether._catalogue import CATALOGUE, Entry
    from tether._classify import classify, classify_status, parse_retry_after
    from tether._failure import Failure
    from tether._kinds import Kind, Layer
    from tether._redact import redact_url
    from tether._reporter import Reporter
    from tether._retry._admission import LimitState, ThrottleState
    from tether._retry._backoff import backoff_delay
    from tether._retry._decorator import retry
    from tether._retry._ended import report_to
    from tether._retry._errors import (
        BulkheadFullError,
        CircuitOpenError,
        DeadlineExceededError,
        TetherError,
        ThrottledError,
    )
    from tether._retry._hooks import (
        BreakerChange,
        GiveUpDetails,
        HealthChange,
        HedgeDetails,
        RetryDetails,
    )
    from tether._retry._policy import (
        Adaptive,
        Breaker,
        Budget,
        Bulkhead,
        Hedge,
        RetryPolicy,
        Throttle,
        Timeouts,
    )
    from tether._retry._state import BreakerState, Guard, Health
    from tether.integrations.requests import Session
del TYPE_CHECKING

# Every public name is loaded on first use, so that `import tether` loads nothing it
# does not need (no logging, no dataclasses, no enum, no catalogue: issue 46 §6);
# tether.Session also waits because it imports requests.
_LAZY = {
    "CATALOGUE": "tether._catalogue",
    "Entry": "tether._catalogue",
    "classify": "tether._classify",
    "classify_status": "tether._classify",
    "parse_retry_after": "tether._classify",
    "Failure": "tether._failure",
    "Kind": "tether._kinds",
    "Layer": "tether._kinds",
    "redact_url": "tether._redact",
    "Reporter": "tether._reporter",
    "report_to": "tether._retry._ended",
    "backoff_delay": "tether._retry._backoff",
    "retry": "tether._retry._decorator",
    "LimitState": "tether._retry._admission",
    "ThrottleState": "tether._retry._admission",
    "BulkheadFullError": "tether._retry._errors",
    "CircuitOpenError": "tether._retry._errors",
    "DeadlineExceededError": "tether._retry._errors",
    "TetherError": "tether._retry._errors",
    "ThrottledError": "tether._retry._errors",
    "BreakerChange": "tether._retry._hooks",
    "GiveUpDetails": "tether._retry._hooks",
    "HealthChange": "tether._retry._hooks",
    "HedgeDetails": "tether._retry._hooks",
    "RetryDetails": "tether._retry._hooks",
    "Adaptive": "tether._retry._policy",
    "Breaker": "tether._retry._policy",
    "Budget": "tether._retry._policy",
    "Bulkhead": "tether._retry._policy",
    "Hedge": "tether._retry._policy",
    "RetryPolicy": "tether._retry._policy",
    "Throttle": "tether._retry._policy",
    "Timeouts": "tether._retry._policy",
    "BreakerState": "tether._retry._state",
    "Guard": "tether._retry._state",
    "Health": "tether._retry._state",
    "Session": "tether.integrations.requests",
}

__all__ = [
    "CATALOGUE",
    "Adaptive",
    "Breaker",
    "BreakerChange",
    "BreakerState",
    "Budget",
    "Bulkhead",
    "BulkheadFullError",
    "CircuitOpenError",
    "DeadlineExceededError",
    "Entry",
    "Failure",
    "GiveUpDetails",
    "Guard",
    "Health",
    "HealthChange",
    "Hedge",
    "HedgeDetails",
    "Kind",
    "Layer",
    "LimitState",
    "Reporter",
    "RetryDetails",
    "RetryPolicy",
    "Session",
    "TetherError",
    "Throttle",
    "ThrottleState",
    "ThrottledError",
    "Timeouts",
    "__version__",
    "backoff_delay",
    "classify",
    "classify_status",
    "parse_retry_after",
    "redact_url",
    "report_to",
    "retry",
]


__getattr__, __dir__ = _lazy_names("tether", _LAZY, globals(), __all__)
