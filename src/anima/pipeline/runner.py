"""From a session turn to the character pipeline: builds the turn's context and request
(character, player, scene, history, the affect and goal seams) and runs ``run_turn``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from anima.backends.llm import LLM
from anima.domain.character import Character
from anima.domain.events import Event
from anima.domain.prompt import SceneInfo
from anima.domain.session import Interaction, Session, SessionCharacter, SessionKind
from anima.pipeline.turn import TurnContext, TurnRequest, history_lines, run_turn
from anima.settings import Settings


@dataclass(frozen=True, slots=True)
class TurnInput:
    """What the player (or the game) sent: text, a trigger, or a narrated action."""

    kind: str  # "text" | "trigger" | "action"
    text: str = ""
    trigger: str = ""
    parameters: tuple[tuple[str, str], ...] = ()


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


class TurnRunner:
    """Runs the character pipeline for a job. One per process, shared by all sessions."""

    def __init__(self, settings: Settings, llm: LLM) -> None:
        self.settings = settings
        self.llm = llm

    def run(self, job: TurnJob) -> AsyncIterator[Event]:
        ctx = TurnContext(
            llm=self.llm,
            character=job.character,
            agent_id=job.agent.agent_id,
            player=job.session.player,
            scene=self._scene(job),
            max_tokens_cap=self.settings.llm_max_tokens,
        )
        history = history_lines(
            [i for i in job.history if i.agent_id == job.agent.agent_id]
            if job.session.kind is SessionKind.CHARACTER
            else list(job.history),
            actions=job.character.description.narrative_actions_enabled,
        )
        request = TurnRequest(
            interaction_id=job.interaction_id,
            text=job.turn_input.text if job.turn_input.kind == "text" else None,
            history=history,
            event=_event_text(job.turn_input),
        )
        return run_turn(ctx, request)

    @staticmethod
    def _scene(job: TurnJob) -> SceneInfo | None:
        others = tuple(
            c.display_name for c in job.session.characters if c.agent_id != job.agent.agent_id
        )
        if not (job.scene_name or job.scene_description or others):
            return None
        return SceneInfo(name=job.scene_name, description=job.scene_description, others=others)


def _event_text(turn_input: TurnInput) -> str | None:
    if turn_input.kind == "trigger":
        params = ", ".join(f"{k}={v}" for k, v in turn_input.parameters)
        return f"The game tells you: {turn_input.trigger}" + (f" ({params})" if params else "")
    if turn_input.kind == "action":
        return f"The player does this: {turn_input.text}"
    return None
