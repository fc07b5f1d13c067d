"""gRPC clients that cancel their OpenSession call mid-turn leave the store and the session
usable (the gRPC face over real local sockets, in process; SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from tests.api.engine_helpers import Game, open_game
from tests.api.grpc_helpers import Face, Stream, access_token, key_pair, served, text

HANG = 10.0  # a write stuck behind a locked store waits 30 s or more
DELAYS = (0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08)


@pytest.fixture
async def game(db_settings: Settings) -> AsyncIterator[Game]:
    async with open_game(db_settings) as g:
        g.use_llm(ScriptedLLM(["Ahoy there. The river is calm today."]))
        yield g


@pytest.fixture
async def face(game: Game) -> AsyncIterator[Face]:
    async with served(game.app) as f:
        yield f


async def test_calls_cancelled_at_any_point_of_a_turn_leave_the_store_usable(
    face: Face, game: Game
) -> None:
    character = await game.character("Alice")
    alice = f"workspaces/ws1/characters/{character}"
    key, secret = await key_pair(face.app, "ws1")
    for delay in DELAYS:
        token = await access_token(face, key, secret)
        stream = Stream(face, token, token.session_id)
        status = await stream.open(alice)
        agent = status.agents[0].agent_id
        await stream.converse("c1", agent)
        for n in range(15):
            await stream.send(text("c1", f"text {n}"))
        await asyncio.sleep(delay)
        stream.call.cancel()
        async with asyncio.timeout(HANG):
            opened = await game.open(character)
            r = await game.send_text(token.session_id, agent, "still there?")
        assert opened["name"]
        assert r.status_code == 200, r.text
