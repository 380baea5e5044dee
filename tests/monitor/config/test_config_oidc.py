"""``oidc:``: single sign-on's settings read with their defaults, the client secret shown
nowhere, and nonsense refused with a message naming the key."""

from __future__ import annotations

from typing import Any

from tests.helpers.config_text import dump, errors_of
from tether.monitor.config import parse_config
from tether.monitor.config._checks import config_warnings

SECRET = "oidc-secret-7f3a"
GOOD: dict[str, Any] = {
    "issuer": "https://id.example.com/realms/ops",
    "client_id": "tether",
    "client_secret": SECRET,
    "redirect_uri": "https://monitor.example.com/login/oidc/callback",
    "roles": [{"value": "ops", "scopes": ["read", "write"]}],
}


def test_a_provider_reads_with_its_defaults_and_shows_no_secret() -> None:
    """The section's defaults (scopes, username claim, local login on, logout back to
    /login) and a client secret in no repr of the configuration."""
    config = parse_config(dump(oidc=GOOD))
    oidc = config.oidc
    assert oidc is not None
    assert oidc.scopes == ("openid", "profile", "email")
    assert oidc.username_claim == "preferred_username"
    assert oidc.local_login is True
    assert oidc.roles[0].claim == "groups"
    assert oidc.logout_return == "https://monitor.example.com/login"
    assert oidc.client_secret is not None
    assert oidc.client_secret.get_secret_value() == SECRET
    assert SECRET not in repr(config)
    assert SECRET not in str(oidc)


def test_nonsense_is_refused_naming_the_key() -> None:
    """An http issuer off loopback, a callback at another path, scopes without openid,
    no roles, a role with an unknown scope: each one message at its key."""
    cases = {
        "issuer": ("http://id.example.com", "must be https://"),
        "redirect_uri": ("https://monitor.example.com/callback", "/login/oidc/callback"),
        "scopes": (["profile"], "must include openid"),
        "roles": ([], "roles"),
    }
    for key, (value, said) in cases.items():
        errors = errors_of(dump(oidc={**GOOD, key: value}))
        assert any(f"oidc.{key}" in e and said in e for e in errors), (key, errors)
    errors = errors_of(dump(oidc={**GOOD, "roles": [{"value": "ops", "scopes": ["agent"]}]}))
    assert any("oidc.roles[0].scopes" in e for e in errors), errors


def test_an_http_issuer_on_loopback_is_allowed() -> None:
    """A provider on this machine may be plain http (a development provider)."""
    config = parse_config(dump(oidc={**GOOD, "issuer": "http://127.0.0.1:9000"}))
    assert config.oidc is not None


def test_a_server_open_beyond_loopback_with_only_single_sign_on_is_not_warned_of() -> None:
    """Listening beyond loopback with oidc: and no users: is a way to log in, not the
    no-users warning (the dashboard is not held to loopback)."""
    text = dump(oidc={**GOOD, "local_login": False}, server={"listen": "0.0.0.0:8800"})
    warnings = config_warnings(parse_config(text))
    assert not any("no users are configured" in w for w in warnings), warnings


def test_the_session_key_changes_with_the_roles() -> None:
    """A reload that changes the roles changes the digest the sessions were opened
    under (so they end); one that changes only the label does not."""
    first = parse_config(dump(oidc=GOOD)).oidc
    relabelled = parse_config(dump(oidc={**GOOD, "label": "Company login"})).oidc
    other = parse_config(dump(oidc={**GOOD, "roles": [{"value": "ops", "scopes": ["read"]}]})).oidc
    assert first is not None
    assert relabelled is not None
    assert other is not None
    assert first.session_key == relabelled.session_key
    assert first.session_key != other.session_key
