"""Who is calling: ``Authorization: Basic base64(key:secret)`` checked against the store.

401 when the header is missing or wrong, 403 when the key belongs to another workspace or
lacks the scope of the API it calls (a runtime-only key on /studio/v1).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import OrderedDict
from typing import Annotated

from fastapi import Depends, Request

from anima.domain.credentials import ApiKey, Scope, parse_basic, verify_secret
from anima.errors import PermissionDenied, Unauthenticated
from anima.store import Store

_CACHE_SIZE = 4096


class Authenticator:
    """Verifies key pairs. scrypt is slow on purpose, so a secret that verified once is
    remembered in this process as a SHA-256 digest (never in clear, never in the store);
    the key row is still read on every request, so revocation takes effect at once."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._verified: OrderedDict[str, bytes] = OrderedDict()

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
        found = await self._store.keys.get_with_hash(key)
        if found is None or not found[0].active:
            raise Unauthenticated("unknown or revoked API key")
        api_key, salt, secret_hash = found
        digest = hashlib.sha256(f"{key}\0{secret}".encode()).digest()
        cached = self._verified.get(key)
        if cached is not None and hmac.compare_digest(cached, digest):
            self._verified.move_to_end(key)
            return api_key
        if not await asyncio.to_thread(verify_secret, secret, salt, secret_hash):
            raise Unauthenticated("wrong secret for this API key")
        self._verified[key] = digest
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
