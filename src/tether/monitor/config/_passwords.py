"""Password hashes and API tokens: what ``tether hash-password`` and ``tether new-token``
print, what the configuration's ``users`` and ``tokens`` hold, and how a presented
password or token is checked against them.  Pure and standard-library only (the
configuration's validation imports it).

- **Passwords** are hashed with scrypt (:func:`hashlib.scrypt`, RFC 7914), a key
  derivation function made slow and memory-hard on purpose, so that a stolen file of
  hashes costs an attacker ~32 MiB and tens of milliseconds per guess.  A hash carries its
  parameters and salt: ``scrypt$n=32768,r=8,p=1$SALT$HASH`` (base64 without padding), so
  the parameters can be raised later without breaking the hashes written before.
- **Tokens** are 256 random bits from :mod:`secrets`, hashed with plain SHA-256:
  ``sha256$HEX``.  A slow hash protects what a person can remember; nobody can guess a
  256-bit token, fast hash or not, and a token is checked on every scrape and API call,
  which must stay cheap.  Lookups go by hash, so the time a lookup takes says something
  about a *hash* at most, from which no token can be worked back.

Every comparison of a derived value is :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

__all__ = [
    "PasswordHash",
    "hash_password",
    "hash_token",
    "new_token",
    "parse_password_hash",
    "parse_token_hash",
    "verify_password",
]

SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_KEY_BYTES: Final = 32
_MAX_N: Final = 2**20
"""A hash asking for more would take a gigabyte per login: refused as a mistake."""
TOKEN_PREFIX: Final = "tether_"
"""So a leaked token is recognisable (secret scanners, log greps) for what it is."""


class HashError(ValueError):
    """A password or token hash that is not in the form tether writes; the message never
    holds the value."""


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """A parsed ``scrypt$...`` hash."""

    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def __repr__(self) -> str:
        return f"<PasswordHash scrypt n={self.n} r={self.r} p={self.p}>"

    def __str__(self) -> str:
        return f"scrypt$n={self.n},r={self.r},p={self.p}${_b64(self.salt)}${_b64(self.key)}"

    def derive(self, password: str) -> bytes:
        return _scrypt(password, self.salt, self.n, self.r, self.p, len(self.key))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # OpenSSL refuses scrypt above maxmem (32 MiB by default); it needs 128 * r * n bytes.
    maxmem = 128 * r * n * p + 128 * r * n + (1 << 20)
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=length
    )


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The ``scrypt$...`` hash of ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    return str(PasswordHash(n, r, p, salt, _scrypt(password, salt, n, r, p, _KEY_BYTES)))


def parse_password_hash(text: str) -> PasswordHash:
    """The parts of a ``scrypt$n=N,r=R,p=P$SALT$HASH`` hash; :class:`HashError` otherwise
    (a plain password, say)."""
    parts = text.split("$")
    if len(parts) != 4 or parts[0] != "scrypt":
        raise HashError(
            "is not a password hash: write the scrypt$... line tether hash-password prints "
            "(the file never holds a password)"
        )
    try:
        params = dict(item.split("=", 1) for item in parts[1].split(","))
        n, r, p = int(params.pop("n")), int(params.pop("r")), int(params.pop("p"))
        salt, key = _unb64(parts[2]), _unb64(parts[3])
    except (ValueError, KeyError, binascii.Error):
        raise HashError(
            "is not a well-formed scrypt hash: write it as tether hash-password prints it"
        ) from None
    if params or not (2 <= n <= _MAX_N and n & (n - 1) == 0) or not 1 <= r <= 32:
        raise HashError(
            "has scrypt parameters out of range: make it again with tether hash-password"
        )
    if not 1 <= p <= 16 or len(salt) < 8 or not 16 <= len(key) <= 64:
        raise HashError(
            "has scrypt parameters out of range: make it again with tether hash-password"
        )
    return PasswordHash(n, r, p, salt, key)


# A hash of nothing anyone knows, checked against when the user name is unknown, so a
# wrong name takes as long as a wrong password and names cannot be found by timing.
_DECOY: Final = PasswordHash(SCRYPT_N, SCRYPT_R, SCRYPT_P, b"tether-decoy-salt", bytes(32))


def verify_password(password: str, stored: PasswordHash | None) -> bool:
    """Whether ``password`` matches ``stored``; with ``None`` (no such user) the same work
    is done and the answer is False.  Slow on purpose: call it on a worker thread."""
    target = _DECOY if stored is None else stored
    match = hmac.compare_digest(target.derive(password), target.key)
    return match and stored is not None


def new_token() -> str:
    """A fresh API token: ``tether_`` and 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the configuration holds for ``token``: ``sha256$HEX``."""
    return "sha256$" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_token_hash(text: str) -> str:
    """``text`` as tether compares it (``sha256$`` and 64 lower-case hex digits);
    :class:`HashError` for anything else (a token itself, say)."""
    kind, _, digest = text.partition("$")
    if kind != "sha256" or len(digest) != 64:
        raise HashError(
            "is not a token hash: write the sha256$... value tether new-token prints "
            "(the file never holds a token)"
        )
    try:
        bytes.fromhex(digest)
    except ValueError:
        raise HashError("is not a token hash: sha256$ must be followed by 64 hex digits") from None
    return "sha256$" + digest.lower()
