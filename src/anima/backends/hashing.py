"""A deterministic hashing-trick embedder: the fake for unit tests of logic.

Each lower-cased word and each character trigram of a word is hashed (blake2b, so the same
in every process) to a signed bucket; the counts are L2-normalised. Texts that share words
get a high cosine, unrelated texts a low one. No model, no thread, no meaning.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from anima.backends.embed import Vectors

if TYPE_CHECKING:
    from anima.settings import Settings

_WORD = re.compile(r"[a-z0-9']+")


class HashingEmbedder:
    """Implements :class:`~anima.backends.embed.Embedder` with no model at all."""

    semantic = False  # shared words, not shared meaning (the safety classifier checks this)

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ValueError("dim must be at least 8")
        self.dim = dim

    @classmethod
    def from_settings(cls, settings: Settings) -> HashingEmbedder:
        return cls()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return self.embed_sync(texts)

    def embed_sync(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, weight in _features(text):
                bucket, sign = self._bucket(feature)
                out[row, bucket] += sign * weight
            norm = float(np.linalg.norm(out[row]))
            if norm > 0.0:
                out[row] /= norm
            else:  # no features: a fixed unit vector, so every row stays normalised
                out[row, 0] = 1.0
        return out

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return (value >> 1) % self.dim, 1.0 if value & 1 else -1.0


def _features(text: str) -> list[tuple[str, float]]:
    features: list[tuple[str, float]] = []
    for word in _WORD.findall(text.lower()):
        features.append((f"w:{word}", 1.0))
        padded = f"<{word}>"
        features.extend((f"c:{padded[i : i + 3]}", 0.3) for i in range(len(padded) - 2))
    return features
