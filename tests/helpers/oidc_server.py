"""A real OpenID provider on loopback for the single sign-on tests: the certified
``oidc-provider`` package from npm, run by Debian's Node.js (``oidc_provider.mjs`` beside
this module), over TLS with a certificate of a trustme CA of the test's own.

The package is installed by ``.ci/run`` (``npm install`` into ``TETHER_OIDC_PROVIDER_DIR``,
``~/.cache/tether/oidc-provider`` by default); without ``node`` or the package a test
skips saying so, and fails instead when TETHER_REQUIRE_OIDC=1 (as .ci/run sets it).

The provider has one confidential client (:data:`CLIENT_ID`, :data:`CLIENT_SECRET`), PKCE
required, and the users of :data:`USERS`: ``alice`` is in the ``ops`` group, ``bob`` in
``viewers``, ``carol`` in none.  Its login page takes any password.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urljoin

import pytest
import requests
import trustme

from tests.helpers.ports import free_port

CLIENT_ID: Final = "tether"
CLIENT_SECRET: Final = "oidc-test-client-secret-0123456789abcdef"
USERS: Final = {
    "alice": {"groups": ["ops"], "email": "alice@example.test"},
    "bob": {"groups": ["viewers"], "email": "bob@example.test"},
    "carol": {"groups": [], "email": "carol@example.test"},
}
SCRIPT: Final = Path(__file__).with_name("oidc_provider.mjs")
PACKAGE_DIR: Final = Path(
    os.environ.get("TETHER_OIDC_PROVIDER_DIR")
    or Path.home() / ".cache" / "tether" / "oidc-provider"
)


def required() -> bool:
    return os.environ.get("TETHER_REQUIRE_OIDC") == "1"


def missing() -> str | None:
    """Why the provider cannot run here, or ``None``."""
    if shutil.which("node") is None:
        return "needs Node.js (Debian's nodejs package) to run the OpenID provider"
    if not (PACKAGE_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return (
            f"needs the oidc-provider npm package in {PACKAGE_DIR} "
            f"(npm install --prefix {PACKAGE_DIR} oidc-provider, as .ci/run does)"
        )
    return None


def skip_or_fail() -> None:
    """Skip the test when the provider cannot run, or fail when it is required to."""
    why = missing()
    if why is None:
        return
    if required():
        pytest.fail(f"TETHER_REQUIRE_OIDC=1 but this {why}", pytrace=False)
    pytest.skip(why)


@dataclass(frozen=True, slots=True)
class Provider:
    """A running provider: its issuer URL and the CA bundle that verifies it."""

    issuer: str
    ca_file: Path
    proc: subprocess.Popen[str]


@contextmanager
def oidc_provider(
    tmp: Path, redirect_uris: Sequence[str], post_logout_redirect_uris: Sequence[str]
) -> Iterator[Provider]:
    """The provider running on a loopback port over TLS, for the client's ``redirect_uris``."""
    skip_or_fail()
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_file, cert_file, key_file = tmp / "oidc-ca.pem", tmp / "oidc-cert.pem", tmp / "oidc-key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    port = free_port()
    settings = tmp / "oidc-settings.json"
    settings.write_text(
        json.dumps(
            {
                "port": port,
                "cert": str(cert_file),
                "key": str(key_file),
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": list(redirect_uris),
                "post_logout_redirect_uris": list(post_logout_redirect_uris),
                "users": USERS,
            }
        )
    )
    # ESM resolves the package from the script's own folder: run a copy beside node_modules.
    script = PACKAGE_DIR / SCRIPT.name
    shutil.copyfile(SCRIPT, script)
    log = (tmp / "oidc-provider.log").open("w")
    proc = subprocess.Popen(
        ["node", str(script), str(settings)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=PACKAGE_DIR,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "listening", or nothing when it died
        if line.strip() != "listening":
            proc.wait(timeout=10)
            raise AssertionError(
                "the OpenID provider did not start: " + (tmp / "oidc-provider.log").read_text()
            )
        yield Provider(f"https://127.0.0.1:{port}", ca_file, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()


def sign_in(http: requests.Session, begin: str, user: str, callback: str) -> str:
    """Drive a login as a browser would, with ``http`` (its cookie jar, the provider's CA
    as ``verify``) from ``begin`` (a monitor's ``/login/oidc?next=...``) through the
    provider's login form, stopping at the redirect to ``callback`` (returned, unfollowed)."""
    url = begin
    answer = http.get(url, allow_redirects=False)
    for _ in range(20):
        if answer.is_redirect:
            url = urljoin(url, answer.headers["Location"])
            if url.startswith(callback):
                return url
            answer = http.get(url, allow_redirects=False)
            continue
        form = re.search(
            r'<form[^>]*action="([^"]+)"[^>]*method="post">(.*?)</form>', answer.text, re.S
        )
        assert form is not None, (answer.status_code, answer.text[:500])
        fields = dict(
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2))
        )
        if 'name="login"' in form.group(2):
            fields.update(login=user, password="any password")
        url = urljoin(url, html.unescape(form.group(1)))
        answer = http.post(url, data=fields, allow_redirects=False)
    raise AssertionError(f"the login did not come back to {callback}")
