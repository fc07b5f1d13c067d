"""The appraiser: the shipped data set, the held-out accuracy floor on the real MiniLM model,
determinism, and the appraisal driving emotion and relationship end to end."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest

from anima.backends.embed import Vectors
from anima.backends.hashing import HashingEmbedder
from anima.backends.minilm import MiniLMEmbedder
from anima.backends.sentiment import VaderSentiment
from anima.domain.appraisal import Appraisal, Intent
from anima.domain.emotion import EmotionProfile, EmotionState, Traits, express, react
from anima.domain.events import SpaffCode
from anima.domain.relationship import RelationshipState, apply
from anima.pipeline.appraiser import (
    LABELS,
    Appraiser,
    IntentClassifier,
    LabelledLine,
    LogisticClassifier,
    PrototypeClassifier,
    held_out_accuracy,
    load_lines,
)

# Measured on the 100 held-out lines (bench/bench_appraisal.py): logistic regression 0.80,
# prototypes 0.80. The floors are those minus 5 points.
LOGISTIC_FLOOR = 0.75
PROTOTYPE_FLOOR = 0.75


@dataclass(frozen=True)
class Embedded:
    train: list[LabelledLine]
    test: list[LabelledLine]
    train_vectors: Vectors
    test_vectors: Vectors


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def embedded(minilm: MiniLMEmbedder) -> Embedded:
    """Every shipped line embedded once with the real model, shared by the tests below."""
    train, test = load_lines("train"), load_lines("test")
    return Embedded(
        train,
        test,
        minilm.embed_sync([line.text for line in train]),
        minilm.embed_sync([line.text for line in test]),
    )


@pytest.fixture(scope="module")
def logistic(embedded: Embedded) -> LogisticClassifier:
    return LogisticClassifier.fit(embedded.train_vectors, [line.intent for line in embedded.train])


@pytest.fixture(scope="module")
def appraiser(minilm: MiniLMEmbedder, logistic: LogisticClassifier) -> Appraiser:
    """What ``Appraiser.train(minilm)`` builds, from the shared vectors."""
    return Appraiser(minilm, logistic, VaderSentiment())


def accuracy(classifier: IntentClassifier, embedded: Embedded) -> float:
    predicted = classifier.probabilities(embedded.test_vectors).argmax(axis=1)
    hits = sum(
        LABELS[int(p)] == line.intent for p, line in zip(predicted, embedded.test, strict=True)
    )
    return hits / len(embedded.test)


def test_the_data_set_is_labelled_and_split() -> None:
    lines = load_lines()
    train, test = load_lines("train"), load_lines("test")
    assert len(lines) >= 300
    assert len(test) == 100
    assert len(train) + len(test) == len(lines)
    texts = [line.text.casefold() for line in lines]
    assert len(set(texts)) == len(texts), "a line appears twice"
    for split in (train, test):
        counts = Counter(line.intent for line in split)
        assert set(counts) == set(Intent), "every intent in both splits"
    assert min(Counter(line.intent for line in train).values()) >= 20


def test_held_out_accuracy_logistic(embedded: Embedded, logistic: LogisticClassifier) -> None:
    assert accuracy(logistic, embedded) >= LOGISTIC_FLOOR


def test_held_out_accuracy_prototype(embedded: Embedded) -> None:
    intents = [line.intent for line in embedded.train]
    classifier = PrototypeClassifier.fit(embedded.train_vectors, intents)
    assert accuracy(classifier, embedded) >= PROTOTYPE_FLOOR


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("You are a stupid, ugly little troll.", Intent.INSULT),
        ("Give me the money or I'll break your legs.", Intent.THREAT),
        ("Thank you so much for fixing my cart!", Intent.GRATITUDE),
        ("I'm sorry I shouted at you yesterday.", Intent.APOLOGY),
        ("Where can I find the town blacksmith?", Intent.NEUTRAL),
    ],
)
async def test_clear_lines_get_their_intent(
    appraiser: Appraiser, text: str, intent: Intent
) -> None:
    appraisal = await appraiser.appraise(text)
    assert appraisal.intent is intent
    assert appraisal.confidence > 0.4


async def test_valence_and_intensity_come_from_the_wording(appraiser: Appraiser) -> None:
    calm, loud = await appraiser.appraise_many(["you are an idiot", "YOU ARE A COMPLETE IDIOT!!!"])
    assert calm.valence < 0
    assert loud.valence < calm.valence
    assert loud.intensity > calm.intensity


async def test_deterministic(embedded: Embedded, appraiser: Appraiser) -> None:
    texts = ["My dog died yesterday.", "You have lovely eyes.", "What's on the menu?"]
    first = await appraiser.appraise_many(texts)
    assert await appraiser.appraise_many(texts) == first
    one_by_one = [await appraiser.appraise(text) for text in texts]
    for a, b in zip(first, one_by_one, strict=True):
        assert a.intent is b.intent
        assert a.scores[a.intent] == pytest.approx(b.scores[b.intent], abs=1e-6)
    intents = [line.intent for line in embedded.train]
    again = LogisticClassifier.fit(embedded.train_vectors, intents)
    assert isinstance(appraiser.classifier, LogisticClassifier)
    np.testing.assert_array_equal(again.weights, appraiser.classifier.weights)
    np.testing.assert_array_equal(again.bias, appraiser.classifier.bias)


async def test_real_insults_anger_an_aggressive_character(appraiser: Appraiser) -> None:
    lines = [
        "You're a filthy, worthless liar.",
        "Nobody wants you here, you stinking fool.",
        "You are the most useless innkeeper in the kingdom.",
        "Shut your mouth, idiot.",
        "Your ale tastes like mud, just like your brain.",
        "You pathetic little coward.",
    ]
    profile = EmotionProfile(traits=Traits(peaceful=-70, extravert=40), fluidity=0.6)
    emotion, relationship = EmotionState.initial(profile), RelationshipState()
    for appraisal in await appraiser.appraise_many(lines):
        emotion = react(emotion, appraisal, profile)
        relationship, _ = apply(relationship, appraisal, fluidity=0.0)
    assert express(emotion, profile)[0] in (SpaffCode.ANGER, SpaffCode.BELLIGERENCE)
    assert relationship.trust < -5
    assert relationship.respect < -5


async def test_real_compliments_warm_a_character(appraiser: Appraiser) -> None:
    lines = [
        "You are the kindest soul in this town.",
        "Your cooking is absolutely wonderful.",
        "I really admire your courage.",
        "You have a beautiful singing voice.",
        "You're so clever, that plan was brilliant.",
    ]
    profile = EmotionProfile(fluidity=0.6)
    emotion = EmotionState.initial(profile)
    for appraisal in await appraiser.appraise_many(lines):
        emotion = react(emotion, appraisal, profile)
    assert express(emotion, profile)[0] in (SpaffCode.AFFECTION, SpaffCode.JOY)
    assert emotion.mood.joy > 20
    assert emotion.mood.trust > 10


# -- logic, with the hashing fake ------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Appraiser:
    return asyncio.run(Appraiser.train(HashingEmbedder(dim=256)))


async def test_scores_are_probabilities_over_every_intent(fake: Appraiser) -> None:
    appraisal = await fake.appraise("you are an idiot and a fool")
    assert set(appraisal.scores) == set(Intent)
    assert sum(appraisal.scores.values()) == pytest.approx(1.0)
    assert all(p >= 0 for p in appraisal.scores.values())
    assert -1.0 <= appraisal.valence <= 1.0
    assert 0.0 <= appraisal.intensity <= 1.0


async def test_blank_lines_are_neutral(fake: Appraiser) -> None:
    assert await fake.appraise("   ") == Appraisal.neutral()
    assert await fake.appraise_many([]) == []


@pytest.mark.parametrize("method", ["logistic", "prototype"])
async def test_trains_on_lines_given(method: str) -> None:
    lines = [
        LabelledLine("red apple", Intent.COMPLIMENT, "train"),
        LabelledLine("red cherry", Intent.COMPLIMENT, "train"),
        LabelledLine("blue ocean", Intent.INSULT, "train"),
        LabelledLine("blue sky", Intent.INSULT, "train"),
    ]
    appraiser = await Appraiser.train(
        HashingEmbedder(dim=256),
        method="logistic" if method == "logistic" else "prototype",
        lines=lines,
    )
    assert (await appraiser.appraise("red")).intent is Intent.COMPLIMENT
    assert (await appraiser.appraise("blue")).intent is Intent.INSULT


async def test_held_out_accuracy_trains_and_measures() -> None:
    score = await held_out_accuracy(HashingEmbedder(dim=256), "prototype")
    assert 0.0 <= score <= 1.0


async def test_training_needs_lines() -> None:
    with pytest.raises(ValueError, match="no training lines"):
        await Appraiser.train(HashingEmbedder(), lines=[])


def test_labels_follow_the_intent_enum() -> None:
    assert list(LABELS) == list(Intent)
    probs = np.full(len(LABELS), 1.0 / len(LABELS))
    appraisal = Appraisal.from_probabilities(LABELS, probs, valence=0.0, intensity=0.0)
    assert appraisal.intent is LABELS[0]  # ties go to the first
