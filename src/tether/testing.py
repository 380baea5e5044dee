"""Fast, deterministic retries in your own test suite.

>>> import tether, tether.testing
>>> with tether.testing.fast_retries(attempts=2) as retries:   # doctest: +SKIP
...     client_code_that_retries()
>>> retries.waits                                               # doctest: +SKIP
[0.042]

Inside ``fast_retries`` no retry waits for real (the waits it would have
taken are recorded in ``.waits``) and every policy makes at most ``attempts``
attempts (``None`` keeps each policy's own).  The pytest plugin offers the
same as the ``fast_retries`` fixture.

An override holds in the context it was made in (a :class:`~contextvars.ContextVar`):
the code inside the block, and the asyncio tasks it starts, see it; another thread or
task, such as another test's, does not.  A thread started inside the block sees it only
if it runs in a copy of the block's context (``asyncio.to_thread`` does;
``contextvars.copy_context().run`` does it by hand).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tether._retry._testing import Override, overriding

__all__ = ["Override", "fast_retries"]


@contextmanager
def fast_retries(attempts: int | None = None) -> Iterator[Override]:
    """No real waits, and at most ``attempts`` attempts per call, until the block ends."""
    if attempts is not None and attempts < 1:
        raise ValueError(f"attempts={attempts!r}: must be at least 1")
    with overriding(Override(attempts)) as override:
        yield override
