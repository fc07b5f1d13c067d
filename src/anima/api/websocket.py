"""The web SDK's session stream: ``GET /v1/session/open?session_id=...`` as a WebSocket.

Framing and dispatch only (spec streaming-protocol.md §2.2, §3.1, §4.1, §4.4):

* the token comes as the offered subprotocols ``["Bearer", "<token>"]``; the socket is
  accepted first, echoing the first offered one, and the token checked after: a refused
  upgrade would stop the SDK from refreshing its token, an error frame makes it do so;
* client frames are bare ``InworldPacket`` JSON, decoded by ``wire.inputs``; a frame that is
  not JSON, not a packet or too large becomes ``Malformed`` (a WARNING), never a crash;
* everything else happens in the shared session core (pipeline/stream.py); its outputs are
  encoded by wire/stream.py and sent as ``{"result": packet}`` frames;
* a fatal error is sent as ``{"error": google.rpc.Status}`` with its InworldStatus detail,
  and then the server closes the socket (the client does not close it itself).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from anima.api.deps import AppState
from anima.api.session_state import session_states
from anima.api.tokens import presented_token, token_service
from anima.errors import AnimaError
from anima.pipeline.stream import Closed, Incoming, Malformed, Output, StreamSession
from anima.wire.inputs import decode_json
from anima.wire.packets import error_frame, result_frame
from anima.wire.stream import OutputEncoder, closing_error

log = logging.getLogger("anima.websocket")

router = APIRouter(tags=["streaming"])

_NO_SESSION = ("", "undefined", "null")
# What sending to or reading from a socket the client already left raises (starlette, uvicorn).
_GONE = (WebSocketDisconnect, RuntimeError, OSError)


@router.websocket("/v1/session/open")
async def open_session(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.anima
    offered = [str(p) for p in websocket.scope.get("subprotocols", [])]
    await websocket.accept(subprotocol=offered[0] if offered else None)
    requested = websocket.query_params.get("session_id", "")
    try:
        claims = await token_service(state).verify(
            presented_token(websocket),
            session_id=None if requested in _NO_SESSION else requested,
        )
    except AnimaError as exc:
        await _fail(websocket, exc)
        return
    stream = StreamSession(
        state.engine,
        session_states(state),
        claims.workspace,
        claims.session_id if requested in _NO_SESSION else requested,
        ping_seconds=state.settings.stream_ping_seconds or None,
        speech=state.speech,
        ears=state.ears,
    )
    encoder = OutputEncoder()

    async def send(output: Output) -> None:
        if isinstance(output, Closed):
            if output.error is not None:
                await _fail(websocket, output.error)
            return
        packet = encoder.packet(output, stream.capabilities)
        if packet is not None:
            await websocket.send_text(_dumps(result_frame(packet)))

    await stream.serve(_frames(websocket, state.settings.max_body_bytes), send)
    if websocket.application_state is WebSocketState.CONNECTED:
        await _close(websocket)  # after the client left, too: tells a test client we are done


async def _frames(websocket: WebSocket, limit: int) -> AsyncIterator[Incoming]:
    """The client's packets, decoded, until it disconnects."""
    while True:
        try:
            message = await websocket.receive()
        except _GONE:
            return
        if message["type"] == "websocket.disconnect":
            return
        frame: str | bytes | None = message.get("text")
        if frame is None:
            frame = message.get("bytes")
        if frame is None:
            continue
        size = len(frame.encode()) if isinstance(frame, str) else len(frame)
        if size > limit:
            yield Malformed(f"a frame of {size} bytes is larger than the limit of {limit} bytes")
            continue
        try:
            yield decode_json(frame)
        except AnimaError as exc:
            yield Malformed(exc.message)


async def _fail(websocket: WebSocket, error: AnimaError) -> None:
    try:
        await websocket.send_text(_dumps(error_frame(closing_error(error))))
    except _GONE:
        return
    await _close(websocket)


async def _close(websocket: WebSocket) -> None:
    try:
        await websocket.close(code=1000)
    except _GONE:
        log.debug("socket already closed")


def _dumps(frame: dict[str, object]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
