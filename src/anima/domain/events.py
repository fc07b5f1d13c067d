"""The turn's vocabulary: domain events a turn yields, in order.

A turn is an async stream of these. The REST face collects them into an Interaction; the
WebSocket and gRPC faces encode each as packets (wire/). Nothing here knows a wire shape.

Order within one interaction: for each utterance, its ``Utterance`` (or ``NarratedAction``),
then the ``EmotionChanged`` that goes with it (same ``utterance_id``); the voice stage
(pipeline/voice.py) puts the utterance's ``AudioChunk`` events (and ``Silence``) between the
two;
after the last utterance, ``RelationshipChanged`` and ``TriggerFired`` events; and always, last,
exactly one ``InteractionEnd`` (also when the turn was cancelled or produced nothing).

``to_dict(event)`` / ``from_dict(data)``: an event (audio aside) as JSON-ready data, for what
is kept in the store between a turn and a face (the REST proxy's queue).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any


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


_STORED = (
    Utterance,
    NarratedAction,
    EmotionChanged,
    RelationshipChanged,
    TriggerFired,
    Silence,
    InteractionEnd,
)
_KINDS: dict[str, type[Event]] = {kind.__name__: kind for kind in _STORED}


def to_dict(event: Event) -> dict[str, Any]:
    """``{"kind": "Utterance", <the fields>}``; enums as their numbers, pairs as lists."""
    if isinstance(event, AudioChunk):
        raise TypeError("audio is streamed, never stored")
    data: dict[str, Any] = {"kind": type(event).__name__}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, IntEnum):
            value = int(value)
        elif isinstance(value, tuple):
            value = [list(pair) for pair in value]
        data[f.name] = value
    return data


def from_dict(data: Mapping[str, Any]) -> Event:
    """The event ``to_dict`` gave; ``ValueError`` when ``data`` is not one."""
    kind = _KINDS.get(str(data.get("kind")))
    if kind is None:
        raise ValueError(f"not a stored event: kind {data.get('kind')!r}")
    values = {f.name: data[f.name] for f in fields(kind) if f.name in data}
    if "behavior" in values:
        values["behavior"] = SpaffCode(values["behavior"])
    if "strength" in values:
        values["strength"] = Strength(values["strength"])
    if "parameters" in values:
        values["parameters"] = tuple((str(k), str(v)) for k, v in values["parameters"])
    try:
        return kind(**values)
    except TypeError as exc:  # a field missing
        raise ValueError(f"not a stored {kind.__name__}: {exc}") from exc
