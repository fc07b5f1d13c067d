"""Nearest texts by cosine similarity: the search behind knowledge and memory. Pure.

A ``Corpus`` is a list of texts with their L2-normalised vectors (one row each), so cosine
similarity is a dot product. ``search`` returns the best ``k`` rows at or above ``min_score``,
best first; for 10,000 rows of 384 dimensions that is one matrix-vector product and a partial
sort, well under a millisecond of numpy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Hit:
    text: str
    score: float
    source: str  # where the text came from: "personal", a common knowledge id, "memory"
    index: int  # its row in that corpus


@dataclass(frozen=True, slots=True)
class Corpus:
    source: str
    texts: tuple[str, ...]
    vectors: Matrix  # shape (len(texts), dim), rows L2-normalised

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.texts):
            raise ValueError(
                f"corpus {self.source!r}: {len(self.texts)} texts but vectors of shape "
                f"{self.vectors.shape}"
            )

    def __len__(self) -> int:
        return len(self.texts)

    def search(self, query: Matrix, k: int, min_score: float) -> list[Hit]:
        """The best ``k`` rows for ``query`` (one vector, or several as rows: a text then
        scores its best match among them) at or above ``min_score``, best first."""
        if not self.texts or k <= 0:
            return []
        q = query.astype(np.float32, copy=False)
        # several query vectors (rows): one pass over the corpus, each row's best score counts
        scores = self.vectors @ q if q.ndim == 1 else (self.vectors @ q.T).max(axis=1)
        n = len(scores)
        best = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        best = best[np.argsort(-scores[best], kind="stable")]
        return [
            Hit(self.texts[i], float(scores[i]), self.source, int(i))
            for i in best
            if scores[i] >= min_score
        ]


def search(corpora: Sequence[Corpus], query: Matrix, k: int, min_score: float) -> list[Hit]:
    """The best ``k`` hits over all ``corpora`` with a score of at least ``min_score``, best
    first; a text found in several corpora counts once (its best score)."""
    hits = [hit for corpus in corpora for hit in corpus.search(query, k, min_score)]
    hits.sort(key=lambda h: -h.score)
    seen: set[str] = set()
    out: list[Hit] = []
    for hit in hits:
        key = hit.text.strip().casefold()
        if key in seen:
            continue
        seen.add(key)
        out.append(hit)
        if len(out) == k:
            break
    return out


def to_bytes(vectors: Matrix) -> bytes:
    return np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def from_bytes(data: bytes, dim: int) -> Matrix:
    """Rows of ``dim`` float32 values, as stored by ``to_bytes``."""
    if dim <= 0 or len(data) % (4 * dim):
        raise ValueError(f"{len(data)} bytes are not rows of {dim} float32 values")
    return np.frombuffer(data, dtype="<f4").reshape(-1, dim).astype(np.float32)


_YOUR = re.compile(r"\byour\b", re.IGNORECASE)
_MY = re.compile(r"\bmy\b", re.IGNORECASE)
_YOU = re.compile(r"\b(?:you|yourself)\b", re.IGNORECASE)
_ME = re.compile(r"\b(?:I|me|myself)\b")


def third_person(text: str, character: str, player: str) -> str:
    """A line of the conversation with "you" and "I" replaced by names, as facts and memories
    are written ("What is your sword called?" -> "What is Axeon's sword called?"): the
    embedder then matches the fact, not just the topic."""
    text = _YOUR.sub(f"{character}'s", text)
    text = _MY.sub(f"{player}'s", text)
    text = _YOU.sub(character, text)
    return _ME.sub(player, text)
