"""Dialogue quality of the bundled models: ``anima eval`` in process on the project's script
(45 player lines) and five characters, one conversation per character.

Each model named in ``BENCH_DIALOGUE_MODELS`` (comma-separated bundled model names; default
the default model) writes its full report to ``bench/results/dialogue-<model>.json``: label
leaks, speaking for the player, instructions said aloud, AI talk, echo, empty and fallback
replies, verbatim and near-duplicate repetition, length budget, broken words, own and player's
name when asked, relevance (MiniLM cosine) and latency, per character and overall, with every
reply. ``BENCH_DIALOGUE_SEED`` fixes the sampling seed (default 7). The turns are sampled, so
compare models on the same seed and read a difference of one or two turns as noise.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from anima.evaluation.report import build_report, table
from anima.evaluation.runner import Evaluation, in_process, open_embedder
from anima.evaluation.script import bundled_characters, bundled_script
from anima.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def evaluate(model: str, seed: int) -> dict[str, Any]:
    settings = Settings(llm_backend="embedded", llm_model=model, llm_seed=seed)
    script, characters = bundled_script(), bundled_characters()
    embedder = await open_embedder(settings)
    async with in_process(settings) as target:
        runs = await Evaluation(target, embedder, script, progress=_progress).run(characters)
    about = {
        "script": script.name,
        "lines": len(script.lines),
        "player": script.player,
        "target": "in process",
        "llm_backend": "embedded",
        "llm_model": model,
        "llm_seed": seed,
        "embed_backend": settings.embed_backend,
    }
    return build_report(runs, about)


async def main() -> None:
    models = os.environ.get("BENCH_DIALOGUE_MODELS", Settings().llm_model).split(",")
    seed = int(os.environ.get("BENCH_DIALOGUE_SEED", "7"))
    RESULTS.mkdir(exist_ok=True)
    for model in (m.strip() for m in models if m.strip()):
        report = await evaluate(model, seed)
        path = RESULTS / f"dialogue-{model}.json"
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"== {model}\n{table(report)}\n-> {path.relative_to(RESULTS.parent.parent)}")
