"""Lexical sentiment (valence and intensity) with vaderSentiment, behind a tiny Protocol.

VADER is a rule-based lexicon (MIT, the lexicon ships inside the wheel): no model, about
20 µs a sentence, so it runs inline. It reads capitals, exclamation marks, boosters
("so", "very") and negations, which the embedding classifier does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from anima.errors import BackendError


@dataclass(frozen=True, slots=True)
class Sentiment:
    valence: float  # -1 (very negative) .. 1 (very positive); VADER's compound score
    intensity: float  # 0 (flat) .. 1 (strongly felt); |compound|


class SentimentAnalyzer(Protocol):
    def score(self, text: str) -> Sentiment: ...


class VaderSentiment:
    """The default :class:`SentimentAnalyzer`; deterministic for a given text."""

    def __init__(self) -> None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as exc:
            raise BackendError(
                "sentiment needs the package 'vaderSentiment==3.3.2'", retryable=False
            ) from exc
        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, text: str) -> Sentiment:
        compound = float(self._analyzer.polarity_scores(text)["compound"])
        return Sentiment(valence=compound, intensity=abs(compound))
