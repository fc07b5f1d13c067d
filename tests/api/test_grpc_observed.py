"""gRPC calls counted per method and status, unknown methods logged, cancelled streams logged."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from fastapi import FastAPI
from grpc import aio

from anima.wire.pb.ai.inworld.engine import world_engine_pb2 as we
from tests.api.grpc_helpers import configure, key_pair, served, signed

TOKEN = "/ai.inworld.engine.WorldEngine/GenerateToken"


def _count(app: FastAPI, method: str, code: str) -> float:
    value = app.state.anima.registry.get_sample_value(
        "anima_grpc_requests_total", {"method": method, "code": code}
    )
    return float(value or 0)


async def test_an_unknown_method_is_logged_counted_and_unimplemented(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    method = "/ai.inworld.engine.WorldEngine/LogError"
    old_sdk = [("grpc.primary_user_agent", "inworld-nodejs-sdk/0.9.4")]
    async with (
        served(app) as face,
        aio.insecure_channel(f"127.0.0.1:{face.port}", options=old_sdk) as channel,
    ):
        log_error = channel.unary_unary(method)
        with caplog.at_level(logging.WARNING, "anima.grpc"), pytest.raises(aio.AioRpcError) as e:
            await log_error(b"")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert method in (e.value.details() or "")
    (record,) = [r for r in caplog.records if "does not serve" in r.getMessage()]
    assert method in record.getMessage()
    assert "inworld-nodejs-sdk/0.9.4" in record.getMessage()
    assert _count(app, method, "UNIMPLEMENTED") == 1


async def test_calls_are_counted_by_method_and_status(app: FastAPI) -> None:
    async with served(app) as face:
        key, secret = await key_pair(app)
        request = we.GenerateTokenRequest(key=key, resources=["workspaces/test-ws"])
        await face.engine.GenerateToken(request, metadata=signed(key, secret, face.host))
        with pytest.raises(aio.AioRpcError):
            await face.engine.GenerateToken(request, metadata=signed(key, secret + "x", face.host))
    assert _count(app, TOKEN, "OK") == 1
    assert _count(app, TOKEN, "UNAUTHENTICATED") == 1
    duration = app.state.anima.registry.get_sample_value(
        "anima_grpc_request_duration_seconds_count", {"method": TOKEN}
    )
    assert duration == 2


async def test_a_stream_the_client_cancels_is_logged_and_counted(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    method = "/ai.inworld.engine.WorldEngine/OpenSession"
    async with served(app) as face:
        key, secret = await key_pair(app)
        token = await face.engine.GenerateToken(
            we.GenerateTokenRequest(key=key), metadata=signed(key, secret, face.host)
        )
        metadata = (
            ("session-id", token.session_id),
            ("authorization", f"Bearer {token.token}"),
        )
        with caplog.at_level(logging.INFO, "anima.grpc"):
            call = face.engine.OpenSession(metadata=metadata)
            await call.write(configure())
            call.cancel()
            for _ in range(200):  # the server notices the cancel on its own time
                if _count(app, method, "CANCELLED"):
                    break
                await asyncio.sleep(0.02)
    assert _count(app, method, "CANCELLED") == 1
    assert any("cancelled by the client" in r.getMessage() for r in caplog.records)
