"""The HTTP clients' own exceptions: urllib3 and requests, httpx and httpcore, aiohttp,
dnspython, and their connection pools.

Most of their classes need no code of their own, only a row of the table in
:mod:`._rules` (a kind, or a context such as "connect"); these are the ones that carry
more: a pool, a proxy, a response, a peer.
"""

from __future__ import annotations

import re

from tether._classify._evidence import FACT, LIBRARY, Evidence, Rule, context, fixed, note_url
from tether._classify._http import offer_status, proxy_status, read_parser_error, tunnel_status
from tether._classify._origin import chain_functions
from tether._kinds import Kind


def urllib3_proxy(exc: BaseException, ev: Evidence, depth: int) -> None:
    ev.proxy = True
    tunnel_status(exc, ev, depth)


def urllib3_aborted(exc: BaseException, ev: Evidence, depth: int) -> None:
    """urllib3's ``ProtocolError("Connection aborted.", cause)``: what broke while sending
    the request or waiting for the status line.  urllib3 turns the timeouts of connecting
    and of reading into classes of their own, so a bare socket timeout as the cause ran
    out while sending: the server stopped reading the request."""
    if any(isinstance(arg, TimeoutError) for arg in exc.args[1:]):
        ev.write = True
        return
    read_parser_error(exc, ev, depth)


def aiohttp_response(exc: BaseException, ev: Evidence, depth: int) -> None:
    status = getattr(exc, "status", None)
    info = getattr(exc, "request_info", None)
    note_url(getattr(info, "real_url", None), ev)
    if isinstance(status, int):
        # aiohttp reports an unparsable status line as a 400 "Bad status line":
        # its parser's exception, further down the chain, outranks this guess.
        offer_status(status, getattr(exc, "headers", None), ev, depth, LIBRARY)


def aiohttp_proxy_status(exc: BaseException, ev: Evidence, depth: int) -> None:
    ev.proxy = True
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        proxy_status(status, ev, depth)


def aiohttp_connector(*flags: str) -> Rule:
    def rule(exc: BaseException, ev: Evidence, depth: int) -> None:
        for flag in flags:
            setattr(ev, flag, True)
        ev.connect = True
        ev.at(getattr(exc, "host", None), getattr(exc, "port", None), depth)

    return rule


def max_retry(exc: BaseException, ev: Evidence, depth: int) -> None:
    pool = getattr(exc, "pool", None)
    reason = getattr(exc, "reason", None)
    proxy = getattr(pool, "proxy", None)
    if proxy is not None and type(reason).__name__ == "ProxyError":
        # A refused tunnel: the pool is the target's, the failing peer is the proxy.
        ev.at(getattr(proxy, "host", None), getattr(proxy, "port", None), depth)
    else:
        ev.at(getattr(pool, "host", None), getattr(pool, "port", None), depth)
    text = str(reason) if reason is not None else ""
    if "too many redirects" in text:
        ev.offer(Kind.HTTP_REDIRECT_LOOP, FACT, depth)
    elif match := re.search(r"too many (\d{3}) error responses", text):
        offer_status(int(match[1]), None, ev, depth, FACT)


def dnspython(kind: Kind) -> Rule:
    return fixed(kind, FACT)


def pool_exhausted(detail: str, *, returned: bool = False) -> Rule:
    def rule(exc: BaseException, ev: Evidence, depth: int) -> None:
        if returned:
            ev.read = True  # the connection came back after its response: the request was sent
        ev.offer(Kind.CONNECT_RESOURCE_EXHAUSTED, FACT, depth, detail)

    return rule


POOL_TIMEOUT = "no connection in the client's pool came free within the pool timeout"
_aiohttp_connect_timeout = context("connect", kind=Kind.CONNECT_TIMEOUT, strength=LIBRARY)
_POOL_WAIT_FRAMES = frozenset({"_wait_for_available_connection"})  # aiohttp's connector


def aiohttp_timeout(exc: BaseException, ev: Evidence, depth: int) -> None:
    """aiohttp counts the wait for a free connection of ``TCPConnector(limit=...)`` in its
    connect timeout: the waiting frame in the chain tells a full pool from a silent server."""
    _aiohttp_connect_timeout(exc, ev, depth)
    if chain_functions(exc) & _POOL_WAIT_FRAMES:
        ev.offer(Kind.CONNECT_RESOURCE_EXHAUSTED, FACT, depth, POOL_TIMEOUT)
