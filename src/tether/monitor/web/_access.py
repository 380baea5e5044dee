"""Who is asking, and what they may do: the one place the web server decides whether a
request may read or change the monitor.

Every handler that reads behind a login or changes anything calls :func:`authorize`
with the scope it needs (``read``, ``write``, or ``report`` for ``POST /api/report``);
it returns the :class:`Principal` (for the audit log) or raises a JSON 401/403.  What
counts as a principal is the app's :class:`Authority` (``app[AUTHORITY]``):

- :class:`LocalAuthority`, ``make_app``'s own (a program that embeds the app on a
  loopback address, and the tests): whoever reaches the server is ``local`` with both
  scopes.  A change must still come from this origin (a page of another site cannot
  post to it: see :func:`same_origin`).
- :class:`~tether.monitor.web.auth._auth.ConfiguredAuthority`, which ``tether monitor`` installs:
  API tokens (``Authorization: Bearer TOKEN``), login sessions when users are configured,
  and ``local`` for requests made on loopback while none are.

A change made through a login session must also carry the session's CSRF token, in the
``X-CSRF-Token`` header or a form's ``csrf`` field (the templates' ``form`` macro writes
it): the cookie goes with every request a browser makes, the token only with those made
by this server's own pages.  A token or ``local`` request carries no cookie and needs none.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Final, Literal, Protocol
from urllib.parse import urlsplit

from aiohttp import web

__all__ = [
    "AGENT",
    "AUTHORITY",
    "CSRF_FORM",
    "CSRF_HEADER",
    "PRINCIPAL",
    "READ",
    "REPORT",
    "SCOPES",
    "WRITE",
    "Authority",
    "LocalAuthority",
    "Principal",
    "authorize",
    "refusal",
    "same_origin",
]

READ: Final = "read"
WRITE: Final = "write"
REPORT: Final = "report"
"""An application's reports of its own calls (``POST /api/report``), and nothing else."""
AGENT: Final = "agent"
"""A ``tether agent``'s assignment and results at its token's location
(``/api/agent/*``), and nothing else; nothing else gives it."""
SCOPES: Final = (READ, WRITE, REPORT)
Scope = Literal["read", "write", "report", "agent"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: a user (``via="session"``), an API token (``via="token"``,
    ``name`` the token's name), or anyone on this machine while no user is configured
    (``via="local"``, ``name="local"``)."""

    name: str
    scopes: frozenset[str]
    via: Literal["local", "session", "token"]
    csrf: str | None = None
    """The session's CSRF token, for the forms of a page; ``None`` outside sessions."""
    location: str | None = None
    """The location an ``agent`` token reports for."""
    provider: bool = False
    """A session of single sign-on (``_oidc.py``): its user is the provider's."""

    def may(self, scope: str) -> bool:
        # write implies read and report; report implies nothing
        return scope in self.scopes or (scope in (READ, REPORT) and WRITE in self.scopes)

    @property
    def who(self) -> str:
        """How the audit log names it: ``alice``, ``token:ci``, ``local``, and ``oidc:alice``
        for a user of single sign-on (never taken for a configured user of that name)."""
        if self.via == "token":
            return f"token:{self.name}"
        return f"oidc:{self.name}" if self.provider else self.name


class Authority(Protocol):
    """Decides who a request comes from."""

    def principal(self, request: web.Request) -> Principal | None:
        """The request's principal, or ``None`` when it carries no valid credential."""
        ...

    @property
    def open(self) -> bool:
        """Whether pages and reads are served without a login (no users configured)."""
        ...


LOCAL: Final = Principal("local", frozenset(SCOPES), "local")


class LocalAuthority:
    """Everyone who reaches the server is ``local``: for a server bound to loopback."""

    open = True

    def principal(self, request: web.Request) -> Principal | None:
        return LOCAL


AUTHORITY: Final = web.AppKey("tether.authority", Authority)
PRINCIPAL: Final = web.RequestKey("tether.principal", Principal)
"""The principal the authority found for this request (set by ``_auth.py``'s middleware)."""
CSRF_FORM: Final = web.RequestKey("tether.csrf_form", str)
"""The ``csrf`` field of a form posted by a session, read by the middleware (reading a
body is asynchronous, and :func:`authorize` is not)."""
CSRF_HEADER: Final = "X-CSRF-Token"

_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def same_origin(request: web.Request) -> bool:
    """Whether a change may come from where it came: a request with no ``Origin`` (a
    script, ``curl``, the CLI) or with this server's own origin.  A browser sends
    ``Origin`` on every cross-site POST, so a page elsewhere cannot make a change here
    through a visitor's browser.

    A browser also says where a request comes from in ``Sec-Fetch-Site``, which no page
    can set: a request it marks as from another site is refused whatever its ``Origin``,
    and ``Origin: null`` is this origin's own when it marks it ``same-origin`` (Chromium
    sends ``null`` on a form's POST from a page served with ``Referrer-Policy:
    no-referrer``, as the dashboard's are)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == "null":
        return site == "same-origin"
    parts = urlsplit(origin)
    return parts.scheme == request.scheme and parts.netloc.lower() == request.host.lower()


def refusal(status: int, message: str) -> web.HTTPException:
    """A JSON error response to raise: ``{"error": message}``."""
    body = json.dumps({"error": message})
    if status == 413:  # its class wants the limit as a number: the message says it
        return web.HTTPRequestEntityTooLarge(0, text=body, content_type="application/json")
    cls: type[web.HTTPException] = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        429: web.HTTPTooManyRequests,
    }[status]
    headers = {"WWW-Authenticate": 'Bearer realm="tether"'} if status == 401 else None
    return cls(text=body, content_type="application/json", headers=headers)


def authorize(request: web.Request, scope: Scope) -> Principal:
    """The principal of ``request`` if it may do ``scope``; raises a JSON 401 (no valid
    credential), 403 (not allowed, or a change from another origin) otherwise."""
    who = request.get(PRINCIPAL)
    if who is None:
        authority = request.app.get(AUTHORITY) or LocalAuthority()
        who = authority.principal(request)
    if who is None:
        raise refusal(401, "log in, or send an API token: Authorization: Bearer TOKEN")
    if not who.may(scope):
        raise refusal(403, f"{who.who} may not {scope}: its scopes are {sorted(who.scopes)}")
    if request.method in _UNSAFE and who.via != "token" and not same_origin(request):
        raise refusal(403, "a change must come from this server's own pages")
    if request.method in _UNSAFE and who.via == "session" and not _csrf_ok(request, who):
        raise refusal(
            403,
            "this change carries no valid CSRF token: send the page's csrf form field or the "
            f"{CSRF_HEADER} header (reload the page to get the current one)",
        )
    return who


def _csrf_ok(request: web.Request, who: Principal) -> bool:
    sent = request.headers.get(CSRF_HEADER) or request.get(CSRF_FORM)
    if not sent or who.csrf is None:
        return False
    return hmac.compare_digest(sent.encode("utf-8"), who.csrf.encode("utf-8"))
