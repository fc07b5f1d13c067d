"""The gRPC face's lifecycle, TLS, GenerateToken and the error trailer (anima.api.grpc)."""

from __future__ import annotations

import base64
import datetime as dt
import socket
from pathlib import Path

import grpc
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from grpc import aio

from anima.api.grpc import serving
from anima.app import create_app
from anima.domain import tokens
from anima.domain.credentials import Scope
from anima.errors import FailedPrecondition
from anima.settings import Settings
from anima.wire.pb.ai.inworld.engine import world_engine_pb2 as we
from anima.wire.pb.ai.inworld.engine import world_engine_pb2_grpc as we_grpc
from tests.api.grpc_helpers import inworld_details, key_pair, self_signed, served, signed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_generate_token_with_a_signed_key(app: FastAPI) -> None:
    key, secret = await key_pair(app)
    async with served(app) as face:
        token = await face.engine.GenerateToken(
            we.GenerateTokenRequest(key=key, resources=["workspaces/test-ws"]),
            metadata=signed(key, secret, face.host),
        )
    assert token.type == "Bearer"
    assert token.session_id.startswith("test-ws:")
    assert token.HasField("expiration_time")  # mandatory: the node SDK calls toDate() on it
    left = token.expiration_time.ToDatetime(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
    assert left > dt.timedelta(minutes=55)
    claims = await face.state.extras["tokens"].verify(token.token, session_id=token.session_id)
    assert claims.workspace == "test-ws"


async def test_generate_token_accepts_the_hosts_a_client_may_have_signed(app: FastAPI) -> None:
    key, secret = await key_pair(app)
    async with served(app) as face:
        for i, host in enumerate([f"127.0.0.1:{face.port}", "localhost:8000"]):
            token = await face.engine.GenerateToken(
                we.GenerateTokenRequest(key=key, resources=["workspaces/test-ws"]),
                metadata=signed(key, secret, host, nonce=f"0123456789{i}"),
            )
            assert token.token


async def test_generate_token_with_basic_key(app: FastAPI) -> None:
    key, secret = await key_pair(app)
    basic = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    async with served(app) as face:
        token = await face.engine.GenerateToken(
            we.GenerateTokenRequest(resources=["workspaces/test-ws"]),
            metadata=(("authorization", basic),),
        )
    assert token.session_id.startswith("test-ws:")


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("wrong secret", "signature does not match"),
        ("other host", "signature does not match"),
        ("stale", "DateTime"),
        ("unknown key", "unknown or revoked API key"),
        ("no header", "missing Authorization header"),
    ],
)
async def test_generate_token_refuses_bad_signatures(app: FastAPI, case: str, needle: str) -> None:
    key, secret = await key_pair(app)
    async with served(app) as face:
        metadata: tuple[tuple[str, str], ...] = {
            "wrong secret": signed(key, secret + "x", face.host),
            "other host": signed(key, secret, "evil.example:50051"),
            "stale": signed(
                key, secret, face.host, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
            ),
            "unknown key": signed("nokey", secret, face.host),
            "no header": (),
        }[case]
        with pytest.raises(aio.AioRpcError) as caught:
            await face.engine.GenerateToken(
                we.GenerateTokenRequest(key=key, resources=["workspaces/test-ws"]),
                metadata=metadata,
            )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert needle in (caught.value.details() or "")
    assert inworld_details(caught.value) == []  # a plain status; no InworldStatus to act on


async def test_generate_token_refuses_a_replayed_nonce(app: FastAPI) -> None:
    key, secret = await key_pair(app)
    async with served(app) as face:
        request = we.GenerateTokenRequest(key=key, resources=["workspaces/test-ws"])
        metadata = signed(key, secret, face.host)
        await face.engine.GenerateToken(request, metadata=metadata)
        with pytest.raises(aio.AioRpcError) as caught:
            await face.engine.GenerateToken(request, metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "replayed" in (caught.value.details() or "")


async def test_generate_token_for_another_workspace_is_denied(app: FastAPI) -> None:
    key, secret = await key_pair(app, scope=Scope.RUNTIME)
    await key_pair(app, workspace="other-ws")
    async with served(app) as face:
        with pytest.raises(aio.AioRpcError) as caught:
            await face.engine.GenerateToken(
                we.GenerateTokenRequest(key=key, resources=["workspaces/other-ws"]),
                metadata=signed(key, secret, face.host),
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(aio.AioRpcError) as caught:
            await face.engine.GenerateToken(
                we.GenerateTokenRequest(key=key, resources=["nonsense"]),
                metadata=signed(key, secret, face.host, nonce="0123456789f"),
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_methods_the_sdk_never_calls_are_unimplemented(app: FastAPI) -> None:
    async with served(app) as face:
        log_error = face.channel.unary_unary(
            "/ai.inworld.engine.WorldEngine/LogError",
            request_serializer=we.GenerateTokenRequest.SerializeToString,
            response_deserializer=we.AccessToken.FromString,
        )
        with pytest.raises(aio.AioRpcError) as caught:
            await log_error(we.GenerateTokenRequest())
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_the_face_serves_beside_http_in_the_app_lifespan(settings: Settings) -> None:
    port = _free_port()
    application = create_app(settings.model_copy(update={"grpc_port": port}), serve_grpc=True)
    async with LifespanManager(application, startup_timeout=120):
        key, secret = await key_pair(application)
        async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            token = await we_grpc.WorldEngineStub(channel).GenerateToken(
                we.GenerateTokenRequest(key=key, resources=["workspaces/test-ws"]),
                metadata=signed(key, secret, f"localhost:{port}"),
            )
        # The token the gRPC face issued is good on the HTTP face: one TokenService, one store.
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://anima.test") as http:
            claims = await application.state.anima.extras["tokens"].verify(token.token)
            assert claims.session_id == token.session_id
            assert (await http.get("/readyz")).status_code == 200
    # Stopped with the app: the port is free again.
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


async def test_grpc_port_zero_turns_the_face_off(settings: Settings) -> None:
    application = create_app(settings.model_copy(update={"grpc_port": 0}), serve_grpc=True)
    async with (
        LifespanManager(application, startup_timeout=120),
        serving(application.state.anima) as port,
    ):
        assert port is None


async def test_a_port_in_use_is_a_clear_start_up_error(app: FastAPI) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        with pytest.raises(FailedPrecondition, match="--grpc-port"):
            async with serving(app.state.anima, port=taken):
                pass


async def test_tls_when_given_a_certificate_and_key(settings: Settings, tmp_path: Path) -> None:
    cert, key_file = self_signed(tmp_path)
    tls = settings.model_copy(update={"tls_cert_file": cert, "tls_key_file": key_file})
    application = create_app(tls)
    async with (
        LifespanManager(application, startup_timeout=120),
        serving(application.state.anima, port=0) as port,
    ):
        key, secret = await key_pair(application)
        request = we.GenerateTokenRequest(key=key, resources=["workspaces/test-ws"])
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        async with aio.secure_channel(f"localhost:{port}", credentials) as channel:
            token = await we_grpc.WorldEngineStub(channel).GenerateToken(
                request, metadata=signed(key, secret, f"localhost:{port}")
            )
        assert tokens.session_workspace(token.session_id) == "test-ws"
        # A plaintext client cannot talk to the TLS port.
        async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(aio.AioRpcError) as caught:
                await we_grpc.WorldEngineStub(channel).GenerateToken(
                    request, metadata=signed(key, secret, f"localhost:{port}", nonce="0123456789c")
                )
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_unreadable_tls_files_fail_at_start_up(settings: Settings, tmp_path: Path) -> None:
    missing = settings.model_copy(
        update={"tls_cert_file": tmp_path / "no.pem", "tls_key_file": tmp_path / "no.key"}
    )
    application = create_app(missing)
    async with LifespanManager(application, startup_timeout=120):
        with pytest.raises(FailedPrecondition, match="TLS"):
            async with serving(application.state.anima, port=0):
                pass
