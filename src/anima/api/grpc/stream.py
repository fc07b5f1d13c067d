"""OpenSession: the bidirectional packet stream (pending the shared streaming session core)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio

from anima.api.deps import AppState
from anima.api.grpc.status import abort
from anima.errors import Unavailable
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb


class OpenSession:
    def __init__(self, state: AppState) -> None:
        self.state = state

    async def __call__(
        self, requests: AsyncIterator[pb.InworldPacket], context: aio.ServicerContext
    ) -> AsyncIterator[pb.InworldPacket]:
        await abort(context, Unavailable("OpenSession: pending"))
        yield pb.InworldPacket()  # pragma: no cover
