"""The turn's vocabulary: domain events a turn yields, in order.

A turn is an async stream of these. The REST face collects them into an Interaction; the
WebSocket and gRPC faces encode each as packets (wire/). Nothing here knows a wire shape.

Order within one interaction: for each utterance, its ``Utterance`` (or ``NarratedAction``),
then the ``EmotionChanged`` that goes with it (same ``utterance_id``); the voice stage
(pipeline/voice.py) puts the utterance's ``AudioChunk`` events (and ``Silence``) between the
two;
after the last utterance, ``RelationshipChanged`` and ``TriggerFired`` events; and always, last,
exactly one ``InteractionEnd`` (also when the turn was cancelled or produced nothing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import IntEnum


class SpaffCode(IntEnum):
    """Character behaviour (SPAFF), numbered as on the wire."""

    SPAFF_CODE_UNSPECIFIED = 0
    NEUTRAL = 1
    DISGUST = 2
    CONTEMPT = 3
    BELLIGERENCE = 4
    DOMINEERING = 5
    CRITICISM = 6
    ANGER = 7
    TENSION = 8
    TENSE_HUMOR = 9
    DEFENSIVENESS = 10
    WHINING = 11
    SADNESS = 12
    STONEWALLING = 13
    INTEREST = 14
    VALIDATION = 15
    AFFECTION = 16
    HUMOR = 17
    SURPRISE = 18
    JOY = 19


class Strength(IntEnum):
    STRENGTH_UNSPECIFIED = 0
    WEAK = 1
    STRONG = 2
    NORMAL = 3


@dataclass(frozen=True, slots=True)
class Utterance:
    """One sentence-sized piece of the character's reply."""

    interaction_id: str
    utterance_id: str
    agent_id: str
    text: str
    fallback: bool = False  # a deflection the engine said because the model failed


@dataclass(frozen=True, slots=True)
class NarratedAction:
    """Something the character does, told in the third person ("*wipes the counter*")."""

    interaction_id: str
    utterance_id: str
    agent_id: str
    text: str


@dataclass(frozen=True, slots=True)
class EmotionChanged:
    interaction_id: str
    utterance_id: str
    agent_id: str
    behavior: SpaffCode
    strength: Strength


@dataclass(frozen=True, slots=True)
class RelationshipChanged:
    interaction_id: str
    agent_id: str
    trust: int = 0
    respect: int = 0
    familiar: int = 0
    flirtatious: int = 0
    attraction: int = 0


@dataclass(frozen=True, slots=True)
class TriggerFired:
    """A trigger the character sends to the client (goal actions, goal completion)."""

    interaction_id: str
    agent_id: str
    name: str
    parameters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AudioChunk:
    interaction_id: str
    utterance_id: str
    agent_id: str
    audio: bytes
    sample_rate: int
    phonemes: tuple[tuple[str, float], ...] = field(default=())  # (phoneme, start seconds)


@dataclass(frozen=True, slots=True)
class Silence:
    """A pause in the character's speech (between utterances, for a narrated action)."""

    interaction_id: str
    utterance_id: str
    agent_id: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class InteractionEnd:
    interaction_id: str
    agent_id: str
    cancelled: bool = False


Event = (
    Utterance
    | NarratedAction
    | EmotionChanged
    | RelationshipChanged
    | TriggerFired
    | AudioChunk
    | Silence
    | InteractionEnd
)
EventStream = AsyncIterator[Event]
