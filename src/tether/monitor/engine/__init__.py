"""The pure decisions: detection, baselines, quorum, correlation, incidents, holds,
heartbeats and traffic.

No clock and no I/O: every function is given ``now`` and what it decides from, and
hands back what it decided (docs/architecture.md).
"""
