"""Who is calling: ``Authorization: Basic base64(key:secret)`` checked against the store.

401 when the header is missing or wrong, 403 when the key belongs to another workspace or
lacks the scope of the API it calls (a runtime-only key on /studio/v1).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict
from typing import Annotated

from fastapi import Depends, Request

from anima.domain.credentials import ApiKey, Scope, parse_basic, verify_secret
from anima.errors import PermissionDenied, Unauthenticated
from anima.store import Store

_CACHE_SIZE = 4096
REVOCATION_POLL_SECONDS = 1.0  # a revoked key stops working on every worker within this
KEY_TTL_SECONDS = 60.0  # a cached key row is read again after this, whatever happened


class Authenticator:
    """Verifies key pairs. scrypt is slow on purpose, so a secret that verified once is
    remembered in this process as a SHA-256 digest (never in clear, never in the store),
    with its key row: a request with a known key costs no database round trip.

    Revocation still takes effect within ``REVOCATION_POLL_SECONDS`` on every worker: a
    fingerprint of the revocations (``KeyRepo.revocations``) is read at most once a second,
    before the request that finds it stale is answered, and a change empties the cache."""

    def __init__(self, store: Store, *, poll_seconds: float = REVOCATION_POLL_SECONDS) -> None:
        self._store = store
        self._verified: OrderedDict[str, tuple[bytes, ApiKey, float]] = OrderedDict()
        self._poll_seconds = poll_seconds
        self._polled_at = float("-inf")
        self._fingerprint: tuple[int, int, float] | None = None
        self._polling: asyncio.Future[None] | None = None

    async def _check_revocations(self) -> None:
        if time.monotonic() - self._polled_at < self._poll_seconds:
            return
        if self._polling is not None:  # one read at a time; the others wait for it
            await asyncio.shield(self._polling)
            return
        self._polling = asyncio.get_running_loop().create_future()
        try:
            started = time.monotonic()
            fingerprint = await self._store.keys.revocations()
            if fingerprint != self._fingerprint:
                self._verified.clear()
                self._fingerprint = fingerprint
            self._polled_at = started
        finally:
            self._polling.set_result(None)
            self._polling = None

    async def authenticate(self, header: str | None) -> ApiKey:
        if not header:
            raise Unauthenticated(
                "missing Authorization header; send 'Authorization: Basic <base64(key:secret)>' "
                "(create a key with `anima keys create`)"
            )
        parsed = parse_basic(header)
        if parsed is None:
            raise Unauthenticated(
                "malformed Authorization header; expected 'Basic <base64(key:secret)>'"
            )
        key, secret = parsed
        digest = hashlib.sha256(f"{key}\0{secret}".encode()).digest()
        await self._check_revocations()
        cached = self._verified.get(key)
        known = cached is not None and hmac.compare_digest(cached[0], digest)
        if cached is not None and known and time.monotonic() - cached[2] < KEY_TTL_SECONDS:
            self._verified.move_to_end(key)
            return cached[1]
        found = await self._store.keys.get_with_hash(key)
        if found is None or not found[0].active:
            raise Unauthenticated("unknown or revoked API key")
        api_key, salt, secret_hash = found
        if not known and not await asyncio.to_thread(verify_secret, secret, salt, secret_hash):
            raise Unauthenticated("wrong secret for this API key")
        self._verified[key] = (digest, api_key, time.monotonic())
        if len(self._verified) > _CACHE_SIZE:
            self._verified.popitem(last=False)
        return api_key


def authorize(api_key: ApiKey, workspace: str | None, needed: Scope) -> None:
    if workspace is not None and api_key.workspace != workspace:
        raise PermissionDenied(
            f"this API key belongs to workspace '{api_key.workspace}', not '{workspace}'"
        )
    if not api_key.scope.allows(needed):
        raise PermissionDenied(
            f"this API key has scope '{api_key.scope.value}'; the {needed.value} API needs a key "
            f"with scope '{needed.value}' or 'all'"
        )


async def _authenticated(request: Request, needed: Scope) -> ApiKey:
    authenticator: Authenticator = request.app.state.anima.authenticator
    api_key = await authenticator.authenticate(request.headers.get("authorization"))
    authorize(api_key, request.path_params.get("ws"), needed)
    return api_key


async def studio_key(request: Request) -> ApiKey:
    return await _authenticated(request, Scope.STUDIO)


async def runtime_key(request: Request) -> ApiKey:
    return await _authenticated(request, Scope.RUNTIME)


StudioKey = Annotated[ApiKey, Depends(studio_key)]
RuntimeKey = Annotated[ApiKey, Depends(runtime_key)]
