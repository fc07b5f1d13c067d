"""The goals stage (domain/goals.py): the game's trigger, or the player's words matched to an
intent, may start a goal. Its instruction steers the reply, a verbatim line replaces the
model, its emotion overrides the mood, its triggers go back to the client, and its changes
to the character last for the session.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from anima.backends.embed import Embedder
from anima.domain.character import Character
from anima.domain.events import Event, Strength
from anima.domain.goals import (
    GoalDecision,
    GoalState,
    IntentMatch,
    Reply,
    Trigger,
    active_intents,
    decide,
    event_text,
)
from anima.domain.goals_yaml import GoalsConfig, parse_goals
from anima.errors import AnimaError
from anima.pipeline.intents import IntentMatcher
from anima.pipeline.job import TurnJob
from anima.pipeline.stages.base import Part, Stage, Turn
from anima.pipeline.turn import Reply as SpokenReply

log = logging.getLogger("anima.turn")

Key = tuple[str, str, int]  # workspace, character, deployed version


def with_changes(character: Character, goals: GoalState) -> Character:
    """The character with the session-only changes of its goals applied."""
    changes = goals.character_changes
    update: dict[str, Any] = {}
    if changes.motivation is not None:
        update["motivation"] = changes.motivation
    if changes.core_description is not None:
        update["description"] = changes.core_description
    if not update:
        return character
    return character.model_copy(
        update={"description": character.description.model_copy(update=update)}
    )


class GoalsStage(Stage):
    def __init__(self, embedder: Embedder | None) -> None:
        self.embedder = embedder
        # Deployed versions are immutable, so what is derived from one can be cached.
        self._goals: dict[Key, GoalsConfig] = {}
        self._matchers: dict[Key, IntentMatcher] = {}

    async def prepare(self, turn: Turn) -> Part:
        job = turn.job
        key = (job.session.workspace, job.agent.character_id, job.agent.version)
        config = self._goals_of(key, job.character)
        state = GoalState.from_dict(turn.state.get("goals", {}))
        player, character = turn.player_name, job.character.description.given_name or "Character"
        decision: GoalDecision | None = None
        if job.turn_input.kind == "trigger":
            trigger = Trigger.of(job.turn_input.trigger, job.turn_input.parameters)
            decision = decide(config, state, trigger, player=player, character=character)
        elif turn.text and turn.model:  # a line the safety stage blocked starts nothing
            match = await self._match(key, config, state, turn.text)
            if match is not None:
                decision = decide(config, state, match, player=player, character=character)
        if decision is not None:
            state = decision.state
            if decision.emotion is not None:
                turn.emotion = (decision.emotion, Strength.NORMAL)
            if decision.instructions:
                turn.instruction = "\n".join(decision.instructions)
            if decision.reply is not Reply.MODEL:
                turn.answer(decision.verbatim if decision.reply is Reply.VERBATIM else None)
        turn.event = self._event(job, decision)
        turn.character = with_changes(job.character, state)
        return Pursuit(turn, decision, state)

    def _goals_of(self, key: Key, character: Character) -> GoalsConfig:
        config = self._goals.get(key)
        if config is None:
            try:
                config = parse_goals(character.yaml_config or "")
            except AnimaError as exc:  # deployed before goals were validated
                log.warning("ignoring the goals of %s: %s", key, exc)
                config = parse_goals("")
            self._goals[key] = config
        return config

    async def _match(
        self, key: Key, config: GoalsConfig, state: GoalState, text: str
    ) -> IntentMatch | None:
        if self.embedder is None or not config.intents:
            return None
        allowed = active_intents(config, state)
        if not allowed:
            return None
        matcher = self._matchers.get(key)
        if matcher is None:
            matcher = await IntentMatcher.create(config, self.embedder)
            self._matchers[key] = matcher
        return await matcher.match(text, intents=allowed)

    @staticmethod
    def _event(job: TurnJob, decision: GoalDecision | None) -> str | None:
        if job.turn_input.kind == "action":
            return f"The player does this: {job.turn_input.text}"
        if job.turn_input.kind != "trigger":
            return None
        if decision is not None:
            return decision.event_text
        return event_text(Trigger.of(job.turn_input.trigger, job.turn_input.parameters))


class Pursuit(Part):
    """The goal one turn started (if any) and the goal state after it."""

    def __init__(self, turn: Turn, decision: GoalDecision | None, state: GoalState) -> None:
        self.turn = turn
        self.decision = decision
        self.state = state

    async def on_reply(self, reply: SpokenReply | None) -> Sequence[Event]:
        if self.decision is None:
            return ()
        job = self.turn.job
        return self.decision.trigger_events(job.interaction_id, job.agent.agent_id)

    def finish(self) -> None:
        self.turn.state["goals"] = self.state.to_dict()
