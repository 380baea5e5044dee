"""Login, sessions, API tokens and who may reach what: the middleware in front of every
route of the monitor's server, and the configured :class:`~._access.Authority`.

    GET  /login     the login form (a page like the others)
    POST /login     name and password; a ``tether_session`` cookie and back where one was going
    POST /logout    ends the session on the server (CSRF-checked)

What each path needs (:func:`area`, :func:`gate`):

- ``/status/*``, ``/badge/*``, ``/static/*``, ``/login``: nothing, ever; nor
  ``/api/push/TOKEN``, whose token is its credential (``_push.py``).
- ``/api/agent/*``: an API token of the ``agent`` scope, always (even on loopback with no
  users configured: an agent always has one); any other token is a 403, no token a 401
  (a session is not a credential there: the API's document gives these routes the bearer
  scheme alone),
  and the route checks the location the token is bound to (``_agent_routes.py``).  An
  ``agent`` token gives nothing else.
- ``/api/report``: the ``report`` scope (a ``report`` or ``write`` token; with no users
  configured, a request made on loopback as for the rest).
- ``/metrics``, ``/probe``: nothing, unless ``server.require_token`` names them; then an
  API token of the ``read`` or ``write`` scope (``Authorization: Bearer TOKEN``, as Prometheus's
  ``authorization: credentials:`` sends it), or a 401.
- everything else (the dashboard's pages, ``/api/*``, ``/logout``): ``read``.  With users
  configured: a login session or an API token; a page without one is sent to ``/login``,
  and so is a page's form (a button pressed after the session ended: nothing is done),
  an API (and a page asked with a wrong token) answers a JSON 401.  With none configured:
  the request must have been made on a loopback address of this machine (the socket's
  own address, which no header can change), or carry an API token; anything else is a
  403 that says why.  So a monitor listening on ``0.0.0.0`` with no users still serves
  its status pages and metrics, and keeps the dashboard to this machine.

With worker processes, a worker forwards the dashboard's requests over a private Unix
socket and says on which address the request arrived (``X-Tether-Local-Address``) and
from where (``X-Forwarded-For``); those headers are believed only on that socket, and a
worker drops whatever a client sent in them.

Failed logins are counted per client address and per user name
(:class:`~._sessions.LoginLimiter`) and logged without the password; a password is
checked on a worker thread (scrypt takes tens of milliseconds and 32 MiB), two at a time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import quote, urlsplit

from aiohttp import web

from tether._text import visible
from tether.monitor.config._passwords import hash_token, parse_password_hash, verify_password
from tether.monitor.web._access import (
    AGENT,
    AUTHORITY,
    CSRF_FORM,
    LOCAL,
    PRINCIPAL,
    READ,
    REPORT,
    WRITE,
    Principal,
    authorize,
    refusal,
    same_origin,
)
from tether.monitor.web._html import Page, render
from tether.monitor.web._params import FORM_TYPES, BadBody, read_form
from tether.monitor.web._routing import Handler
from tether.monitor.web.auth._sessions import LoginLimiter, Sessions

if TYPE_CHECKING:
    from tether.monitor.config import ApiToken, MonitorConfig, User
    from tether.monitor.store._sessions import SessionStore

__all__ = [
    "LOCAL_ADDRESS_HEADER",
    "SESSION_COOKIE",
    "ConfiguredAuthority",
    "LoginHandlers",
    "agent_principal",
    "area",
    "bearer_gate",
    "client_network",
    "install",
    "local_address",
    "login_handlers",
    "required_tokens",
    "safe_next",
]

log = logging.getLogger("tether.monitor")

SESSION_COOKIE: Final = "tether_session"
NAME_KEY_MAX: Final = 256
"""The most of a login's user name the rate limiter keeps as its key (characters)."""
LOCAL_ADDRESS_HEADER: Final = "X-Tether-Local-Address"
"""Where a worker process received a request it forwards (believed on the Unix socket only)."""
_PUBLIC_PREFIXES: Final = ("/status/", "/badge/", "/static/", "/api/push/")
_PUBLIC: Final = frozenset({"/login", "/login/oidc", "/login/oidc/callback", "/favicon.ico"})
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORMS: Final = FORM_TYPES
_CHECKING: Final = 2
"""Passwords checked at once, at most: each scrypt holds 32 MiB and a core."""
NO_USERS_DOC: Final = "docs/security.md#login-and-tokens"

Area = Literal["public", "metrics", "probe", "report", "agent", "dashboard"]
_AGENT_PREFIX: Final = "/api/agent/"


def area(path: str) -> Area:
    """Which rule a request path falls under (see the module's docstring)."""
    if path in _PUBLIC or path.startswith(_PUBLIC_PREFIXES):
        return "public"
    if path == "/metrics":
        return "metrics"
    if path == "/probe":
        return "probe"
    if path == "/api/report":
        return "report"
    if path.startswith(_AGENT_PREFIX):
        return "agent"
    return "dashboard"


def safe_next(target: str | None) -> str:
    """Where a login goes on to: ``target`` if it is a path on this server, else ``/``.
    ``//evil.example/``, ``/\\evil``, ``https://...`` and anything with a scheme or host
    would leave the site, so they are dropped."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return "/"
    return target


def _on_unix_socket(request: web.Request) -> bool:
    transport = request.transport
    if transport is None:
        return False
    return not isinstance(transport.get_extra_info("sockname"), tuple)


def local_address(request: web.Request) -> str | None:
    """The address of this machine the request arrived on: the socket's own (a header
    from the client cannot change it), or, forwarded by a worker process over the
    coordinator's private Unix socket, the one the worker says."""
    transport = request.transport
    if transport is None:
        return None
    sockname = transport.get_extra_info("sockname")
    if isinstance(sockname, tuple):
        return str(sockname[0])
    return request.headers.get(LOCAL_ADDRESS_HEADER)


def client_address(request: web.Request) -> str:
    """Who sent the request, for the login limit and the log."""
    if _on_unix_socket(request):
        return request.headers.get("X-Forwarded-For", "") or "unknown"
    return request.remote or "unknown"


def client_network(request: web.Request) -> str:
    """Who sent the request, for a limit counted per client (issue 72 §4): its IPv4
    address, or its IPv6 address's /64 (one customer's allotment: a /64 holds 2^64
    addresses, each of which would otherwise be a client of its own); anything that is
    not an address, as it is."""
    given = client_address(request)
    try:
        address = ipaddress.ip_address(given.partition("%")[0])
    except ValueError:
        return given
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ConfiguredAuthority:
    """Who a request comes from, by the running configuration (read again after a reload):
    an API token, a login session, or ``local`` (no users configured, on loopback)."""

    def __init__(self, config: Callable[[], MonitorConfig], sessions: Sessions) -> None:
        self._config = config
        self.sessions = sessions
        self._seen: MonitorConfig | None = None
        self._tokens: dict[str, ApiToken] = {}
        self._users: dict[str, User] = {}

    @property
    def config(self) -> MonitorConfig:
        config = self._config()
        if config is not self._seen:
            self._seen = config
            self._tokens = {t.hash.get_secret_value(): t for t in config.tokens}
            self._users = {u.name: u for u in config.users}
            self.sessions.idle = config.server.session_idle
            self.sessions.absolute = config.server.session_max
        return config

    @property
    def open(self) -> bool:
        config = self.config
        return not config.users and config.oidc is None

    def user(self, name: str) -> User | None:
        self.config  # noqa: B018 (refreshes the tables)
        return self._users.get(name)

    def bearer(self, request: web.Request) -> Principal | None:
        """The API token the request carries, if it is one of the configuration's."""
        digest = token_hash_of(request)
        if digest is None:
            return None
        self.config  # noqa: B018
        # By hash: the time a dict lookup takes tells about a SHA-256, not the token.
        found = self._tokens.get(digest)
        if found is None:
            return None
        return Principal(found.name, frozenset({found.scope}), "token", location=found.location)

    def principal(self, request: web.Request) -> Principal | None:
        if "Authorization" in request.headers:
            return self.bearer(request)  # a wrong token is not made up for by a cookie
        if self.open:
            address = local_address(request)
            return LOCAL if address is not None and _is_loopback(address) else None
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        known = self.sessions.peek(sid)
        if known is not None and known.scopes is not None:  # single sign-on (_oidc.py)
            oidc = self.config.oidc
            opened = self.sessions.get(sid, None if oidc is None else oidc.session_key)
            if opened is None or opened.scopes is None:
                return None
            return Principal(opened.user, opened.scopes, "session", opened.csrf, provider=True)
        user = None if known is None else self._users.get(known.user)
        session = self.sessions.get(sid, user.password_hash.get_secret_value() if user else None)
        if session is None or user is None:
            return None
        return Principal(user.name, frozenset(user.scopes), "session", session.csrf)


def _is_loopback(address: str) -> bool:
    from tether._hostport import is_loopback

    return is_loopback(address)


def _secure(request: web.Request, config: MonitorConfig) -> bool:
    setting = config.server.secure_cookies
    return request.secure if setting == "auto" else bool(setting)


def _html(
    page: Page, status: int | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=page.document(0),
        status=status or page.status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def loopback_only_page() -> Page:
    """What a request from elsewhere gets while no users are configured."""
    return Page("Loopback only", None, None, render("loopback_only.html", doc=NO_USERS_DOC), 403)


def login_page(
    next_path: str,
    *,
    message: str = "",
    user: str = "",
    status: int = 200,
    sso: str | None = None,
    local: bool = True,
) -> Page:
    """The login form; ``message`` says why the last attempt failed; ``sso`` labels the
    single sign-on button (none: no provider), ``local`` shows the password form."""
    main = render(
        "login.html", next_path=next_path, message=message, user=user, sso=sso, local=local
    )
    return Page("Log in", None, None, main, status=status)


def no_login_page() -> Page:
    return Page("No login", None, None, render("no_login.html", doc=NO_USERS_DOC), status=404)


def _is_form_post(request: web.Request) -> bool:
    return request.method == "POST" and request.content_type in _FORMS


def _login_path(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


def _wants_json(request: web.Request) -> bool:
    return (
        request.path.startswith("/api/")
        or request.method not in ("GET", "HEAD")
        or request.query.get("fragment") == "1"
    )


def install(
    app: web.Application,
    config: Callable[[], MonitorConfig],
    clock: Callable[[], float],
    store: SessionStore | None = None,
) -> ConfiguredAuthority:
    """Put the configured authority the gate reads on ``app`` (made with
    ``middlewares=[gate]``); ``clock`` (Unix seconds) times sessions, kept in ``store``
    (none: in this process only).  The login routes answer with :func:`login_handlers`
    of the authority returned."""
    authority = ConfiguredAuthority(config, Sessions(clock, store=store))
    app[AUTHORITY] = authority
    return authority


@dataclass(frozen=True, slots=True)
class LoginHandlers:
    """``GET /login`` (``form``), ``POST /login`` (``login``) and ``POST /logout``."""

    form: Handler
    login: Handler
    logout: Handler


def login_handlers(authority: ConfiguredAuthority, clock: Callable[[], float]) -> LoginHandlers:
    """The login form, the login and the logout of ``authority``'s users, the failed
    logins limited on ``clock`` (Unix seconds)."""
    limiter = LoginLimiter(clock)
    checking = asyncio.Semaphore(_CHECKING)

    async def login_form(request: web.Request) -> web.Response:
        if authority.open:
            return _html(no_login_page())
        oidc = authority.config.oidc
        sso, local = (None, True) if oidc is None else (oidc.label, oidc.local_login)
        return _html(login_page(safe_next(request.query.get("next")), sso=sso, local=local))

    async def login(request: web.Request) -> web.Response:
        if authority.open:
            return _html(no_login_page())
        if not same_origin(request):
            raise refusal(403, "a login must come from this server's own login page")
        oidc = authority.config.oidc
        if oidc is not None and not oidc.local_login:
            page = login_page(
                "/", message="Log in with single sign-on.", sso=oidc.label, local=False, status=403
            )
            return _html(page)
        try:
            form = await read_form(request)
        except BadBody as exc:
            raise refusal(exc.status, str(exc)) from None
        name = form.get("user", "")
        password = form.get("password", "")
        next_path = safe_next(form.get("next", "/"))
        client = client_address(request)
        shown = visible(client)  # a log line takes request text escaped (issue 72 §6)
        # A name is a key of the limiter's bounded table: cut, so that 10,000 keys of a
        # megabyte each (a form's limit) cannot be made to fill memory.
        keys = (f"addr:{client}", f"user:{name[:NAME_KEY_MAX]}")
        wait = limiter.retry_after(keys)
        user = authority.user(name)
        who = repr(visible(name)) if user is not None else "an unknown user name"
        if wait is not None:
            seconds = math.ceil(wait)
            log.warning(
                "login refused for %s from %s: too many failed logins; again in %d s",
                who,
                shown,
                seconds,
                extra={"event": "login.limited"},
            )
            message = f"Too many failed logins: try again in {seconds} s."
            page = login_page(next_path, message=message, user=name, status=429)
            return _html(page, headers={"Retry-After": str(seconds)})
        stored = (
            None if user is None else parse_password_hash(user.password_hash.get_secret_value())
        )
        # Counted before the check, so that many at once cannot all slip under the limit.
        limiter.failed(keys)
        async with checking:
            ok = await asyncio.to_thread(verify_password, password, stored)
        if not ok or user is None:
            log.warning("login failed for %s from %s", who, shown, extra={"event": "login.failed"})
            page = login_page(next_path, message="Wrong name or password.", user=name, status=401)
            return _html(page)
        limiter.forget(keys[1])
        limiter.forgive(keys[0])
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            authority.sessions.end(old)  # a new id at each login: no fixation
        sid, _ = authority.sessions.begin(user.name, user.password_hash.get_secret_value())
        await authority.sessions.flush()  # stored before the browser can use it elsewhere
        log.info("%s logged in from %s", user.name, shown, extra={"event": "login"})
        response = web.HTTPSeeOther(next_path)
        response.set_cookie(
            SESSION_COOKIE,
            sid,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=_secure(request, authority.config),
            max_age=int(authority.sessions.absolute),
        )
        raise response

    async def logout(request: web.Request) -> web.Response:
        who = authorize(request, READ)
        sid = request.cookies.get(SESSION_COOKIE)
        if who.via == "session" and sid:
            authority.sessions.end(sid)
            await authority.sessions.flush()
            log.info("%s logged out", who.name, extra={"event": "logout"})
        response = web.HTTPSeeOther("/login")
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    return LoginHandlers(login_form, login, logout)


def agent_principal(authority: ConfiguredAuthority, request: web.Request) -> Principal:
    """The ``agent`` token ``request`` carries (``/api/agent/*``): a 401 without a valid
    token (even on loopback with no users, or with a login session: an agent always has
    one), a 403 for any other token.  Its location is checked by the route, against what
    it asks for."""
    if "Authorization" not in request.headers:
        raise refusal(
            401, "send the agent's token: Authorization: Bearer TOKEN (a session is not one)"
        )
    who = authority.bearer(request)
    if who is None:
        raise refusal(401, "this token is not one of the monitor's: check the agent's --token")
    if not who.may(AGENT):
        raise refusal(
            403, f"{who.who} may not act as an agent: only a token of the agent scope may"
        )
    return who


def token_hash_of(request: web.Request) -> str | None:
    """The hash of the bearer token ``request`` carries, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return hash_token(token.strip())


def required_tokens(
    config: MonitorConfig, where: Literal["metrics", "probe"]
) -> frozenset[str] | None:
    """The hashes of the tokens ``where`` answers, or ``None`` when it needs none."""
    if where not in config.server.require_token:
        return None
    return frozenset(t.hash.get_secret_value() for t in config.tokens if t.scope in (READ, WRITE))


def _no_token(where: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=f"{where}: send an API token: Authorization: Bearer TOKEN\n",
        headers={"WWW-Authenticate": 'Bearer realm="tether"'},
    )


def bearer_gate(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    required: Callable[[], frozenset[str] | None],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``handler`` answering only requests with a token whose hash ``required()`` holds
    (``None``: any request): a worker process's ``/probe``, which has no configuration."""

    async def gated(request: web.Request) -> web.StreamResponse:
        hashes = required()
        if hashes is not None and token_hash_of(request) not in hashes:
            raise _no_token(request.path.lstrip("/"))
        return await handler(request)

    return gated


@web.middleware
async def gate(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Let a request through to its handler only with what its path needs (module
    docstring); the principal found is left in ``request[PRINCIPAL]``."""
    authority = request.app.get(AUTHORITY)
    if not isinstance(authority, ConfiguredAuthority):
        return await handler(request)
    config = authority.config
    if (
        config.server.trust_forwarded_proto
        and request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        and request.scheme != "https"
    ):
        request = request.clone(scheme="https")
    where = area(request.path)
    if where == "public":
        return await handler(request)
    if where in ("metrics", "probe"):
        if where in config.server.require_token:
            token = authority.bearer(request)
            if token is None or not token.may(READ):
                raise _no_token(where)
        return await handler(request)
    if where == "agent":
        request[PRINCIPAL] = agent_principal(authority, request)
        return await handler(request)
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and "Authorization" not in request.headers and not authority.open:
        await authority.sessions.recall(sid)  # fresh from the store (_sessions.py)
    who = authority.principal(request)
    await authority.sessions.flush()
    if where == "report":
        if who is None:
            raise refusal(401, "send an API token of the report scope: Authorization: Bearer TOKEN")
        if not who.may(REPORT):
            raise refusal(403, f"{who.who} may not report: its scopes are {sorted(who.scopes)}")
        request[PRINCIPAL] = who
        return await handler(request)
    if who is None:
        if authority.open and "Authorization" not in request.headers:
            if _wants_json(request):
                raise refusal(
                    403,
                    "no users are configured: the dashboard and its APIs are served on "
                    f"loopback only; add users: (see {NO_USERS_DOC})",
                )
            return _html(loopback_only_page())
        if _session_ended(request, authority):
            # A button of a page whose session has ended (idle, logged out elsewhere):
            # nothing is done, and the browser goes to the login, then back to the page,
            # rather than showing a JSON error.  Only such a form has its back field
            # read: nobody else's body is, before they are known.
            raise web.HTTPSeeOther(_login_path(safe_next(await _back_of(request))))
        # A wrong token is a 401 on a page too: a script sent it, not a browser that
        # could log in (docs/security.md: a wrong one is a 401 even beside a session).
        if _wants_json(request) or authority.open or "Authorization" in request.headers:
            raise refusal(401, "log in, or send an API token: Authorization: Bearer TOKEN")
        raise web.HTTPSeeOther(_login_path(request.raw_path))
    if not who.may(READ):
        raise refusal(403, f"{who.who} may not read: its scopes are {sorted(who.scopes)}")
    request[PRINCIPAL] = who
    if request.method in _UNSAFE and who.via == "session" and request.content_type in _FORMS:
        # The session's CSRF token in its form: the one body read before authorize(),
        # of a logged-in user's request (read_form keeps it for the handler).
        try:
            sent = (await read_form(request)).get("csrf")
        except BadBody as exc:
            raise refusal(exc.status, str(exc)) from None
        if sent is not None:
            request[CSRF_FORM] = sent
    return await handler(request)


def _session_ended(request: web.Request, authority: ConfiguredAuthority) -> bool:
    """Whether ``request`` is a page's form sent by a browser whose session is over: a
    form, with a session cookie the server no longer knows, and no token.  Any other
    request without a credential is a 401 (a script's form too: it had no session)."""
    return (
        _is_form_post(request)
        and not authority.open
        and "Authorization" not in request.headers
        and SESSION_COOKIE in request.cookies
    )


async def _back_of(request: web.Request) -> str:
    """The ``back`` field of a page's form (:func:`_session_ended`), or ``/``."""
    if request.content_type != _FORMS[0]:
        return "/"
    try:
        return (await read_form(request)).get("back", "/")
    except BadBody:
        return "/"
