"""``classify(exc)``: one place that knows every library's exceptions.

The root cause of a network failure hides under wrappers: requests wraps
urllib3's ``MaxRetryError``, whose ``reason`` is the real error; httpx chains
httpcore's error, which chains the ``OSError``; aiohttp keeps it in
``os_error`` or ``certificate_error``.  So classification walks the whole
chain and collects two sorts of evidence:

* **facts** from each exception: an errno, a ``getaddrinfo`` code, a
  certificate ``verify_code``, an OpenSSL reason, an HTTP status, or a
  library's own specific class.  Each fact names a kind, with a strength: a
  precise low-level fact (errno 111) beats a library's class (httpx's
  ``RemoteProtocolError``), which beats a generic wrapper (requests'
  ``ReadTimeout``).  Among equals the deepest wins.
* **context** from the wrappers: the failure happened talking to a proxy,
  while connecting, or while reading.  Context turns "refused" into "proxy
  unreachable" and a bare ``TimeoutError`` into a connect or read timeout.

Classes are recognised by name (``"urllib3.NewConnectionError"``, package plus
class name, first match along the MRO), so no HTTP library is imported here
and subclass traps resolve themselves: urllib3's ``NameResolutionError``
subclasses ``NewConnectionError``, which subclasses ``ConnectTimeoutError``,
and ``http.client.RemoteDisconnected`` is both a reset and a bad status line;
the most derived rule wins.

Words are read only from the clients that wrote them.  Much of what a library knows
is only in its message ("Tunnel connection failed: 407", "Receive buffer too long"),
and the same words can come from any code: a message is matched only on an exception
from a client whose messages are known, which its class says, or for a builtin
(``OSError``, ``ValueError``, ``TimeoutError``) the function that raised it or a
client's exception wrapping it.  What does not depend on words counts whoever raised
it: a network errno, and the builtin connection errors (a bare
``ConnectionResetError()`` is still a reset).  Parsers' errors go through the table in
``_parser_errors``, which the probe reads too.

The parts, each a module of this package, each importing only those listed before it:
``_origin`` (where an exception came from, what its class is called), ``_evidence``
(what the walk learns, the strengths, the rules' makers), ``_http`` (statuses,
``Retry-After``, proxies' answers, parsers' errors, bad URLs), ``_tls`` (the ssl
module), ``_sockets`` (errnos, ``getaddrinfo``, timeouts, resource exhaustion),
``_clients`` (urllib3, requests, httpx, aiohttp, dnspython, their pools), ``_words``
(the kernel's, the resolver's and OpenSSL's words that drivers copy), ``_databases``
(PostgreSQL, MySQL, Redis and MongoDB drivers, SQLAlchemy: codes and their one home),
``_services`` (gRPC, botocore, websockets, SSH, AMQP, mail), ``_rules``
(the one table of class names to rules), ``_walk`` (the chain and the peer),
``_build`` (the :class:`Failure` and its detail sentence); this module walks, decides a
timeout's phase, and builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether._classify._build import build, failure_for
from tether._classify._evidence import BARE_TIMEOUT, TIMEOUT, WORDLESS_TIMEOUT, Evidence
from tether._classify._http import parse_retry_after, status_kind
from tether._classify._origin import opening
from tether._classify._rules import rule_for
from tether._classify._walk import carries_peer, note_peer, walk
from tether._failure import Failure
from tether._kinds import Kind

__all__ = ["classify", "classify_status", "failure_for", "parse_retry_after"]


def classify(exc: BaseException, *, url: str | None = None) -> Failure:
    """Turn any exception into a :class:`Failure` with a stable ``kind``.

    Knows the exceptions of the standard library (socket, ssl, http.client,
    urllib), urllib3 2.x, requests, httpx/httpcore, aiohttp and dnspython, and
    walks their wrappers down to the root cause.  An error raised by tether's own
    integrations carries its :class:`Failure` (``exc.failure``), which is returned
    as it is (``circuit.open``, ``deadline.exceeded``, ...).  Never raises: an exception
    it does not recognise gives ``Kind.UNKNOWN``, with ``cause`` kept.  Message text is
    read only on exceptions those clients raised: ``ValueError("... label ...")`` from
    other code is ``unknown``.

    ``url`` is the URL that was requested, when the exception does not carry
    it; it is only used for the failure's ``url``, ``host`` and ``port``.
    """
    # tether's own errors (a Session's, an integration's) carry the verdict already:
    # an open circuit or a spent deadline is not something to guess from a message.
    found = getattr(exc, "failure", None)
    if isinstance(found, Failure):
        return found
    try:
        return _from_chain(exc, url)
    except Exception:  # classification must never be the thing that fails
        return build(Kind.UNKNOWN, Evidence(None), exc, None)


def _from_chain(exc: BaseException, url: str | None) -> Failure:
    ev = Evidence(url)
    for node, depth, known in walk(exc):
        ev.known = known
        if carries_peer(type(node)):
            note_peer(node, ev, depth)
        rule = rule_for(type(node))
        if rule is not None:
            rule(node, ev, depth)
    kind = ev.best
    if kind == TIMEOUT:
        kind = _timeout_kind(ev, exc)
    elif kind == BARE_TIMEOUT and ev.deadline:
        kind = Kind.DEADLINE_EXCEEDED
    elif kind == WORDLESS_TIMEOUT:
        # A caller's own bound cut a call short: in a driver's connect, nothing was sent; in
        # an HTTP client's I/O, the whole call's deadline (as a bare timeout's); otherwise
        # the call did not answer in time, as tether's own decorator calls an attempt its
        # ``total`` cut (retried if the call is idempotent).
        if ev.connect:
            kind = Kind.CONNECT_TIMEOUT
        elif ev.deadline:
            kind = Kind.DEADLINE_EXCEEDED
        else:
            kind = Kind.READ_TIMEOUT
    if not isinstance(kind, Kind):
        return build(Kind.UNKNOWN, ev, exc, None)
    if ev.proxy and kind in _PROXIED_CONNECT_KINDS:
        kind = Kind.PROXY_UNREACHABLE
    if not ev.handshake and kind in _HUNG_UP and opening(exc):
        # A peer that hung up while a client was still opening its connection (a
        # database's startup, a mail server's greeting): no query or command had left.
        ev.handshake = True
    return build(kind, ev, exc, ev.detail)


_HUNG_UP = frozenset(
    {
        Kind.CONNECTION_RESET,
        Kind.CONNECTION_CLOSED,
        Kind.CONNECTION_BROKEN_PIPE,
        Kind.CONNECTION_ABORTED,
    }
)


_PROXIED_CONNECT_KINDS = frozenset(
    {
        Kind.CONNECT_REFUSED,
        Kind.CONNECT_TIMEOUT,
        Kind.CONNECT_UNREACHABLE,
        Kind.DNS_NOT_FOUND,
        Kind.DNS_NO_ADDRESS,
        Kind.DNS_UNAVAILABLE,
        Kind.DNS_TIMEOUT,
    }
)


def _timeout_kind(ev: Evidence, exc: BaseException) -> Kind:
    if ev.tls_wait:
        return Kind.TLS_TIMEOUT
    # In a client's own connection handshake (a database's startup, an SSH banner, a mail
    # server's greeting): the server accepted the connection and did not finish opening it.
    if ev.handshake or any(opening(node) for node in (exc, *ev.timeouts)):
        ev.handshake = True
        return Kind.CONNECT_TIMEOUT
    if ev.write:
        return Kind.WRITE_TIMEOUT
    if ev.read:
        return Kind.READ_TIMEOUT
    if ev.connect:
        return Kind.CONNECT_TIMEOUT
    if ev.deadline:
        return Kind.DEADLINE_EXCEEDED
    # A bare socket timeout (urllib, raw sockets): its traceback says whether it
    # happened inside a connect, or else while sending the request (http.client
    # connects from inside send, so a connect frame decides first).
    frames = set()
    for node in ev.timeouts:
        tb = node.__traceback__
        while tb is not None:
            frames.add(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
    if frames & _CONNECT_FRAMES:
        return Kind.CONNECT_TIMEOUT
    if frames & _SEND_FRAMES:
        return Kind.WRITE_TIMEOUT
    return Kind.READ_TIMEOUT


_CONNECT_FRAMES = frozenset({"create_connection", "connect", "sock_connect", "_connect"})
_SEND_FRAMES = frozenset({"send", "sendall", "_send_output", "_send_request"})


def classify_status(
    status: int,
    headers: Mapping[str, str] | Any = None,
    *,
    url: str | None = None,
    now: float | None = None,
) -> Failure | None:
    """Classify an HTTP response status: None for success and redirects.

    ``headers`` is any mapping with ``.get`` (requests, httpx, aiohttp and
    ``email.message.Message`` headers all are); ``Retry-After`` is read from it.
    ``now`` (seconds since the epoch) is for tests of HTTP-date Retry-After values.
    """
    kind = status_kind(status)
    if kind is None:
        return None
    ev = Evidence(url)
    ev.status, ev.headers = status, headers
    return build(kind, ev, None, None, now=now)
