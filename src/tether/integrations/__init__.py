"""Thin seams that put a :class:`tether.RetryPolicy` into each client's own retry hook.

``tether.integrations.requests.Session`` (also ``tether.Session``),
``tether.integrations.httpx.Transport`` / ``AsyncTransport`` and
``tether.integrations.aiohttp.middleware`` for HTTP; ``redis.Retry`` / ``AsyncRetry``
(redis-py's ``retry=``), ``sqlalchemy.instrument`` / ``run`` (the engine's events, a unit
of work), ``grpc.RetryInterceptor`` / ``AsyncRetryInterceptor`` (client interceptors) and
``botocore.install`` (the ``needs-retry`` event).  All drive the same policy and guard.
Each module imports its own client library; this package imports none.
"""
