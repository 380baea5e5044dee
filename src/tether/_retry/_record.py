"""What the retry loop hands on when a call ends: one record per logical call.

The lowest module of the reporting path: the loop makes records, sinks take them (the
reporter, ``_report``; the OpenTelemetry histogram, ``_instrument``), and the registry of
sinks (``_ended``) wires the two; none of them reaches back up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from tether._kinds import Kind


class CallRecord(NamedTuple):
    """One ended call, all its attempts in it, as urllib3's ``RequestHistory`` records a
    retry: named fields over a tuple, so that sinks read ``record.seconds`` and still
    unpack it cheaply.

    Made on the caller's path with ``tuple.__new__(CallRecord, values)`` (``_loop``),
    not ``CallRecord(...)``: the generated ``__new__`` is a Python function, a cost
    on every call that benchmarks/bench_report.py measures.
    """

    at: float
    """The wall time it ended (Unix seconds)."""
    endpoint: str
    """``host:port`` of an HTTP call, or a retried function's qualified name."""
    method: str
    """The HTTP method; empty for a ``@tether.retry`` function."""
    kind: Kind | None
    """Why it failed; None: it succeeded."""
    status: int | None
    """The HTTP status of the last answer, if any."""
    seconds: float
    """Its whole latency, every attempt and wait, on the policy's clock."""
    attempts: int
    """How many attempts it made."""


Sink = Callable[[CallRecord], None]
"""Takes each ended call; must be quick and never raise: it runs on the caller's path."""
