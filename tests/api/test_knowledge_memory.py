"""Knowledge and long-term memory through the engine, on SQLite and PostgreSQL.

The real MiniLM embedder finds the facts; the scripted model stands in for the language
model, so what is asserted is what reaches the prompt and the store, not a model's whims.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import delete

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from anima.store.memory import KnowledgeSetRow
from tests.api.engine_helpers import V1, Game, open_game
from tests.conftest import make_key

FROSTBITE = "Axeon's sword is named Frostbite."
FILLER = [
    "The mill by the river grinds barley every autumn.",
    "Copper coins are minted in the southern city of Varn.",
    "The old lighthouse has been dark for forty years.",
    "Goats graze on the eastern hills in summer.",
    "The baker's oven is lit two hours before dawn.",
]


@pytest.fixture
async def game(db_settings: Settings) -> AsyncIterator[Game]:
    settings = db_settings.model_copy(update={"embed_backend": "minilm"})
    async with open_game(settings) as g:
        g.use_llm(ScriptedLLM(["Aye.", "Well now.", "So it goes."]))
        yield g
        await g.engine.turns.recall.memory.settle()


def note(game: Game) -> str:
    return game.llm.prompts[-1].note


async def talk(game: Game, session: str, agent: str, text: str) -> dict[str, Any]:
    r = await game.send_text(session, agent, text)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def history(game: Game, session: str) -> list[dict[str, Any]]:
    body = await game.ok("GET", f"{V1}/sessions/{session}/interactions")
    items: list[dict[str, Any]] = body["interactions"]
    return items


async def axeon(game: Game, **fields: Any) -> str:
    facts = [{"text": t} for t in [*FILLER, FROSTBITE]]
    return await game.character("Axeon", personalKnowledge={"facts": facts}, **fields)


async def opened(game: Game, character: str, user: str | None = "p1") -> tuple[str, str]:
    body = {"endUserId": user, "givenName": "Rowan"} if user else {"givenName": "Rowan"}
    s = await game.open(character, body)
    return s["name"], s["sessionCharacters"][0]["character"]


# -- knowledge ---------------------------------------------------------------------------


async def test_a_fact_reaches_the_prompt_and_the_trace(game: Game) -> None:
    cid = await axeon(game)
    session, agent = await opened(game, cid)
    await talk(game, session, agent, "What is your sword called?")
    assert "Frostbite" in note(game)
    assert "grinds barley" not in note(game)  # only what is relevant
    trace = (await history(game, session))[-1]["trace"]
    assert trace["knowledge"][0]["text"] == FROSTBITE
    assert trace["knowledge"][0]["source"] == "personal"
    # the fact is something the character may say: the guards do not treat it as hidden
    game.use_llm(ScriptedLLM(["My sword is named Frostbite."]))
    reply = await talk(game, session, agent, "Tell me the name of your sword?")
    assert reply["textList"] == ["My sword is named Frostbite."]


async def test_deploy_stores_vectors_once_for_the_same_facts(game: Game) -> None:
    cid = await axeon(game)
    first = await game.store.vectors.get_set("ws1", "characters", cid, 1)
    assert first is not None
    assert first["personal"]
    corpus = await game.store.vectors.corpus(first["personal"], "personal")
    assert corpus is not None
    assert corpus.vectors.shape == (6, 384)
    await game.deploy(f"workspaces/ws1/characters/{cid}")
    second = await game.store.vectors.get_set("ws1", "characters", cid, 2)
    assert second is not None
    assert second["personal"] == first["personal"]


async def test_common_knowledge_of_the_character(game: Game) -> None:
    ck = await game.create(
        {"displayName": "Town lore", "knowledgeRecords": [{"text": "The town well is cursed."}]},
        "common-knowledge",
    )
    cid = await game.character("Brom", commonKnowledge=[ck["name"]])
    session, agent = await opened(game, cid)
    await talk(game, session, agent, "Is the town well safe to drink from?")
    assert "The town well is cursed." in note(game)
    trace = (await history(game, session))[-1]["trace"]
    assert trace["knowledge"][0]["source"] == ck["name"].rsplit("/", 1)[-1]


async def test_in_a_scene_no_character_learns_another_s_private_facts(game: Game) -> None:
    lore = await game.create(
        {"displayName": "Ferry lore", "knowledgeRecords": [{"text": "The ferry sank in 1870."}]},
        "common-knowledge",
    )
    tony = await game.character(
        "Tony", personalKnowledge={"facts": [{"text": "Tony hid the gold under the dock."}]}
    )
    anna = await game.character(
        "Anna", personalKnowledge={"facts": [{"text": "Anna keeps the gold key in her boot."}]}
    )
    scene = await game.create(
        {
            "displayName": "The Ferry",
            "characters": [
                {"character": f"workspaces/ws1/characters/{tony}"},
                {"character": f"workspaces/ws1/characters/{anna}"},
            ],
            "commonKnowledge": [lore["name"]],
        },
        "scenes",
    )
    await game.deploy(scene["name"])
    s = await game.ok(
        "POST",
        f"{V1}/scenes/{scene['name'].rsplit('/', 1)[-1]}:openSession",
        json={"name": scene["name"]},
    )
    agents = {c["displayName"]: c["character"] for c in s["sessionCharacters"]}
    await talk(game, s["name"], agents["Anna"], "When did the ferry sink?")
    assert "1870" in note(game)  # the scene's common knowledge
    await talk(game, s["name"], agents["Anna"], "Where is the gold key?")
    assert "Anna keeps the gold key" in note(game)
    assert "Tony hid" not in str(game.llm.prompts[-1])
    await talk(game, s["name"], agents["Tony"], "Where is the gold?")
    assert "Tony hid the gold" in note(game)
    assert "Anna keeps" not in str(game.llm.prompts[-1])


# -- cognitive control -------------------------------------------------------------------


async def test_strict_deflects_an_unknown_question_of_fact_without_the_model(game: Game) -> None:
    cid = await axeon(game, cognitiveControl="COGNITIVE_CONTROL_STRICT")
    session, agent = await opened(game, cid)
    asked = len(game.llm.prompts)
    reply = await talk(game, session, agent, "What is the capital of Morovia?")
    assert len(game.llm.prompts) == asked  # the model was not asked
    assert reply["textList"]
    assert "Morovia" not in reply["textList"][0]
    assert (await history(game, session))[-1]["trace"]["cognitiveControl"] == "deflect"
    await talk(game, session, agent, "What is your sword called?")  # known: answered
    assert "Frostbite" in note(game)
    await talk(game, session, agent, "How are you today?")  # not a question of fact
    assert len(game.llm.prompts) == asked + 2


async def test_mild_tells_the_model_to_say_it_does_not_know(game: Game) -> None:
    cid = await axeon(game, cognitiveControl="COGNITIVE_CONTROL_MILD")
    session, agent = await opened(game, cid)
    await talk(game, session, agent, "What is the capital of Morovia?")
    assert "does not know the answer" in note(game)
    none = await axeon(game, cognitiveControl="COGNITIVE_CONTROL_NONE")
    session, agent = await opened(game, none)
    await talk(game, session, agent, "What is the capital of Morovia?")
    assert "does not know" not in note(game)


# -- long-term memory ---------------------------------------------------------------------


async def test_memory_across_sessions_of_the_same_player_only(game: Game) -> None:
    cid = await game.character("Mara")
    s1, a1 = await opened(game, cid, "p1")
    await talk(game, s1, a1, "My sister's name is Ilsa.")
    await game.engine.turns.recall.memory.settle()
    s2, a2 = await opened(game, cid, "p1")
    await talk(game, s2, a2, "Do you remember my sister's name?")
    assert "Rowan's sister is named Ilsa." in note(game)
    trace = (await history(game, s2))[-1]["trace"]
    assert trace["memories"][0]["text"] == "Rowan's sister is named Ilsa."
    other, agent = await opened(game, cid, "p2")
    await talk(game, other, agent, "Do you remember my sister's name?")
    assert "Ilsa" not in str(game.llm.prompts[-1])
    anonymous, agent = await opened(game, cid, None)
    await talk(game, anonymous, agent, "My brother is called Tomas.")
    await game.engine.turns.recall.memory.settle()
    assert await game.store.memories.of_workspace_player("ws1", "") == []
    state = await game.ok("GET", f"{V1}/sessions/{s2}/sessionCharacters/{a2}/state")
    assert state["memories"] == ["Rowan's sister is named Ilsa."]


async def test_a_newer_statement_supersedes_and_the_same_one_merges(game: Game) -> None:
    cid = await game.character("Mara")
    s, a = await opened(game, cid)
    for line in ("I hate the rain.", "I hate the rain.", "I love the rain now.", "I'm a baker."):
        await talk(game, s, a, line)
        await game.engine.turns.recall.memory.settle()
    kept = await game.store.memories.of_player("ws1", cid, "p1")
    assert sorted(m.text for m in kept) == ["{player} is a baker.", "{player} loves the rain."]


async def test_a_character_can_switch_memory_off(game: Game) -> None:
    cid = await game.character("Mara", longTermCoherence={"enabled": False})
    s, a = await opened(game, cid)
    await talk(game, s, a, "My sister's name is Ilsa.")
    await game.engine.turns.recall.memory.settle()
    assert await game.store.memories.of_player("ws1", cid, "p1") == []


async def test_memory_api_lists_edits_and_forgets_within_its_workspace(game: Game) -> None:
    cid = await game.character("Mara")
    s, a = await opened(game, cid)
    await talk(game, s, a, "My sister's name is Ilsa. I hate the rain.")
    await game.engine.turns.recall.memory.settle()
    path = f"{V1}/characters/{cid}/players/p1/memories"
    listed = (await game.ok("GET", path))["memories"]
    assert [m["text"] for m in listed] == ["Rowan's sister is named Ilsa.", "Rowan hates the rain."]
    first = listed[0]
    assert first["interaction"].startswith(f"workspaces/ws1/sessions/{s}/interactions/")
    memory_id = first["name"].rsplit("/", 1)[-1]
    edited = await game.ok("PATCH", f"{path}/{memory_id}", json={"text": "Rowan's sister is Elsa."})
    assert edited["text"] == "Rowan's sister is Elsa."
    r = await game.call("PATCH", f"{path}/{memory_id}", json={"text": ""})
    assert r.status_code == 400
    assert "text" in r.json()["error"]["message"]
    # another workspace's key sees nothing of ws1
    other = await make_key(game.app, "ws2")
    r = await game.client.get(path, headers={"authorization": other})
    assert r.status_code == 403
    assert (await game.ok("DELETE", f"{path}/{memory_id}")) == {}
    assert (await game.call("DELETE", f"{path}/{memory_id}")).status_code == 404
    assert await game.ok("DELETE", path) == {"deleted": 1}
    assert (await game.ok("GET", path))["memories"] == []


async def test_a_failed_embedding_fails_the_deploy_with_a_clear_error(
    game: Game, monkeypatch: pytest.MonkeyPatch
) -> None:
    knowledge = game.engine.turns.recall.knowledge

    async def broken(texts: list[str]) -> Any:
        raise RuntimeError("the embedder is out of memory")

    monkeypatch.setattr(knowledge.embedder, "embed", broken)
    created = await game.create(
        {
            "defaultCharacterDescription": {"givenName": "Axeon"},
            "personalKnowledge": {"facts": [{"text": FROSTBITE}]},
        }
    )
    done = await game.deploy(created["name"])
    assert "could not embed the personal knowledge" in done["error"]["message"]
    assert "out of memory" in done["error"]["message"]
    cid = created["name"].rsplit("/", 1)[-1]
    assert await game.store.vectors.get_set("ws1", "characters", cid, 1) is None


async def test_a_version_deployed_without_vectors_is_embedded_on_its_first_turn(
    game: Game,
) -> None:
    cid = await axeon(game)
    key = ("ws1", "characters", cid, 1)
    async with game.store.session() as s:  # as if deployed before knowledge existed
        await s.execute(delete(KnowledgeSetRow))
    game.engine.turns.recall.knowledge._sets.clear()
    session, agent = await opened(game, cid)
    await talk(game, session, agent, "What is your sword called?")
    assert "Frostbite" in note(game)
    assert await game.store.vectors.get_set(*key)
