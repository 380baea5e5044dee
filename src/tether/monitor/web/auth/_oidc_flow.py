"""The OpenID Connect login's decisions, pure: the pending login a browser carries, the
authorization request, the ID token's verification and the roles its claims give.

**The pending login** is the browser's own: a cookie (``tether_oidc``: 256 random bits,
when the login began and where it goes on to; ``HttpOnly``, ``SameSite=Lax`` so that the
provider's redirect back carries it, ``Path=/login/oidc``, ten minutes) from which the
``state``, the ``nonce`` and the PKCE ``code_verifier`` are derived by HMAC-SHA256.  The
callback derives them again from the cookie it is sent: the ``state`` the provider
returns must be this browser's (a login started elsewhere, or another login of this
browser, is refused), the ID token's ``nonce`` must be this login's, and only this
browser can finish the code exchange (the provider holds the verifier's S256 challenge).
Nothing is kept on the server between the two requests, so the login may start on one
worker or instance and end on another; nothing secret is stored anywhere.

**The ID token** is verified by joserfc (the JOSE library of authlib's author; no JOSE is
written here): its signature by a key of the provider's JWKS, with an asymmetric
algorithm only (never ``none``, never an HMAC keyed by something public), ``iss`` the
configured issuer, ``aud`` holding the client (``azp`` the client when there are more),
``exp`` not past, ``iat`` not ahead, ``nonce`` this login's, with a minute's leeway
for the clocks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from tether.monitor.config._oidc import OidcRole, OidcSettings

__all__ = [
    "ALGORITHMS",
    "PENDING_COOKIE",
    "PENDING_PATH",
    "PENDING_TTL",
    "LoginRefused",
    "PendingLogin",
    "authorization_url",
    "scopes_for",
    "user_name",
    "verify_id_token",
]

PENDING_COOKIE: Final = "tether_oidc"
PENDING_PATH: Final = "/login/oidc"
PENDING_TTL: Final = 600
"""Seconds a login may take at the provider."""
LEEWAY: Final = 60
"""Seconds of clock difference allowed between the provider and the monitor."""
ALGORITHMS: Final = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
"""The ID token's signature algorithms accepted: asymmetric ones alone."""
NAME_MAX: Final = 200


class LoginRefused(Exception):
    """A login that cannot go on: ``str()`` says why to the user and the log, and holds
    no secret (no code, token or cookie)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """A login begun in one browser: its cookie's content."""

    key: str
    began: int
    next_path: str

    def __repr__(self) -> str:  # never the key
        return f"<PendingLogin began={self.began} next={self.next_path!r}>"

    @classmethod
    def begin(cls, now: float, next_path: str) -> PendingLogin:
        return cls(secrets.token_urlsafe(32), int(now), next_path)

    @property
    def cookie(self) -> str:
        return f"v1.{self.began}.{self.key}.{_b64(self.next_path.encode('utf-8'))}"

    @classmethod
    def parse(cls, value: str | None) -> PendingLogin | None:
        """The pending login of a cookie's value; ``None`` if it is not one."""
        if not value:
            return None
        parts = value.split(".")
        if len(parts) != 4 or parts[0] != "v1" or not parts[1].isdigit() or len(parts[2]) < 43:
            return None
        try:
            next_path = _unb64(parts[3]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return cls(parts[2], int(parts[1]), next_path)

    def _derive(self, label: str) -> str:
        message = f"{label}|{self.began}|{self.next_path}".encode()
        return _b64(hmac.new(self.key.encode("ascii"), message, hashlib.sha256).digest())

    @property
    def state(self) -> str:
        return self._derive("state")

    @property
    def nonce(self) -> str:
        return self._derive("nonce")

    @property
    def verifier(self) -> str:
        """The PKCE ``code_verifier``: 43 characters of base64url (RFC 7636 §4.1)."""
        return self._derive("verifier")

    @property
    def challenge(self) -> str:
        """The verifier's ``S256`` ``code_challenge``."""
        return _b64(hashlib.sha256(self.verifier.encode("ascii")).digest())

    def expired(self, now: float) -> bool:
        return not (self.began - LEEWAY <= now <= self.began + PENDING_TTL)

    def states_match(self, state: str) -> bool:
        return hmac.compare_digest(self.state.encode("ascii"), state.encode("utf-8"))


def authorization_url(endpoint: str, settings: OidcSettings, pending: PendingLogin) -> str:
    """Where the browser goes to sign in: the code flow with PKCE (S256), state and nonce."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.client_id,
            "redirect_uri": settings.redirect_uri,
            "scope": " ".join(settings.scopes),
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def verify_id_token(
    token: str,
    jwks: Mapping[str, object],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: float,
    algorithms: Sequence[str] = ALGORITHMS,
) -> dict[str, object]:
    """The claims of ``token``, an ID token verified as the module says; raises
    :class:`LoginRefused` saying which check failed."""
    try:  # tether[oidc]: only a configured single sign-on needs it
        from joserfc import jwt
        from joserfc.errors import (
            ExpiredTokenError,
            InvalidClaimError,
            JoseError,
            MissingClaimError,
        )
        from joserfc.jwk import KeySet
    except ImportError:
        raise LoginRefused(
            "single sign-on needs tether[oidc] (missing: joserfc): pip install 'tether[oidc]'",
            500,
        ) from None

    allowed = [a for a in algorithms if a in ALGORITHMS]
    try:
        keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise LoginRefused(f"the provider's keys (JWKS) could not be read: {exc}") from None
    try:
        decoded = jwt.decode(token, keys, algorithms=allowed)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise LoginRefused(
            f"the ID token's signature is not one of the provider's keys ({type(exc).__name__})"
        ) from None
    claims = dict(decoded.claims)
    registry = jwt.JWTClaimsRegistry(
        now=int(now),
        leeway=LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise LoginRefused("the ID token has expired") from None
    except MissingClaimError as exc:
        raise LoginRefused(f"the ID token lacks a claim: {exc.description}") from None
    except InvalidClaimError as exc:
        raise LoginRefused(
            f"the ID token's {exc.claim} claim is not this login's: {exc.description}"
        ) from None
    audience = claims.get("aud")
    azp = claims.get("azp")
    if isinstance(audience, list) and len(audience) > 1 and azp is None:
        raise LoginRefused("the ID token names other audiences and no authorized party (azp)")
    if azp is not None and azp != client_id:
        raise LoginRefused("the ID token was issued to another client (azp)")
    return claims


def scopes_for(claims: Mapping[str, object], roles: Sequence[OidcRole]) -> frozenset[str]:
    """The scopes ``roles`` give a user of ``claims``: each rule whose claim is its value,
    or a list holding it; none matched, none."""
    given: set[str] = set()
    for role in roles:
        held = claims.get(role.claim)
        if held == role.value or (isinstance(held, list) and role.value in held):
            given.update(role.scopes)
    return frozenset(given)


def user_name(claims: Mapping[str, object], claim: str) -> str:
    """How the user is named: ``claim``'s value, or ``sub``; printable and bounded."""
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        value = claims.get("sub")
    if not isinstance(value, str) or not value.strip():
        raise LoginRefused("the provider named no user (no sub claim)")
    shown = "".join(c for c in value if c.isprintable()).strip()
    return shown[:NAME_MAX] or "?"
