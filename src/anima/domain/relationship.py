"""Relationship of a character with one player: five integer axes and a label.

Pure functions over frozen values. The store keeps one ``RelationshipState`` per player and
character across sessions; each interaction does::

    state, delta = apply(state, player_appraisal, fluidity=rel.fluidity, enabled=rel.enabled)
    # delta -> RelationshipChanged / relationshipUpdate; state -> the store
    phrase = prompt_phrase(state, "Ann")

Axes (all integers, clipped to -100..100; ``familiar`` only grows):
trust, respect, familiar, flirtatious, attraction, as in the wire's RelationshipUpdate.

Deltas: each intent has base deltas (``DELTAS``: kindness builds trust and respect, insults
and threats tear them down, flirting builds flirtatiousness and attraction, confidences build
trust and familiarity); the appraisal's probabilities weigh them and its intensity scales
them by 0.75..1.25; ``fluidity`` (-1 slow .. 1 fast) multiplies them by ``2 ** (1.5 *
fluidity)`` (0.35x .. 2.8x); time spent adds one point of familiarity each interaction at any
fluidity. Each axis is rounded half away from zero. The returned delta is the change actually
applied (after clipping), so ``state + delta`` is the new state. Disabled: no change, zero delta.

Labels (first match wins), with regard = (trust + respect) / 2 and
romance = (flirtatious + attraction) / 2:

    Archenemy      regard <= -60
    Enemy          regard <= -25
    Life partner   romance >= 70, trust >= 60, familiar >= 70
    Relationship   romance >= 45, trust >= 35, familiar >= 40
    Date           romance >= 20, familiar >= 10
    Close friend   regard >= 50, familiar >= 50
    Friend         regard >= 20, familiar >= 15
    Acquaintance   otherwise (where everyone starts)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from anima.domain.appraisal import Appraisal, Intent

AXES = ("trust", "respect", "familiar", "flirtatious", "attraction")
LIMIT = 100
TIME_FAMILIARITY = 1

# Base deltas of each intent on (trust, respect, familiar, flirtatious, attraction).
DELTAS: Mapping[Intent, tuple[int, int, int, int, int]] = {
    Intent.INSULT: (-3, -4, 0, -1, -2),
    Intent.THREAT: (-5, -2, 0, -1, -2),
    Intent.COMPLIMENT: (2, 2, 1, 0, 1),
    Intent.GRATITUDE: (2, 2, 1, 0, 0),
    Intent.APOLOGY: (2, 1, 0, 0, 0),
    Intent.FLIRT: (0, 0, 1, 4, 2),
    Intent.CONFIDE: (3, 0, 3, 0, 0),
    Intent.JOKE: (0, 0, 2, 0, 1),
    Intent.SAD_NEWS: (1, 0, 2, 0, 0),
    Intent.GOOD_NEWS: (1, 0, 1, 0, 0),
    Intent.SURPRISE: (0, 0, 1, 0, 0),
    Intent.NEUTRAL: (0, 0, 0, 0, 0),
}


@dataclass(frozen=True, slots=True)
class RelationshipDelta:
    """The change of one interaction; the wire's relationshipUpdate."""

    trust: int = 0
    respect: int = 0
    familiar: int = 0
    flirtatious: int = 0
    attraction: int = 0

    @property
    def is_zero(self) -> bool:
        return not any(getattr(self, axis) for axis in AXES)

    def as_dict(self) -> dict[str, int]:
        return {axis: int(getattr(self, axis)) for axis in AXES}


@dataclass(frozen=True, slots=True)
class RelationshipState:
    """Where a character stands with a player; persisted per (player, character)."""

    trust: int = 0
    respect: int = 0
    familiar: int = 0
    flirtatious: int = 0
    attraction: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = int(getattr(self, f.name))
            low = 0 if f.name == "familiar" else -LIMIT
            object.__setattr__(self, f.name, max(low, min(LIMIT, value)))

    def as_dict(self) -> dict[str, int]:
        """A JSON-ready dict, for the store."""
        return {axis: int(getattr(self, axis)) for axis in AXES}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RelationshipState:
        return cls(**{axis: int(data.get(axis, 0)) for axis in AXES})


class RelationshipLabel(StrEnum):
    ARCHENEMY = "Archenemy"
    ENEMY = "Enemy"
    ACQUAINTANCE = "Acquaintance"
    FRIEND = "Friend"
    CLOSE_FRIEND = "Close friend"
    DATE = "Date"
    RELATIONSHIP = "Relationship"
    LIFE_PARTNER = "Life partner"


def _round(value: float) -> int:
    """Round half away from zero (Python's round() goes to even)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def fluidity_factor(fluidity: float) -> float:
    return float(2.0 ** (1.5 * max(-1.0, min(1.0, fluidity))))


def apply(
    state: RelationshipState,
    appraisal: Appraisal,
    *,
    fluidity: float,
    enabled: bool = True,
) -> tuple[RelationshipState, RelationshipDelta]:
    """One interaction's effect: the new state and the delta actually applied."""
    if not enabled:
        return state, RelationshipDelta()
    factor = fluidity_factor(fluidity) * (0.75 + 0.5 * appraisal.intensity)
    raw = [0.0] * len(AXES)
    for intent, p in appraisal.scores.items():
        for axis, base in enumerate(DELTAS[intent]):
            raw[axis] += p * base
    wanted = [_round(value * factor) for value in raw]
    wanted[AXES.index("familiar")] += TIME_FAMILIARITY
    new = RelationshipState(
        **{axis: getattr(state, axis) + w for axis, w in zip(AXES, wanted, strict=True)}
    )
    delta = RelationshipDelta(**{axis: getattr(new, axis) - getattr(state, axis) for axis in AXES})
    return new, delta


def label(state: RelationshipState) -> RelationshipLabel:
    """The published relationship label for ``state`` (thresholds in the module docstring)."""
    regard = (state.trust + state.respect) / 2
    romance = (state.flirtatious + state.attraction) / 2
    if regard <= -60:
        return RelationshipLabel.ARCHENEMY
    if regard <= -25:
        return RelationshipLabel.ENEMY
    if romance >= 70 and state.trust >= 60 and state.familiar >= 70:
        return RelationshipLabel.LIFE_PARTNER
    if romance >= 45 and state.trust >= 35 and state.familiar >= 40:
        return RelationshipLabel.RELATIONSHIP
    if romance >= 20 and state.familiar >= 10:
        return RelationshipLabel.DATE
    if regard >= 50 and state.familiar >= 50:
        return RelationshipLabel.CLOSE_FRIEND
    if regard >= 20 and state.familiar >= 15:
        return RelationshipLabel.FRIEND
    return RelationshipLabel.ACQUAINTANCE


_PHRASES: Mapping[RelationshipLabel, str] = {
    RelationshipLabel.ARCHENEMY: "{name} is your archenemy: you despise and distrust them.",
    RelationshipLabel.ENEMY: "You see {name} as an enemy: be wary and cold with them.",
    RelationshipLabel.ACQUAINTANCE: "{name} is an acquaintance: be polite, you barely know them.",
    RelationshipLabel.FRIEND: "{name} is your friend: be friendly and relaxed with them.",
    RelationshipLabel.CLOSE_FRIEND: "{name} is a close friend: you trust them and speak openly.",
    RelationshipLabel.DATE: "You are dating {name}: be a little flirtatious with them.",
    RelationshipLabel.RELATIONSHIP: "You are in a relationship with {name}: be affectionate.",
    RelationshipLabel.LIFE_PARTNER: "{name} is your life partner: you love and trust them deeply.",
}


def prompt_relationship(state: RelationshipState, name: str = "the player") -> str | None:
    """The relationship for this turn's note, or None while they are mere acquaintances
    (where every relationship starts: nothing worth a line of the prompt)."""
    if label(state) is RelationshipLabel.ACQUAINTANCE:
        return None
    return prompt_phrase(state, name)


def prompt_phrase(state: RelationshipState, name: str = "the player") -> str:
    """A short sentence for the prompt describing the relationship with ``name``."""
    phrase = _PHRASES[label(state)].format(name=name)
    return phrase[0].upper() + phrase[1:]
