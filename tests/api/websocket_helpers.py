"""The WebSocket face in process: starlette's TestClient, characters made through Studio.

``Rig`` wraps a running app (lifespan entered) with a key on workspace ``ws1``; ``Socket``
wraps one ``websocket_connect`` with the packets a web client would send.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import FastAPI

from anima.app import create_app
from anima.backends.scripted import ScriptedLLM
from anima.domain.credentials import Scope, new_key_pair
from anima.pipeline.deploy import Deployer
from anima.settings import Settings
from anima.store import Store

with warnings.catch_warnings():
    # starlette.testclient touches anyio's deprecated ``anyio.abc.BlockingPortal`` alias
    warnings.simplefilter("ignore", DeprecationWarning)
    from starlette.testclient import TestClient, WebSocketTestSession

T = TypeVar("T")
WS = "ws1"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def packet(payload: dict[str, Any], **ids: str) -> dict[str, Any]:
    """A client packet: the payload plus packetId (a fresh packetId and the given ids)."""
    return {"packetId": {"packetId": str(uuid.uuid4()), **ids}, "timestamp": now(), **payload}


def configuration(
    capabilities: dict[str, bool] | None = None,
    *,
    user: dict[str, Any] | None = None,
    continuation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "capabilitiesConfiguration": capabilities
        if capabilities is not None
        else {"audio": False, "emotions": True, "narratedActions": True, "multiAgent": True},
        "clientConfiguration": {"id": "web", "version": "2.10.0"},
    }
    if user is not None:
        config["userConfiguration"] = user
    if continuation is not None:
        config["continuation"] = continuation
    return packet(
        {
            "routing": {"source": {"type": "PLAYER"}, "target": {"type": "WORLD"}},
            "control": {"action": "SESSION_CONFIGURATION", "sessionConfiguration": config},
        }
    )


def load_scene(name: str) -> dict[str, Any]:
    return packet(
        {
            "routing": {"source": {"type": "PLAYER"}, "target": {"type": "WORLD"}},
            "mutation": {"loadScene": {"name": name}},
        },
        interactionId=str(uuid.uuid4()),
    )


@dataclass
class Socket:
    ws: WebSocketTestSession
    received: list[dict[str, Any]] = field(default_factory=list)
    session_id: str = ""
    close_code: int | None = None  # set once the server closed the socket

    def send(self, frame: dict[str, Any] | str) -> None:
        self.ws.send_text(frame if isinstance(frame, str) else json.dumps(frame))

    def next(self) -> dict[str, Any]:
        """The next frame; ``WebSocketClosed`` when the server closed the socket instead."""
        if self.close_code is not None:
            raise WebSocketClosed(self.close_code)
        message = self.ws.receive()
        if message["type"] == "websocket.close":
            self.close_code = int(message.get("code", 1000))
            raise WebSocketClosed(self.close_code)
        frame: dict[str, Any] = json.loads(message["text"])
        self.received.append(frame)
        return frame

    def closed(self) -> list[dict[str, Any]]:
        """Every frame until the server closes the socket."""
        frames = []
        try:
            while True:
                frames.append(self.next())
        except WebSocketClosed:
            return frames

    def hang_up(self) -> None:
        """Close from the client and wait until the server has finished with the socket."""
        if self.close_code is None:
            self.ws.close(1000)
            self.closed()

    def until(
        self, done: Callable[[dict[str, Any]], bool], limit: int = 200
    ) -> list[dict[str, Any]]:
        """Frames up to and including the first for which ``done`` holds."""
        frames = []
        for _ in range(limit):
            frame = self.next()
            frames.append(frame)
            if done(frame):
                return frames
        raise AssertionError(f"no matching frame in {limit}: {frames[-5:]}")

    def handshake(
        self, scene: str, capabilities: dict[str, bool] | None = None, **config: Any
    ) -> dict[str, Any]:
        """SESSION_CONFIGURATION + loadScene; the CURRENT_SCENE_STATUS packet."""
        self.send(configuration(capabilities, **config))
        self.send(load_scene(scene))
        return self.until(is_control("CURRENT_SCENE_STATUS"))[-1]["result"]

    def conversation(self, *agent_ids: str, conversation_id: str | None = None) -> str:
        cid = conversation_id or str(uuid.uuid4())
        participants = [{"name": a, "type": "AGENT"} for a in agent_ids] + [{"type": "PLAYER"}]
        self.send(
            packet(
                {
                    "control": {
                        "action": "CONVERSATION_UPDATE",
                        "conversationUpdate": {"participants": participants},
                    }
                },
                conversationId=cid,
            )
        )
        event = self.until(is_control("CONVERSATION_EVENT"))[-1]["result"]
        assert event["packetId"]["conversationId"] == cid
        return cid

    def say(self, text: str, cid: str, interaction_id: str | None = None) -> str:
        iid = interaction_id or str(uuid.uuid4())
        self.send(
            packet(
                {
                    "routing": {"source": {"type": "PLAYER"}},
                    "text": {"sourceType": "TYPED_IN", "text": text, "final": True},
                },
                interactionId=iid,
                utteranceId=str(uuid.uuid4()),
                correlationId=str(uuid.uuid4()),
                conversationId=cid,
            )
        )
        return iid

    def reply(self, interaction_id: str) -> list[dict[str, Any]]:
        """The result packets of one interaction, INTERACTION_END last."""
        frames = self.until(
            lambda f: (
                is_control("INTERACTION_END")(f)
                and f["result"]["packetId"]["interactionId"] == interaction_id
            )
        )
        return [
            f["result"]
            for f in frames
            if "result" in f and f["result"]["packetId"].get("interactionId") == interaction_id
        ]


class WebSocketClosed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"the server closed the socket ({code})")
        self.code = code


def is_control(action: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f.get("result", {}).get("control", {}).get("action") == action


@dataclass
class Rig:
    app: FastAPI
    client: TestClient
    auth: dict[str, str]

    @property
    def store(self) -> Store:
        store: Store = self.app.state.anima.store
        return store

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the app's event loop."""
        portal = self.client.portal
        assert portal is not None

        async def call() -> T:
            return await coro

        return portal.call(call)

    def use_llm(self, llm: ScriptedLLM) -> None:
        self.app.state.anima.engine.turns.llm = llm

    def ok(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        r = self.client.request(method, path, headers={**self.auth, **kw.pop("headers", {})}, **kw)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def character(self, given_name: str, **fields: Any) -> str:
        """Create and deploy a character; its resource name."""
        body = {
            "defaultCharacterDescription": {
                "givenName": given_name,
                "description": f"{given_name} runs the ferry on the river.",
                **fields.pop("description", {}),
            },
            **fields,
        }
        name = str(self.ok("POST", f"/studio/v1/workspaces/{WS}/characters", json=body)["name"])
        self.deploy(name)
        return name

    def scene(self, display_name: str, characters: list[str]) -> str:
        body = {
            "displayName": display_name,
            "description": "A muddy riverbank at dusk.",
            "characters": [{"character": c} for c in characters],
        }
        name = str(self.ok("POST", f"/studio/v1/workspaces/{WS}/scenes", json=body)["name"])
        self.deploy(name)
        return name

    def deploy(self, name: str) -> None:
        self.ok("POST", f"/studio/v1/{name}:deploy")
        deployer: Deployer = self.app.state.anima.extras["deployer"]
        self.run(deployer.wait())

    def token(self) -> dict[str, Any]:
        return self.ok(
            "POST", "/auth/v1/tokens/token:generate", json={"resources": [f"workspaces/{WS}"]}
        )

    @contextmanager
    def connect(
        self, token: dict[str, Any] | None = None, session_id: str | None = None
    ) -> Iterator[Socket]:
        token = token or self.token()
        sid = session_id if session_id is not None else token["sessionId"]
        with self.client.websocket_connect(
            f"/v1/session/open?session_id={sid}", subprotocols=["Bearer", token["token"]]
        ) as ws:
            socket = Socket(ws, session_id=sid)
            yield socket
            socket.hang_up()

    def bearer(self, token: dict[str, Any], session_id: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token['token']}",
            "Grpc-Metadata-session-id": session_id or token["sessionId"],
        }


@contextmanager
def open_rig(settings: Settings) -> Iterator[Rig]:
    app = create_app(settings)
    with TestClient(app) as client:
        rig = Rig(app, client, {})

        async def key() -> str:
            store: Store = app.state.anima.store
            await store.keys.ensure_workspace(WS)
            pair = new_key_pair()
            await store.keys.add(WS, Scope.ALL, pair)
            return pair.basic

        rig.auth = {"Authorization": f"Basic {rig.run(key())}"}
        yield rig
