"""From a session turn to the character pipeline.

``TurnRunner.run(job)`` builds the turn's context and request from the session (character,
player, scene, history), then around ``run_turn`` it adds the stages of the character brain:

1. goals (domain/goals.py): the game's trigger, or the player's words matched to an intent,
   may start a goal: its instruction steers the reply, a verbatim line replaces the model,
   its emotion overrides the mood, its triggers go back to the client;
2. affect (domain/emotion.py, domain/relationship.py): the player's line is appraised and
   moves the mood (and, when enabled, the relationship with this player), which shape the
   prompt; each utterance gets its SPAFF emotion; the relationship change closes the turn;
3. knowledge and memory (pipeline/recall.py): the facts the character knows and what it
   remembers of this player that bear on the line go into the prompt; cognitive control
   decides what a question of fact nothing answers gets; once the turn is stored
   (``committed``), what the player said is left to long-term memory.

Before all of them, safety (pipeline/safety.py) checks the player's line (a blocked one is
answered with an in-character refusal, no model) and screens each sentence of the reply.

What moved (mood, goal state, relationship) is written to ``job.outcome``; the engine stores
it with the interaction. Nothing here writes to the store.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from anima.backends.embed import Embedder
from anima.backends.llm import LLM
from anima.domain import emotion, relationship
from anima.domain.appraisal import Appraisal
from anima.domain.character import Character
from anima.domain.cognition import Knowing
from anima.domain.events import (
    EmotionChanged,
    Event,
    InteractionEnd,
    RelationshipChanged,
    SpaffCode,
    Strength,
    Utterance,
)
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
from anima.domain.prompt import SceneInfo
from anima.domain.session import Interaction, Session, SessionCharacter, SessionKind
from anima.errors import AnimaError
from anima.pipeline.appraiser import Appraiser
from anima.pipeline.guards import Problem, deflection
from anima.pipeline.intents import IntentMatcher
from anima.pipeline.prompt_trace import PromptRecorder
from anima.pipeline.recall import Recall, Recollection
from anima.pipeline.safety import Safety
from anima.pipeline.turn import Reply as SpokenReply
from anima.pipeline.turn import Said, TurnContext, TurnRequest, history_lines, run_turn
from anima.settings import Settings

log = logging.getLogger("anima.turn")


@dataclass(frozen=True, slots=True)
class TurnInput:
    """What the player (or the game) sent: text, a trigger, or a narrated action."""

    kind: str  # "text" | "trigger" | "action"
    text: str = ""
    trigger: str = ""
    parameters: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class TurnOutcome:
    """What the turn changed, for the engine to store."""

    agent_state: dict[str, Any] = field(default_factory=dict)
    relationship: dict[str, int] | None = None  # the new cumulative state, when enabled
    trace: dict[str, Any] = field(default_factory=dict)  # stored as Interaction.trace


@dataclass(frozen=True, slots=True)
class TurnJob:
    """Everything one turn needs, loaded by the engine under the session's lease."""

    interaction_id: str
    session: Session
    agent: SessionCharacter
    character: Character
    history: Sequence[Interaction]
    turn_input: TurnInput
    scene_name: str = ""
    scene_description: str = ""
    relationship: dict[str, Any] = field(default_factory=dict)
    outcome: TurnOutcome = field(default_factory=TurnOutcome)


def emotion_profile(character: Character) -> emotion.EmotionProfile:
    m, p = character.initial_mood, character.personality
    return emotion.EmotionProfile(
        initial=emotion.Mood(joy=m.joy, fear=m.fear, trust=m.trust, surprise=m.surprise),
        traits=emotion.Traits(
            positive=p.positive, peaceful=p.peaceful, open=p.open, extravert=p.extravert
        ),
        fluidity=character.emotional_fluidity,
    )


def persona_texts(character: Character) -> list[str]:
    """What the character knows of itself without retrieval: its description's texts."""
    d = character.description
    return [
        t
        for t in (
            d.description,
            d.motivation,
            d.flaws,
            d.character_role,
            " ".join(d.hobby_or_interests),
            d.example_dialog,
        )
        if t.strip()
    ]


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


class TurnRunner:
    """Runs the character brain for a job. One per process, shared by all sessions."""

    def __init__(
        self,
        settings: Settings,
        llm: LLM,
        *,
        appraiser: Appraiser | None = None,
        embedder: Embedder | None = None,
        recall: Recall | None = None,
        safety: Safety | None = None,
    ) -> None:
        self.settings = settings
        self.llm = llm
        self.appraiser = appraiser
        self.embedder = embedder
        self.recall = recall
        self.safety = safety
        # Deployed versions are immutable, so what is derived from one can be cached.
        self._goals: dict[tuple[str, str, int], GoalsConfig] = {}
        self._matchers: dict[tuple[str, str, int], IntentMatcher] = {}

    async def run(self, job: TurnJob) -> AsyncIterator[Event]:
        session, agent, character = job.session, job.agent, job.character
        state = dict(session.agent_state.get(agent.agent_id, {}))
        profile = emotion_profile(character)
        mood = (
            emotion.EmotionState.from_dict(state["emotion"])
            if "emotion" in state
            else emotion.EmotionState.initial(profile)
        )
        goal_state = GoalState.from_dict(state.get("goals", {}))
        rel_enabled = character.relationship.enabled and bool(session.player.end_user_id)
        rel = relationship.RelationshipState.from_dict(job.relationship)
        key = (session.workspace, agent.character_id, agent.version)
        config = self._goals_of(key, character)
        player_name = session.player.name
        character_name = character.description.given_name or "Character"

        text = job.turn_input.text if job.turn_input.kind == "text" else ""
        # 0. safety (pipeline/safety.py): a blocked player line gets a deflection, no model
        screen = (
            self.safety.screen(
                character, player_name, [" ".join(i.texts) for i in job.history[-1:]]
            )
            if self.safety is not None
            else None
        )
        said_by_player = job.turn_input.text if job.turn_input.kind != "trigger" else ""
        refusal = (
            await screen.check_player(said_by_player)
            if screen is not None and said_by_player
            else None
        )

        # 1. goals
        decision: GoalDecision | None = None
        appraisal = Appraisal.neutral()
        if job.turn_input.kind == "trigger":
            decision = decide(
                config,
                goal_state,
                Trigger.of(job.turn_input.trigger, job.turn_input.parameters),
                player=player_name,
                character=character_name,
            )
        elif text:
            if self.appraiser is not None:
                appraisal = await self.appraiser.appraise(text)
            match = None if refusal else await self._match(key, config, goal_state, text)
            if match is not None:
                decision = decide(
                    config, goal_state, match, player=player_name, character=character_name
                )
        if decision is not None:
            goal_state = decision.state

        # 2. affect: the player's line moves the mood and the relationship
        mood = emotion.react(mood, appraisal, profile) if text else emotion.decay(mood, profile)
        if decision is not None and decision.emotion is not None:
            override: tuple[SpaffCode, Strength] | None = (decision.emotion, Strength.NORMAL)
        else:
            override = None
        new_rel, delta = relationship.apply(
            rel, appraisal, fluidity=character.relationship.fluidity, enabled=rel_enabled
        )
        current = [mood]

        # 3. knowledge and memory: what the character knows and remembers of this player
        model_reply = refusal is None and (decision is None or decision.reply is Reply.MODEL)
        recalled = await self._recall(job, text) if model_reply else Recollection()
        job.outcome.trace.update(recalled.trace)
        verbatim = refusal or (
            decision.verbatim if decision is not None and decision.reply is Reply.VERBATIM else None
        )
        if recalled.knowing is Knowing.DEFLECT:
            model_reply, verbatim = False, self._unknown(job, text)

        async def on_utterance(said: Said, _request: TurnRequest) -> Sequence[Event]:
            behavior, strength = override or emotion.express(current[0], profile)
            return [
                EmotionChanged(
                    said.interaction_id, said.utterance_id, said.agent_id, behavior, strength
                )
            ]

        async def on_reply(reply: SpokenReply | None) -> Sequence[Event]:
            # The character's own words move its mood too (felt from the next turn on):
            # the whole reply is appraised once, which keeps a turn to two embeddings.
            if reply is not None and reply.text and self.appraiser is not None:
                own = await self.appraiser.appraise(reply.text)
                current[0] = emotion.reflect(current[0], own, profile)
            events: list[Event] = []
            if decision is not None:
                events.extend(decision.trigger_events(job.interaction_id, agent.agent_id))
            events.append(
                RelationshipChanged(job.interaction_id, agent.agent_id, **delta.as_dict())
            )
            return events

        ctx = TurnContext(
            llm=PromptRecorder(self.llm, job.outcome.trace),
            character=with_changes(character, goal_state),
            agent_id=agent.agent_id,
            player=session.player,
            scene=self._scene(job),
            max_tokens_cap=self.settings.llm_max_tokens,
            on_utterance=(on_utterance,),
            on_reply=(on_reply,),
            screen=(screen.hook,) if screen is not None else (),
        )
        if model_reply:
            request = TurnRequest(
                interaction_id=job.interaction_id,
                text=text or None,
                history=self._history(job),
                mood=emotion.prompt_mood(mood, profile),
                relationship=relationship.prompt_relationship(new_rel, player_name)
                if rel_enabled
                else None,
                instruction="\n".join(decision.instructions)
                if decision is not None and decision.instructions
                else None,
                event=self._event(job, decision),
                knowledge=recalled.knowledge,
                memories=recalled.memories,
                unknown=recalled.knowing is Knowing.ADMIT,
            )
            async for event in run_turn(ctx, request):
                yield event
        else:
            if verbatim:
                said_line = Utterance(job.interaction_id, ctx.new_id(), agent.agent_id, verbatim)
                yield said_line
                for extra in await on_utterance(said_line, TurnRequest(job.interaction_id)):
                    yield extra
            for extra in await on_reply(None):
                yield extra
            yield InteractionEnd(job.interaction_id, agent.agent_id)

        state["emotion"] = current[0].as_dict()
        state["goals"] = goal_state.to_dict()
        job.outcome.agent_state = state
        job.outcome.relationship = new_rel.as_dict() if rel_enabled else None
        if screen is not None:
            screen.finish(job.outcome.trace, state)

    def committed(self, job: TurnJob) -> None:
        """The turn is stored: leave what the player said to long-term memory (never a line
        the safety stage blocked)."""
        blocked = any(
            v.get("side") == "player" and v.get("action") == "block"
            for v in job.outcome.trace.get("safety", ())
        )
        if self.recall is not None and job.turn_input.kind == "text" and not blocked:
            self.recall.after_turn(
                workspace=job.session.workspace,
                character=job.character,
                end_user_id=job.session.player.end_user_id,
                session_id=job.session.id,
                interaction_id=job.interaction_id,
                text=job.turn_input.text,
                player=job.session.player.name,
            )

    # -- helpers -------------------------------------------------------------------------

    async def _recall(self, job: TurnJob, text: str) -> Recollection:
        if self.recall is None or not text:
            return Recollection()
        session = job.session
        scene = None
        if session.kind is SessionKind.SCENE and session.scene_version is not None:
            scene = (session.loaded_scene.rsplit("/", 1)[-1], session.scene_version)
        history = self._history(job)
        return await self.recall.for_turn(
            workspace=session.workspace,
            character=job.character,
            version=job.agent.version,
            scene=scene,
            end_user_id=session.player.end_user_id,
            player=session.player.name,
            text=text,
            context=[line.text for line in history[-4:]],
            persona=persona_texts(job.character),
        )

    @staticmethod
    def _unknown(job: TurnJob, text: str) -> str:
        """The character says, in its own voice, that it does not know."""
        previous = [i.reply for i in job.history if i.agent_id == job.agent.agent_id][-1:]
        return deflection(
            job.character, job.session.player.name, text, previous, problem=Problem.UNKNOWN
        )

    def _goals_of(self, key: tuple[str, str, int], character: Character) -> GoalsConfig:
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
        self, key: tuple[str, str, int], config: GoalsConfig, state: GoalState, text: str
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

    @staticmethod
    def _history(job: TurnJob) -> tuple[Any, ...]:
        own = (
            [i for i in job.history if i.agent_id == job.agent.agent_id]
            if job.session.kind is SessionKind.CHARACTER
            else list(job.history)
        )
        return history_lines(own, actions=job.character.description.narrative_actions_enabled)

    @staticmethod
    def _scene(job: TurnJob) -> SceneInfo | None:
        others = tuple(
            c.display_name for c in job.session.characters if c.agent_id != job.agent.agent_id
        )
        if not (job.scene_name or job.scene_description or others):
            return None
        return SceneInfo(name=job.scene_name, description=job.scene_description, others=others)
