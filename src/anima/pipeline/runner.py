"""From a session turn to the character pipeline.

``TurnRunner.run(job)`` runs the character brain, a chain of stages (pipeline/stages/) around
the model call (``run_turn``, pipeline/turn.py):

1. safety (stages/safety.py): the player's line is checked first (a blocked one is answered
   with an in-character refusal, no model) and each sentence of the reply before it is sent;
2. goals (stages/goals.py): the game's trigger, or the player's words matched to an intent,
   may start a goal: an instruction, a verbatim line instead of the model, an emotion,
   triggers back to the client;
3. affect (stages/affect.py): the player's line moves the mood and the relationship, which
   shape the prompt; each utterance gets its emotion; the relationship change closes the turn;
4. knowledge and memory (stages/recall.py): what the character knows and remembers of this
   player goes into the prompt; a question of fact nothing answers may be deflected (no
   model); once the turn is stored (``committed``), the player's line is left to memory.

Each stage prepares in that order; the parts' hooks run in that order as the reply is
spoken; they finish in reverse order, writing what moved (mood, goal state, relationship,
safety verdicts) to ``job.outcome``, which the engine stores with the interaction. Nothing
here writes to the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from anima.backends.embed import Embedder
from anima.backends.llm import LLM
from anima.domain.events import Event, InteractionEnd, Utterance
from anima.pipeline.appraiser import Appraiser
from anima.pipeline.job import TurnJob
from anima.pipeline.prompt_trace import PromptRecorder
from anima.pipeline.recall import Recall
from anima.pipeline.safety import Safety
from anima.pipeline.stages.affect import AffectStage
from anima.pipeline.stages.base import Part, Stage, Turn
from anima.pipeline.stages.goals import GoalsStage
from anima.pipeline.stages.recall import RecallStage
from anima.pipeline.stages.safety import SafetyStage
from anima.pipeline.turn import TurnContext, TurnRequest, run_turn
from anima.settings import Settings


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
        self.stages: tuple[Stage, ...] = (
            *([SafetyStage(safety)] if safety is not None else []),
            GoalsStage(embedder),
            AffectStage(appraiser),
            *([RecallStage(recall)] if recall is not None else []),
        )

    async def run(self, job: TurnJob) -> AsyncIterator[Event]:
        turn = Turn.of(job)
        parts = [await stage.prepare(turn) for stage in self.stages]
        ctx = TurnContext(
            llm=PromptRecorder(self.llm, job.outcome.trace),
            character=turn.character,
            agent_id=job.agent.agent_id,
            player=job.session.player,
            scene=turn.scene,
            max_tokens_cap=self.settings.llm_max_tokens,
            on_utterance=tuple(p.on_utterance for p in parts),
            on_reply=tuple(p.on_reply for p in parts),
            screen=tuple(p.screen for p in parts),
        )
        events = run_turn(ctx, turn.request()) if turn.model else _verbatim(ctx, turn, parts)
        async for event in events:
            yield event
        for part in reversed(parts):
            part.finish()
        job.outcome.agent_state = turn.state

    def committed(self, job: TurnJob) -> None:
        """The turn is stored (memory keeps what the player said)."""
        for stage in self.stages:
            stage.committed(job)


async def _verbatim(ctx: TurnContext, turn: Turn, parts: Sequence[Part]) -> AsyncIterator[Event]:
    """A turn a stage answered without the model: its line, if any, with the parts' hooks."""
    interaction_id = turn.job.interaction_id
    if turn.verbatim:
        said = Utterance(interaction_id, ctx.new_id(), ctx.agent_id, turn.verbatim)
        yield said
        for part in parts:
            for extra in await part.on_utterance(said, TurnRequest(interaction_id)):
                yield extra
    for part in parts:
        for extra in await part.on_reply(None):
            yield extra
    yield InteractionEnd(interaction_id, ctx.agent_id)
