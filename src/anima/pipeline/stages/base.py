"""The shape every stage of the character brain has, and the turn they share.

A ``Stage`` is built once per process with the backends it needs and shared by every turn.
For each turn ``TurnRunner`` (pipeline/runner.py) calls, in the order of its stages::

    part = await stage.prepare(turn)   # read the state, add to the turn (prompt fields, a reply)

then asks the model (``run_turn``) or says the verbatim line a stage chose, running each
part's hooks as the reply is spoken (``screen`` and ``on_utterance`` for each sentence,
``on_reply`` once at the end), and last calls ``part.finish()`` in reverse order to write
what moved to the session state and the outcome. Once the engine has stored the turn,
``stage.committed(job)`` runs.

What one turn of one stage remembers (the mood it moved, the goal it started) lives in the
``Part`` its ``prepare`` returns, never on the stage: one stage serves concurrent turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from anima.domain.character import Character
from anima.domain.events import Event, SpaffCode, Strength
from anima.domain.prompt import Line, SceneInfo
from anima.domain.session import Session, SessionKind
from anima.pipeline.job import TurnJob
from anima.pipeline.turn import Reply, Said, TurnRequest, history_lines


@dataclass(slots=True)
class Turn:
    """One turn as the stages see it: the job, what they add to the prompt, and whether the
    model speaks at all. Built by ``Turn.of(job)``; filled in by the stages' ``prepare``."""

    job: TurnJob
    state: dict[str, Any]  # the character's session state; the parts write back to it
    character: Character  # as the prompt shows it (a goal may change it for the session)
    history: tuple[Line, ...]
    scene: SceneInfo | None
    # What the stages add to the prompt.
    mood: str | None = None
    relationship: str | None = None
    instruction: str | None = None
    event: str | None = None
    knowledge: tuple[str, ...] = ()
    memories: tuple[str, ...] = ()
    unknown: bool = False
    emotion: tuple[SpaffCode, Strength] | None = None  # shown instead of the mood's
    # Or no model at all: a stage answered.
    model: bool = True
    verbatim: str | None = None

    @classmethod
    def of(cls, job: TurnJob) -> Turn:
        return cls(
            job=job,
            state=dict(job.session.agent_state.get(job.agent.agent_id, {})),
            character=job.character,
            history=_history(job),
            scene=_scene(job),
        )

    @property
    def text(self) -> str:
        """The player's words: empty for a trigger or a narrated action."""
        return self.job.turn_input.text if self.job.turn_input.kind == "text" else ""

    @property
    def player_name(self) -> str:
        return self.job.session.player.name

    def answer(self, line: str | None) -> None:
        """No model this turn: say ``line`` as it is (None: say nothing). The first stage
        that answers wins."""
        if self.model:
            self.model = False
            self.verbatim = line

    def request(self) -> TurnRequest:
        """The model's request, with what the stages added."""
        return TurnRequest(
            interaction_id=self.job.interaction_id,
            text=self.text or None,
            history=self.history,
            mood=self.mood,
            relationship=self.relationship,
            instruction=self.instruction,
            event=self.event,
            knowledge=self.knowledge,
            memories=self.memories,
            unknown=self.unknown,
        )


class Part:
    """One stage's share of one turn: its hooks while the reply is spoken, and what it
    writes back. The defaults do nothing; a stage with nothing to do after ``prepare``
    returns a plain ``Part()``."""

    async def screen(self, said: Said, request: TurnRequest) -> bool:
        """May this sentence of the reply be sent? (``TurnContext.screen``)"""
        return True

    async def on_utterance(self, said: Said, request: TurnRequest) -> Sequence[Event]:
        """Events to send after this sentence (``TurnContext.on_utterance``)."""
        return ()

    async def on_reply(self, reply: Reply | None) -> Sequence[Event]:
        """Events to send once the reply is done (None: a verbatim line or nothing)."""
        return ()

    def finish(self) -> None:
        """The reply is done: write what moved to ``turn.state`` and ``job.outcome``."""


class Stage(Protocol):
    """One capability of the brain (goals, affect, knowledge and memory, safety)."""

    async def prepare(self, turn: Turn) -> Part:
        """Before the model: read the state, add to ``turn``, return this turn's part."""
        ...

    def committed(self, job: TurnJob) -> None:
        """The engine has stored the turn."""
        return None


def _history(job: TurnJob) -> tuple[Line, ...]:
    """The prompt's history: in a one-character session only this character's turns."""
    own = (
        [i for i in job.history if i.agent_id == job.agent.agent_id]
        if job.session.kind is SessionKind.CHARACTER
        else list(job.history)
    )
    return history_lines(own, actions=job.character.description.narrative_actions_enabled)


def _scene(job: TurnJob) -> SceneInfo | None:
    return scene_info(job.session, job.agent.agent_id, job.scene_name, job.scene_description)


def scene_info(session: Session, agent_id: str, name: str, description: str) -> SceneInfo | None:
    """Where ``agent_id`` speaks: the scene and the other characters present, if any."""
    others = tuple(c.display_name for c in session.characters if c.agent_id != agent_id)
    if not (name or description or others):
        return None
    return SceneInfo(name=name, description=description, others=others)
