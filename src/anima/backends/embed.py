"""Sentence embeddings: the Protocol every embedder implements.

Implementations (MiniLM int8 ONNX, a hashing fake for unit tests) live beside this module and
are chosen by name from ``Settings.embed_backend``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape (len(texts), dim).

    Deterministic: the same text always gives the same vector. Cosine similarity is the
    dot product of two rows.
    """

    dim: int

    async def embed(self, texts: Sequence[str]) -> Vectors: ...
