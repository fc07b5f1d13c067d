"""The knowledge and memory stage (pipeline/recall.py): the facts the character knows and
what it remembers of this player that bear on the line go into the prompt; cognitive control
decides what a question of fact nothing answers gets (a note that the character does not
know, or, when strict, a deflection in its own voice and no model). Once the turn is stored
(``committed``), what the player said is left to long-term memory.

Nothing is recalled for a turn another stage already answered without the model.
"""

from __future__ import annotations

from anima.domain.character import Character
from anima.domain.cognition import Knowing
from anima.domain.session import SessionKind
from anima.pipeline.guards import Problem, deflection
from anima.pipeline.job import TurnJob
from anima.pipeline.recall import Recall, Recollection
from anima.pipeline.stages.base import Part, Stage, Turn


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


class RecallStage(Stage):
    def __init__(self, recall: Recall) -> None:
        self.recall = recall

    async def prepare(self, turn: Turn) -> Part:
        if not turn.model:
            return Part()
        recalled = await self._recall(turn)
        turn.job.outcome.trace.update(recalled.trace)
        turn.knowledge = recalled.knowledge
        turn.memories = recalled.memories
        turn.unknown = recalled.knowing is Knowing.ADMIT
        if recalled.knowing is Knowing.DEFLECT:
            turn.answer(self._unknown(turn))
        return Part()

    def committed(self, job: TurnJob) -> None:
        """The turn is stored: leave what the player said to long-term memory (never a line
        the safety stage blocked)."""
        blocked = any(
            v.get("side") == "player" and v.get("action") == "block"
            for v in job.outcome.trace.get("safety", ())
        )
        if job.turn_input.kind == "text" and not blocked:
            self.recall.after_turn(
                workspace=job.session.workspace,
                character=job.character,
                end_user_id=job.session.player.end_user_id,
                session_id=job.session.id,
                interaction_id=job.interaction_id,
                text=job.turn_input.text,
                player=job.session.player.name,
            )

    async def _recall(self, turn: Turn) -> Recollection:
        if not turn.text:
            return Recollection()
        job, session = turn.job, turn.job.session
        scene = None
        if session.kind is SessionKind.SCENE and session.scene_version is not None:
            scene = (session.loaded_scene.rsplit("/", 1)[-1], session.scene_version)
        return await self.recall.for_turn(
            workspace=session.workspace,
            character=job.character,
            version=job.agent.version,
            scene=scene,
            end_user_id=session.player.end_user_id,
            player=session.player.name,
            text=turn.text,
            context=[line.text for line in turn.history[-4:]],
            persona=persona_texts(job.character),
        )

    @staticmethod
    def _unknown(turn: Turn) -> str:
        """The character says, in its own voice, that it does not know."""
        job = turn.job
        previous = [i.reply for i in job.history if i.agent_id == job.agent.agent_id][-1:]
        return deflection(
            job.character, turn.player_name, turn.text, previous, problem=Problem.UNKNOWN
        )
