"""Knowledge and long-term memory: search speed, extraction quality, and the turn's cost.

1. Retrieval: the top 5 among 10,000 facts (384-dimensional unit vectors, as MiniLM's), for
   two query vectors and two query words, 2,000 searches: p50 and p99 in milliseconds, by the
   wall clock and in this process's CPU time (on a shared machine the wall clock measures the
   other processes too). The query's embedding (MiniLM, two texts) is timed apart.
2. Memory extraction on the labelled player lines (``data/eval/memory_lines.jsonl``):
   precision and recall, and every invented memory.
3. The turn's cost with the default model, in process: the same 10 questions to Mara (with
   her probe facts among 320 others) with knowledge and memory on and off, interleaved, the
   same seed; first utterance and whole turn, medians and their ratio.

``anima eval --suite knowledge`` and ``--suite memory`` (the reply quality with the default
model) write their own reports; ``BENCH_KNOWLEDGE_TURNS=0`` skips part 3.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from typing import Any

import numpy as np

from anima.backends.embed_registry import create_embedder
from anima.domain.retrieval import Corpus
from anima.evaluation.knowledge import Prober, _with_facts, distractor_facts, load_probes
from anima.evaluation.memory import labelled_lines, score_extraction
from anima.evaluation.runner import in_process
from anima.evaluation.script import bundled_characters
from anima.pipeline.recall import Query
from anima.settings import Settings


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def retrieval() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    m = rng.standard_normal((10_000, 384)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    corpus = Corpus("personal", tuple(f"fact {i}" for i in range(10_000)), m)
    times, cpu = [], []
    for i in range(2_000):
        q = Query(m[[i, (i * 7) % 10_000]] + 0.01, frozenset({"sword", "name"}))
        started, started_cpu = time.perf_counter(), time.process_time()
        q.best([corpus], 5, 0.4)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    embedder = create_embedder(Settings(embed_backend="minilm"))
    embeds = []
    for i in range(50):
        started = time.perf_counter()
        await embedder.embed([f"What is your sword called? {i}", f"Hello. What is it called? {i}"])
        embeds.append((time.perf_counter() - started) * 1000)
    return {
        "facts": 10_000,
        "k": 5,
        "search_ms_p50": round(_pct(times, 0.5), 3),
        "search_ms_p99": round(_pct(times, 0.99), 3),
        # CPU time of this process: what the search costs whatever else the machine runs
        "search_cpu_ms_p50": round(_pct(cpu, 0.5), 3),
        "search_cpu_ms_p99": round(_pct(cpu, 0.99), 3),
        "query_embedding_ms_p50": round(_pct(embeds, 0.5), 2),
        "target": "p50 < 5 ms, p99 < 20 ms",
    }


QUESTIONS = 10


async def turn_cost() -> dict[str, Any]:
    knowledge, _ = load_probes()
    mara = next(c for c in bundled_characters() if c.given_name == "Mara")
    probes = [p for p in knowledge if p.character == "mara"][:QUESTIONS]
    facts = distractor_facts() + [p.fact for p in probes]
    base = Settings(llm_backend="embedded", llm_seed=7)
    configs = {
        "on": base,
        "off": base.model_copy(update={"knowledge_top_k": 0, "memory_enabled": False}),
    }
    timings: dict[str, dict[str, list[float]]] = {k: {"first": [], "turn": []} for k in configs}
    async with in_process(base) as target:
        turns = target.engine.turns
        prober = Prober(target, "Rowan", lambda m: print(m, file=sys.stderr, flush=True))
        cid = await target.deploy(_with_facts(mara, facts))
        for i, p in enumerate(probes):
            for name in ("on", "off") if i % 2 == 0 else ("off", "on"):
                s = configs[name]
                assert turns.recall is not None
                turns.recall.settings = type(turns.recall.settings)(
                    knowledge_top_k=s.knowledge_top_k,
                    knowledge_min_score=s.knowledge_min_score,
                    memory_top_k=s.memory_top_k,
                    memory_min_score=s.memory_min_score,
                    memory_enabled=s.memory_enabled,
                )
                session, agent = await prober.open(cid, f"bench-{uuid.uuid4().hex[:8]}")
                await prober.ask(session, agent, "Hello!")  # the persona is evaluated once
                _, _, took = await prober.ask(session, agent, p.question)
                timings[name]["turn"].append(took)
    on = statistics.median(timings["on"]["turn"])
    off = statistics.median(timings["off"]["turn"])
    return {
        "questions": len(probes),
        "facts": len(facts),
        "turn_s_median_on": round(on, 3),
        "turn_s_median_off": round(off, 3),
        "ratio_on_over_off": round(on / off, 3),
        "target": "ratio <= 1.10",
    }


async def main() -> dict[str, Any]:
    out: dict[str, Any] = {"retrieval": await retrieval()}
    out["memory_extraction"] = score_extraction(labelled_lines()).as_dict()
    if os.environ.get("BENCH_KNOWLEDGE_TURNS", "1") != "0":
        out["turn_cost"] = await turn_cost()
    return out
