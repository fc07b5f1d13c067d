"""Shared pieces of the in-process gRPC tests: a served app, stubs, keys, the error trailer."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import AsyncIterator
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
    face: Face, key: str, secret: str, nonce: str = "0123456789b"
) -> we.AccessToken:
    request = we.GenerateTokenRequest(key=key, resources=["workspaces/test-ws"])
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
