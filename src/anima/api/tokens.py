"""Session tokens for the streaming faces.

    POST /auth/v1/tokens/token:generate   body {key, resources: ["workspaces/{ws}"]}
        authorization: Basic base64(key:secret)                 (the REST API's keys)
                    or IW1-HMAC-SHA256 ApiKey=...,Signature=... (what the node SDK signs)
        -> {"token", "type": "Bearer", "expirationTime", "sessionId"}

``TokenService`` holds the logic both faces share (the gRPC ``GenerateToken`` uses it too):
``authenticate_signature`` checks a signed request, ``issue`` mints a token and a new session
id, ``verify`` checks a presented token. ``SessionToken`` is the FastAPI dependency for REST
routes and WebSocket endpoints: it reads ``Authorization: Bearer <token>`` or, on a WebSocket,
the offered subprotocols ``["Bearer", "<token>"]`` (the endpoint must then accept with
``subprotocol="Bearer"``), and checks the session id the request names against the token's
workspace. Token failures carry an ``InworldStatus`` detail (SESSION_TOKEN_EXPIRED/INVALID,
reconnect IMMEDIATE) so the web SDK fetches a fresh token and retries by itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StrictStr
from starlette.requests import HTTPConnection

from anima.api.auth import authorize
from anima.api.checked import CheckedRoute
from anima.api.deps import AppState, get_state
from anima.domain import tokens
from anima.domain.credentials import ApiKey, Scope
from anima.errors import InvalidArgument, PermissionDenied, Unauthenticated
from anima.settings import Settings
from anima.store import Store
from anima.wire.packets import inworld_status
from anima.wire.schemas import ERRORS, Token, ok

router = APIRouter(tags=["auth"], route_class=CheckedRoute, responses=ERRORS)

_RESOURCE_RE = re.compile(r"^workspaces/([A-Za-z0-9_-]{1,128})$")
_SIGNING_KEY_NAME = "token_signing_key"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    type: str
    expires_at: datetime
    session_id: str


class TokenService:
    """Signed-request checks and session tokens over one store. Cheap to build."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._signing_key: bytes | None = None

    async def authenticate_signature(
        self,
        header: str,
        hosts: list[str],
        *,
        method: str = tokens.GENERATE_TOKEN_METHOD,
        now: datetime | None = None,
    ) -> ApiKey:
        """The key that signed ``header`` (IW1-HMAC-SHA256) for one of ``hosts`` and the gRPC
        ``method`` it was sent to."""
        now = now or datetime.now(UTC)
        signed = tokens.parse_key_signature(header)
        if signed is None:
            raise Unauthenticated(
                "malformed authorization header; expected 'IW1-HMAC-SHA256 ApiKey=...,"
                "DateTime=YYYYMMDDHHMMSS,Nonce=...,Signature=<64 hex>'"
            )
        max_skew = timedelta(seconds=self._settings.signature_max_skew_seconds)
        tokens.check_freshness(signed, now, max_skew)
        found = await self._store.keys.get_signing_secret(signed.api_key)
        if found is None or not found[0].active:
            raise Unauthenticated("unknown or revoked API key")
        api_key, secret = found
        if secret is None:
            raise Unauthenticated(
                "this API key predates signed requests; create a new key (or use Basic auth)"
            )
        if not tokens.signature_matches(signed, secret, hosts, method):
            raise Unauthenticated(
                "signature does not match (wrong secret, or signed for another host than "
                f"{', '.join(dict.fromkeys(hosts))}; see ANIMA_SIGNATURE_HOSTS)"
            )
        keep_until = (signed.signed_at + max_skew + timedelta(seconds=1)).timestamp()
        if not await self._store.nonces.use(
            api_key.key, signed.nonce, keep_until=keep_until, now=now.timestamp()
        ):
            raise Unauthenticated("replayed request: this nonce was already used")
        return api_key

    async def issue(
        self,
        api_key: ApiKey,
        resources: list[str],
        *,
        key: str = "",
        now: datetime | None = None,
    ) -> IssuedToken:
        """A token for the workspace of ``resources`` (default: the key's) and a new session id."""
        if key and key != api_key.key:
            raise PermissionDenied("the request's key is not the key that authenticated it")
        workspace = _workspace_of(resources) or api_key.workspace
        authorize(api_key, workspace, Scope.RUNTIME)
        now = now or datetime.now(UTC)
        claims = tokens.SessionClaims(
            workspace=workspace,
            session_id=tokens.new_session_id(workspace),
            api_key=api_key.key,
            expires_at=now.replace(microsecond=0)
            + timedelta(seconds=self._settings.token_ttl_seconds),
        )
        token = tokens.issue_session_token(claims, await self._key())
        return IssuedToken(token, tokens.TOKEN_TYPE, claims.expires_at, claims.session_id)

    async def verify(
        self, token: str, *, session_id: str | None = None, now: datetime | None = None
    ) -> tokens.SessionClaims:
        """The claims of a live token; ``session_id`` (if given) must be of its workspace."""
        try:
            claims = tokens.read_session_token(token, await self._key())
        except Unauthenticated as exc:
            raise _token_error(exc.message, "SESSION_TOKEN_INVALID") from exc
        if claims.expired(now or datetime.now(UTC)):
            raise _token_error("session token expired; generate a new one", "SESSION_TOKEN_EXPIRED")
        found = await self._store.keys.get_with_hash(claims.api_key)
        if found is None or not found[0].active:
            raise _token_error(
                "the API key of this session token was revoked", "SESSION_TOKEN_INVALID"
            )
        if session_id is not None and not claims.allows_session(session_id):
            raise PermissionDenied(
                f"session '{session_id}' is not a session of workspace '{claims.workspace}'"
            )
        return claims

    async def _key(self) -> bytes:
        if self._signing_key is None:
            self._signing_key = await self._store.values.get_or_create(
                _SIGNING_KEY_NAME, os.urandom(32)
            )
        return self._signing_key


def _token_error(message: str, error_type: str) -> Unauthenticated:
    return Unauthenticated(
        message, details=[inworld_status(error_type, "IMMEDIATE", max_retries=1)]
    )


def _workspace_of(resources: list[str]) -> str | None:
    workspaces = set()
    for resource in resources:
        match = _RESOURCE_RE.match(resource)
        if match is None:
            raise InvalidArgument(
                f"resource '{resource}' is not 'workspaces/{{workspace}}'", field="resources"
            )
        workspaces.add(match[1])
    if len(workspaces) > 1:
        raise InvalidArgument("a token is for one workspace; name one", field="resources")
    return workspaces.pop() if workspaces else None


def token_service(state: AppState) -> TokenService:
    """The app's TokenService, built on first use."""
    service = state.extras.get("tokens")
    if not isinstance(service, TokenService):
        service = state.extras["tokens"] = TokenService(state.store, state.settings)
    return service


def signature_hosts(settings: Settings, *request_hosts: str) -> list[str]:
    """Host strings a client may have signed for: its own Host, local names, configured ones."""
    hosts = [h for h in request_hosts if h]
    for port in (settings.port, settings.grpc_port):
        for name in ("localhost", "127.0.0.1", settings.host):
            hosts.append(f"{name}:{port}")
    hosts.extend(settings.signature_hosts)
    return list(dict.fromkeys(hosts))


# -- HTTP ------------------------------------------------------------------------------------


class GenerateTokenRequest(BaseModel):
    key: StrictStr = Field("", max_length=128)
    resources: list[Annotated[StrictStr, Field(max_length=200)]] = Field(
        default_factory=list, max_length=16
    )


@router.post(
    "/auth/v1/tokens/token:generate", summary="Generate a streaming session token", **ok(Token)
)
async def generate_token(body: GenerateTokenRequest, request: Request) -> dict[str, Any]:
    state = get_state(request)
    service = token_service(state)
    header = request.headers.get("authorization")
    if header and tokens.is_key_signature(header):
        hosts = signature_hosts(
            state.settings,
            request.headers.get("host", ""),
            request.headers.get("x-forwarded-host", ""),
        )
        api_key = await service.authenticate_signature(header, hosts)
    else:
        api_key = await state.authenticator.authenticate(header)
    issued = await service.issue(api_key, body.resources, key=body.key)
    return {
        "token": issued.token,
        "type": issued.type,
        "expirationTime": issued.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sessionId": issued.session_id,
    }


def presented_token(conn: HTTPConnection) -> str:
    """The token of ``Authorization: Bearer <t>``, or of WebSocket subprotocols [Bearer, <t>]."""
    if conn.scope["type"] == "websocket":
        offered = [str(p).strip() for p in conn.scope.get("subprotocols", [])]
        if len(offered) >= 2 and offered[0].lower() == "bearer":
            return offered[1]
        raise _token_error(
            "missing session token: offer the WebSocket subprotocols ['Bearer', '<token>']",
            "SESSION_TOKEN_INVALID",
        )
    scheme, _, value = conn.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _token_error(
            "missing session token: send 'Authorization: Bearer <token>'", "SESSION_TOKEN_INVALID"
        )
    return value.strip()


def requested_session_id(conn: HTTPConnection) -> str | None:
    """The session a request names: path ``{session}``, ``?session_id=`` or the metadata header."""
    return (
        conn.path_params.get("session")
        or conn.query_params.get("session_id")
        or conn.headers.get("grpc-metadata-session-id")
        or None
    )


async def session_token(conn: HTTPConnection) -> tokens.SessionClaims:
    state: AppState = conn.app.state.anima
    claims = await token_service(state).verify(
        presented_token(conn), session_id=requested_session_id(conn)
    )
    workspace = conn.path_params.get("ws")
    if workspace is not None and workspace != claims.workspace:
        raise PermissionDenied(f"this session token is for workspace '{claims.workspace}'")
    return claims


SessionToken = Annotated[tokens.SessionClaims, Depends(session_token)]
