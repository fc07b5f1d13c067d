"""The unary calls of the gRPC face.

    /ai.inworld.engine.WorldEngine/GenerateToken                     signed key -> AccessToken
    /ai.inworld.engine.v1.StateSerialization/GetSessionState         token -> SessionState
    /ai.inworld.engine.v1.Feedback/CreateInteractionFeedback         token -> InteractionFeedback
    /ai.inworld.engine.v1.Feedback/DeleteInteractionFeedback         token -> Empty

Each parses its request, calls the same services the REST and WebSocket faces call, and
encodes the answer; errors leave through ``status.unary`` (status code + InworldStatus trailer).
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import empty_pb2
from grpc import aio

from anima.api import session_state
from anima.api.deps import AppState
from anima.api.grpc.metadata import metadata, session_claims, session_id
from anima.api.grpc.status import unary
from anima.api.session_state import parse_feedback, session_states
from anima.api.tokens import IssuedToken, signature_hosts, token_service
from anima.domain import tokens
from anima.errors import InvalidArgument
from anima.wire.pb.ai.inworld.engine import world_engine_pb2 as we
from anima.wire.pb.ai.inworld.engine.v1 import feedback_pb2 as fb
from anima.wire.pb.ai.inworld.engine.v1 import state_serialization_pb2 as ss


class Calls:
    """The unary methods, over the app's shared resources."""

    def __init__(self, state: AppState, port: int) -> None:
        self.state = state
        self.tokens = token_service(state)
        # The host a client signed GenerateToken for: grpcio hides :authority (spec §2.1).
        self.hosts = signature_hosts(state.settings, f"localhost:{port}", f"127.0.0.1:{port}")

    @unary("GenerateToken")
    async def generate_token(
        self, request: we.GenerateTokenRequest, context: aio.ServicerContext
    ) -> we.AccessToken:
        """IW1-HMAC-SHA256 signed (what the node SDK sends) or Basic key:secret."""
        issued = await self.issue_token(context, list(request.resources), request.key)
        token = we.AccessToken(token=issued.token, type=issued.type, session_id=issued.session_id)
        token.expiration_time.FromDatetime(issued.expires_at)
        return token

    async def issue_token(
        self,
        context: aio.ServicerContext,
        resources: list[str],
        key: str,
        method: str = tokens.GENERATE_TOKEN_METHOD,
    ) -> IssuedToken:
        """A session token for the key that signed the call for ``method`` (or sent Basic)."""
        header = metadata(context).get("authorization", "")
        if header and tokens.is_key_signature(header):
            api_key = await self.tokens.authenticate_signature(header, self.hosts, method=method)
        else:
            api_key = await self.state.authenticator.authenticate(header or None)
        return await self.tokens.issue(api_key, resources, key=key)

    @unary("GetSessionState")
    async def get_session_state(
        self, request: ss.GetSessionStateRequest, context: aio.ServicerContext
    ) -> ss.SessionState:
        """The sealed state of ``workspaces/{ws}/sessions/{sid}`` (node: only ``authorization``)."""
        workspace, session = _session_name(request.name, "name")
        await session_claims(self.tokens, context, session=session, workspace=workspace)
        saved = await session_states(self.state).export(workspace, session)
        answer = ss.SessionState(state=saved.blob)
        answer.creation_time.FromDatetime(datetime.fromtimestamp(saved.created_at, UTC))
        if saved.interaction_id:
            answer.version.interaction_id = saved.interaction_id
        return answer

    @unary("CreateInteractionFeedback")
    async def create_feedback(
        self, request: fb.CreateInteractionFeedbackRequest, context: aio.ServicerContext
    ) -> fb.InteractionFeedback:
        """Like or dislike ``{session}/interactions/{iid}/groups/{correlation or default}``."""
        parent = request.parent.strip("/")
        parts = parent.split("/")
        if len(parts) != 8 or parts[4] != "interactions" or parts[6] != "groups":
            raise InvalidArgument(
                "parent must be 'workspaces/{ws}/sessions/{session}/interactions/"
                f"{{interaction}}/groups/{{group}}', got {request.parent!r}",
                field="parent",
            )
        workspace, session = _session_name("/".join(parts[:4]), "parent")
        await session_claims(self.tokens, context, session=session, workspace=workspace)
        given = request.interaction_feedback
        body = parse_feedback(
            {
                "isLike": given.is_like,
                "type": [_dislike_name(t) for t in given.type],
                "comment": given.comment,
            }
        )
        stored = await session_state.create_feedback(
            self.state, workspace, session, parts[5], parts[7], body
        )
        return fb.InteractionFeedback(
            name=stored.name,
            is_like=stored.is_like,
            type=list(stored.types),
            comment=stored.comment,
        )

    @unary("DeleteInteractionFeedback")
    async def delete_feedback(
        self, request: fb.DeleteInteractionFeedbackRequest, context: aio.ServicerContext
    ) -> empty_pb2.Empty:
        claims = await session_claims(self.tokens, context, session=session_id(context))
        await session_state.delete_feedback(self.state, claims.workspace, request.name)
        return empty_pb2.Empty()


def _session_name(name: str, field: str) -> tuple[str, str]:
    """``workspaces/{ws}/sessions/{session}`` -> (ws, session)."""
    parts = name.strip("/").split("/")
    if len(parts) != 4 or parts[0] != "workspaces" or parts[2] != "sessions" or not all(parts):
        raise InvalidArgument(
            f"expected 'workspaces/{{ws}}/sessions/{{session}}', got {name!r}", field=field
        )
    return parts[1], parts[3]


def _dislike_name(value: int) -> str:
    try:
        return str(fb.InteractionDislikeType.Name(value))
    except ValueError as exc:
        raise InvalidArgument(f"unknown feedback type {value}", field="type") from exc
