"""Intent matching logic, with the hashing embedder (a fake: shared words, high cosine)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from anima.backends.embed import Vectors
from anima.backends.hashing import HashingEmbedder
from anima.domain.goals import GoalsConfig, GoalState, IntentMatch, active_intents, parse_goals
from anima.errors import Internal
from anima.pipeline.intents import (
    PROBE_TEXT,
    IntentIndex,
    IntentMatcher,
    best_intent,
    build_intent_index,
    intent_scores,
    load_intent_index,
)

CONFIG = parse_goals(
    """\
intents:
  - name: ask_crossing
    training_phrases: ["how do I cross the river", "is there a boat across the water"]
  - name: ask_price
    training_phrases: ["how much does the ferry cost", "what is the price"]
goals:
  - {name: ferry, repeatable: false, activation: {intent: ask_crossing}}
  - {name: price, activation: {intent: ask_price}}
"""
)


class CountingEmbedder:
    """Wraps an embedder and records every batch it is asked for."""

    def __init__(self, inner: HashingEmbedder) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.calls: list[list[str]] = []

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        return await self.inner.embed(texts)


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder(HashingEmbedder(dim=256))


async def test_a_training_phrase_matches_its_intent(embedder: CountingEmbedder) -> None:
    matcher = await IntentMatcher.create(CONFIG, embedder, threshold=0.5)
    match = await matcher.match("what is the price")
    assert match is not None
    assert match.intent == "ask_price"
    assert match.score == pytest.approx(1.0, abs=1e-5)


async def test_a_paraphrase_sharing_words_matches(embedder: CountingEmbedder) -> None:
    matcher = await IntentMatcher.create(CONFIG, embedder, threshold=0.5)
    match = await matcher.match("How do I get across the river?")
    assert match is not None
    assert match.intent == "ask_crossing"
    assert 0.5 <= match.score < 1.0


async def test_unrelated_words_match_nothing(embedder: CountingEmbedder) -> None:
    matcher = await IntentMatcher.create(CONFIG, embedder, threshold=0.5)
    assert await matcher.match("my grandmother knits scarves") is None
    assert await matcher.match("   ") is None


async def test_scores_give_every_intent_its_best_phrase(embedder: CountingEmbedder) -> None:
    matcher = await IntentMatcher.create(CONFIG, embedder)
    scores = await matcher.scores("how much does the ferry cost")
    assert list(scores) == ["ask_crossing", "ask_price"]
    assert scores["ask_price"] == pytest.approx(1.0, abs=1e-5)
    assert scores["ask_crossing"] < scores["ask_price"]


async def test_only_allowed_intents_can_match(embedder: CountingEmbedder) -> None:
    matcher = await IntentMatcher.create(CONFIG, embedder, threshold=0.5)
    assert await matcher.match("what is the price", intents={"ask_crossing"}) is None
    match = await matcher.match("what is the price", intents={"ask_price"})
    assert match is not None
    assert match.intent == "ask_price"


async def test_nothing_is_embedded_when_no_intent_is_active(embedder: CountingEmbedder) -> None:
    matcher = await IntentMatcher.create(CONFIG, embedder, threshold=0.5)
    embedder.calls.clear()
    assert await matcher.match("what is the price", intents=frozenset()) is None
    assert await matcher.match("what is the price", intents={"not_an_intent"}) is None
    assert embedder.calls == []


async def test_the_turn_flow_with_active_intents(embedder: CountingEmbedder) -> None:
    matcher = await IntentMatcher.create(CONFIG, embedder, threshold=0.5)
    done = GoalState(completed=frozenset({"ferry"}))  # non-repeatable, already run
    assert active_intents(CONFIG, done) == {"ask_price"}
    line = "how do I cross the river"
    assert await matcher.match(line, intents=active_intents(CONFIG, GoalState())) is not None
    assert await matcher.match(line, intents=active_intents(CONFIG, done)) is None


async def test_a_config_without_intents_never_embeds(embedder: CountingEmbedder) -> None:
    matcher = await IntentMatcher.create(GoalsConfig(), embedder)
    embedder.calls.clear()
    assert await matcher.match("anything at all") is None
    assert embedder.calls == []


# -- the pure decision ---------------------------------------------------------------------


def test_best_intent_needs_the_threshold() -> None:
    scores = {"a": 0.4, "b": 0.6}
    assert best_intent(scores, 0.6) == IntentMatch("b", 0.6)
    assert best_intent(scores, 0.61) is None
    assert best_intent(scores, 0.3) == IntentMatch("b", 0.6)
    assert best_intent(scores, 0.3, allowed={"a"}) == IntentMatch("a", 0.4)
    assert best_intent({}, 0.0) is None


def test_best_intent_ties_go_to_the_first_written() -> None:
    assert best_intent({"first": 0.7, "second": 0.7}, 0.5) == IntentMatch("first", 0.7)


def test_intent_scores_take_the_maximum_over_phrases() -> None:
    index = IntentIndex(
        intents=("a", "a", "b"),
        phrases=("x", "y", "z"),
        vectors=np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32),
        probe=np.array([1, 0], dtype=np.float32),
    )
    query = np.array([0.8, 0.6], dtype=np.float32)
    scores = intent_scores(index, query)
    assert scores == pytest.approx({"a": 0.8, "b": 0.96})


# -- vectors computed at deploy time -------------------------------------------------------


async def test_index_round_trips_through_bytes(embedder: CountingEmbedder) -> None:
    index = await build_intent_index(CONFIG, embedder)
    assert embedder.calls == [
        [*(p for i in CONFIG.intents for p in i.training_phrases), PROBE_TEXT]
    ]
    assert index.intents == ("ask_crossing", "ask_crossing", "ask_price", "ask_price")
    assert index.vectors.shape == (4, 256)
    assert index.vectors.dtype == np.float32
    loaded = load_intent_index(index.to_bytes())
    assert loaded.intents == index.intents
    assert loaded.phrases == index.phrases
    np.testing.assert_array_equal(loaded.vectors, index.vectors)
    np.testing.assert_array_equal(loaded.probe, index.probe)
    assert loaded.fits(CONFIG)


async def test_an_empty_index_round_trips(embedder: CountingEmbedder) -> None:
    index = await build_intent_index(GoalsConfig(), embedder)
    loaded = load_intent_index(index.to_bytes())
    assert loaded.intents == ()
    assert loaded.vectors.shape == (0, 256)
    assert loaded.fits(GoalsConfig())


async def test_stored_vectors_are_used_without_embedding_phrases_again(
    embedder: CountingEmbedder,
) -> None:
    stored = (await build_intent_index(CONFIG, embedder)).to_bytes()
    embedder.calls.clear()
    matcher = await IntentMatcher.create(CONFIG, embedder, stored=stored)
    assert embedder.calls == [[PROBE_TEXT]]  # only the check that the embedder is the same
    assert matcher.index.fits(CONFIG)


async def test_stored_vectors_of_another_config_are_recomputed(embedder: CountingEmbedder) -> None:
    other = parse_goals("intents: [{name: hi, training_phrases: [hello]}]\n")
    stored = (await build_intent_index(other, embedder)).to_bytes()
    embedder.calls.clear()
    matcher = await IntentMatcher.create(CONFIG, embedder, stored=stored, threshold=0.5)
    assert matcher.index.fits(CONFIG)
    assert len(embedder.calls) == 1  # rebuilt in one batch; no probe needed for a misfit
    match = await matcher.match("what is the price")
    assert match is not None
    assert match.intent == "ask_price"


@pytest.mark.parametrize("dim", [256, 128])
async def test_stored_vectors_of_another_embedder_are_recomputed(dim: int) -> None:
    # Same dim, different vectors (the probe disagrees), or another dim altogether.
    class Shifted(HashingEmbedder):
        async def embed(self, texts: Sequence[str]) -> Vectors:
            return np.roll(await super().embed(texts), 1, axis=1)

    stored = (await build_intent_index(CONFIG, HashingEmbedder(dim=256))).to_bytes()
    now = CountingEmbedder(Shifted(dim=dim))
    matcher = await IntentMatcher.create(CONFIG, now, stored=stored, threshold=0.5)
    assert now.calls[-1][-1] == PROBE_TEXT
    assert len(now.calls[-1]) == 5  # the phrases again, with the probe
    assert matcher.index.vectors.shape == (4, dim)
    match = await matcher.match("what is the price")
    assert match is not None
    assert match.score == pytest.approx(1.0, abs=1e-5)


async def test_unreadable_stored_vectors_are_recomputed(embedder: CountingEmbedder) -> None:
    matcher = await IntentMatcher.create(CONFIG, embedder, stored=b"not an index")
    assert matcher.index.fits(CONFIG)


def test_load_refuses_junk_with_an_internal_error() -> None:
    with pytest.raises(Internal, match="unreadable"):
        load_intent_index(b"junk")
