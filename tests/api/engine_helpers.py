"""An engine client over the in-process app: Studio to create and deploy, then /v1 to talk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from anima.backends.scripted import ScriptedLLM
from anima.pipeline.engine import Engine
from anima.settings import Settings
from tests.api.studio_helpers import Studio, open_studio

V1 = "/v1/workspaces/ws1"


@dataclass
class Game(Studio):
    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.anima.engine
        return engine

    @property
    def llm(self) -> ScriptedLLM:
        llm = self.engine.turns.llm
        assert isinstance(llm, ScriptedLLM)
        return llm

    def use_llm(self, llm: ScriptedLLM) -> None:
        self.engine.turns.llm = llm

    async def character(self, given_name: str = "Tony", **fields: Any) -> str:
        """Create and deploy a character; returns its short id."""
        body = {
            "defaultCharacterDescription": {
                "givenName": given_name,
                "description": f"{given_name} runs the ferry on the river.",
                **fields.pop("description", {}),
            },
            **fields,
        }
        created = await self.create(body)
        await self.deploy(created["name"])
        return str(created["name"].rsplit("/", 1)[-1])

    async def open(self, character: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": f"workspaces/ws1/characters/{character}"}
        if user is not None:
            body["user"] = user
        return await self.ok("POST", f"{V1}/characters/{character}:openSession", json=body)

    async def send_text(self, session: str, agent: str, text: str) -> httpx.Response:
        return await self.call(
            "POST",
            f"{V1}/sessions/{session}/sessionCharacters/{agent}:sendText",
            json={"text": text},
            headers={"Grpc-Metadata-session-id": session},
        )

    async def send_trigger(
        self, session: str, agent: str, trigger: str, params: list[dict[str, str]] | None = None
    ) -> httpx.Response:
        event: dict[str, Any] = {"trigger": trigger}
        if params is not None:
            event["parameters"] = params
        return await self.call(
            "POST",
            f"{V1}/sessions/{session}/sessionCharacters/{agent}:sendTrigger",
            json={"triggerEvent": event},
            headers={"Grpc-Metadata-session-id": session},
        )


@asynccontextmanager
async def open_game(settings: Settings) -> AsyncIterator[Game]:
    async with open_studio(settings) as studio:
        yield Game(studio.app, studio.client, studio.headers)
