"""The appraiser: a line of dialogue in, an ``Appraisal`` out.

Sentence embeddings (any ``Embedder``; MiniLM in production) feed a small classifier over
the intents of domain/appraisal.py, trained at start-up on the labelled lines shipped in
``anima/data/appraisal_lines.jsonl`` (``split`` "train"; the "test" lines are held out for
measuring). A sentiment lexicon (VADER) adds the wording's valence and intensity.

Two classifiers, both pure numpy and deterministic:

- ``LogisticClassifier``: multinomial logistic regression, L2-regularised, full-batch
  gradient descent from zero weights (the default; it measures better, see
  bench/bench_appraisal.py);
- ``PrototypeClassifier``: cosine to each intent's mean vector, softmax with a temperature.

Training embeds about 260 lines and fits in well under a second on MiniLM: build the
appraiser once, in the app's lifespan, with ``await Appraiser.train(embedder)``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from anima.backends.embed import Embedder, Vectors
from anima.backends.sentiment import SentimentAnalyzer, VaderSentiment
from anima.domain.appraisal import Appraisal, Intent

Method = Literal["logistic", "prototype"]
Split = Literal["train", "test"]
Matrix = npt.NDArray[np.float64]

DATA_FILE = "appraisal_lines.jsonl"
LABELS: tuple[Intent, ...] = tuple(Intent)


@dataclass(frozen=True, slots=True)
class LabelledLine:
    text: str
    intent: Intent
    split: Split


def load_lines(split: Split | None = None) -> list[LabelledLine]:
    """The labelled player lines shipped with the package, optionally one split only."""
    source = resources.files("anima").joinpath("data", DATA_FILE)
    lines: list[LabelledLine] = []
    for number, raw in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        row = json.loads(raw)
        part = row.get("split", "train")
        if part not in ("train", "test"):
            raise ValueError(f"{DATA_FILE}:{number}: split must be train or test")
        line = LabelledLine(str(row["text"]), Intent(row["intent"]), part)
        if split is None or line.split == split:
            lines.append(line)
    return lines


class IntentClassifier(Protocol):
    def probabilities(self, vectors: Vectors) -> Matrix:
        """One row per vector, one column per ``LABELS`` entry, rows summing to 1."""
        ...


def _softmax(logits: Matrix) -> Matrix:
    # Clipped so exp() never produces denormals (slow on CPUs, no use in a probability).
    shifted = np.maximum(logits - logits.max(axis=1, keepdims=True), -60.0)
    exp = np.exp(shifted)
    result: Matrix = exp / exp.sum(axis=1, keepdims=True)
    return result


def _targets(intents: Sequence[Intent]) -> npt.NDArray[np.int64]:
    return np.array([LABELS.index(i) for i in intents], dtype=np.int64)


class LogisticClassifier:
    """Multinomial logistic regression on the embeddings, fitted by gradient descent."""

    def __init__(self, weights: Matrix, bias: Matrix) -> None:
        self.weights = weights
        self.bias = bias

    @classmethod
    def fit(
        cls,
        vectors: Vectors,
        intents: Sequence[Intent],
        *,
        l2: float = 1e-5,
        steps: int = 400,
        rate: float = 4.0,
    ) -> LogisticClassifier:
        x = vectors.astype(np.float64)
        y = np.zeros((len(intents), len(LABELS)))
        y[np.arange(len(intents)), _targets(intents)] = 1.0
        weights = np.zeros((x.shape[1], len(LABELS)))
        bias = np.zeros(len(LABELS))
        velocity_w, velocity_b = np.zeros_like(weights), np.zeros_like(bias)
        for _ in range(steps):  # Nesterov momentum, fixed step: deterministic and quick
            look_w, look_b = weights + 0.9 * velocity_w, bias + 0.9 * velocity_b
            error = (_softmax(x @ look_w + look_b) - y) / len(x)
            grad_w = x.T @ error + l2 * look_w
            grad_b = error.sum(axis=0)
            velocity_w = 0.9 * velocity_w - rate * grad_w
            velocity_b = 0.9 * velocity_b - rate * grad_b
            weights, bias = weights + velocity_w, bias + velocity_b
        return cls(weights, bias)

    def probabilities(self, vectors: Vectors) -> Matrix:
        return _softmax(vectors.astype(np.float64) @ self.weights + self.bias)


class PrototypeClassifier:
    """Cosine similarity to each intent's centroid, softmax at ``temperature``."""

    def __init__(self, centroids: Matrix, temperature: float) -> None:
        self.centroids = centroids
        self.temperature = temperature

    @classmethod
    def fit(
        cls, vectors: Vectors, intents: Sequence[Intent], *, temperature: float = 0.03
    ) -> PrototypeClassifier:
        x = vectors.astype(np.float64)
        targets = _targets(intents)
        centroids = np.zeros((len(LABELS), x.shape[1]))
        for index in range(len(LABELS)):
            members = x[targets == index]
            if len(members):
                mean = members.mean(axis=0)
                centroids[index] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return cls(centroids, temperature)

    def probabilities(self, vectors: Vectors) -> Matrix:
        cosine = vectors.astype(np.float64) @ self.centroids.T
        return _softmax(cosine / self.temperature)


def fit_classifier(vectors: Vectors, intents: Sequence[Intent], method: Method) -> IntentClassifier:
    if method == "logistic":
        return LogisticClassifier.fit(vectors, intents)
    return PrototypeClassifier.fit(vectors, intents)


_TRAINED: dict[tuple[str, int], IntentClassifier] = {}


class Appraiser:
    """Appraises lines with an embedder, an intent classifier and a sentiment analyzer."""

    def __init__(
        self,
        embedder: Embedder,
        classifier: IntentClassifier,
        sentiment: SentimentAnalyzer,
    ) -> None:
        self.embedder = embedder
        self.classifier = classifier
        self.sentiment = sentiment

    @classmethod
    async def train(
        cls,
        embedder: Embedder,
        sentiment: SentimentAnalyzer | None = None,
        *,
        method: Method = "logistic",
        lines: Sequence[LabelledLine] | None = None,
    ) -> Appraiser:
        """Fit the classifier on ``lines`` (default: the shipped training split)."""
        training = list(lines) if lines is not None else load_lines("train")
        if not training:
            raise ValueError("no training lines")
        vectors = await embedder.embed([line.text for line in training])
        classifier = fit_classifier(vectors, [line.intent for line in training], method)
        return cls(embedder, classifier, sentiment or VaderSentiment())

    @classmethod
    async def for_embedder(cls, embedder: Embedder) -> Appraiser:
        """The appraiser trained on the shipped lines, trained once per process and embedder
        kind (training is deterministic, and takes a second or more on two cores)."""
        key = (type(embedder).__qualname__, embedder.dim)
        classifier = _TRAINED.get(key)
        if classifier is None:
            trained = await cls.train(embedder)
            _TRAINED[key] = trained.classifier
            return trained
        return cls(embedder, classifier, VaderSentiment())

    async def appraise(self, text: str) -> Appraisal:
        (appraisal,) = await self.appraise_many([text])
        return appraisal

    async def appraise_many(self, texts: Sequence[str]) -> list[Appraisal]:
        if not texts:
            return []
        vectors = await self.embedder.embed(list(texts))
        rows = self.classifier.probabilities(vectors)
        appraisals = []
        for text, row in zip(texts, rows, strict=True):
            if not text.strip():
                appraisals.append(Appraisal.neutral())
                continue
            feeling = self.sentiment.score(text)
            appraisals.append(
                Appraisal.from_probabilities(
                    LABELS,
                    (float(p) for p in row),
                    valence=feeling.valence,
                    intensity=feeling.intensity,
                )
            )
        return appraisals

    def predict(self, vectors: Vectors) -> list[Intent]:
        """The top intent of each already-embedded line (for measuring)."""
        return [LABELS[int(i)] for i in self.classifier.probabilities(vectors).argmax(axis=1)]


async def held_out_accuracy(embedder: Embedder, method: Method = "logistic") -> float:
    """Accuracy on the shipped "test" lines of a classifier trained on the "train" lines."""
    appraiser = await Appraiser.train(embedder, method=method)
    test = load_lines("test")
    vectors = await embedder.embed([line.text for line in test])
    predicted = appraiser.predict(vectors)
    hits = sum(p == line.intent for p, line in zip(predicted, test, strict=True))
    return hits / len(test)
