"""Players speak over the gRPC face (as the node SDK sends audio): real synthesized speech, the
real default recognizer and voice detector. Slow: the Whisper model loads once per process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from grpc import aio

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from tests.api.engine_helpers import Game, open_game
from tests.api.grpc_helpers import Face, Stream, conversing, served
from tests.api.speech_helpers import grpc_audio, grpc_end, grpc_start
from tests.speech_audio import silence, speak, words

pytestmark = pytest.mark.slow

HELLO = "Hello Alice, could you take me across the river?"
WEATHER = "What is the weather like today?"
GUARD_SECONDS = 300.0  # a loaded machine decodes slowly; the benchmark measures speed


@pytest.fixture
async def face(sqlite_settings: Settings) -> AsyncIterator[Face]:
    settings = sqlite_settings.model_copy(update={"stt_timeout_seconds": GUARD_SECONDS})
    async with open_game(settings) as game, served(game.app) as f:
        game.use_llm(ScriptedLLM(["Of course, climb aboard."]))
        f.game = game  # type: ignore[attr-defined]
        yield f


async def _open(face: Face) -> tuple[Stream, str]:
    game: Game = face.game  # type: ignore[attr-defined]
    return await conversing(face, f"workspaces/ws1/characters/{await game.character('Alice')}")


async def _until_heard(stream: Stream) -> list[pb.InworldPacket]:
    packets = []
    while True:
        packet = await asyncio.wait_for(stream.call.read(), GUARD_SECONDS)
        assert packet is not aio.EOF
        packets.append(packet)
        if packet.text.source_type == pb.TextEvent.SPEECH_TO_TEXT and packet.text.final:
            return packets


async def test_push_to_talk_then_open_mic_over_grpc(face: Face) -> None:
    stream, agent_id = await _open(face)
    first = grpc_audio("c1", speak(HELLO))
    second = grpc_audio("c1", silence(0.4) + speak(WEATHER) + silence(1.0))
    await stream.send(grpc_start("c1"), *first, grpc_end("c1"))
    heard = (await _until_heard(stream))[-1]
    assert heard.routing.source.type == pb.Actor.PLAYER
    assert heard.packet_id.conversation_id == "c1"
    assert words(heard.text.text) == words(HELLO)
    reply = await stream.reply(heard.packet_id.interaction_id)
    assert [p.text.text for p in reply if p.HasField("text")] == ["Of course, climb aboard."]
    assert reply[-1].control.action == pb.ControlEvent.INTERACTION_END
    assert all(p.routing.source.name == agent_id for p in reply)

    await stream.send(grpc_start("c1", push_to_talk=False, transcribe_only=True))
    await stream.send(*second)
    heard = (await _until_heard(stream))[-1]
    assert words(heard.text.text) == words(WEATHER)
    end = await stream.reply(heard.packet_id.interaction_id)
    assert [p.WhichOneof("packet") for p in end] == ["control"]  # only INTERACTION_END
    await stream.send(grpc_end("c1"))
    stream.call.cancel()
