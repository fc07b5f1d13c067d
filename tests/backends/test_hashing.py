"""The hashing fake embedder: deterministic, normalised, shared words mean high cosine."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from anima.backends.hashing import HashingEmbedder


async def test_unit_rows_of_the_asked_dimension() -> None:
    vectors = await HashingEmbedder(dim=64).embed(["hello there", "", "!!!"])
    assert vectors.shape == (3, 64)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


async def test_shared_words_score_higher() -> None:
    a, b, c = await HashingEmbedder().embed(
        ["what is the price", "what is the price of bread", "the dragon sleeps"]
    )
    assert float(a @ b) > float(a @ c)
    assert float(a @ a) == pytest.approx(1.0)


def test_same_vectors_in_another_process() -> None:
    code = (
        "from anima.backends.hashing import HashingEmbedder;"
        "print(HashingEmbedder(dim=32).embed_sync(['same text'])[0].round(6).tolist())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    here = HashingEmbedder(dim=32).embed_sync(["same text"])[0].round(6).tolist()
    assert runs == {f"{here}\n"}


def test_tiny_dimensions_are_refused() -> None:
    with pytest.raises(ValueError, match="dim"):
        HashingEmbedder(dim=4)
