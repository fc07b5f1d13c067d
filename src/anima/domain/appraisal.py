"""Appraisal: what a line of dialogue means to the character hearing it.

An ``Appraisal`` is the value the appraiser (pipeline/appraiser.py: an embedding classifier
plus a sentiment lexicon) produces for one line, player's or character's; emotion.py and
relationship.py turn it into mood and relationship changes. It carries

- ``scores``: a probability for each ``Intent`` (they sum to 1), so downstream rules weigh
  every reading of an ambiguous line instead of trusting the top one;
- ``valence`` (-1..1) and ``intensity`` (0..1) of the wording (capitals, "!!!", "so very").

Build one from a classifier's output with ``Appraisal.from_probabilities``, or, in tests and
scripted turns, with ``Appraisal.of(Intent.INSULT)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Intent(StrEnum):
    """What a line does to the listener; the labels of the appraisal data set."""

    INSULT = "insult"
    THREAT = "threat"
    COMPLIMENT = "compliment"
    GRATITUDE = "gratitude"
    APOLOGY = "apology"
    FLIRT = "flirt"
    CONFIDE = "confide"  # shares something personal: a secret, a fear, a feeling
    JOKE = "joke"
    SAD_NEWS = "sad_news"
    GOOD_NEWS = "good_news"
    SURPRISE = "surprise"
    NEUTRAL = "neutral"  # questions, greetings, small talk


HOSTILE: frozenset[Intent] = frozenset({Intent.INSULT, Intent.THREAT})
KIND: frozenset[Intent] = frozenset({Intent.COMPLIMENT, Intent.GRATITUDE, Intent.APOLOGY})
INTIMATE: frozenset[Intent] = frozenset({Intent.FLIRT, Intent.CONFIDE})


def _clip(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


@dataclass(frozen=True, slots=True)
class Appraisal:
    scores: Mapping[Intent, float] = field(hash=False)
    valence: float = 0.0
    intensity: float = 0.0

    def __post_init__(self) -> None:
        total = sum(self.scores.values())
        if total <= 0 or any(v < 0 for v in self.scores.values()):
            raise ValueError("appraisal scores must be non-negative with a positive sum")
        normalised = {i: self.scores.get(i, 0.0) / total for i in Intent}
        object.__setattr__(self, "scores", MappingProxyType(normalised))
        object.__setattr__(self, "valence", _clip(float(self.valence), -1.0, 1.0))
        object.__setattr__(self, "intensity", _clip(float(self.intensity), 0.0, 1.0))

    @classmethod
    def of(
        cls,
        intent: Intent,
        *,
        confidence: float = 1.0,
        valence: float = 0.0,
        intensity: float = 0.0,
    ) -> Appraisal:
        """An appraisal sure of ``intent`` to ``confidence``; the rest goes to NEUTRAL."""
        confidence = _clip(confidence, 0.0, 1.0)
        scores = {intent: confidence}
        if confidence < 1.0:
            scores[Intent.NEUTRAL] = scores.get(Intent.NEUTRAL, 0.0) + 1.0 - confidence
        return cls(scores, valence, intensity)

    @classmethod
    def neutral(cls) -> Appraisal:
        return cls.of(Intent.NEUTRAL)

    @classmethod
    def from_probabilities(
        cls,
        labels: Iterable[Intent],
        probabilities: Iterable[float],
        *,
        valence: float,
        intensity: float,
    ) -> Appraisal:
        """The pure mapping from a classifier's output row and a sentiment score."""
        scores: dict[Intent, float] = {}
        for label, p in zip(labels, probabilities, strict=True):
            scores[label] = scores.get(label, 0.0) + max(0.0, float(p))
        return cls(scores, valence, intensity)

    @property
    def intent(self) -> Intent:
        """The most likely intent (ties go to the earlier member of ``Intent``)."""
        return max(Intent, key=lambda i: (self.scores[i], -list(Intent).index(i)))

    @property
    def confidence(self) -> float:
        return self.scores[self.intent]

    def score(self, *intents: Intent) -> float:
        """The summed probability of ``intents``."""
        return sum(self.scores[i] for i in intents)

    def as_dict(self) -> dict[str, object]:
        return {
            "scores": {i.value: round(p, 6) for i, p in self.scores.items()},
            "valence": self.valence,
            "intensity": self.intensity,
        }
