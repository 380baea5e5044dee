"""Single sign-on: the OpenID Connect login beside the local users (``oidc:`` in the
configuration; docs/security.md, "Single sign-on (OpenID Connect)").

    GET  /login/oidc            begins a login: the pending-login cookie, and off to the
                                provider's authorization endpoint (code flow, PKCE S256,
                                state, nonce)
    GET  /login/oidc/callback   the provider's answer: the code exchanged for tokens, the
                                ID token verified, the user's scopes from ``roles``, and a
                                session as a password login makes one
    POST /logout                a password login's logout, and for a single sign-on
                                session, on to the provider's ``end_session_endpoint`` (when
                                it advertises one) to log out there too

The decisions are :mod:`._oidc_flow`'s; this module talks to the provider (its discovery
document and keys, cached; the token and userinfo endpoints), always over verified TLS
(``ca_file`` for a private CA), with ``timeout`` on each request and a bound on each
answer.  A failure is a page that says what failed, and a log line; neither holds a code,
a token, the client's secret or the pending login's cookie.

Both pages after the provider (the callback's and the logout's) go on with a ``Refresh``
header rather than a redirect: a redirect would be the provider's cross-site navigation
still, which carries no ``SameSite=Strict`` session cookie (the first page would ask for
a login again), and a form's redirect off this origin is what the pages' CSP
``form-action 'self'`` forbids.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from tether._text import visible
from tether.monitor.config._oidc import OidcSettings
from tether.monitor.web._html import Page, render
from tether.monitor.web._routing import Handler
from tether.monitor.web.auth._auth import (
    SESSION_COOKIE,
    ConfiguredAuthority,
    LoginHandlers,
    _html,
    _secure,
    client_address,
    safe_next,
)
from tether.monitor.web.auth._oidc_flow import (
    ALGORITHMS,
    PENDING_COOKIE,
    PENDING_PATH,
    PENDING_TTL,
    LoginRefused,
    PendingLogin,
    authorization_url,
    scopes_for,
    user_name,
    verify_id_token,
)

__all__ = [
    "OAUTH_ERRORS",
    "Metadata",
    "OidcHandlers",
    "ProviderClient",
    "oidc_handlers",
    "provider_refusal",
]

log = logging.getLogger("tether.monitor")

DISCOVERY_TTL: Final = 3600.0
"""Seconds the discovery document and the keys are kept before they are read again."""
KEYS_AGAIN: Final = 60.0
"""At most this often, the keys are read again for a token signed by a key not among them
(the provider rotated its keys)."""
ANSWER_MAX: Final = 1024 * 1024
"""The most of a provider's answer read (bytes)."""
DOC: Final = "docs/security.md#single-sign-on-openid-connect"


@dataclass(frozen=True, slots=True)
class Metadata:
    """What the monitor uses of the provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    algorithms: tuple[str, ...]


def _metadata(document: object, issuer: str) -> Metadata:
    if not isinstance(document, dict):
        raise LoginRefused("the provider's discovery document is not a JSON object", 502)
    if document.get("issuer") != issuer:
        raise LoginRefused(
            f"the provider's discovery document names issuer {document.get('issuer')!r}, "
            f"not the configured {issuer!r}",
            502,
        )
    needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    lacking = [k for k in needed if not isinstance(document.get(k), str)]
    if lacking:
        raise LoginRefused(f"the provider's discovery document lacks {', '.join(lacking)}", 502)
    algs = document.get("id_token_signing_alg_values_supported")
    algorithms = tuple(a for a in algs if a in ALGORITHMS) if isinstance(algs, list) else ()

    def optional(key: str) -> str | None:
        value = document.get(key)
        return value if isinstance(value, str) and value else None

    return Metadata(
        issuer,
        document["authorization_endpoint"],
        document["token_endpoint"],
        document["jwks_uri"],
        optional("userinfo_endpoint"),
        optional("end_session_endpoint"),
        algorithms or ("RS256",),
    )


class ProviderClient:
    """The provider as this monitor reads it: its discovery document and keys, cached
    for an hour (by issuer and CA bundle, so a reload that changes either reads afresh)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._contexts: dict[str | None, ssl.SSLContext] = {}
        self._meta: dict[tuple[str, str | None], tuple[float, Metadata]] = {}
        self._keys: dict[str, tuple[float, dict[str, object]]] = {}

    def _context(self, ca_file: str | None) -> ssl.SSLContext:
        context = self._contexts.get(ca_file)
        if context is None:
            try:
                context = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise LoginRefused(
                    f"oidc.ca_file {ca_file!r} could not be read: {exc}", 500
                ) from None
            self._contexts[ca_file] = context
        return context

    async def _call(
        self,
        settings: OidcSettings,
        method: str,
        url: str,
        what: str,
        **kwargs: object,
    ) -> object:
        """The JSON answer of one request to the provider; no redirect is followed (a
        credential must not go where the provider did not say)."""
        timeout = aiohttp.ClientTimeout(total=settings.timeout)
        connector = aiohttp.TCPConnector(ssl=self._context(settings.ca_file))
        try:
            async with (
                aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
                session.request(method, url, allow_redirects=False, **kwargs) as answer,  # type: ignore[arg-type]
            ):
                body = await _read_bounded(answer.content)
                status = answer.status
        except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            from tether import classify

            raise LoginRefused(
                f"the provider's {what} could not be reached: {classify(exc).kind}", 502
            ) from None
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if status >= 400:
            error = document.get("error") if isinstance(document, dict) else None
            said = f" ({error})" if isinstance(error, str) else ""
            # Its refusal of what was sent (a used code: invalid_grant) is the request's
            # fault, 400; a failure of its own, the gateway's, 502.
            raise LoginRefused(
                f"the provider's {what} answered {status}{said}", 502 if status >= 500 else 400
            )
        if document is None:
            raise LoginRefused(f"the provider's {what} answered no JSON", 502)
        return document

    async def metadata(self, settings: OidcSettings) -> Metadata:
        key = (settings.issuer, settings.ca_file)
        held = self._meta.get(key)
        if held is not None and self._clock() - held[0] < DISCOVERY_TTL:
            return held[1]
        url = settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        meta = _metadata(
            await self._call(settings, "GET", url, "discovery document"), settings.issuer
        )
        self._meta[key] = (self._clock(), meta)
        return meta

    async def keys(
        self, settings: OidcSettings, meta: Metadata, *, again: bool
    ) -> dict[str, object]:
        """The provider's JWKS; ``again``: read afresh unless read within :data:`KEYS_AGAIN`."""
        held = self._keys.get(meta.jwks_uri)
        age = None if held is None else self._clock() - held[0]
        if held is not None and age is not None and age < (KEYS_AGAIN if again else DISCOVERY_TTL):
            return held[1]
        found = await self._call(settings, "GET", meta.jwks_uri, "keys (JWKS)")
        if not isinstance(found, dict) or not isinstance(found.get("keys"), list):
            raise LoginRefused("the provider's keys (JWKS) are not a key set", 502)
        self._keys[meta.jwks_uri] = (self._clock(), found)
        return found

    async def exchange(
        self, settings: OidcSettings, meta: Metadata, code: str, verifier: str
    ) -> dict[str, object]:
        """The token endpoint's answer to the code and its PKCE verifier."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": settings.redirect_uri,
            "code_verifier": verifier,
        }
        auth = None
        if settings.client_secret is None:
            form["client_id"] = settings.client_id
        else:
            # RFC 6749 §2.3.1: each form-encoded before they are joined.
            auth = aiohttp.BasicAuth(
                _form(settings.client_id), _form(settings.client_secret.get_secret_value())
            )
        answer = await self._call(
            settings, "POST", meta.token_endpoint, "token endpoint", data=form, auth=auth
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            raise LoginRefused("the provider's token endpoint sent no ID token", 502)
        return answer

    async def userinfo(
        self, settings: OidcSettings, meta: Metadata, access_token: str
    ) -> dict[str, object]:
        if meta.userinfo_endpoint is None:
            return {}
        found = await self._call(
            settings,
            "GET",
            meta.userinfo_endpoint,
            "userinfo endpoint",
            headers={"Authorization": f"Bearer {access_token}"},
        )
        return found if isinstance(found, dict) else {}


def _form(text: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(text)


async def _read_bounded(content: aiohttp.StreamReader) -> bytes:
    body = bytearray()
    async for chunk in content.iter_chunked(65536):
        body += chunk
        if len(body) > ANSWER_MAX:
            raise LoginRefused(f"the provider's answer is over {ANSWER_MAX} bytes", 502)
    return bytes(body)


def _page(title: str, message: str, status: int, *, link: str = "/login") -> web.Response:
    main = render("oidc_problem.html", title=title, message=message, link=link)
    return _html(Page(title, None, None, main, status=status))


def _onward(title: str, message: str, where: str) -> web.Response:
    """A page that goes on to ``where`` at once (``Refresh``; the link for a browser that
    does not), as a navigation of this origin's own."""
    main = render("oidc_onward.html", title=title, message=message, link=where)
    return _html(Page(title, None, None, main), headers={"Refresh": f"0; url={where}"})


@dataclass(frozen=True, slots=True)
class OidcHandlers:
    """``GET /login/oidc`` (``begin``), ``GET /login/oidc/callback`` (``callback``) and
    ``POST /logout`` (``logout``: the password login's, then the provider's)."""

    begin: Handler
    callback: Handler
    logout: Handler


def oidc_handlers(
    authority: ConfiguredAuthority,
    login: LoginHandlers,
    clock: Callable[[], float],
    provider: ProviderClient | None = None,
) -> OidcHandlers:
    """The single sign-on routes of ``authority``'s configuration (a 404 page without
    ``oidc:``); ``clock`` (Unix seconds) times the pending login and the ID token."""
    client = provider or ProviderClient()

    async def begin(request: web.Request) -> web.Response:
        settings = authority.config.oidc
        if settings is None:
            return _page("No single sign-on", "No OpenID provider is configured.", 404)
        pending = PendingLogin.begin(clock(), safe_next(request.query.get("next")))
        try:
            meta = await client.metadata(settings)
        except LoginRefused as exc:
            log.warning(
                "single sign-on could not begin: %s",
                visible(str(exc)),
                extra={"event": "login.oidc"},
            )
            return _page("Single sign-on failed", str(exc), exc.status)
        response = web.HTTPSeeOther(
            authorization_url(meta.authorization_endpoint, settings, pending)
        )
        response.set_cookie(
            PENDING_COOKIE,
            pending.cookie,
            path=PENDING_PATH,
            httponly=True,
            samesite="Lax",  # the provider's redirect back is a cross-site navigation
            secure=_secure(request, authority.config),
            max_age=PENDING_TTL,
        )
        raise response

    async def callback(request: web.Request) -> web.Response:
        settings = authority.config.oidc
        if settings is None:
            return _page("No single sign-on", "No OpenID provider is configured.", 404)
        client_at = client_address(request)
        try:
            name, scopes, next_path = await _finish(request, settings, client, clock)
        except LoginRefused as exc:
            log.warning(
                "single sign-on refused from %s: %s",
                visible(client_at),
                visible(str(exc)),
                extra={"event": "login.failed"},
            )
            response = _page("Single sign-on failed", str(exc), exc.status)
            response.del_cookie(PENDING_COOKIE, path=PENDING_PATH)
            return response
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            authority.sessions.end(old)  # a new id at each login: no fixation
        sid, _ = authority.sessions.begin(name, settings.session_key, scopes=scopes)
        await authority.sessions.flush()
        log.info(
            "%s logged in through single sign-on from %s with %s",
            visible(name),
            visible(client_at),
            ", ".join(sorted(scopes)),
            extra={"event": "login"},
        )
        response = _onward("Logged in", f"Logged in as {name}.", next_path)
        response.del_cookie(PENDING_COOKIE, path=PENDING_PATH)
        response.set_cookie(
            SESSION_COOKIE,
            sid,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=_secure(request, authority.config),
            max_age=int(authority.sessions.absolute),
        )
        return response

    return OidcHandlers(begin, callback, _logout(authority, login, client))


def _logout(
    authority: ConfiguredAuthority, login: LoginHandlers, client: ProviderClient
) -> Handler:
    """``POST /logout``: the password login's; for a single sign-on session, then a page
    that goes on to the provider's ``end_session_endpoint`` (RP-initiated logout)."""

    async def logout(request: web.Request) -> web.StreamResponse:
        sid = request.cookies.get(SESSION_COOKIE)
        known = authority.sessions.peek(sid) if sid else None
        single = known is not None and known.scopes is not None
        try:
            return await login.logout(request)
        except web.HTTPSeeOther as done:
            settings = authority.config.oidc
            if not single or settings is None:
                raise
            try:
                meta = await client.metadata(settings)
            except LoginRefused:
                raise done from None
            if meta.end_session_endpoint is None:
                raise
            query = urlencode(
                {
                    "client_id": settings.client_id,
                    "post_logout_redirect_uri": settings.logout_return,
                }
            )
            sep = "&" if "?" in meta.end_session_endpoint else "?"
            response = _onward(
                "Logged out",
                "Logged out of the monitor; logging out at the provider.",
                f"{meta.end_session_endpoint}{sep}{query}",
            )
            for name, morsel in done.cookies.items():  # the session cookie's removal
                response.cookies[name] = morsel
            return response

    return logout


OAUTH_ERRORS: Final = frozenset(
    {
        # RFC 6749 4.1.2.1
        "access_denied",
        "invalid_request",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "unauthorized_client",
        "unsupported_response_type",
        # OpenID Connect Core 1.0, 3.1.2.6
        "account_selection_required",
        "consent_required",
        "interaction_required",
        "invalid_request_object",
        "invalid_request_uri",
        "login_required",
        "registration_not_supported",
        "request_not_supported",
        "request_uri_not_supported",
    }
)
"""The error codes a provider sends back to the callback (``?error=``)."""


def provider_refusal(error: str) -> str:
    """What a page and the log say of a callback's ``?error=``, which anyone can write in
    a link: one of :data:`OAUTH_ERRORS` as it is, anything else only quoted and escaped
    (``json.dumps``: printable ASCII between quotes, 60 characters of it at most), so
    that it can neither start a line nor pass for the monitor's own words."""
    if error in OAUTH_ERRORS:
        return f"the provider refused the login: {error}"
    return (
        "the provider refused the login with an error code that is not OAuth's: "
        f"{json.dumps(error[:60])}"
    )


async def _finish(
    request: web.Request,
    settings: OidcSettings,
    client: ProviderClient,
    clock: Callable[[], float],
) -> tuple[str, frozenset[str], str]:
    """The user, scopes and next path of the provider's answer ``request``; raises
    :class:`LoginRefused` saying what is wrong."""
    query = request.query
    if "error" in query:
        raise LoginRefused(provider_refusal(query.get("error", "")), 403)
    pending = PendingLogin.parse(request.cookies.get(PENDING_COOKIE))
    if pending is None:
        raise LoginRefused("no login was begun in this browser: begin again from the login page")
    if pending.expired(clock()):
        raise LoginRefused(f"the login took longer than {PENDING_TTL // 60} minutes: begin again")
    if not pending.states_match(query.get("state", "")):
        raise LoginRefused("the answer's state is not this browser's login: begin again")
    if "iss" in query and query["iss"] != settings.issuer:  # RFC 9207: a mix-up
        raise LoginRefused("the answer comes from another issuer than the configured one")
    code = query.get("code", "")
    if not code:
        raise LoginRefused("the provider's answer holds no code")
    meta = await client.metadata(settings)
    tokens = await client.exchange(settings, meta, code, pending.verifier)
    id_token = str(tokens["id_token"])
    keys = await client.keys(settings, meta, again=False)

    def verify(jwks: dict[str, object]) -> dict[str, object]:
        return verify_id_token(
            id_token,
            jwks,
            issuer=settings.issuer,
            client_id=settings.client_id,
            nonce=pending.nonce,
            now=clock(),
            algorithms=meta.algorithms,
        )

    try:
        claims = verify(keys)
    except LoginRefused as exc:
        if "signature" not in str(exc):
            raise
        claims = verify(await client.keys(settings, meta, again=True))  # keys rotated
    access = tokens.get("access_token")
    if isinstance(access, str) and access:
        more = await client.userinfo(settings, meta, access)
        if more and more.get("sub") != claims.get("sub"):
            raise LoginRefused("the provider's userinfo names another user than the ID token")
        claims = {**more, **claims}
    name = user_name(claims, settings.username_claim)
    scopes = scopes_for(claims, settings.roles)
    if not scopes:
        raise LoginRefused(
            f"{name} signed in at the provider, but no role of this monitor is given to "
            f"them (oidc.roles; see {DOC})",
            403,
        )
    return name, scopes, safe_next(pending.next_path)
