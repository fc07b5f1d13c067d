"""The brain through the engine: goals and triggers, emotions, relationships per player.

These run the real MiniLM embedder (intent matching, appraisal) with the scripted LLM, so
what is asserted is the engine's behaviour, not a language model's whims.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from tests.api.engine_helpers import V1, Game, open_game
from tests.domain.test_goals_yaml import ISSUE_EXAMPLE

GOALS = ISSUE_EXAMPLE  # the goals example of the hosted platform's documentation


@pytest.fixture
async def game(tmp_path: Path) -> AsyncIterator[Game]:
    settings = Settings(data_dir=tmp_path / "d", llm_backend="scripted", embed_backend="minilm")
    async with open_game(settings) as g:
        g.use_llm(ScriptedLLM(["Aye, that I can do.", "Well now.", "So it goes."]))
        yield g


def _trigger_names(body: dict[str, Any]) -> list[str]:
    return [t["trigger"].rsplit("/", 1)[-1] for t in body["activeTriggers"]]


async def _session(game: Game, character: str, user_id: str = "p1") -> tuple[str, str]:
    s = await game.open(character, {"endUserId": user_id, "givenName": "Sherlock"})
    return s["name"], s["sessionCharacters"][0]["character"]


async def test_verbatim_goal_speaks_without_the_model(game: Game) -> None:
    ferry = await game.character("Charon", yamlConfig=GOALS)
    sid, agent = await _session(game, ferry)
    before = len(game.llm.prompts)
    r = await game.send_trigger(sid, agent, "workspaces/ws1/triggers/player_arrived")
    body = r.json()
    assert body["textList"] == ["Mind the mud, traveller."]
    assert len(game.llm.prompts) == before, "no model call for a verbatim line"
    assert _trigger_names(body) == ["inworld.goal.complete.greet"]
    again = (await game.send_trigger(sid, agent, "workspaces/ws1/triggers/player_arrived")).json()
    assert again["textList"] == ["Mind the mud, traveller."], "repeatable"


async def test_instruction_with_parameters_emotion_and_triggers(game: Game) -> None:
    ferry = await game.character("Charon", yamlConfig=GOALS)
    sid, agent = await _session(game, ferry)
    r = await game.send_trigger(
        sid, agent, "workspaces/ws1/triggers/offer_ferry", [{"name": "price", "value": "3"}]
    )
    body = r.json()
    assert "offer a ferry ride for 3 coins" in str(game.llm.prompts[-1])
    assert "Tell Sherlock the bridge is out" in str(game.llm.prompts[-1])
    assert body["emotion"]["behavior"] == "INTEREST"
    assert _trigger_names(body) == ["ferry_offered", "inworld.goal.complete.offer_ferry"]

    # Not repeatable: the same trigger now reaches the character as a plain game event.
    again = (
        await game.send_trigger(
            sid, agent, "workspaces/ws1/triggers/offer_ferry", [{"name": "price", "value": "3"}]
        )
    ).json()
    assert _trigger_names(again) == []
    assert "offer a ferry ride" not in str(game.llm.prompts[-1])
    assert "The game tells you: offer ferry" in str(game.llm.prompts[-1])
    mind = await game.ok("GET", f"{V1}/sessions/{sid}/sessionCharacters/{agent}/state")
    assert mind["goals"]["completed"] == ["offer_ferry"]


async def test_intent_from_the_players_words(game: Game) -> None:
    ferry = await game.character("Charon", yamlConfig=GOALS)
    sid, agent = await _session(game, ferry)
    small_talk = (await game.send_text(sid, agent, "Lovely weather for ducks today.")).json()
    assert _trigger_names(small_talk) == []
    body = (await game.send_text(sid, agent, "How can I get over the river?")).json()
    assert _trigger_names(body) == ["ferry_offered", "inworld.goal.complete.offer_ferry"]
    prompt = str(game.llm.prompts[-1])
    assert "the bridge is out" in prompt
    assert "How can I get over the river?" in prompt


async def test_character_changes_last_for_the_session_only(game: Game) -> None:
    ferry = await game.character("Charon", yamlConfig=GOALS)
    sid, agent = await _session(game, ferry)
    body = (await game.send_trigger(sid, agent, "workspaces/ws1/triggers/boat_stolen")).json()
    assert body["emotion"]["behavior"] == "ANGER"
    assert "Accuse Sherlock of stealing the ferry." in str(game.llm.prompts[-1])
    await game.send_text(sid, agent, "What now?")
    assert "Charon wants Sherlock caught." in str(game.llm.prompts[-1])
    other, other_agent = await _session(game, ferry)
    await game.send_text(other, other_agent, "What now?")
    assert "wants Sherlock caught" not in str(game.llm.prompts[-1])


async def test_enable_and_disable_goals_at_run_time(game: Game) -> None:
    ferry = await game.character("Charon", yamlConfig=GOALS)
    sid, agent = await _session(game, ferry)
    disable = await game.send_trigger(
        sid,
        agent,
        "workspaces/ws1/triggers/inworld.goal.disable",
        [{"name": "goal_name", "value": "greet"}],
    )
    assert disable.status_code == 200, disable.text
    body = (await game.send_trigger(sid, agent, "workspaces/ws1/triggers/player_arrived")).json()
    assert body["textList"] != ["Mind the mud, traveller."]
    assert "The game tells you: player arrived" in str(game.llm.prompts[-1])
    await game.send_trigger(
        sid,
        agent,
        "workspaces/ws1/triggers/inworld.goal.enable",
        [{"name": "goal_name", "value": "greet"}],
    )
    body = (await game.send_trigger(sid, agent, "workspaces/ws1/triggers/player_arrived")).json()
    assert body["textList"] == ["Mind the mud, traveller."]


async def test_unmatched_trigger_reaches_the_character(game: Game) -> None:
    ferry = await game.character("Charon", yamlConfig=GOALS)
    sid, agent = await _session(game, ferry)
    await game.send_trigger(
        sid, agent, "workspaces/ws1/triggers/storm_rising", [{"name": "strength", "value": "gale"}]
    )
    assert "The game tells you: storm rising (strength: gale)." in str(game.llm.prompts[-1])


async def test_bad_goal_config_fails_the_deploy_with_a_line_number(game: Game) -> None:
    created = await game.create(
        {
            "defaultCharacterDescription": {"givenName": "Bad"},
            "yamlConfig": "goals:\n  - name: x\n    bogus: 1\n",
        }
    )
    op = await game.deploy(created["name"])
    assert "error" in op
    assert "line 3" in op["error"]["message"]


# -- emotions and relationships -------------------------------------------------------------

INSULTS = [
    "You are a worthless, stupid old fool.",
    "Shut up, you pathetic idiot.",
    "You disgust me, you filthy liar.",
    "Nobody likes you, you miserable wretch.",
]
COMPLIMENTS = [
    "You are wonderful, thank you so much for your kindness.",
    "I really admire how brave and clever you are.",
    "You have been such a good friend to me.",
]


async def test_insults_anger_an_aggressive_character(game: Game) -> None:
    brute = await game.character(
        "Brak", personality={"peaceful": -90, "positive": -20}, emotionalFluidity=1.0
    )
    sid, agent = await _session(game, brute)
    behaviors = []
    for line in INSULTS:
        body = (await game.send_text(sid, agent, line)).json()
        behaviors.append(body["emotion"]["behavior"])
    assert behaviors[-1] in {"ANGER", "BELLIGERENCE"}, behaviors
    mind = await game.ok("GET", f"{V1}/sessions/{sid}/sessionCharacters/{agent}/state")
    assert mind["mood"]["fear"] < 0, "the anger pole of the fear axis"
    prompt = str(game.llm.prompts[-1]).lower()
    assert "angry" in prompt or "hostile" in prompt, "the mood shapes the prompt"


async def test_fluidity_zero_never_moves(game: Game) -> None:
    stone = await game.character("Stone", initialMood={"joy": 40}, emotionalFluidity=0.0)
    sid, agent = await _session(game, stone)
    for line in INSULTS:
        await game.send_text(sid, agent, line)
    mind = await game.ok("GET", f"{V1}/sessions/{sid}/sessionCharacters/{agent}/state")
    assert mind["mood"] == {"joy": 40.0, "fear": 0.0, "trust": 0.0, "surprise": 0.0}


async def test_relationship_persists_per_player_across_sessions(game: Game) -> None:
    friend = await game.character(
        "Mira", relationship={"enabled": True, "fluidity": 1.0}, emotionalFluidity=0.8
    )
    sid, agent = await _session(game, friend, "player-1")
    updates = []
    for line in COMPLIMENTS:
        body = (await game.send_text(sid, agent, line)).json()
        updates.append(body["relationshipUpdate"])
    assert sum(u["trust"] for u in updates) > 0
    assert all(u["familiar"] >= 1 for u in updates)
    first = (await game.ok("GET", f"{V1}/sessions/{sid}/sessionCharacters/{agent}/state"))[
        "relationship"
    ]
    assert first["enabled"] is True

    later, later_agent = await _session(game, friend, "player-1")
    again = await game.ok("GET", f"{V1}/sessions/{later}/sessionCharacters/{later_agent}/state")
    assert again["relationship"] == first, "the same player finds the relationship again"
    await game.send_text(later, later_agent, "Hello again, Mira!")
    # mere acquaintances: nothing worth a line of the prompt (domain/relationship.py)
    assert first["label"] == "Acquaintance"
    assert "Relationship:" not in game.llm.prompts[-1].note

    stranger, stranger_agent = await _session(game, friend, "player-2")
    fresh = await game.ok(
        "GET", f"{V1}/sessions/{stranger}/sessionCharacters/{stranger_agent}/state"
    )
    assert fresh["relationship"]["trust"] == 0
    assert fresh["relationship"]["familiar"] == 0
    assert fresh["relationship"]["label"] == "Acquaintance"


async def test_relationship_disabled_stays_zero(game: Game) -> None:
    cold = await game.character("Cold", emotionalFluidity=1.0)
    sid, agent = await _session(game, cold)
    for line in COMPLIMENTS:
        body = (await game.send_text(sid, agent, line)).json()
        assert body["relationshipUpdate"] == {
            "trust": 0,
            "respect": 0,
            "familiar": 0,
            "flirtatious": 0,
            "attraction": 0,
        }
    mind = await game.ok("GET", f"{V1}/sessions/{sid}/sessionCharacters/{agent}/state")
    assert mind["relationship"]["enabled"] is False


async def test_emotion_packet_per_utterance_in_rest_too(game: Game) -> None:
    happy = await game.character("Sunny", initialMood={"joy": 90}, emotionalFluidity=0.5)
    sid, agent = await _session(game, happy)
    body = (await game.send_text(sid, agent, "Good morning!")).json()
    assert body["emotion"]["behavior"] in {"JOY", "HUMOR", "AFFECTION", "INTEREST"}
