"""Adapters for code written against tenacity or backoff: change one import.

``from tether.compat import backoff`` gives backoff's ``on_exception``,
``on_predicate``, ``expo``, ``fibo``, ``constant``, ``full_jitter``...;
``from tether.compat.tenacity import retry, stop_after_attempt, wait_exponential, ...``
gives tenacity's ``@retry`` and its strategies.  Each translates its options into a
:class:`tether.RetryPolicy` and runs on tether's retry loop, so the deadline, retry
budget, circuit breaker, classification and hooks are tether's.  ``UNGUARDED`` is the
policy to start from (``policy=UNGUARDED``) to switch the deadline, budget and breaker
off and get the original library's behaviour.  See docs/migrating.md.
"""

from tether.compat._core import UNGUARDED

__all__ = ["UNGUARDED"]
