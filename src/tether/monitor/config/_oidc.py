"""``oidc:``, single sign-on through an OpenID Connect provider beside the local users
(docs/security.md, "Single sign-on (OpenID Connect)"; issue 48 §3).

The provider is found by its discovery document (``ISSUER/.well-known/openid-configuration``);
a user signs in there and comes back with a code the monitor exchanges for an ID token,
whose claims say who the user is (``username_claim``) and, through ``roles``, which of
the monitor's scopes the user has.  A user no rule gives a scope is not let in.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, SecretStr, field_validator

from tether._hostport import is_loopback
from tether.monitor.config._base import _Model
from tether.monitor.config._errors import fail, show
from tether.monitor.config._fields import PositiveDuration, WebUrl, one_or_many

__all__ = ["CALLBACK_PATH", "OidcRole", "OidcSettings"]

CALLBACK_PATH: Final = "/login/oidc/callback"
"""Where the provider sends a user back: ``redirect_uri``'s path."""

Text = Annotated[str, Field(min_length=1, max_length=1000)]
Scope = Literal["read", "write"]


class OidcRole(_Model):
    """One rule of ``roles``: a user whose claim ``claim`` is ``value`` (or, for a list
    such as ``groups``, holds it) has ``scopes``."""

    value: Text
    claim: Text = "groups"
    scopes: Annotated[tuple[Scope, ...], BeforeValidator(one_or_many), Field(min_length=1)] = (
        "read",
    )


def _https_or_loopback(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
        raise fail(f"{show(value)}: {what} must be https:// (http:// only on loopback)")
    return value


class OidcSettings(_Model):
    """The OpenID provider and how its users map to the monitor's scopes."""

    issuer: WebUrl
    """The provider's issuer URL, exactly as its discovery document and ID tokens say it."""
    client_id: Text
    client_secret: SecretStr | None = None
    """The client's secret (``client_secret_basic``); none: a public client, PKCE alone.
    Write it as ``${OIDC_CLIENT_SECRET}`` to keep it out of the file.  Shown nowhere."""
    redirect_uri: WebUrl
    """This monitor's ``https://HOST/login/oidc/callback``, as registered at the provider."""
    scopes: Annotated[tuple[Text, ...], BeforeValidator(one_or_many)] = (
        "openid",
        "profile",
        "email",
    )
    """What the login asks the provider for (``openid`` always among them)."""
    username_claim: Text = "preferred_username"
    """The claim that names the user in the audit log and on the pages (``sub`` if absent)."""
    roles: tuple[OidcRole, ...] = Field(min_length=1)
    """Which claims give which scopes; a user matched by none is refused."""
    local_login: bool = True
    """Whether the ``users:`` may still log in with a password; ``false``: single sign-on only."""
    label: Text = "Single sign-on"
    """The login page's button."""
    ca_file: Text | None = None
    """A PEM bundle of the CAs that sign the provider's certificate (a private CA);
    none: the system's.  The certificate is always verified."""
    post_logout_redirect_uri: WebUrl | None = None
    """Where the provider sends a user after logging out there (registered at the
    provider); none: this monitor's ``/login``."""
    timeout: PositiveDuration = 10.0
    """Each request to the provider (discovery, keys, token, userinfo)."""

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        return _https_or_loopback(value, "the issuer")

    @field_validator("redirect_uri")
    @classmethod
    def _callback(cls, value: str) -> str:
        if urlsplit(value).path != CALLBACK_PATH:
            raise fail(
                f"{show(value)}: its path must be {CALLBACK_PATH}, where the monitor answers"
            )
        return value

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "openid" not in value:
            raise fail("must include openid (without it the provider sends no ID token)")
        return value

    @property
    def logout_return(self) -> str:
        """Where the provider sends a user back after its logout."""
        if self.post_logout_redirect_uri is not None:
            return self.post_logout_redirect_uri
        parts = urlsplit(self.redirect_uri)
        return f"{parts.scheme}://{parts.netloc}/login"

    @property
    def session_key(self) -> str:
        """A digest of what a single sign-on session was opened under (the provider, the
        client, the roles): a reload that changes any of it ends the sessions."""
        roles = [[r.claim, r.value, list(r.scopes)] for r in self.roles]
        what = json.dumps([self.issuer, self.client_id, self.username_claim, roles])
        return "oidc:" + hashlib.sha256(what.encode("utf-8")).hexdigest()[:16]
