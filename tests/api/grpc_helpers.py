"""Shared pieces of the in-process gRPC tests: a served app, stubs, keys, the error trailer."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from grpc import aio

from anima.api.deps import AppState
from anima.api.grpc import serving
from anima.api.grpc.status import STATUS_DETAILS_KEY
from anima.domain import tokens
from anima.domain.credentials import Scope, new_key_pair
from anima.store import Store
from anima.wire.pb.ai.inworld.common import status_pb2 as inworld_status_pb2
from anima.wire.pb.ai.inworld.engine import world_engine_pb2 as we
from anima.wire.pb.ai.inworld.engine import world_engine_pb2_grpc as we_grpc
from anima.wire.pb.ai.inworld.engine.v1 import feedback_pb2_grpc as fb_grpc
from anima.wire.pb.ai.inworld.engine.v1 import state_serialization_pb2_grpc as ss_grpc
from anima.wire.pb.ai.inworld.packets import packets_pb2 as pb
from anima.wire.pb.google.rpc import status_pb2


@dataclass
class Face:
    """A running gRPC face over an app, with a channel and the stubs the node SDK uses."""

    app: FastAPI
    port: int
    channel: aio.Channel

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.anima
        return state

    @property
    def engine(self) -> we_grpc.WorldEngineStub:
        return we_grpc.WorldEngineStub(self.channel)

    @property
    def states(self) -> ss_grpc.StateSerializationStub:
        return ss_grpc.StateSerializationStub(self.channel)

    @property
    def feedback(self) -> fb_grpc.FeedbackStub:
        return fb_grpc.FeedbackStub(self.channel)

    @property
    def host(self) -> str:
        """What a client configured with localhost signs (spec §2.1)."""
        return f"localhost:{self.port}"


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[Face]:
    async with serving(app.state.anima, port=0) as port:
        assert port
        async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Face(app, port, channel)


async def key_pair(
    app: FastAPI, workspace: str = "test-ws", scope: Scope = Scope.ALL
) -> tuple[str, str]:
    store: Store = app.state.anima.store
    await store.keys.ensure_workspace(workspace)
    pair = new_key_pair()
    await store.keys.add(workspace, scope, pair)
    return pair.key, pair.secret


def signed(
    key: str, secret: str, host: str, *, nonce: str = "0123456789a", now: dt.datetime | None = None
) -> tuple[tuple[str, str], ...]:
    header = tokens.sign_request(key, secret, host, now=now or dt.datetime.now(dt.UTC), nonce=nonce)
    return (("authorization", header),)


async def access_token(
    face: Face, key: str, secret: str, *, workspace: str = "ws1", nonce: str | None = None
) -> we.AccessToken:
    """A session token as the node SDK gets one: GenerateToken signed with the key pair."""
    nonce = nonce or uuid.uuid4().hex[:11]
    request = we.GenerateTokenRequest(key=key, resources=[f"workspaces/{workspace}"])
    token: we.AccessToken = await face.engine.GenerateToken(
        request, metadata=signed(key, secret, face.host, nonce=nonce)
    )
    return token


def bearer(token: we.AccessToken, *, session: str | None = None) -> tuple[tuple[str, str], ...]:
    found = [("authorization", f"{token.type} {token.token}")]
    if session is not None:
        found.insert(0, ("session-id", session))
    return tuple(found)


def inworld_details(error: aio.AioRpcError) -> list[inworld_status_pb2.InworldStatus]:
    """The InworldStatus details of ``grpc-status-details-bin`` (what the node SDK reads)."""
    trailer = [v for k, v in (error.trailing_metadata() or ()) if k == STATUS_DETAILS_KEY]
    assert len(trailer) == 1, error.trailing_metadata()
    status = status_pb2.Status.FromString(trailer[0])
    assert status.code == error.code().value[0]
    assert status.message == error.details()
    found = []
    for detail in status.details:
        message = inworld_status_pb2.InworldStatus()
        assert detail.Unpack(message)
        found.append(message)
    return found


def self_signed(directory: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (and 127.0.0.1): (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


# -- client packets, as the node SDK builds them (spec §3.2, §4) --------------------------------


def _client_packet(**ids: str) -> pb.InworldPacket:
    packet = pb.InworldPacket()
    packet.timestamp.GetCurrentTime()
    packet.packet_id.packet_id = str(uuid.uuid4())
    for name, value in ids.items():
        setattr(packet.packet_id, name, value)
    packet.routing.source.type = pb.Actor.PLAYER
    return packet


def configure(
    *, continuation: bytes | None = None, name: str = "Bob", **capabilities: bool
) -> pb.InworldPacket:
    packet = _client_packet()
    packet.routing.target.type = pb.Actor.WORLD
    packet.control.action = pb.ControlEvent.SESSION_CONFIGURATION
    payload = packet.control.session_configuration
    caps = {"audio": True, "emotions": True, "multi_agent": True, **capabilities}
    for key, value in caps.items():
        setattr(payload.capabilities_configuration, key, value)
    payload.client_configuration.id = "node-js"
    payload.client_configuration.version = "1.17.0"
    payload.user_configuration.name = name
    if continuation is not None:
        c = payload.continuation
        c.continuation_type = pb.Continuation.CONTINUATION_TYPE_EXTERNALLY_SAVED_STATE
        c.externally_saved_state = continuation
    return packet


def load_scene(name: str) -> pb.InworldPacket:
    packet = _client_packet()
    packet.routing.target.type = pb.Actor.WORLD
    packet.mutation.load_scene.name = name
    return packet


def conversation_update(conversation_id: str, *agent_ids: str) -> pb.InworldPacket:
    packet = _client_packet(conversation_id=conversation_id)
    packet.ClearField("routing")
    packet.control.action = pb.ControlEvent.CONVERSATION_UPDATE
    for agent_id in agent_ids:
        packet.control.conversation_update.participants.add(type=pb.Actor.AGENT, name=agent_id)
    packet.control.conversation_update.participants.add(type=pb.Actor.PLAYER)
    return packet


def _said(conversation_id: str, interaction_id: str | None = None) -> pb.InworldPacket:
    return _client_packet(
        conversation_id=conversation_id,
        interaction_id=interaction_id or str(uuid.uuid4()),
        utterance_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
    )


def text(conversation_id: str, words: str, interaction_id: str | None = None) -> pb.InworldPacket:
    packet = _said(conversation_id, interaction_id)
    packet.text.text = words
    packet.text.source_type = pb.TextEvent.TYPED_IN
    packet.text.final = True
    return packet


def trigger(conversation_id: str, agent_id: str, name: str, **parameters: str) -> pb.InworldPacket:
    packet = _said(conversation_id)
    packet.routing.target.type = pb.Actor.AGENT
    packet.routing.target.name = agent_id
    packet.custom.name = name
    packet.custom.type = pb.CustomEvent.TRIGGER
    for key, value in parameters.items():
        packet.custom.parameters.add(name=key, value=value)
    return packet


def narrated(conversation_id: str, content: str) -> pb.InworldPacket:
    packet = _said(conversation_id)
    packet.action.narrated_action.content = content
    return packet


def cancel(interaction_id: str, agent_id: str) -> pb.InworldPacket:
    packet = _client_packet(correlation_id=str(uuid.uuid4()))
    packet.routing.target.type = pb.Actor.AGENT
    packet.routing.target.name = agent_id
    packet.mutation.cancel_responses.interaction_id = interaction_id
    return packet


# -- a session stream ---------------------------------------------------------------------------

READ_GUARD_SECONDS = 30.0  # only so a broken server fails the test instead of hanging it


class Stream:
    """One OpenSession call: write client packets, read server packets."""

    def __init__(self, face: Face, token: we.AccessToken, session: str) -> None:
        self.token = token
        self.session = session
        self.call = face.engine.OpenSession(metadata=bearer(token, session=session))

    async def send(self, *packets: pb.InworldPacket) -> None:
        for packet in packets:
            await self.call.write(packet)

    async def read(self) -> pb.InworldPacket:
        packet = await asyncio.wait_for(self.call.read(), READ_GUARD_SECONDS)
        assert packet is not aio.EOF, "the server ended the stream"
        assert packet.packet_id.packet_id  # spec §4.5 item 1
        assert packet.HasField("timestamp")
        return packet  # type: ignore[no-any-return]

    async def read_until(self, done: Callable[[pb.InworldPacket], bool]) -> list[pb.InworldPacket]:
        """Packets up to and including the first one ``done`` accepts."""
        packets = []
        while True:
            packet = await self.read()
            packets.append(packet)
            if done(packet):
                return packets

    async def open(self, scene: str, **capabilities: bool) -> pb.CurrentSceneStatus:
        await self.send(configure(**capabilities), load_scene(scene))
        packets = await self.read_until(lambda p: p.control.HasField("current_scene_status"))
        status = packets[-1].control
        assert status.action == pb.ControlEvent.CURRENT_SCENE_STATUS
        return status.current_scene_status  # type: ignore[no-any-return]

    async def converse(self, conversation_id: str, *agent_ids: str) -> None:
        await self.send(conversation_update(conversation_id, *agent_ids))
        packets = await self.read_until(lambda p: p.control.HasField("conversation_event"))
        event = packets[-1]
        assert event.packet_id.conversation_id == conversation_id
        assert event.control.conversation_event.event_type in (
            pb.ConversationEventPayload.STARTED,
            pb.ConversationEventPayload.UPDATED,
        )

    async def reply(self, interaction_id: str) -> list[pb.InworldPacket]:
        """Everything of one interaction, INTERACTION_END last (other packets skipped)."""
        found = []
        while True:
            packet = await self.read()
            if packet.packet_id.interaction_id != interaction_id:
                continue
            found.append(packet)
            if packet.control.action == pb.ControlEvent.INTERACTION_END:
                return found

    async def status(self) -> aio.AioRpcError:
        """How the server ended the call (reads what is left)."""
        while True:
            try:
                packet = await asyncio.wait_for(self.call.read(), READ_GUARD_SECONDS)
            except aio.AioRpcError as error:
                return error
            assert packet is not aio.EOF, "the call ended with OK"


def kinds(packets: list[pb.InworldPacket]) -> list[str]:
    """What each packet is: its payload, or its control action."""
    out = []
    for p in packets:
        kind = p.WhichOneof("packet") or ""
        if kind == "control":
            kind = pb.ControlEvent.Action.Name(p.control.action)
        out.append(kind)
    return out


async def conversing(face: Face, scene: str, conversation_id: str = "c1") -> tuple[Stream, str]:
    """A new stream on workspace ``ws1`` with ``scene`` loaded and one conversation with its
    first character; the stream and that character's agent id."""
    key, secret = await key_pair(face.app, "ws1")
    token = await access_token(face, key, secret)
    stream = Stream(face, token, token.session_id)
    status = await stream.open(scene)
    agent_id = status.agents[0].agent_id
    await stream.converse(conversation_id, agent_id)
    return stream, agent_id
