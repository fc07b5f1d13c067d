"""The sealed copy of API secrets that IW1-HMAC-SHA256 verification needs.

Why a copy at all: Basic auth sends the secret, so a salted scrypt hash is enough to check it
(``api_keys.secret_hash``). An HMAC signature is different: the client computes it *from* the
secret and never sends it, and the server can only verify it by recomputing it, so it must
be able to get the secret back. Every HMAC scheme (Inworld's IW1, AWS SigV4) has this
property; what a server can choose is where the recoverable copy lives.

The choice here: AES-256-GCM, one random nonce per key, the public key id as associated data
(a sealed blob moved to another row does not open), under a 32-byte **sealing key kept
outside the database**, in a file (``Settings.sealing_key_file``, default
``<data_dir>/sealing.key``, mode 0600, created on first use). A dump or backup of the
database alone therefore reveals no secret, and the scrypt hash stays the only thing Basic
auth ever reads.

The trade-off: the sealing key file is part of the deployment. Hosts that serve one database
must share it (point ``ANIMA_SEALING_KEY_FILE`` at the same file), and a command that creates
keys (``anima keys create``) must see the server's file. Each blob names the key it was
sealed with (an 8-byte fingerprint), so a mismatch is reported as exactly that instead of a
wrong signature; Basic auth is unaffected by any of this. Anyone holding both the database
and the sealing key can recover secrets, and that is inherent to verifying HMAC signatures.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from anima.errors import FailedPrecondition

if TYPE_CHECKING:
    from anima.store.db import Store

log = logging.getLogger("anima.store")

_VERSION = b"\x01"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_FINGERPRINT_BYTES = 8
_AAD = b"anima api secret\0"


class SealedWithOtherKey(FailedPrecondition):
    """The blob was sealed under a different sealing key file than this server's."""


def sealing_key_path(store: Store) -> Path:
    return store.settings.sealing_key_file or store.settings.data_dir / "sealing.key"


class SecretSealer:
    """Seals and opens API secrets with the sealing key (loaded once, created if missing)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._key: bytes | None = None
        self._lock = asyncio.Lock()

    async def seal(self, key_id: str, secret: str) -> bytes:
        key = await self._sealing_key()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, secret.encode(), _AAD + key_id.encode())
        return _VERSION + _fingerprint(key) + nonce + sealed

    async def open(self, key_id: str, blob: bytes) -> str:
        key = await self._sealing_key()
        head = 1 + _FINGERPRINT_BYTES
        if blob[:1] != _VERSION or len(blob) < head + _NONCE_BYTES + 16:
            raise FailedPrecondition(f"the sealed secret of API key '{key_id}' is corrupt")
        if not hmac.compare_digest(blob[1:head], _fingerprint(key)):
            raise SealedWithOtherKey(
                f"API key '{key_id}' was created with another sealing key file than this "
                f"server's ({sealing_key_path(self._store)}); set ANIMA_SEALING_KEY_FILE to the "
                "file used when the key was created, or create a new key. Basic auth still works."
            )
        nonce, sealed = blob[head : head + _NONCE_BYTES], blob[head + _NONCE_BYTES :]
        try:
            return AESGCM(key).decrypt(nonce, sealed, _AAD + key_id.encode()).decode()
        except InvalidTag as exc:
            raise FailedPrecondition(
                f"the sealed secret of API key '{key_id}' does not open"
            ) from exc

    async def _sealing_key(self) -> bytes:
        if self._key is None:
            async with self._lock:
                if self._key is None:
                    self._key = await asyncio.to_thread(
                        _load_or_create, sealing_key_path(self._store)
                    )
        return self._key


def _fingerprint(key: bytes) -> bytes:
    return hmac.new(key, b"anima sealing key fingerprint", hashlib.sha256).digest()[
        :_FINGERPRINT_BYTES
    ]


def _load_or_create(path: Path) -> bytes:
    """Read the key file, or create it atomically (a concurrent creator's file wins)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(_KEY_BYTES))
            try:
                os.link(tmp, path)
                log.warning(
                    "created a new sealing key for API secrets at %s; keep it with the database "
                    "(it is needed to verify IW1-HMAC-SHA256 signatures)",
                    path,
                )
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) != _KEY_BYTES:
        raise FailedPrecondition(
            f"the sealing key file {path} must hold exactly {_KEY_BYTES} bytes (it has {len(key)})"
        )
    return key
