"""What the retry loop hands on when a call ends: one record per logical call.

The lowest module of the reporting path: the loop makes records, sinks take them (the
reporter, ``_report``; the OpenTelemetry histogram, ``_instrument``), and the registry of
sinks (``_ended``) wires the two; none of them reaches back up.
"""

from __future__ import annotations

from collections.abc import Callable

from tether._kinds import Kind

CallRecord = tuple[float, str, str, Kind | None, int | None, float, int]
"""One ended call, all its attempts in it: ``(at, endpoint, method, kind, status, seconds,
attempts)``: ``at`` the wall time it ended (Unix seconds), ``kind`` why it failed (None:
it succeeded), ``status`` the HTTP status of the last answer if any, ``seconds`` its
whole latency on the policy's clock.  A plain tuple, not a named one: it is made on the
caller's path, and a ``NamedTuple`` cost 140 ns more a call there (``bench_report.py``,
the hook alone: 580 against 437 ns); the sinks unpack it by these names."""


Sink = Callable[[CallRecord], None]
"""Takes each ended call; must be quick and never raise: it runs on the caller's path."""
