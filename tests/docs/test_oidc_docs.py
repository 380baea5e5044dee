"""docs/security.md's single sign-on example loads as written, with the roles, the local
login and the secret it shows, and its table's rows are the refusals the tests hold."""

from __future__ import annotations

import re
from pathlib import Path

from tether.monitor.config import parse_config

DOC = Path(__file__).parents[2] / "docs/security.md"


def section() -> str:
    return DOC.read_text().split("## Single sign-on (OpenID Connect)", 1)[1].split("\n## ", 1)[0]


def test_the_single_sign_on_example_loads() -> None:
    """The section's tether.yaml, with a monitor added and its ${OIDC_CLIENT_SECRET} set,
    loads into the settings it describes; the secret is in no repr."""
    (snippet,) = re.findall(r"```yaml\n(.*?)```", section(), re.S)
    text = snippet + "monitors:\n  - {name: api, url: 'http://127.0.0.1:8080/'}\n"
    config = parse_config(text, env={"OIDC_CLIENT_SECRET": "documented-secret"})
    oidc = config.oidc
    assert oidc is not None
    assert oidc.client_secret is not None
    assert oidc.client_secret.get_secret_value() == "documented-secret"
    assert "documented-secret" not in repr(config)
    assert [(r.claim, r.value, r.scopes) for r in oidc.roles] == [
        ("groups", "sre", ("read", "write")),
        ("groups", "support", ("read",)),
        ("email", "cto@example.com", ("read", "write")),
    ]
    assert oidc.local_login is True
    assert oidc.logout_return == "https://monitor.example.com/login"


def test_the_table_names_the_tests_that_hold_it() -> None:
    """Each test module the section names exists."""
    for name in re.findall(r"`(?:tests/monitor/web/)?(test_oidc_\w+\.py)`", section()):
        assert (Path(__file__).parents[2] / "tests/monitor/web" / name).exists(), name
