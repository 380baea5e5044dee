"""tether: make network failures survivable and explainable.

``tether.classify(exc)`` turns any network exception into a ``Failure`` with
a stable ``Kind``; ``tether.lab`` reproduces every kind for real on loopback.
"""

from tether._catalogue import CATALOGUE, Entry
from tether._classify import classify, classify_status, parse_retry_after
from tether._failure import Failure
from tether._kinds import Kind, Layer
from tether._redact import redact_url
from tether._version import __version__

__all__ = [
    "CATALOGUE",
    "Entry",
    "Failure",
    "Kind",
    "Layer",
    "__version__",
    "classify",
    "classify_status",
    "parse_retry_after",
    "redact_url",
]
