"""The safety classifier: sentence embeddings in, a probability per safety label out.

Labels come from the labelled lines shipped in ``anima/data/safety/*.jsonl``: one file per
topic, each row ``{"text", "topic", "level"?, "split"}``. A topic with severity levels gives
two labels (``violence/mild``, ``violence/explicit``); the others one (``hate``,
``injection``, ``safe``). ``split`` "train" lines fit the classifier; "test" lines are held
back for bench/bench_safety.py. ``everyday.jsonl`` adds, as "safe" training lines, the
player lines of the appraisal and intent data sets (insults, jokes, questions, small talk;
not threats or flirting): without them the classifier took questions it had never seen
("what was the password?") for injection.

The classifier is a multinomial logistic regression on the embeddings, each class weighted by
the inverse of its size (200 safe lines against 33 of a topic), fitted by full-batch gradient
descent from zero weights: deterministic, so the same embedder always gives the same
classifier. Training embeds the ~750 training lines once per process and embedder kind
(``SafetyClassifier.for_embedder``).

A lexicon (``lexicon.json``: per topic, words that mention it and words that are explicit)
backs the embeddings up where they are weak: single words carry profanity, and "grog" or
"mead" say alcohol more surely than a sentence vector. A word found raises its label's score
to ``LEXICON_MILD`` or ``LEXICON_EXPLICIT`` (never lowers it), so a label's score is the
larger of the two models' and the scores of a line no longer sum to 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np
import numpy.typing as npt

from anima.backends.embed import Embedder, Vectors

Split = Literal["train", "test"]
Matrix = npt.NDArray[np.float64]

DATA_DIR = ("data", "safety")
LEXICON_FILE = "lexicon.json"
SAFE = "safe"
LEXICON_MILD = 0.45  # a word that mentions the topic: over the STRICT threshold only
LEXICON_EXPLICIT = 0.6  # an explicit word: over the MILD threshold too
_WORD = re.compile(r"[a-z]+")
# Topics whose explicit level is a matter of words: the classifier's "explicit" counts as a
# mention unless the lexicon finds an explicit word (an insult is not a swear word).
LEXICAL_EXPLICIT = ("profanity",)


@dataclass(frozen=True, slots=True)
class SafetyLine:
    text: str
    topic: str  # "violence", "hate", "injection", "safe"...
    level: str | None  # "mild" | "explicit" for the topics with severity levels
    split: Split

    @property
    def label(self) -> str:
        return f"{self.topic}/{self.level}" if self.level else self.topic


def load_lines(split: Split | None = None) -> list[SafetyLine]:
    """The labelled lines shipped with the package, optionally one split only."""
    folder = resources.files("anima").joinpath(*DATA_DIR)
    lines: list[SafetyLine] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".jsonl"):
            continue
        for number, raw in enumerate(entry.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            row = json.loads(raw)
            part = row.get("split", "train")
            level = row.get("level")
            if part not in ("train", "test") or level not in (None, "mild", "explicit"):
                raise ValueError(f"{entry.name}:{number}: bad split or level")
            line = SafetyLine(str(row["text"]), str(row["topic"]), level, part)
            if split is None or line.split == split:
                lines.append(line)
    return lines


class Lexicon:
    """Words per label, from ``lexicon.json``: ``{topic: {"mild": [...], "explicit": [...]}}``."""

    def __init__(self, words: dict[str, tuple[str, float]]) -> None:
        self.words = words  # word -> (label, score)

    @classmethod
    def shipped(cls) -> Lexicon:
        source = resources.files("anima").joinpath(*DATA_DIR, LEXICON_FILE)
        words: dict[str, tuple[str, float]] = {}
        for topic, levels in json.loads(source.read_text(encoding="utf-8")).items():
            for level, score in (("mild", LEXICON_MILD), ("explicit", LEXICON_EXPLICIT)):
                for word in levels.get(level, ()):
                    words[word] = (f"{topic}/{level}", score)
        return cls(words)

    def scores(self, text: str) -> dict[str, float]:
        found: dict[str, float] = {}
        for word in _WORD.findall(text.lower()):
            hit = self.words.get(word)
            if hit is not None:
                found[hit[0]] = max(found.get(hit[0], 0.0), hit[1])
        return found


def _softmax(logits: Matrix) -> Matrix:
    shifted = np.maximum(logits - logits.max(axis=1, keepdims=True), -60.0)
    exp = np.exp(shifted)
    result: Matrix = exp / exp.sum(axis=1, keepdims=True)
    return result


class SafetyClassifier:
    """Scores lines against the safety labels; build it once with ``train``/``for_embedder``."""

    def __init__(
        self,
        embedder: Embedder,
        labels: tuple[str, ...],
        weights: Matrix,
        bias: Matrix,
        lexicon: Lexicon | None = None,
    ) -> None:
        self.embedder = embedder
        self.lexicon = lexicon or Lexicon.shipped()
        self.labels = labels
        self.weights = weights
        self.bias = bias

    @classmethod
    async def train(
        cls,
        embedder: Embedder,
        lines: Sequence[SafetyLine] | None = None,
        *,
        l2: float = 1e-4,
        steps: int = 100,
        rate: float = 8.0,
    ) -> SafetyClassifier:
        """Fit on ``lines`` (default: the shipped training split)."""
        training = list(lines) if lines is not None else load_lines("train")
        if not training:
            raise ValueError("no training lines")
        labels = tuple(sorted({line.label for line in training}))
        x = (await embedder.embed([line.text for line in training])).astype(np.float64)
        targets = np.array([labels.index(line.label) for line in training])
        counts = np.bincount(targets, minlength=len(labels)).astype(np.float64)
        sample = (len(training) / (len(labels) * counts))[targets][:, None]  # balanced classes
        y = np.zeros((len(training), len(labels)))
        y[np.arange(len(training)), targets] = 1.0
        weights = np.zeros((x.shape[1], len(labels)))
        bias = np.zeros(len(labels))
        step_w, step_b = np.zeros_like(weights), np.zeros_like(bias)
        for _ in range(steps):  # Nesterov momentum with a fixed step
            ahead_w, ahead_b = weights + 0.9 * step_w, bias + 0.9 * step_b
            error = sample * (_softmax(x @ ahead_w + ahead_b) - y) / len(x)
            step_w = 0.9 * step_w - rate * (x.T @ error + l2 * ahead_w)
            step_b = 0.9 * step_b - rate * error.sum(axis=0)
            weights, bias = weights + step_w, bias + step_b
        return cls(embedder, labels, weights, bias)

    @classmethod
    def lexicon_only(cls, embedder: Embedder) -> SafetyClassifier:
        """No trained model: every line is "safe" but for the lexicon's words."""
        return cls(embedder, (SAFE,), np.zeros((embedder.dim, 1)), np.zeros(1))

    @classmethod
    async def for_embedder(cls, embedder: Embedder) -> SafetyClassifier:
        """Trained on the shipped lines once per process and embedder kind. An embedder
        whose vectors carry no meaning (``semantic = False``: the hashing fake of unit tests)
        cannot generalise from 750 lines, so its classifier is the lexicon alone."""
        if not getattr(embedder, "semantic", True):
            return cls.lexicon_only(embedder)
        key = (type(embedder).__qualname__, embedder.dim)
        trained = _TRAINED.get(key)
        if trained is None:
            trained = await cls.train(embedder)
            _TRAINED[key] = trained
        return cls(embedder, trained.labels, trained.weights, trained.bias, trained.lexicon)

    async def classify(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """A probability per label for each text (each row sums to 1)."""
        if not texts:
            return []
        return self.scores(texts, await self.embedder.embed(list(texts)))

    def scores(self, texts: Sequence[str], vectors: Vectors) -> list[dict[str, float]]:
        """A score per label for each already-embedded text: the classifier's probability,
        raised where the lexicon finds a word of the label."""
        out = self.probabilities(vectors)
        for text, row in zip(texts, out, strict=True):
            words = self.lexicon.scores(text)
            for topic in LEXICAL_EXPLICIT:
                explicit, mild = f"{topic}/explicit", f"{topic}/mild"
                if explicit not in words and explicit in row:
                    row[mild] = row.get(mild, 0.0) + row[explicit]
                    row[explicit] = 0.0
            for label, score in words.items():
                row[label] = max(row.get(label, 0.0), score)
        return out

    def probabilities(self, vectors: Vectors) -> list[dict[str, float]]:
        """The classifier alone: a probability per label, each row summing to 1."""
        rows = _softmax(vectors.astype(np.float64) @ self.weights + self.bias)
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in rows]


_TRAINED: dict[tuple[str, int], SafetyClassifier] = {}
