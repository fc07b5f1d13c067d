"""Nearest-text search over fixed vectors: ranking, threshold, several corpora, storage."""

from __future__ import annotations

import numpy as np
import pytest

from anima.domain.retrieval import Corpus, content_words, from_bytes, search, to_bytes


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


CORPUS = Corpus(
    "personal",
    ("north", "north-east", "east", "south"),
    np.vstack([unit(1, 0), unit(1, 1), unit(0, 1), unit(-1, 0)]),
)


def test_best_first_within_k() -> None:
    hits = CORPUS.search(unit(1, 0.1), k=2, min_score=-1)
    assert [h.text for h in hits] == ["north", "north-east"]
    assert hits[0].score > hits[1].score
    assert (hits[0].source, hits[0].index) == ("personal", 0)


def test_threshold_drops_weak_hits() -> None:
    hits = CORPUS.search(unit(1, 0), k=4, min_score=0.5)
    assert [h.text for h in hits] == ["north", "north-east"]  # east scores 0, south -1


def test_k_larger_than_corpus_and_empty_corpus() -> None:
    assert len(CORPUS.search(unit(0, 1), k=50, min_score=-1)) == 4
    empty = Corpus("x", (), np.zeros((0, 2), dtype=np.float32))
    assert empty.search(unit(0, 1), k=5, min_score=-1) == []
    assert CORPUS.search(unit(0, 1), k=0, min_score=-1) == []


def test_search_merges_corpora_and_counts_a_text_once() -> None:
    other = Corpus("common", ("North", "west"), np.vstack([unit(1, 0.05), unit(-1, 0.2)]))
    hits = search([CORPUS, other], unit(1, 0), k=3, min_score=0.1)
    assert [h.text.lower() for h in hits] == ["north", "north-east"]
    assert hits[0].source == "personal"  # the exact match outranks the near one


def test_vectors_round_trip_through_bytes() -> None:
    data = to_bytes(CORPUS.vectors)
    assert np.array_equal(from_bytes(data, 2), CORPUS.vectors)
    with pytest.raises(ValueError, match="float32"):
        from_bytes(data[:-1], 2)


def test_texts_and_vectors_must_agree() -> None:
    with pytest.raises(ValueError, match="2 texts"):
        Corpus("bad", ("a", "b"), np.zeros((3, 2), dtype=np.float32))


def test_ten_thousand_rows() -> None:
    rng = np.random.default_rng(1)
    m = rng.standard_normal((10_000, 384)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    big = Corpus("big", tuple(str(i) for i in range(10_000)), m)
    hits = big.search(m[4242], k=5, min_score=0)
    assert hits[0].text == "4242"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_several_query_rows_score_each_text_by_its_best_match() -> None:
    query = np.vstack([unit(1, 0), unit(-1, 0.01)])
    hits = CORPUS.search(query, k=2, min_score=0.9)
    assert [h.text for h in hits] == ["north", "south"]


def test_shared_words_lift_a_text_the_embedding_ranks_low() -> None:
    corpus = Corpus(
        "personal",
        ("The Meridian's chief engineer is Oskar Brandt.", "Elena's first officer is Idris."),
        np.vstack([unit(0.8, 1), unit(1, 1)]),
    )
    query = unit(1, 0)  # by meaning alone, the first officer wins
    assert corpus.search(query, k=1, min_score=0)[0].text.startswith("Elena")
    words = content_words("Who is the chief engineer on your ship?")
    assert words == {"chief", "engineer", "ship"}
    best = corpus.search(query, k=1, min_score=0, words=words)[0]
    assert best.text.startswith("The Meridian's chief engineer")


def test_content_words_leave_out_names_stop_words_and_plurals() -> None:
    assert content_words("Do you like Rowan's cats and the dogs?", frozenset({"rowan"})) == {
        "cat",
        "dog",
    }
