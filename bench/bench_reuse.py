"""Prompt reuse and warm-turn latency of the dialogue path, per bundled model.

One 12-line conversation with Mara (the demo character: mood, relationship and example dialog
all in play) through the real engine in process (``anima eval``'s in-process target). For
every turn the embedded backend reports how many prompt tokens it evaluated and how many it
reused from the previous turn's evaluation (llama.cpp's prefix reuse; a llama.cpp server
reuses the same longest common prefix), and how long the model took to its first chunk.
The engine's time to the first utterance comes from the evaluation's own timing.

Figures per model (``BENCH_REUSE_MODELS``, comma-separated; default every bundled model):
re-evaluated prompt tokens per turn (median and max over turns 2-12), and first utterance of
warm turns (turns 2-12: the persona is already evaluated) median and p90, and the
conversation itself (every line and reply, unedited). The turns are
sampled with a fixed seed; the machine is shared, so compare models within one run.
"""

from __future__ import annotations

import os
import statistics
import sys
from typing import Any

from anima.backends.llm import GenerationMetrics
from anima.evaluation.runner import Evaluation, in_process, open_embedder
from anima.evaluation.script import Script, ScriptLine, bundled_characters
from anima.settings import Settings

LINES = (
    "Hello there!",
    "What's your name?",
    "Nice to meet you. I'm Rowan.",
    "Who are you?",
    "What is this place like?",
    "Are you an AI?",
    "I'm sorry, that was rude of me.",
    "Do you remember my name?",
    "What do you want most in life?",
    "Have you heard any rumours lately?",
    "Can you keep a secret?",
    "Goodbye!",
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(model: str) -> dict[str, Any]:
    settings = Settings(llm_backend="embedded", llm_model=model, llm_seed=7)
    script = Script(name="reuse", lines=tuple(ScriptLine(t) for t in LINES), player="Rowan")
    mara = [c for c in bundled_characters() if c.given_name == "Mara"]
    embedder = await open_embedder(settings)
    generations: list[GenerationMetrics] = []
    async with in_process(settings) as target:
        llm = target.engine.turns.llm
        llm.observers.append(generations.append)
        runs = await Evaluation(target, embedder, script).run(mara)
    turns = runs[0].turns
    first = [t.reply.first_utterance_s for t in turns if t.reply.first_utterance_s is not None]
    fresh = [g.usage.prompt_tokens - g.usage.cached_tokens for g in generations]
    return {
        "generations": len(generations),
        "turns": len(turns),
        "re_evaluated_tokens_per_generation": fresh,
        "re_evaluated_tokens_warm_median": statistics.median(fresh[1:]),
        "re_evaluated_tokens_warm_max": max(fresh[1:]),
        "first_utterance_s_turn1": round(first[0], 3),
        "first_utterance_s_warm_median": round(statistics.median(first[1:]), 3),
        "first_utterance_s_warm_p90": round(_percentile(first[1:], 0.9), 3),
        "conversation": [[t.line.text, t.reply.text] for t in turns],
        "model_first_chunk_s_warm_median": round(
            statistics.median(g.first_chunk_s or 0.0 for g in generations[1:]), 3
        ),
    }


async def main() -> dict[str, Any]:
    names = os.environ.get(
        "BENCH_REUSE_MODELS", "smollm2-135m-instruct,gemma3-270m,qwen2.5-0.5b-instruct"
    )
    out: dict[str, Any] = {}
    for model in [n.strip() for n in names.split(",") if n.strip()]:
        print(f"bench_reuse: {model}", file=sys.stderr, flush=True)
        out[model] = await measure(model)
    return out
