"""What the engine hands the character brain for one turn, and what the brain hands back.

The engine loads a ``TurnJob`` under the session's lease (the session, the deployed character,
the history, the player's input) and gives it to ``TurnRunner.run`` (pipeline/runner.py);
what the turn changed comes back in ``job.outcome`` for the engine to store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from anima.domain.character import Character
from anima.domain.session import Interaction, Session, SessionCharacter


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
