"""What a gRPC call carries in its metadata: the session token and the session id.

The node SDK sends ``authorization: Bearer <token>`` on every call but GenerateToken (which is
signed, see calls.py) and ``session-id: <id>`` on OpenSession and the Feedback calls
(spec streaming-protocol.md §1.2). grpcio does not show ``:authority`` to handlers, so the host
a GenerateToken signature covers comes from the settings (``signature_hosts``).
"""

from __future__ import annotations

from grpc import aio

from anima.api.tokens import TokenService
from anima.domain.tokens import SessionClaims
from anima.errors import PermissionDenied, Unauthenticated
from anima.wire.packets import inworld_status


def metadata(context: aio.ServicerContext) -> dict[str, str]:
    """The call's text metadata, keys lower-cased (a repeated key: the last value)."""
    found: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):
            found[key.lower()] = value
    return found


def token_error(message: str, error_type: str = "SESSION_TOKEN_INVALID") -> Unauthenticated:
    """A token failure the SDKs treat as "fetch a new token and retry" (spec §4.4)."""
    return Unauthenticated(
        message, details=[inworld_status(error_type, "IMMEDIATE", max_retries=1)]
    )


def bearer_token(context: aio.ServicerContext) -> str:
    scheme, _, value = metadata(context).get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise token_error("missing session token: send metadata 'authorization: Bearer <token>'")
    return value.strip()


def session_id(context: aio.ServicerContext) -> str | None:
    return metadata(context).get("session-id", "").strip() or None


async def session_claims(
    tokens: TokenService,
    context: aio.ServicerContext,
    *,
    session: str | None = None,
    workspace: str | None = None,
) -> SessionClaims:
    """The claims of the call's live token; ``session`` and ``workspace`` must be its own."""
    claims = await tokens.verify(bearer_token(context), session_id=session)
    if workspace is not None and workspace != claims.workspace:
        raise PermissionDenied(f"this session token is for workspace '{claims.workspace}'")
    return claims
