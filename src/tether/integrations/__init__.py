"""Thin seams that put a :class:`tether.RetryPolicy` into HTTP clients.

``tether.integrations.requests.Session`` (also ``tether.Session``),
``tether.integrations.httpx.Transport`` / ``AsyncTransport`` and
``tether.integrations.aiohttp.middleware`` all drive the same retry loop.
Each module imports its own HTTP library; this package imports none.
"""
