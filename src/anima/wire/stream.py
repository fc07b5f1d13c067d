"""The streaming core's outputs (pipeline/stream.py) as ``InworldPacket``: one mapping, both faces.

    OutputEncoder.packet(output, capabilities) -> InworldPacket | None
    closing_error(error)                        -> the AnimaError to send, InworldStatus added

The gRPC face sends the packets as they are; the WebSocket face wraps each in
``result_frame``. ``None`` means this client does not receive that output (capability gates
of ``PacketEncoder``). ``Closed`` has no packet: the face sends ``closing_error`` its own way
(``error_frame`` or gRPC status details) and ends the transport.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from anima.domain import inputs as di
from anima.domain.audio_session import AudioSessionAlreadyStarted, AudioSessionExpired
from anima.errors import AnimaError, NotFound
from anima.pipeline.hearing import Heard
from anima.pipeline.stream import (
    AgentView,
    Closed,
    ConversationShown,
    HistoryShown,
    LogLine,
    Notice,
    Output,
    PingDue,
    Reply,
    SceneShown,
    SessionLost,
)
from anima.wire.packets import (
    INWORLD_STATUS_TYPE,
    AgentCard,
    PacketEncoder,
    ReplyRoute,
    inworld_status,
)
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


class OutputEncoder:
    """Turns outputs into packets for one connection (``clock``/``new_id`` for tests)."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self._clock = clock
        self._new_id = new_id

    def packet(self, output: Output, capabilities: di.Capabilities) -> pb.InworldPacket | None:
        encoder = PacketEncoder(capabilities, clock=self._clock, new_id=self._new_id)
        match output:
            case Reply(event=event):
                route = ReplyRoute(output.conversation_id, output.correlation_id, output.muted)
                return encoder.event(event, route)
            case SceneShown():
                return encoder.scene_status(
                    output.scene_name,
                    [_card(a) for a in output.agents],
                    description=output.description,
                    display_name=output.display_name,
                )
            case ConversationShown():
                return encoder.conversation_event(
                    output.conversation_id, output.participants, output.event_type
                )
            case Notice(text=text, conversation_id=cid):
                return encoder.warning(text, cid)
            case LogLine(text=text, level=level):
                return encoder.log(text, level)
            case PingDue():
                return encoder.ping() if capabilities.ping_pong_report else None
            case HistoryShown():
                return self._history(output)
            case Heard():
                return encoder.transcript(
                    output.text,
                    final=output.final,
                    interaction_id=output.interaction_id,
                    utterance_id=output.utterance_id,
                    conversation_id=output.conversation_id,
                )
            case Closed():
                return None

    def _history(self, output: HistoryShown) -> pb.InworldPacket:
        packet = self._envelope(pb.Actor.WORLD)
        packet.routing.target.type = pb.Actor.PLAYER
        history = packet.session_control_response.session_history
        for agent, entries in output.items:
            item = history.session_history_items.add()
            item.agent.CopyFrom(_agent(agent))
            for entry in entries:
                p = item.packets.add()
                p.CopyFrom(self._envelope(pb.Actor.PLAYER))
                if entry.speaker is di.ActorKind.AGENT:
                    p.routing.source.type = pb.Actor.AGENT
                    p.routing.source.name = agent.agent_id
                    p.routing.targets.add(type=pb.Actor.PLAYER)
                else:
                    p.routing.target.type = pb.Actor.AGENT
                    p.routing.target.name = agent.agent_id
                p.packet_id.interaction_id = entry.interaction_id
                p.packet_id.utterance_id = entry.utterance_id
                if entry.narrated:
                    p.action.narrated_action.content = entry.text
                else:
                    p.text.text = entry.text
                    p.text.final = True
                    p.text.source_type = (
                        pb.TextEvent.GENERATED
                        if entry.speaker is di.ActorKind.AGENT
                        else pb.TextEvent.TYPED_IN
                    )
        return packet

    def _envelope(self, source: pb.Actor.Type) -> pb.InworldPacket:
        packet = pb.InworldPacket()
        packet.timestamp.FromDatetime(self._clock())
        packet.packet_id.packet_id = self._new_id()
        packet.routing.source.type = source
        return packet


def _card(agent: AgentView) -> AgentCard:
    return AgentCard(
        agent_id=agent.agent_id,
        brain_name=agent.brain_name,
        given_name=agent.given_name,
        avatar_img=agent.avatar_img,
        avatar_img_original=agent.avatar_img_original,
    )


def _agent(agent: AgentView) -> pb.Agent:
    message = pb.Agent(
        agent_id=agent.agent_id, brain_name=agent.brain_name, given_name=agent.given_name
    )
    message.character_assets.avatar_img = agent.avatar_img
    message.character_assets.avatar_img_original = agent.avatar_img_original
    return message


def closing_error(error: AnimaError) -> AnimaError:
    """The error with the ``InworldStatus`` detail that tells the SDKs how to react (§4.4)."""
    if any(d.get("@type") == INWORLD_STATUS_TYPE for d in error.details):
        return error
    if isinstance(error, AudioSessionExpired):
        detail = inworld_status("AUDIO_SESSION_EXPIRED", "NO_RETRY")
    elif isinstance(error, AudioSessionAlreadyStarted):
        detail = inworld_status("AUDIO_SESSION_ALREADY_STARTED", "NO_RETRY")
    elif isinstance(error, SessionLost):
        detail = inworld_status("SESSION_INVALID", "IMMEDIATE", max_retries=1)
    elif isinstance(error, NotFound):
        detail = inworld_status("RESOURCE_NOT_FOUND", "NO_RETRY")
    elif error.retryable:
        detail = inworld_status("SESSION_RESOURCES_EXHAUSTED", "IMMEDIATE", max_retries=1)
    else:
        return error  # no detail: the web SDK hands it to the app's onError as is
    return type(error)(error.message, retryable=error.retryable, details=[*error.details, detail])
