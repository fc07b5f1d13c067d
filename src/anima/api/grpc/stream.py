"""OpenSession: the node SDK's bidirectional packet stream over the shared session core.

    client packets ─ wire.inputs.decode ─▶ StreamSession (pipeline/stream.py) ─▶ outputs
    outputs ─ wire.stream.OutputEncoder ─▶ InworldPacket ─▶ context.write

This module only frames: it authenticates the call (``authorization: Bearer`` and
``session-id`` metadata), feeds the decoded packets to a ``StreamSession`` and writes what
it produces. Handshake, turns, interruption, state and continuation live in the core, so a
session opened here can be continued over the WebSocket face and the other way round.

How the stream ends (spec streaming-protocol.md §3.3, §4.4): never with OK while the client
may still write, since the node SDK would then believe it is connected and drop its later
writes. The session's error leaves as its status code with ``grpc-status-details-bin``; a
server shutdown ends every open stream with UNAVAILABLE, so the SDK reports ``onError`` and
``onDisconnect`` and reopens the same session on its next send. Only when the client itself
half-closed or cancelled does the call end without an error of ours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from grpc import aio

from anima.api.deps import AppState
from anima.api.grpc.metadata import session_claims, session_id
from anima.api.grpc.status import abort, as_anima_error
from anima.api.session_state import session_states
from anima.api.tokens import token_service
from anima.errors import AnimaError, Unavailable
from anima.pipeline.stream import Closed, Incoming, Malformed, Output, StreamSession
from anima.wire.inputs import decode
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from anima.wire.stream import OutputEncoder, closing_error

log = logging.getLogger("anima.grpc")

_SHUTDOWN_SECONDS = 3.0


class _Call:
    """One OpenSession call: client packets in, session outputs out, how it ended."""

    def __init__(
        self,
        stream: StreamSession,
        context: aio.ServicerContext,
        adapt: Callable[[pb.InworldPacket], pb.InworldPacket] | None = None,
    ) -> None:
        self.stream = stream
        self.context = context
        self.adapt = adapt
        self.encoder = OutputEncoder()
        self.error: AnimaError | None = None
        self.client_done = False  # the client half-closed: it cannot write any more

    async def incoming(
        self, requests: AsyncIterator[pb.InworldPacket | Malformed]
    ) -> AsyncIterator[Incoming]:
        async for packet in requests:
            if isinstance(packet, Malformed):  # protobuf could not decode it (server.py)
                yield packet
                continue
            try:
                yield decode(packet)
            except AnimaError as exc:
                yield Malformed(exc.message)
        self.client_done = True

    async def send(self, output: Output) -> None:
        if isinstance(output, Closed):
            self.error = output.error
            return
        packet = self.encoder.packet(output, self.stream.capabilities)
        if packet is not None:
            await self.context.write(packet if self.adapt is None else self.adapt(packet))

    async def finish(self) -> None:
        """End the call: with the session's error; never OK while the client may write."""
        error = self.error
        if error is None and not (self.client_done or self.context.cancelled()):
            error = Unavailable("the session stream ended; reconnect to resume the session")
        if error is not None:
            await abort(self.context, closing_error(error))


class OpenSession:
    """The ``OpenSession`` handler; tracks its open streams to end them on shutdown."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.tokens = token_service(state)
        self._open: dict[StreamSession, asyncio.Event] = {}

    async def handle(
        self,
        requests: AsyncIterator[pb.InworldPacket | Malformed],
        context: aio.ServicerContext,
        *,
        method: str = "OpenSession",
        adapt: Callable[[pb.InworldPacket], pb.InworldPacket] | None = None,
    ) -> None:
        """Serve one stream; ``method`` names it in logs, ``adapt`` rewrites each packet sent
        (the older ``Session`` stream, api/grpc/legacy.py)."""
        try:
            stream = await self._stream(context)
        except Exception as exc:
            await abort(context, as_anima_error(exc, method))
        call = _Call(stream, context, adapt)
        log.info("%s %s from %s", method, stream.session_id, context.peer())
        self._open[stream] = done = asyncio.Event()
        try:
            await stream.serve(call.incoming(requests), call.send)
        finally:
            del self._open[stream]
            done.set()
        log.info(
            "%s %s ended: %s",
            method,
            stream.session_id,
            call.error.status if call.error else "by the client",
        )
        await call.finish()

    async def _stream(self, context: aio.ServicerContext) -> StreamSession:
        requested = session_id(context)
        claims = await session_claims(self.tokens, context, session=requested)
        return StreamSession(
            self.state.engine,
            session_states(self.state),
            claims.workspace,
            requested or claims.session_id,
            ping_seconds=self.state.settings.stream_ping_seconds or None,
            speech=self.state.speech,
            ears=self.state.ears,
        )

    async def shutdown(self) -> None:
        """End every open stream with UNAVAILABLE: the clients reconnect to a live server."""
        streams = dict(self._open)
        for stream in streams:
            await stream.close(
                Unavailable("the server is shutting down; reconnect to resume the session")
            )
        if streams:
            waiting = [asyncio.ensure_future(done.wait()) for done in streams.values()]
            _, pending = await asyncio.wait(waiting, timeout=_SHUTDOWN_SECONDS)
            for task in pending:
                task.cancel()
