"""The brain's stages composed by ``TurnRunner``: what an earlier stage decides skips the later
ones (a blocked line is matched to no intent and recalls nothing; a strict deflection and a
verbatim goal skip the model), the hooks' events in order, what each part writes back.

The runner is driven directly with a job, the scripted model, the hashing embedder (its
safety classifier is the lexicon alone) and a recall that records what it is asked.
"""

from __future__ import annotations

from typing import Any

import pytest

from anima.backends.hashing import HashingEmbedder
from anima.backends.scripted import ScriptedLLM
from anima.domain.character import Character
from anima.domain.cognition import Knowing
from anima.domain.events import (
    EmotionChanged,
    Event,
    InteractionEnd,
    RelationshipChanged,
    SpaffCode,
    TriggerFired,
    Utterance,
)
from anima.domain.session import Player, Session, SessionCharacter, SessionKind
from anima.pipeline.appraiser import Appraiser
from anima.pipeline.intents import IntentMatcher
from anima.pipeline.job import TurnInput, TurnJob
from anima.pipeline.recall import Recall, Recollection
from anima.pipeline.runner import TurnRunner
from anima.pipeline.safety import Safety
from anima.pipeline.stages.affect import AffectStage
from anima.pipeline.stages.goals import GoalsStage
from anima.pipeline.stages.recall import RecallStage
from anima.pipeline.stages.safety import SafetyStage
from anima.settings import Settings
from tests.domain.test_goals_yaml import ISSUE_EXAMPLE

CHARON = Character.model_validate(
    {
        "defaultCharacterDescription": {
            "givenName": "Charon",
            "description": "Charon runs the ferry on the river.",
        },
        "yamlConfig": ISSUE_EXAMPLE,
    }
)
CROSSING = "How do I get across the river?"  # a training phrase of the intent ask_crossing
BLOCKED = "Fuck this fucking river. How do I get across the river?"


class SpyRecall(Recall):
    """A recall with no store: answers every turn with ``found`` and records the lines."""

    def __init__(self, found: Recollection | None = None) -> None:
        self.found = found or Recollection()
        self.asked: list[str] = []
        self.left: list[str] = []

    async def for_turn(self, **kwargs: Any) -> Recollection:
        self.asked.append(kwargs["text"])
        return self.found

    def after_turn(self, **kwargs: Any) -> None:
        self.left.append(kwargs["text"])


def job(turn_input: TurnInput) -> TurnJob:
    agent = SessionCharacter("agent-1", "charon", 1, "Charon")
    session = Session(
        id="ws1:s1",
        workspace="ws1",
        kind=SessionKind.CHARACTER,
        loaded_scene="workspaces/ws1/characters/charon",
        characters=[agent],
        player=Player(end_user_id="p1", given_name="Sherlock"),
        created_at=0.0,
        last_active_at=0.0,
    )
    return TurnJob("i-1", session, agent, CHARON, [], turn_input)


async def runner(llm: ScriptedLLM, recall: Recall) -> TurnRunner:
    embedder = HashingEmbedder()
    return TurnRunner(
        Settings(),
        llm,  # type: ignore[arg-type]
        appraiser=await Appraiser.for_embedder(embedder),
        embedder=embedder,
        recall=recall,
        safety=await Safety.for_embedder(embedder),
    )


async def run(turns: TurnRunner, the_job: TurnJob) -> list[Event]:
    return [e async for e in turns.run(the_job)]


@pytest.fixture
def matched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lines the intent matcher was asked about."""
    asked: list[str] = []
    match = IntentMatcher.match

    async def spy(self: IntentMatcher, text: str, **kw: Any) -> Any:
        asked.append(text)
        return await match(self, text, **kw)

    monkeypatch.setattr(IntentMatcher, "match", spy)
    return asked


async def test_the_stages_in_their_order() -> None:
    turns = await runner(ScriptedLLM(["Aye."]), SpyRecall())
    assert [type(s) for s in turns.stages] == [SafetyStage, GoalsStage, AffectStage, RecallStage]
    bare = TurnRunner(Settings(), ScriptedLLM(["Aye."]))  # type: ignore[arg-type]
    assert [type(s) for s in bare.stages] == [GoalsStage, AffectStage]


async def test_a_line_the_goals_take_is_matched_recalled_and_remembered(
    matched: list[str],
) -> None:
    llm, recall = ScriptedLLM(["Aye, the ferry."]), SpyRecall()
    turns = await runner(llm, recall)
    the_job = job(TurnInput("text", text=CROSSING))
    events = await run(turns, the_job)
    assert matched == [CROSSING]
    assert recall.asked == [CROSSING]
    assert len(llm.prompts) == 1
    assert "the bridge is out" in str(llm.prompts[0])
    assert [type(e) for e in events] == [
        Utterance,
        EmotionChanged,
        TriggerFired,
        TriggerFired,
        RelationshipChanged,
        InteractionEnd,
    ]
    emotion = events[1]
    assert isinstance(emotion, EmotionChanged)
    assert emotion.behavior is SpaffCode.INTEREST, "the goal's emotion overrides the mood's"
    assert the_job.outcome.agent_state["goals"]["completed"] == ["offer_ferry"]
    turns.committed(the_job)
    assert recall.left == [CROSSING]


async def test_a_blocked_line_skips_the_intent_match_recall_and_model(
    matched: list[str],
) -> None:
    llm, recall = ScriptedLLM(["Aye, the ferry."]), SpyRecall()
    turns = await runner(llm, recall)
    the_job = job(TurnInput("text", text=BLOCKED))
    events = await run(turns, the_job)
    assert matched == []
    assert recall.asked == []
    assert llm.prompts == []
    assert [type(e) for e in events] == [
        Utterance,
        EmotionChanged,
        RelationshipChanged,
        InteractionEnd,
    ]
    assert "ferry" not in getattr(events[0], "text", "")
    assert the_job.outcome.agent_state["goals"].get("completed", []) == []
    # The parts finish in reverse order: affect, goals, then safety's audit.
    assert list(the_job.outcome.agent_state) == ["emotion", "goals", "safety"]
    assert any(
        v["side"] == "player" and v["action"] == "block" for v in the_job.outcome.trace["safety"]
    )
    turns.committed(the_job)
    assert recall.left == [], "a blocked line is never left to memory"


async def test_a_strict_deflection_skips_the_model() -> None:
    llm = ScriptedLLM(["The capital is Ostra."])
    recall = SpyRecall(Recollection(knowing=Knowing.DEFLECT, trace={"cognitiveControl": "deflect"}))
    turns = await runner(llm, recall)
    the_job = job(TurnInput("text", text="What is the capital of Morovia?"))
    events = await run(turns, the_job)
    assert llm.prompts == []
    assert [type(e) for e in events] == [
        Utterance,
        EmotionChanged,
        RelationshipChanged,
        InteractionEnd,
    ]
    said = events[0]
    assert isinstance(said, Utterance)
    assert said.text
    assert "Morovia" not in said.text
    assert the_job.outcome.trace["cognitiveControl"] == "deflect"


async def test_a_verbatim_goal_speaks_without_the_model_or_recall() -> None:
    llm, recall = ScriptedLLM(["Aye."]), SpyRecall()
    turns = await runner(llm, recall)
    the_job = job(TurnInput("trigger", trigger="player_arrived"))
    events = await run(turns, the_job)
    assert llm.prompts == []
    assert recall.asked == []
    assert [(type(e), getattr(e, "text", getattr(e, "name", ""))) for e in events] == [
        (Utterance, "Mind the mud, traveller."),
        (EmotionChanged, ""),
        (TriggerFired, "inworld.goal.complete.greet"),
        (RelationshipChanged, ""),
        (InteractionEnd, ""),
    ]
    turns.committed(the_job)
    assert recall.left == [], "a trigger leaves nothing to memory"
