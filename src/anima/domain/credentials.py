"""API keys: generation, salted hashing and verification. Pure functions, no I/O.

A key pair is a public ``key`` and a ``secret``. Only a salted scrypt hash of the secret is
stored; verification recomputes it and compares in constant time. Clients send
``Authorization: Basic base64(key:secret)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from enum import StrEnum

_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 32
SECRET_LENGTH = 64
# scrypt cost: ~30 ms and 16 MiB per verification; verified secrets are cached in memory.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _DKLEN = 1 << 14, 8, 1, 32


class Scope(StrEnum):
    RUNTIME = "runtime"
    STUDIO = "studio"
    ALL = "all"

    def allows(self, needed: Scope) -> bool:
        return self is Scope.ALL or self is needed


@dataclass(frozen=True, slots=True)
class ApiKey:
    key: str
    workspace: str
    scope: Scope
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class NewKeyPair:
    """A freshly minted pair: the only moment the secret exists in clear."""

    key: str
    secret: str
    salt: bytes
    secret_hash: bytes

    @property
    def basic(self) -> str:
        return basic_signature(self.key, self.secret)


def _random_token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_secret(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_DKLEN
    )


def new_key_pair() -> NewKeyPair:
    secret = _random_token(SECRET_LENGTH)
    salt = secrets.token_bytes(16)
    return NewKeyPair(_random_token(KEY_LENGTH), secret, salt, hash_secret(secret, salt))


def verify_secret(secret: str, salt: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret, salt), expected)


def basic_signature(key: str, secret: str) -> str:
    return base64.b64encode(f"{key}:{secret}".encode()).decode()


def parse_basic(header: str) -> tuple[str, str] | None:
    """``Basic base64(key:secret)`` → (key, secret); None when it is not that shape."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, sep, secret = decoded.partition(":")
    if not sep or not key or not secret:
        return None
    return key, secret


def is_valid_workspace_name(name: str) -> bool:
    return (
        0 < len(name) <= 128 and name[0].isalnum() and all(c.isalnum() or c in "-_" for c in name)
    )
