"""The affect stage (domain/emotion.py, domain/relationship.py): the player's line is
appraised and moves the mood and, when enabled, the relationship with this player, which
shape the prompt. Each utterance gets its SPAFF emotion (a goal's emotion overrides the
mood's); the character's own reply moves its mood too, felt from the next turn on; the
relationship change closes the turn.
"""

from __future__ import annotations

from collections.abc import Sequence

from anima.domain import emotion, relationship
from anima.domain.appraisal import Appraisal
from anima.domain.character import Character
from anima.domain.events import EmotionChanged, Event, RelationshipChanged
from anima.pipeline.appraiser import Appraiser
from anima.pipeline.stages.base import Part, Stage, Turn
from anima.pipeline.turn import Reply, Said, TurnRequest


def emotion_profile(character: Character) -> emotion.EmotionProfile:
    m, p = character.initial_mood, character.personality
    return emotion.EmotionProfile(
        initial=emotion.Mood(joy=m.joy, fear=m.fear, trust=m.trust, surprise=m.surprise),
        traits=emotion.Traits(
            positive=p.positive, peaceful=p.peaceful, open=p.open, extravert=p.extravert
        ),
        fluidity=character.emotional_fluidity,
    )


class AffectStage(Stage):
    def __init__(self, appraiser: Appraiser | None) -> None:
        self.appraiser = appraiser

    async def prepare(self, turn: Turn) -> Part:
        job, character = turn.job, turn.job.character
        profile = emotion_profile(character)
        mood = (
            emotion.EmotionState.from_dict(turn.state["emotion"])
            if "emotion" in turn.state
            else emotion.EmotionState.initial(profile)
        )
        appraisal = Appraisal.neutral()
        if turn.text and self.appraiser is not None:
            appraisal = await self.appraiser.appraise(turn.text)
        mood = (
            emotion.react(mood, appraisal, profile) if turn.text else emotion.decay(mood, profile)
        )
        enabled = character.relationship.enabled and bool(job.session.player.end_user_id)
        rel, delta = relationship.apply(
            relationship.RelationshipState.from_dict(job.relationship),
            appraisal,
            fluidity=character.relationship.fluidity,
            enabled=enabled,
        )
        turn.mood = emotion.prompt_mood(mood, profile)
        if enabled:
            turn.relationship = relationship.prompt_relationship(rel, turn.player_name)
        return Feeling(self.appraiser, turn, profile, mood, rel if enabled else None, delta)


class Feeling(Part):
    """One turn's mood (moved again by the reply) and relationship change."""

    def __init__(
        self,
        appraiser: Appraiser | None,
        turn: Turn,
        profile: emotion.EmotionProfile,
        mood: emotion.EmotionState,
        rel: relationship.RelationshipState | None,  # None: not enabled
        delta: relationship.RelationshipDelta,
    ) -> None:
        self.appraiser = appraiser
        self.turn = turn
        self.profile = profile
        self.mood = mood
        self.rel = rel
        self.delta = delta

    async def on_utterance(self, said: Said, request: TurnRequest) -> Sequence[Event]:
        behavior, strength = self.turn.emotion or emotion.express(self.mood, self.profile)
        return [
            EmotionChanged(
                said.interaction_id, said.utterance_id, said.agent_id, behavior, strength
            )
        ]

    async def on_reply(self, reply: Reply | None) -> Sequence[Event]:
        # The whole reply is appraised once, which keeps a turn to two embeddings.
        if reply is not None and reply.text and self.appraiser is not None:
            own = await self.appraiser.appraise(reply.text)
            self.mood = emotion.reflect(self.mood, own, self.profile)
        job = self.turn.job
        return [RelationshipChanged(job.interaction_id, job.agent.agent_id, **self.delta.as_dict())]

    def finish(self) -> None:
        self.turn.state["emotion"] = self.mood.as_dict()
        self.turn.job.outcome.relationship = None if self.rel is None else self.rel.as_dict()
