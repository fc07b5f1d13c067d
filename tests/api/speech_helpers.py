"""Client packets of a talking player, for both faces (spec §4.3): audio session start and
end, and microphone chunks (base64 in JSON for the web face, bytes for gRPC)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from tests.api.websocket_helpers import packet
from tests.speech_audio import chunks

MODES = {True: "EXPECT_AUDIO_END", False: "OPEN_MIC"}


def ws_start(
    cid: str, *, push_to_talk: bool = True, transcribe_only: bool = False
) -> dict[str, Any]:
    start = {
        "mode": MODES[push_to_talk],
        "understandingMode": "SPEECH_RECOGNITION_ONLY" if transcribe_only else "FULL",
    }
    return packet(
        {
            "routing": {"source": {"type": "PLAYER"}},
            "control": {"action": "AUDIO_SESSION_START", "audioSessionStart": start},
        },
        conversationId=cid,
    )


def ws_end(cid: str) -> dict[str, Any]:
    return packet(
        {"routing": {"source": {"type": "PLAYER"}}, "control": {"action": "AUDIO_SESSION_END"}},
        conversationId=cid,
    )


def ws_chunk(cid: str, pcm: bytes, audio_format: str | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {"chunk": base64.b64encode(pcm).decode(), "type": "AUDIO"}
    if audio_format is not None:
        chunk["audioFormat"] = audio_format
    return packet(
        {"routing": {"source": {"type": "PLAYER"}}, "dataChunk": chunk}, conversationId=cid
    )


def ws_audio(cid: str, pcm: bytes) -> list[dict[str, Any]]:
    return [ws_chunk(cid, c) for c in chunks(pcm)]


def _grpc_packet(cid: str) -> pb.InworldPacket:
    p = pb.InworldPacket()
    p.timestamp.GetCurrentTime()
    p.packet_id.packet_id = str(uuid.uuid4())
    p.packet_id.conversation_id = cid
    p.routing.source.type = pb.Actor.PLAYER
    return p


def grpc_start(
    cid: str, *, push_to_talk: bool = True, transcribe_only: bool = False
) -> pb.InworldPacket:
    p = _grpc_packet(cid)
    p.control.action = pb.ControlEvent.AUDIO_SESSION_START
    start = p.control.audio_session_start
    start.mode = (
        pb.AudioSessionStartPayload.EXPECT_AUDIO_END
        if push_to_talk
        else pb.AudioSessionStartPayload.OPEN_MIC
    )
    start.understanding_mode = (
        pb.AudioSessionStartPayload.SPEECH_RECOGNITION_ONLY
        if transcribe_only
        else pb.AudioSessionStartPayload.FULL
    )
    return p


def grpc_end(cid: str) -> pb.InworldPacket:
    p = _grpc_packet(cid)
    p.control.action = pb.ControlEvent.AUDIO_SESSION_END
    return p


def grpc_audio(cid: str, pcm: bytes) -> list[pb.InworldPacket]:
    out = []
    for c in chunks(pcm):
        p = _grpc_packet(cid)
        p.data_chunk.chunk = c
        p.data_chunk.type = pb.DataChunk.AUDIO
        out.append(p)
    return out


def is_transcript(frame: dict[str, Any], final: bool = True) -> bool:
    text = frame.get("result", {}).get("text", {})
    return text.get("sourceType") == "SPEECH_TO_TEXT" and bool(text.get("final")) == final
