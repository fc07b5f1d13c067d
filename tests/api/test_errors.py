"""Every failure class answers in the error shape of rest-api.md#errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import BaseModel

from anima.app import create_app
from anima.errors import NotFound
from anima.settings import Settings


class Body(BaseModel):
    count: int
    name: str


def _shape(r: httpx.Response, code: int, status: str) -> dict[str, object]:
    assert r.status_code == code, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert err["code"] == code
    assert err["status"] == status
    assert isinstance(err["message"], str)
    assert err["message"]
    assert isinstance(err["details"], list)
    assert "Traceback" not in r.text
    assert r.headers.get("x-request-id")
    return err  # type: ignore[no-any-return]


async def test_unknown_route_404(client: httpx.AsyncClient) -> None:
    _shape(await client.get("/no/such/thing"), 404, "NOT_FOUND")


async def test_wrong_method_405(client: httpx.AsyncClient) -> None:
    _shape(await client.delete("/healthz"), 405, "UNIMPLEMENTED")


@pytest.fixture
async def probe_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app with a few extra routes that exercise the error handlers."""
    app = create_app(settings.model_copy(update={"max_body_bytes": 2048}))

    @app.post("/probe/body")
    async def body(b: Body) -> dict[str, int]:
        return {"count": b.count}

    @app.get("/probe/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/probe/missing")
    async def missing() -> None:
        raise NotFound("the thing is not here")

    async with LifespanManager(app, startup_timeout=120):
        yield app


@pytest.fixture
async def probe(probe_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=probe_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anima.test") as c:
        yield c


async def test_malformed_json_400(probe: httpx.AsyncClient) -> None:
    r = await probe.post(
        "/probe/body", content=b'{"count": 1,', headers={"content-type": "application/json"}
    )
    err = _shape(r, 400, "INVALID_ARGUMENT")
    assert "JSON" in str(err["message"])


async def test_validation_error_names_the_field(probe: httpx.AsyncClient) -> None:
    r = await probe.post("/probe/body", json={"count": "many", "name": "x"})
    err = _shape(r, 400, "INVALID_ARGUMENT")
    assert "count" in str(err["message"])
    violations = err["details"][0]["fieldViolations"]  # type: ignore[index]
    assert violations[0]["field"] == "count"


async def test_missing_field_named(probe: httpx.AsyncClient) -> None:
    err = _shape(await probe.post("/probe/body", json={"count": 1}), 400, "INVALID_ARGUMENT")
    assert "name" in str(err["message"])


async def test_oversized_body_413_by_content_length(probe: httpx.AsyncClient) -> None:
    r = await probe.post(
        "/probe/body", content=b"x" * 5000, headers={"content-type": "application/json"}
    )
    err = _shape(r, 413, "RESOURCE_EXHAUSTED")
    assert "ANIMA_MAX_BODY_BYTES" in str(err["message"])


async def test_oversized_streamed_body_413(probe: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    r = await probe.post(
        "/probe/body", content=chunks(), headers={"content-type": "application/json"}
    )
    _shape(r, 413, "RESOURCE_EXHAUSTED")


async def test_unexpected_exception_500_without_internals(
    probe: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    r = await probe.get("/probe/boom", headers={"x-request-id": "req-123"})
    err = _shape(r, 500, "INTERNAL")
    assert "hunter2" not in r.text
    assert "req-123" in str(err["message"])
    logged = [rec for rec in caplog.records if getattr(rec, "request_id", None) == "req-123"]
    assert any(rec.exc_info for rec in logged), "the 500 is logged with its request id"


async def test_anima_error_maps_its_status(probe: httpx.AsyncClient) -> None:
    err = _shape(await probe.get("/probe/missing"), 404, "NOT_FOUND")
    assert err["message"] == "the thing is not here"
