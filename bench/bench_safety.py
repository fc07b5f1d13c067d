"""Topic safety: the classifier on its held-back lines, and what the checks cost.

    python -m bench safety      (or: make bench)

On the real MiniLM embedder, a classifier trained on the "train" split of
``anima/data/safety/*.jsonl`` is measured on the "test" split:

- ``strict_recall``: per topic, the share of its test lines (mild and explicit) blocked when
  that topic is at STRICT_CONTROL and every other one at NO_CONTROL (target >= 0.9); the
  unconditional categories and injection with every topic at NO_CONTROL;
- ``mild``: with every topic at MILD_CONTROL (the default), the share of clearly safe lines
  blocked (target < 5%), of level-0 mentions blocked, and of explicit lines blocked;
- ``safe_blocked_at_strict``: safe lines blocked with every topic at STRICT (for reference);
- ``eval_script_blocked``: the player lines of the bundled dialogue evaluation blocked at the
  default levels (the injection lines among them are meant to be);
- latency, p50 and p95 in ms: ``player_check_added`` is what the player-side check adds to a
  turn (the line was embedded for the check and the appraiser reads it from the cache, so the
  check's own cost is scoring and judging); ``check_with_embedding`` is one line embedded and
  checked, what each sentence of a reply costs before it is sent; ``embedding_alone`` is the
  MiniLM embedding of the same lines, for the ratio on a noisy machine.

The runner writes the results to bench/results/safety.json.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from typing import Any

from anima.backends.minilm import MiniLMEmbedder
from anima.backends.safety import SafetyClassifier, load_lines
from anima.domain.safety import (
    ALWAYS_BLOCKED,
    CONFIGURABLE,
    Level,
    Topic,
    first_block,
    judge,
    levels_of,
)
from anima.evaluation.script import bundled_script
from anima.pipeline.safety import Safety, scores_of


def _levels(default: Level, **override: Level) -> dict[Topic, Level]:
    levels = levels_of({})
    for topic in CONFIGURABLE:
        levels[topic] = override.get(topic.value, default)
    return levels


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(statistics.median(ordered) * 1000, 3),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3),
    }


async def main() -> dict[str, Any]:
    embedder = MiniLMEmbedder()
    started = time.perf_counter()
    classifier = await SafetyClassifier.train(embedder)
    train_s = time.perf_counter() - started
    test = load_lines("test")
    texts = [line.text for line in test]
    rows = classifier.scores(texts, embedder.embed_sync(texts))
    scores = [scores_of(row) for row in rows]

    def blocked(i: int, levels: dict[Topic, Level]) -> bool:
        return first_block(judge(scores[i], levels)) is not None

    strict: dict[str, float] = {}
    for topic in (*CONFIGURABLE, *ALWAYS_BLOCKED):
        levels = _levels(Level.NO_CONTROL, **{topic.value: Level.STRICT})
        hits = [blocked(i, levels) for i, line in enumerate(test) if line.topic == topic.value]
        strict[topic.value] = round(sum(hits) / len(hits), 3)

    at_mild, at_strict = _levels(Level.MILD), _levels(Level.STRICT)
    per_kind: dict[str, list[bool]] = defaultdict(list)
    per_topic_mild: dict[str, list[bool]] = defaultdict(list)
    for i, line in enumerate(test):
        kind = "safe" if line.topic == "safe" else line.level or "unconditional"
        per_kind[kind].append(blocked(i, at_mild))
        if line.level == "mild":
            per_topic_mild[line.topic].append(blocked(i, at_mild))
    safe = [i for i, line in enumerate(test) if line.topic == "safe"]

    script = [line.text for line in bundled_script().lines]
    script_rows = classifier.scores(script, embedder.embed_sync(script))
    script_blocked = [
        {"text": text, "topic": v.topic.value, "score": round(v.score, 3)}
        for text, row in zip(script, script_rows, strict=True)
        if (v := first_block(judge(scores_of(row), at_mild))) is not None
    ]

    # latency: fresh lines (the embedder's cache would hide the model), one at a time
    fresh = MiniLMEmbedder()
    cold, embed_only, added = [], [], []
    for text in texts:
        t0 = time.perf_counter()
        fresh.embed_sync([text + " "])
        embed_only.append(time.perf_counter() - t0)
    safety = Safety(SafetyClassifier(fresh, classifier.labels, classifier.weights, classifier.bias))
    for text in texts:
        t0 = time.perf_counter()
        (s,) = await safety.scores([text])
        judge(s, at_mild)
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        (s,) = await safety.scores([text])  # embedded above: the appraiser's case
        judge(s, at_mild)
        added.append(time.perf_counter() - t0)

    return {
        "train_lines": len(load_lines("train")),
        "test_lines": len(test),
        "train_s": round(train_s, 2),
        "strict_recall": strict,
        "strict_recall_target": 0.9,
        "strict_recall_met": all(v >= 0.9 for v in strict.values()),
        "mild": {
            "safe_blocked": round(sum(per_kind["safe"]) / len(per_kind["safe"]), 3),
            "level0_blocked": round(sum(per_kind["mild"]) / len(per_kind["mild"]), 3),
            "level0_blocked_per_topic": {
                t: round(sum(v) / len(v), 3) for t, v in sorted(per_topic_mild.items())
            },
            "explicit_blocked": round(sum(per_kind["explicit"]) / len(per_kind["explicit"]), 3),
            "unconditional_and_injection_blocked": round(
                sum(per_kind["unconditional"]) / len(per_kind["unconditional"]), 3
            ),
        },
        "mild_safe_blocked_target": 0.05,
        "safe_blocked_at_strict": round(sum(blocked(i, at_strict) for i in safe) / len(safe), 3),
        "eval_script_lines": len(script),
        "eval_script_blocked": script_blocked,
        "latency_ms": {
            "player_check_added": _ms(added),
            "check_with_embedding": _ms(cold),
            "embedding_alone": _ms(embed_only),
        },
        "latency_target_ms": 10,
    }
