"""The older streaming protocol of the node SDK (0.9.x, and 1.5 to 1.11), over the same core.

    /ai.inworld.studio.v1alpha.Tokens/GenerateSessionToken   signed key -> SessionAccessToken
    /ai.inworld.engine.WorldEngine/LoadScene                 token + session-id -> agents, key
    /ai.inworld.engine.WorldEngine/Session                   token + session-id, packet stream

0.9.x asks the token service at ``NODE_SDK_INWORLD_STUDIO_HOST`` (signed over that method's
path) and everything else at ``NODE_SDK_INWORLD_ENGINE_HOST``; 1.5 to 1.11 use
``GenerateToken`` (calls.py). ``LoadScene`` configures and loads the session named by the
``session-id`` metadata: its request becomes the SESSION_CONFIGURATION and loadScene packets
a newer client sends in band (wire/legacy.py), fed to a ``StreamSession`` driven by hand, so
the session is stored exactly as one opened with ``OpenSession``. ``Session`` is then an
``OpenSession`` stream that finds the session already set up (no handshake), with the packets
it sends made readable by the old SDKs (``legacy_packet``). A reconnect opens ``Session``
again with the same id and resumes; an unknown or expired id ends it with SESSION_INVALID.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from grpc import aio

from anima.api.deps import AppState
from anima.api.grpc.calls import Calls
from anima.api.grpc.metadata import session_claims, session_id
from anima.api.grpc.status import unary
from anima.api.grpc.stream import OpenSession
from anima.api.session_state import session_states
from anima.api.tokens import token_service
from anima.domain import tokens
from anima.errors import AnimaError, Internal
from anima.pipeline.stream import Closed, Malformed, SceneShown, StreamSession
from anima.wire.inputs import decode
from anima.wire.legacy import handshake_packets, legacy_packet, load_scene_response
from anima.wire.pb.ai.inworld.engine import world_engine_pb2 as we
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from anima.wire.pb.ai.inworld.studio.v1alpha import tokens_pb2 as tok
from anima.wire.stream import closing_error


class LegacyCalls:
    """LoadScene, Session and GenerateSessionToken, beside the newer calls they share code with."""

    def __init__(self, state: AppState, calls: Calls, open_session: OpenSession) -> None:
        self.state = state
        self.calls = calls
        self.open_session = open_session
        self.tokens = token_service(state)

    @unary("GenerateSessionToken")
    async def generate_session_token(
        self, request: tok.GenerateSessionTokenRequest, context: aio.ServicerContext
    ) -> tok.SessionAccessToken:
        """``GenerateToken`` under its older name: a token for the key's own workspace."""
        issued = await self.calls.issue_token(
            context, [], request.key, tokens.GENERATE_SESSION_TOKEN_METHOD
        )
        token = tok.SessionAccessToken(
            token=issued.token, type=issued.type, session_id=issued.session_id
        )
        token.expiration_time.FromDatetime(issued.expires_at)
        return token

    @unary("LoadScene")
    async def load_scene(
        self, request: we.LoadSceneRequest, context: aio.ServicerContext
    ) -> we.LoadSceneResponse:
        """Configure the session and load the scene (or character); answer its agents."""
        requested = session_id(context)
        claims = await session_claims(self.tokens, context, session=requested)
        sid = requested or claims.session_id
        stream = StreamSession(
            self.state.engine, session_states(self.state), claims.workspace, sid, ping_seconds=None
        )
        try:
            await stream.open()
            for packet in handshake_packets(request):
                await stream.receive(decode(packet))
        finally:
            await stream.close()
        shown: SceneShown | None = None
        error: AnimaError | None = None
        async for out in stream.outputs():
            if isinstance(out, SceneShown):
                shown = out
            elif isinstance(out, Closed):
                error = out.error
        if error is not None:
            raise closing_error(error)
        if shown is None:
            raise Internal("the scene was not loaded; the server logged the details")
        return load_scene_response(shown, key=sid)

    async def session(
        self, requests: AsyncIterator[pb.InworldPacket | Malformed], context: aio.ServicerContext
    ) -> None:
        await self.open_session.handle(requests, context, method="Session", adapt=legacy_packet)


def legacy_handlers(
    calls: LegacyCalls,
    unary_handler: Any,
    stream_handler: Any,
) -> dict[str, dict[str, grpc.RpcMethodHandler]]:
    """The older methods, by service, built with the server's own handler factories."""
    return {
        "ai.inworld.engine.WorldEngine": {
            "LoadScene": unary_handler(calls.load_scene, we.LoadSceneRequest, we.LoadSceneResponse),
            "Session": stream_handler(calls.session),
        },
        "ai.inworld.studio.v1alpha.Tokens": {
            "GenerateSessionToken": unary_handler(
                calls.generate_session_token,
                tok.GenerateSessionTokenRequest,
                tok.SessionAccessToken,
            ),
        },
    }
