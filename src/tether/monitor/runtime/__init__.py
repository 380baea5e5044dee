"""The running monitor: the runner that takes every check, the worker processes, the
event loop, the log, and the entry points that wire it all (``run_monitor``,
``run_demo``) (docs/architecture.md).
"""
