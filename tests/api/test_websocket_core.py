"""The streaming core's pieces without a socket: phases, stored state, output encoding."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from anima.domain.events import AudioChunk, InteractionEnd
from anima.domain.inputs import ActorKind, Capabilities, ClientInfo, Participant, UserInfo
from anima.domain.stream_state import Conversation, IllegalMove, StreamPhase, StreamState
from anima.errors import InvalidArgument, NotFound
from anima.pipeline.stream import Closed, PingDue, Reply, SessionLost
from anima.settings import Settings
from anima.wire.stream import OutputEncoder, closing_error
from tests.api.websocket_helpers import Rig, configuration, load_scene, open_rig, packet


def test_phases_move_only_forward() -> None:
    assert StreamPhase.CONNECTED.advance(StreamPhase.CONFIGURED) is StreamPhase.CONFIGURED
    assert StreamPhase.CONNECTED.advance(StreamPhase.READY) is StreamPhase.READY
    assert StreamPhase.READY.advance(StreamPhase.READY) is StreamPhase.READY
    with pytest.raises(IllegalMove):
        StreamPhase.READY.advance(StreamPhase.CONFIGURED)
    with pytest.raises(IllegalMove):
        StreamPhase.CLOSED.advance(StreamPhase.READY)


def test_stream_state_round_trip() -> None:
    state = StreamState(
        capabilities=Capabilities(emotions=True, ping_pong_report=True),
        configured=True,
        user=UserInfo("u1", "Bob", (("f", "v"),)),
        client=ClientInfo("web", "2.10.0", "web; 2.10.0"),
        game_session_id="g1",
        conversations={
            "c1": Conversation((Participant(ActorKind.AGENT, "a1"), Participant(ActorKind.PLAYER)))
        },
        last_interaction_id="i9",
    )
    state.conversations["c1"].muted = True
    state.record_latency("i9", 0.25, "FINE")
    again = StreamState.from_dict(state.to_dict())
    assert again == state
    assert again.conversations["c1"].agent_ids == ("a1",)
    assert StreamState.from_dict({"v": 999}) == StreamState()  # an unknown layout starts afresh


def test_audio_is_gated_by_capability_and_mute() -> None:
    chunk = AudioChunk("i1", "u1", "a1", b"\x00\x00" * 160, 16000)
    encoder = OutputEncoder()
    with_audio = Capabilities(audio=True)
    packet_ = encoder.packet(Reply(chunk, "c1"), with_audio)
    assert packet_ is not None
    assert packet_.data_chunk.chunk[:4] == b"RIFF"
    assert encoder.packet(Reply(chunk, "c1", muted=True), with_audio) is None
    assert encoder.packet(Reply(chunk, "c1"), Capabilities()) is None
    end = encoder.packet(Reply(InteractionEnd("i1", "a1", cancelled=True), "c1"), Capabilities())
    assert end is not None
    assert end.packet_id.interaction_id == "i1"
    assert end.packet_id.conversation_id == "c1"
    assert encoder.packet(PingDue(), Capabilities()) is None
    assert encoder.packet(Closed(), Capabilities()) is None


def test_closing_errors_carry_reconnect_hints() -> None:
    lost = closing_error(SessionLost("gone"))
    assert lost.details[0]["errorType"] == "SESSION_INVALID"
    assert lost.details[0]["reconnectType"] == "IMMEDIATE"
    missing = closing_error(NotFound("no such character"))
    assert missing.details[0]["errorType"] == "RESOURCE_NOT_FOUND"
    assert missing.details[0]["reconnectType"] == "NO_RETRY"
    assert closing_error(InvalidArgument("bad")).details == []


@pytest.fixture
def rig(settings: Settings) -> Iterator[Rig]:
    with open_rig(settings) as r:
        yield r


def test_mute_and_unmute_are_kept_with_the_session(rig: Rig) -> None:
    alice = rig.character("Alice")
    with rig.connect() as sock:
        agent = sock.handshake(alice)["control"]["currentSceneStatus"]["agents"][0]["agentId"]
        cid = sock.conversation(agent)
        for action in ("TTS_PLAYBACK_MUTE", "TTS_PLAYBACK_UNMUTE", "TTS_PLAYBACK_MUTE"):
            sock.send(packet({"control": {"action": action}}, conversationId=cid))
        sock.send(packet({"sessionControl": {"sessionHistoryRequest": {}}}))  # a barrier
        sock.until(lambda f: "sessionControlResponse" in f.get("result", {}))
    session = rig.run(rig.store.sessions.get(sock.session_id))
    assert session is not None
    assert session.stream_state["conversations"][cid]["muted"] is True


def test_an_expired_session_is_session_invalid(rig: Rig) -> None:
    alice = rig.character("Alice")
    token = rig.token()
    with rig.connect(token) as sock:
        sock.handshake(alice)
    session = rig.run(rig.store.sessions.get(token["sessionId"]))
    assert session is not None
    rig.run(rig.store.sessions.save_state(session, touch=0.0))  # idle since 1970
    for frames in ([configuration(), load_scene(alice)], [packet({"text": {"text": "hi"}})]):
        with rig.connect(token) as sock:
            for frame in frames:
                sock.send(frame)
            closing = sock.closed()
        assert closing[-1]["error"]["details"][0]["errorType"] == "SESSION_INVALID"
