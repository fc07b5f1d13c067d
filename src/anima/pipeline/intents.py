"""Intent matching: the player's words against each intent's training phrases.

An intent's score is the highest cosine similarity between the player's line and any of its
training phrases (embeddings from the ``Embedder``); the best intent wins if its score reaches
the threshold. The training-phrase vectors are computed once, at deploy time
(``build_intent_index``), stored with the deployed version (``IntentIndex.to_bytes``) and loaded
for each session (``IntentMatcher.create(..., stored=...)``), which recomputes them when the
stored ones no longer fit (the config or the embedder changed).

``DEFAULT_THRESHOLD`` is calibrated for all-MiniLM-L6-v2 on ``anima/data/intent_eval.jsonl``:
the threshold with the best F1 on its ``calibrate`` half; precision and recall on the other
half are pinned in ``tests/pipeline/test_intents_minilm.py``. Another embedder needs its own.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from anima.backends.embed import Embedder, Vectors
from anima.domain.goals import GoalsConfig, IntentMatch
from anima.errors import Internal

__all__ = [
    "DEFAULT_THRESHOLD",
    "IntentIndex",
    "IntentMatcher",
    "best_intent",
    "build_intent_index",
    "intent_scores",
    "load_intent_index",
]

log = logging.getLogger("anima.intents")

DEFAULT_THRESHOLD = 0.47
PROBE_TEXT = "The ferryman counts his coins by the grey river at dawn."
_PROBE_MIN_COSINE = 0.999
_FORMAT = 1


@dataclass(frozen=True, slots=True, eq=False)
class IntentIndex:
    """The training phrases of a config with their vectors, one row each.

    ``probe`` is the vector of ``PROBE_TEXT`` from the same embedder: a later embedder that
    gives another vector for it would score these rows wrongly.
    """

    intents: tuple[str, ...]
    phrases: tuple[str, ...]
    vectors: Vectors
    probe: Vectors

    def fits(self, config: GoalsConfig) -> bool:
        """Were these rows built from exactly this config's intents?"""
        rows = [(i.name, p) for i in config.intents for p in i.training_phrases]
        return rows == list(zip(self.intents, self.phrases, strict=True))

    def to_bytes(self) -> bytes:
        """A compact, pickle-free blob to store with the deployed version."""
        out = io.BytesIO()
        np.savez_compressed(
            out,
            format=np.array(_FORMAT),
            intents=np.array(self.intents, dtype=np.str_),
            phrases=np.array(self.phrases, dtype=np.str_),
            vectors=self.vectors.astype(np.float32),
            probe=self.probe.astype(np.float32),
        )
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> IntentIndex:
        """The index ``to_bytes`` wrote; raises ``Internal`` for anything else."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as blob:
                if int(blob["format"]) != _FORMAT:
                    raise ValueError(f"format {int(blob['format'])}, expected {_FORMAT}")
                intents = tuple(str(s) for s in blob["intents"])
                phrases = tuple(str(s) for s in blob["phrases"])
                vectors = np.asarray(blob["vectors"], dtype=np.float32)
                probe = np.asarray(blob["probe"], dtype=np.float32)
        except Exception as exc:
            raise Internal(f"stored intent vectors are unreadable: {exc}") from exc
        if (
            vectors.ndim != 2
            or vectors.shape[0] != len(intents)
            or len(phrases) != len(intents)
            or probe.shape != (vectors.shape[1],)
        ):
            raise Internal("stored intent vectors have inconsistent shapes")
        return cls(intents=intents, phrases=phrases, vectors=vectors, probe=probe)


async def build_intent_index(config: GoalsConfig, embedder: Embedder) -> IntentIndex:
    """Embed every training phrase of ``config`` (deploy time; one batch)."""
    intents = [intent.name for intent in config.intents for _ in intent.training_phrases]
    phrases = [phrase for intent in config.intents for phrase in intent.training_phrases]
    vectors = await embedder.embed([*phrases, PROBE_TEXT])
    return IntentIndex(
        intents=tuple(intents),
        phrases=tuple(phrases),
        vectors=np.ascontiguousarray(vectors[:-1], dtype=np.float32),
        probe=np.asarray(vectors[-1], dtype=np.float32),
    )


def load_intent_index(data: bytes) -> IntentIndex:
    """The index stored at deploy time (``IntentIndex.to_bytes``)."""
    return IntentIndex.from_bytes(data)


def intent_scores(index: IntentIndex, query: Vectors) -> dict[str, float]:
    """Each intent's score for one query vector: its best cosine over its phrases."""
    scores: dict[str, float] = {}
    if not index.intents:
        return scores
    cosines = index.vectors @ np.asarray(query, dtype=np.float32)
    for intent, cosine in zip(index.intents, cosines.tolist(), strict=True):
        if cosine > scores.get(intent, -2.0):
            scores[intent] = float(cosine)
    return scores


def best_intent(
    scores: dict[str, float], threshold: float, allowed: Collection[str] | None = None
) -> IntentMatch | None:
    """The highest-scoring allowed intent, if it reaches ``threshold`` (ties: first written)."""
    best: IntentMatch | None = None
    for intent, score in scores.items():
        if allowed is not None and intent not in allowed:
            continue
        if score >= threshold and (best is None or score > best.score):
            best = IntentMatch(intent=intent, score=score)
    return best


class IntentMatcher:
    """Matches the player's lines against one config's intents."""

    def __init__(
        self, index: IntentIndex, embedder: Embedder, *, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        self.index = index
        self.threshold = threshold
        self._embedder = embedder

    @classmethod
    async def create(
        cls,
        config: GoalsConfig,
        embedder: Embedder,
        *,
        stored: bytes | None = None,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> IntentMatcher:
        """A matcher for ``config``, from the vectors stored at deploy time when they still
        fit this config and this embedder, else from freshly computed ones."""
        index = None
        if stored is not None:
            try:
                index = load_intent_index(stored)
            except Internal as exc:
                log.warning("recomputing intent vectors: %s", exc)
            if index is not None and not await _still_valid(index, config, embedder):
                log.info("recomputing intent vectors: the config or the embedder changed")
                index = None
        if index is None:
            index = await build_intent_index(config, embedder)
        return cls(index, embedder, threshold=threshold)

    async def scores(self, text: str) -> dict[str, float]:
        """Every intent's score for ``text`` (empty when there are no intents)."""
        text = text.strip()
        if not text or not self.index.intents:
            return {}
        query = await self._embedder.embed([text])
        return intent_scores(self.index, query[0])

    async def match(
        self, text: str, *, intents: Collection[str] | None = None
    ) -> IntentMatch | None:
        """The intent ``text`` expresses, among ``intents`` (all when ``None``); ``None`` if
        no intent reaches the threshold. Embeds nothing when no intent is allowed, so pass
        ``goals.active_intents(config, state)``."""
        if intents is not None and not any(i in intents for i in self.index.intents):
            return None
        return best_intent(await self.scores(text), self.threshold, intents)


async def _still_valid(index: IntentIndex, config: GoalsConfig, embedder: Embedder) -> bool:
    if not index.fits(config) or index.vectors.shape[1:] != (embedder.dim,):
        return False
    probe = await embedder.embed([PROBE_TEXT])
    return float(probe[0] @ index.probe) >= _PROBE_MIN_COSINE
