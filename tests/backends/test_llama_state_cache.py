"""Saved persona and conversation states on the real default model (slow): a restored state
gives the reply a cold evaluation gives, deploy computes it, a new version does not use the
old one, a restart keeps it, a damaged file is ignored and rebuilt."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from anima.backends.llama import LlamaLLM
from anima.backends.state_cache import StateCache, as_tokens
from anima.domain.character import Character
from anima.domain.prompt import Prompt, PromptInput, build_prompt
from anima.domain.session import Player
from anima.settings import Settings
from tests.api.studio_helpers import open_studio

pytestmark = pytest.mark.slow

LORE = (
    "Brenna runs the Crooked Kettle, an inn where the king's road meets the river path. Its "
    "beams are older than the village and travellers say the hearth never goes out. She won "
    "the inn from a one-eyed sailor in a game of cards, and she cooks a barley stew with "
    "leeks and whatever the hunters bring."
)


def brenna(description: str = LORE) -> Character:
    return Character.model_validate(
        {
            "defaultCharacterDescription": {
                "givenName": "Brenna",
                "characterRole": "the innkeeper of the Crooked Kettle",
                "description": description,
                "motivation": "Keep her inn warm and full of stories.",
                "personalityAdjectives": ["warm", "witty", "curious"],
                "dialogResponseLength": "DIALOG_RESPONSE_LENGTH_VERY_SHORT",
            }
        }
    )


def prompt(character: Character, player: str = "Ann", text: str = "Who are you?") -> Prompt:
    return build_prompt(
        PromptInput(character=character, player=Player(given_name=player), text=text)
    )


def settings(data_dir: Path) -> Settings:
    # the model's own (non-zero) temperature
    return Settings(data_dir=data_dir, llm_seed=7, llm_state_cache_bytes=256 << 20)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def llm(data_dir: Path) -> Iterator[LlamaLLM]:
    model = LlamaLLM.from_settings(settings(data_dir))
    yield model
    model.close()


def cache_of(llm: LlamaLLM) -> StateCache:
    assert llm.state_cache is not None
    return llm.state_cache


async def reply(llm: LlamaLLM, p: Prompt, *, forget: bool = True) -> str:
    """The reply to ``p`` from an empty context (``forget``: nothing kept in memory either)."""
    await llm.idle()
    llm._llama.n_tokens = 0
    if forget and llm.state_cache is not None:
        llm.state_cache.clear_memory()
    return "".join([c async for c in llm.stream(p)])


def files(llm: LlamaLLM) -> list[Path]:
    directory = cache_of(llm).directory
    assert directory is not None
    return sorted(directory.glob("*.kv"))


async def test_a_restored_state_gives_the_same_reply_as_a_cold_evaluation(llm: LlamaLLM) -> None:
    p = prompt(brenna())
    persona = llm.persona_tokens(p, as_tokens(llm.tokens(p)))
    assert persona is not None
    assert len(persona) >= 64

    cache, llm.state_cache = llm.state_cache, None  # one pass over the whole prompt
    cold = await reply(llm, p)
    llm.state_cache = cache
    stats = cache_of(llm).stats

    evaluated = await reply(llm, p)  # the persona first, kept, then the rest
    assert (stats.misses, len(files(llm))) == (1, 1)
    from_disk = await reply(llm, p)
    assert stats.hits["disk"] == 1
    await llm.idle()
    llm._llama.n_tokens = 0
    from_memory = "".join([c async for c in llm.stream(p)])  # the conversation's kept state
    assert stats.hits["memory"] == 1
    m = llm.last_metrics
    assert m is not None
    assert m.usage.cached_tokens == m.usage.prompt_tokens - 2  # the last two: one batch
    assert cold.strip()
    assert evaluated == from_disk == from_memory == cold


async def test_another_player_reuses_the_persona(llm: LlamaLLM) -> None:
    await reply(llm, prompt(brenna(), player="Ann"))
    before = dict(cache_of(llm).stats.hits)
    await llm.idle()
    llm._llama.n_tokens = 0
    assert await reply(llm, prompt(brenna(), player="Tom"), forget=False)
    assert cache_of(llm).stats.hits["memory"] == before["memory"] + 1
    m = llm.last_metrics
    assert m is not None
    persona = llm.persona_tokens(prompt(brenna()), as_tokens(llm.tokens(prompt(brenna()))))
    assert persona is not None
    assert m.usage.cached_tokens >= len(persona)


async def test_a_new_sessions_opening_is_read_ahead(llm: LlamaLLM) -> None:
    p = prompt(brenna(), player="Zed")
    expected = await reply(llm, p)
    cache_of(llm).clear_memory()
    assert await llm.warm(p)  # when the session opens
    await llm.idle()
    llm._llama.n_tokens = 0  # another session talked meanwhile
    got = "".join([c async for c in llm.stream(p)])
    m = llm.last_metrics
    assert m is not None
    opening = llm.tokens(dataclasses.replace(p, messages=(), note=""))
    assert m.usage.cached_tokens >= len(opening) - 5  # only the conversation was read
    assert got == expected


async def test_prepare_hits_and_a_new_version_misses(llm: LlamaLLM) -> None:
    v1, v2 = brenna(), brenna(LORE + " She keeps a tame crow called Pip.")
    for f in files(llm):
        f.unlink()
    cache_of(llm).clear_memory()
    assert await llm.prepare(prompt(v1, player="Anyone"))
    assert len(files(llm)) == 1
    stats = cache_of(llm).stats
    misses, disk_hits = stats.misses, stats.hits["disk"]
    await reply(llm, prompt(v1))
    assert (stats.misses, stats.hits["disk"]) == (misses, disk_hits + 1)
    await reply(llm, prompt(v2))  # v1's state is not v2's
    assert stats.misses == misses + 1
    assert len(files(llm)) == 2


async def test_a_restart_keeps_the_persona(llm: LlamaLLM, data_dir: Path) -> None:
    p = prompt(brenna())
    await llm.prepare(p)
    expected = await reply(llm, p)
    restarted = LlamaLLM.from_settings(settings(data_dir))
    try:
        got = "".join([c async for c in restarted.stream(p)])
        stats = cache_of(restarted).stats
        assert (stats.hits["disk"], stats.misses) == (1, 0)
        assert got == expected
    finally:
        restarted.close()


async def test_a_damaged_file_is_ignored_and_rebuilt(llm: LlamaLLM) -> None:
    p = prompt(brenna())
    expected = await reply(llm, p)
    await llm.prepare(p)
    persona = llm.persona_tokens(p, as_tokens(llm.tokens(p)))
    assert persona is not None
    path = cache_of(llm).path(cache_of(llm).key(persona))
    assert path is not None
    assert path.is_file()
    for damage in (b"\x00" * 4096, b"garbage"):
        raw = bytearray(path.read_bytes())
        if len(damage) > 100:
            raw[len(raw) // 2 : len(raw) // 2 + len(damage)] = damage  # inside the KV bytes
        else:
            raw = bytearray(damage)
        path.write_bytes(bytes(raw))
        stats = cache_of(llm).stats
        corrupt, misses = stats.corrupt_files, stats.misses
        assert await reply(llm, p) == expected
        assert (stats.corrupt_files, stats.misses) == (corrupt + 1, misses + 1)
        rebuilt = StateCache(
            cache_of(llm).model_id, budget_bytes=1 << 30, directory=path.parent
        ).get(persona)
        assert rebuilt is not None  # written again, whole


async def test_deploy_computes_the_persona_state(tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path / "data",
        embed_backend="hashing",
        llm_model="smollm2-135m-instruct",  # the smallest bundled model: the app starts fast
        llm_seed=7,
        llm_state_cache_bytes=256 << 20,
    )
    async with open_studio(s) as studio:
        body = {"defaultCharacterDescription": brenna().description.model_dump(by_alias=True)}
        created = await studio.create(body)
        await studio.deploy(created["name"])
        llm = studio.app.state.anima.engine.turns.llm
        assert isinstance(llm, LlamaLLM)
        assert len(files(llm)) == 1
        await llm.idle()
        llm._llama.n_tokens = 0  # as if another character had talked meanwhile
        cache_of(llm).clear_memory()
        cid = created["name"].rsplit("/", 1)[-1]
        r = await studio.call(
            "POST",
            f"/v1/workspaces/ws1/characters/{cid}:simpleSendText",
            json={"text": "Who are you?", "endUserFullname": "Ann", "endUserId": "1"},
        )
        assert r.status_code == 200, r.text
        stats = cache_of(llm).stats
        assert (stats.hits["disk"], stats.misses) == (1, 0)
        metrics = (await studio.call("GET", "/metrics")).text
        assert 'anima_llm_state_cache_hits_total{source="disk"} 1.0' in metrics
        assert "anima_llm_state_cache_bytes" in metrics


async def test_opening_a_session_reads_its_opening_ahead(tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path / "data",
        embed_backend="hashing",
        llm_model="smollm2-135m-instruct",
        llm_seed=7,
        llm_state_cache_bytes=256 << 20,
    )
    async with open_studio(s) as studio:
        body = {"defaultCharacterDescription": brenna().description.model_dump(by_alias=True)}
        created = await studio.create(body)
        await studio.deploy(created["name"])
        cid = created["name"].rsplit("/", 1)[-1]
        llm = studio.app.state.anima.engine.turns.llm
        assert isinstance(llm, LlamaLLM)
        session = await studio.ok(
            "POST",
            f"/v1/workspaces/ws1/characters/{cid}:openSession",
            json={"name": created["name"], "user": {"endUserId": "7", "givenName": "Zed"}},
        )
        for _ in range(200):  # the warm-up runs in the background; the reply did not wait
            if cache_of(llm).stats.memory_entries >= 2:  # the persona, then the opening
                break
            await asyncio.sleep(0.05)
        await llm.idle()
        llm._llama.n_tokens = 0  # as if another session had talked meanwhile
        sid, agent = session["name"], session["sessionCharacters"][0]["character"]
        r = await studio.call(
            "POST",
            f"/v1/workspaces/ws1/sessions/{sid}/sessionCharacters/{agent}:sendText",
            json={"text": "Who are you?"},
            headers={"Grpc-Metadata-session-id": sid},
        )
        assert r.status_code == 200, r.text
        m = llm.last_metrics
        assert m is not None
        (deployed,) = studio.app.state.anima.engine._versions.values()  # as served
        opening = build_prompt(
            PromptInput(
                character=deployed.character,
                player=Player(given_name="Zed"),
                max_tokens_cap=s.llm_max_tokens,
            )
        )
        read_ahead = llm.tokens(dataclasses.replace(opening, messages=(), note=""))
        assert m.usage.cached_tokens >= len(read_ahead) - 5  # to where the conversation starts
