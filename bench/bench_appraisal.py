"""Appraisal classifier: accuracy of both classifiers and the cost of training and appraising.

    python -m bench appraisal      (or: make bench)

Measures, on the real MiniLM embedder:

- 5-fold cross-validation on the "train" lines (how the defaults were chosen: logistic
  regression L2 and prototype temperature);
- accuracy on the 100 held-out "test" lines of each classifier trained on all "train" lines,
  with its confusions;
- model load, training (embedding the lines + fitting) and one-line appraisal latency.

The runner writes the results to bench/results/appraisal.json.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import Any

import numpy as np

from anima.backends.minilm import MiniLMEmbedder
from anima.pipeline.appraiser import (
    LABELS,
    Appraiser,
    IntentClassifier,
    LabelledLine,
    LogisticClassifier,
    Method,
    PrototypeClassifier,
    load_lines,
)

FOLDS = 5


def cross_validate(
    embedder: MiniLMEmbedder, lines: list[LabelledLine], fit: Any
) -> dict[str, float]:
    vectors = embedder.embed_sync([line.text for line in lines])
    targets = np.array([LABELS.index(line.intent) for line in lines])
    probs = np.zeros((len(lines), len(LABELS)))
    for fold in range(FOLDS):
        held = np.arange(fold, len(lines), FOLDS)
        keep = np.setdiff1d(np.arange(len(lines)), held)
        model: IntentClassifier = fit(vectors[keep], [lines[i].intent for i in keep])
        probs[held] = model.probabilities(vectors[held])
    accuracy = float((probs.argmax(axis=1) == targets).mean())
    log_loss = float(-np.log(probs[np.arange(len(lines)), targets] + 1e-12).mean())
    return {"accuracy": round(accuracy, 3), "log_loss": round(log_loss, 3)}


async def held_out(embedder: MiniLMEmbedder, method: Method) -> dict[str, Any]:
    started = time.perf_counter()
    appraiser = await Appraiser.train(embedder, method=method)
    train_seconds = time.perf_counter() - started
    test = load_lines("test")
    predicted = appraiser.predict(await embedder.embed([line.text for line in test]))
    hits = sum(p == line.intent for p, line in zip(predicted, test, strict=True))
    confusions = Counter(
        f"{line.intent.value}->{p.value}"
        for p, line in zip(predicted, test, strict=True)
        if p != line.intent
    )
    latencies = []
    for line in test[:50]:
        start = time.perf_counter()
        await appraiser.appraise(line.text)
        latencies.append(time.perf_counter() - start)
    return {
        "accuracy": hits / len(test),
        "test_lines": len(test),
        "train_seconds": round(train_seconds, 3),
        "appraise_ms_median": round(statistics.median(latencies) * 1000, 2),
        "confusions": dict(confusions.most_common()),
    }


async def main() -> dict[str, Any]:
    started = time.perf_counter()
    embedder = MiniLMEmbedder()
    load_seconds = time.perf_counter() - started
    train = load_lines("train")
    cv: dict[str, Any] = {}
    for l2 in (1e-5, 1e-4, 1e-3, 1e-2):
        cv[f"logistic l2={l2:g}"] = cross_validate(
            embedder, train, lambda x, y, l2=l2: LogisticClassifier.fit(x, y, l2=l2)
        )
    for temperature in (0.02, 0.03, 0.05):
        cv[f"prototype T={temperature:g}"] = cross_validate(
            embedder,
            train,
            lambda x, y, t=temperature: PrototypeClassifier.fit(x, y, temperature=t),
        )
    result: dict[str, Any] = {
        "embedder": "all-MiniLM-L6-v2 int8 ONNX",
        "train_lines": len(train),
        "model_load_seconds": round(load_seconds, 3),
        "cross_validation_on_train": cv,
        "held_out": {m: await held_out(embedder, m) for m in ("logistic", "prototype")},
    }
    return result
