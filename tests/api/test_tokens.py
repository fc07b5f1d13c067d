"""POST /auth/v1/tokens/token:generate and the session-token dependency (anima.api.tokens)."""

from __future__ import annotations

import base64
import re
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, WebSocket
from sqlalchemy import update

from anima.api.tokens import (
    IssuedToken,
    SessionToken,
    TokenService,
    session_token,
    token_service,
)
from anima.app import create_app
from anima.domain import tokens
from anima.domain.credentials import Scope, new_key_pair
from anima.errors import AnimaError
from anima.settings import Settings
from anima.store import Store
from anima.store.tables import ApiKeyRow
from anima.wire.packets import error_frame

if TYPE_CHECKING:
    from starlette.testclient import TestClient

URL = "/auth/v1/tokens/token:generate"
HOST = "anima.test"  # the Host header httpx sends for base_url http://anima.test


async def _pair(app: FastAPI, workspace: str = "ws1", scope: Scope = Scope.ALL) -> tuple[str, str]:
    store: Store = app.state.anima.store
    await store.keys.ensure_workspace(workspace)
    pair = new_key_pair()
    await store.keys.add(workspace, scope, pair)
    return pair.key, pair.secret


def _basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


def _signed(
    key: str,
    secret: str,
    *,
    now: datetime | None = None,
    nonce: str = "0123456789a",
    host: str = HOST,
) -> dict[str, str]:
    header = tokens.sign_request(key, secret, host, now=now or datetime.now(UTC), nonce=nonce)
    return {"Authorization": header}


def _error(r: httpx.Response, code: int, status: str) -> dict[str, Any]:
    assert r.status_code == code, r.text
    body: dict[str, Any] = r.json()["error"]
    assert body["status"] == status
    return body


async def test_basic_key_gets_a_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    key, secret = await _pair(app)
    r = await client.post(
        URL, json={"key": key, "resources": ["workspaces/ws1"]}, headers=_basic(key, secret)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"token", "type", "expirationTime", "sessionId"}
    assert body["type"] == "Bearer"
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", body["token"])
    assert re.fullmatch(r"ws1:[0-9a-f-]{36}", body["sessionId"])
    expires = datetime.fromisoformat(body["expirationTime"].replace("Z", "+00:00"))
    # Both SDKs treat a token as expired 5 minutes before its expirationTime: issue ~1 h.
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    claims = await token_service(app.state.anima).verify(body["token"])
    assert (claims.workspace, claims.session_id, claims.api_key) == ("ws1", body["sessionId"], key)


async def test_every_call_opens_a_new_session_id(app: FastAPI, client: httpx.AsyncClient) -> None:
    key, secret = await _pair(app)
    ids = {
        (await client.post(URL, json={}, headers=_basic(key, secret))).json()["sessionId"]
        for _ in range(3)
    }
    assert len(ids) == 3


async def test_hmac_signed_request_gets_a_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    key, secret = await _pair(app)
    r = await client.post(
        URL, json={"key": key, "resources": ["workspaces/ws1"]}, headers=_signed(key, secret)
    )
    assert r.status_code == 200, r.text
    assert r.json()["sessionId"].startswith("ws1:")


async def test_signature_for_a_local_grpc_address_is_accepted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    key, secret = await _pair(app)
    r = await client.post(
        URL, json={"key": key}, headers=_signed(key, secret, host="localhost:50051")
    )
    assert r.status_code == 200, r.text


async def test_replayed_signature_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    key, secret = await _pair(app)
    headers = _signed(key, secret)
    assert (await client.post(URL, json={"key": key}, headers=headers)).status_code == 200
    body = _error(
        await client.post(URL, json={"key": key}, headers=headers), 401, "UNAUTHENTICATED"
    )
    assert "nonce" in body["message"]


async def test_stale_signature_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    key, secret = await _pair(app)
    old = datetime.now(UTC) - timedelta(minutes=10)
    body = _error(
        await client.post(URL, json={"key": key}, headers=_signed(key, secret, now=old)),
        401,
        "UNAUTHENTICATED",
    )
    assert "clock" in body["message"]


@pytest.mark.parametrize("what", ["secret", "host", "key"])
async def test_wrong_signature_is_refused(
    app: FastAPI, client: httpx.AsyncClient, what: str
) -> None:
    key, secret = await _pair(app)
    headers = {
        "secret": _signed(key, secret + "x"),
        "host": _signed(key, secret, host="evil.example:8000"),
        "key": _signed("unknownkey", secret),
    }[what]
    _error(await client.post(URL, json={}, headers=headers), 401, "UNAUTHENTICATED")


async def test_key_without_sealed_secret_is_told_what_to_do(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    key, secret = await _pair(app)
    store: Store = app.state.anima.store
    async with store.session() as s:
        await s.execute(update(ApiKeyRow).where(ApiKeyRow.key == key).values(sealed_secret=None))
    body = _error(
        await client.post(URL, json={}, headers=_signed(key, secret)), 401, "UNAUTHENTICATED"
    )
    assert "create a new key" in body["message"]
    assert (await client.post(URL, json={}, headers=_basic(key, secret))).status_code == 200


async def test_revoked_key_gets_no_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    key, secret = await _pair(app)
    await app.state.anima.store.keys.revoke(key)
    _error(await client.post(URL, json={}, headers=_signed(key, secret)), 401, "UNAUTHENTICATED")
    _error(await client.post(URL, json={}, headers=_basic(key, secret)), 401, "UNAUTHENTICATED")


async def test_missing_auth_is_401(client: httpx.AsyncClient) -> None:
    _error(await client.post(URL, json={}), 401, "UNAUTHENTICATED")


async def test_other_workspace_is_403(app: FastAPI, client: httpx.AsyncClient) -> None:
    key, secret = await _pair(app)
    await _pair(app, "ws2")
    _error(
        await client.post(URL, json={"resources": ["workspaces/ws2"]}, headers=_basic(key, secret)),
        403,
        "PERMISSION_DENIED",
    )


async def test_body_key_must_be_the_authenticated_key(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    key, secret = await _pair(app)
    _error(
        await client.post(URL, json={"key": "someoneelse"}, headers=_basic(key, secret)),
        403,
        "PERMISSION_DENIED",
    )


async def test_studio_only_key_is_403(app: FastAPI, client: httpx.AsyncClient) -> None:
    key, secret = await _pair(app, scope=Scope.STUDIO)
    _error(await client.post(URL, json={}, headers=_basic(key, secret)), 403, "PERMISSION_DENIED")


@pytest.mark.parametrize(
    "resources", [["characters/x"], ["workspaces/a", "workspaces/b"], ["workspaces/a/b"]]
)
async def test_bad_resources_are_400(
    app: FastAPI, client: httpx.AsyncClient, resources: list[str]
) -> None:
    key, secret = await _pair(app)
    _error(
        await client.post(URL, json={"resources": resources}, headers=_basic(key, secret)),
        400,
        "INVALID_ARGUMENT",
    )


async def test_token_signing_key_survives_a_restart(settings: Settings) -> None:
    first = create_app(settings)
    async with LifespanManager(first, startup_timeout=120):
        key, _ = await _pair(first)
        api_key = (await first.state.anima.store.keys.list())[0]
        issued = await token_service(first.state.anima).issue(api_key, [])
    second = create_app(settings)
    async with LifespanManager(second, startup_timeout=120):
        claims = await token_service(second.state.anima).verify(issued.token)
        assert claims.api_key == key


# -- the SessionToken dependency -----------------------------------------------------------


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app plus a REST route guarded by session tokens."""
    app = create_app(settings)

    @app.get("/test/workspaces/{ws}/sessions/{session}/state")
    async def state(claims: SessionToken) -> dict[str, str]:
        return {"workspace": claims.workspace}

    async with LifespanManager(app, startup_timeout=120):
        yield app


async def _issue(
    app: FastAPI, workspace: str = "ws1", *, now: datetime | None = None
) -> IssuedToken:
    await _pair(app, workspace)
    service: TokenService = token_service(app.state.anima)
    api_key = (await app.state.anima.store.keys.list(workspace))[0]
    return await service.issue(api_key, [], now=now)


async def test_bearer_token_opens_rest_routes_of_its_workspace(guarded: FastAPI) -> None:
    issued = await _issue(guarded)
    other = f"{issued.session_id.split(':')[0]}:another-session"
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://anima.test") as c:
        auth = {
            "Authorization": f"Bearer {issued.token}",
            "Grpc-Metadata-session-id": issued.session_id,
        }
        r = await c.get(f"/test/workspaces/ws1/sessions/{issued.session_id}/state", headers=auth)
        assert r.json() == {"workspace": "ws1"}
        # A refreshed token keeps serving the session id the client already had (spec §2.1).
        r = await c.get(f"/test/workspaces/ws1/sessions/{other}/state", headers=auth)
        assert r.status_code == 200
        r = await c.get("/test/workspaces/ws2/sessions/ws2:x/state", headers=auth)
        _error(r, 403, "PERMISSION_DENIED")
        r = await c.get(f"/test/workspaces/ws1/sessions/{issued.session_id}/state")
        body = _error(r, 401, "UNAUTHENTICATED")
        assert body["details"][0]["errorType"] == "SESSION_TOKEN_INVALID"


async def test_expired_token_says_so_for_the_sdk_to_refresh(guarded: FastAPI) -> None:
    issued = await _issue(guarded, now=datetime.now(UTC) - timedelta(hours=2))
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://anima.test") as c:
        r = await c.get(
            f"/test/workspaces/ws1/sessions/{issued.session_id}/state",
            headers={"Authorization": f"Bearer {issued.token}"},
        )
    body = _error(r, 401, "UNAUTHENTICATED")
    detail = body["details"][0]
    assert detail["@type"] == "type.googleapis.com/ai.inworld.common.InworldStatus"
    assert (detail["errorType"], detail["reconnectType"]) == ("SESSION_TOKEN_EXPIRED", "IMMEDIATE")


async def test_token_of_a_revoked_key_stops_working(guarded: FastAPI) -> None:
    issued = await _issue(guarded)
    claims = await token_service(guarded.state.anima).verify(issued.token)
    await guarded.state.anima.store.keys.revoke(claims.api_key)
    with pytest.raises(AnimaError, match="revoked"):
        await token_service(guarded.state.anima).verify(issued.token)


@pytest.fixture
def ws_client(settings: Settings) -> Iterator[tuple[TestClient, FastAPI]]:
    with warnings.catch_warnings():
        # starlette's TestClient still touches a deprecated anyio alias on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from starlette.testclient import TestClient

    app = create_app(settings)

    @app.websocket("/test/session/open")
    async def open_session(websocket: WebSocket) -> None:
        # The intended WebSocket pattern: accept (echoing "Bearer"), then check, so a bad
        # token reaches the web SDK as an error frame it reacts to.
        await websocket.accept(subprotocol="Bearer")
        try:
            claims = await session_token(websocket)
        except AnimaError as exc:
            await websocket.send_json(error_frame(exc))
            await websocket.close()
            return
        await websocket.send_json({"workspace": claims.workspace})
        await websocket.close()

    with TestClient(app) as client:
        yield client, app


def test_websocket_subprotocol_token(ws_client: tuple[TestClient, FastAPI]) -> None:
    client, app = ws_client
    issued = client.portal.call(_issue, app)  # type: ignore[union-attr]
    url = f"/test/session/open?session_id={issued.session_id}"
    with client.websocket_connect(url, subprotocols=["Bearer", issued.token]) as ws:
        assert ws.accepted_subprotocol == "Bearer"
        assert ws.receive_json() == {"workspace": "ws1"}
    with client.websocket_connect(
        "/test/session/open?session_id=ws1:x", subprotocols=["Bearer", "v1.bogus.token"]
    ) as ws:
        frame = ws.receive_json()
        assert frame["error"]["code"] == 16
        assert frame["error"]["details"][0]["errorType"] == "SESSION_TOKEN_INVALID"
    with client.websocket_connect(
        "/test/session/open?session_id=ws2:x", subprotocols=["Bearer", issued.token]
    ) as ws:
        assert ws.receive_json()["error"]["code"] == 7
