"""``anima eval``: play a script to characters and score the replies.

    anima eval [CHARACTER.json ...] [--script FILE] [--out report.json] [--max-fallback 0.05 ...]

Without character files it plays the project's five characters, without ``--script`` the
project's script. In process by default (a temporary store, the configured language model;
``--llm-backend``, ``--llm-model``, ``--seed``); with ``--url`` against a running server, with a
key of scope ``all`` on ``--workspace`` (``--key`` the Basic signature, or the public key with
``--secret``; or ANIMA_EVAL_KEY). Progress goes to standard error, the table to standard
output. Exit status 1 when a threshold is missed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from anima.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``eval`` to the CLI."""
    from anima.evaluation.report import METRICS

    p = sub.add_parser("eval", help="play a script to characters and score every reply")
    p.add_argument("characters", nargs="*", help="Character JSON files (default: the bundled five)")
    p.add_argument("--script", help="script file, YAML or .jsonl (default: the bundled script)")
    p.add_argument("--player", help="the player's name (default: the script's, else Rowan)")
    p.add_argument(
        "--suite",
        choices=("dialogue", "knowledge", "memory"),
        default="dialogue",
        help="dialogue: the script (default); knowledge: questions on facts hidden among "
        "hundreds; memory: a fact told in one session, asked in the next",
    )
    p.add_argument("--limit", type=int, help="play only the first N lines of the script")
    p.add_argument("--out", help="write the JSON report to this file")
    p.add_argument("--llm-backend", dest="llm_backend", help="in process: embedded | openai | ...")
    p.add_argument("--llm-model", dest="llm_model", help="in process: bundled model name")
    p.add_argument("--seed", type=int, help="in process: the model's sampling seed")
    p.add_argument("--embed-backend", dest="embed_backend", help="minilm (default) | hashing")
    g = p.add_argument_group("a running server instead of in process")
    g.add_argument("--url", help="server base URL, e.g. http://127.0.0.1:8000")
    g.add_argument("--workspace", default="default", help="workspace (default: default)")
    g.add_argument("--key", help="Basic signature, or the public key with --secret")
    g.add_argument("--secret", help="the key's secret (with the public key as --key)")
    t = p.add_argument_group("thresholds on the overall figures (rates are 0..1)")
    for m in METRICS:
        t.add_argument(m.flag, dest=m.dest, type=float, metavar="X", help=m.help)
    p.set_defaults(handler=run_command)


def _thresholds(args: argparse.Namespace) -> dict[str, float]:
    from anima.evaluation.report import METRICS

    return {m.name: v for m in METRICS if (v := getattr(args, m.dest, None)) is not None}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run_command(args: argparse.Namespace, settings: Settings) -> int:
    from anima.evaluation import report as reports
    from anima.evaluation.runner import Evaluation, in_process, open_embedder, remote
    from anima.evaluation.script import (
        bundled_characters,
        bundled_script,
        load_character,
        load_script,
    )

    script = load_script(Path(args.script)) if args.script else bundled_script()
    if args.limit:
        script = type(script)(script.name, script.lines[: args.limit], script.player)
    characters = (
        [load_character(Path(f)) for f in args.characters]
        if args.characters
        else bundled_characters()
    )
    updates: dict[str, Any] = {}
    for name in ("llm_backend", "llm_model", "embed_backend"):
        if getattr(args, name, None):
            updates[name] = getattr(args, name)
    if args.seed is not None:
        updates["llm_seed"] = args.seed
    settings = Settings(**{**settings.model_dump(), **updates})
    player = args.player or script.player
    about: dict[str, Any] = {
        "script": script.name,
        "lines": len(script.lines),
        "player": player,
        "embed_backend": settings.embed_backend,
    }
    if args.suite != "dialogue":
        return await _probe_suite(args, settings, characters, player, about)
    embedder = await open_embedder(settings)
    if args.url:
        key = args.key or os.environ.get("ANIMA_EVAL_KEY", "")
        if not key:
            print("anima: eval --url needs --key (or ANIMA_EVAL_KEY)", file=sys.stderr)
            return 2
        about.update(target=f"server {args.url}", workspace=args.workspace)
        async with remote(args.url, args.workspace, key, args.secret) as target:
            runs = await Evaluation(
                target, embedder, script, player=player, progress=_progress
            ).run(characters)
    else:
        about.update(
            target="in process",
            llm_backend=settings.llm_backend,
            llm_model=str(settings.llm_model_path or settings.llm_model),
            llm_temperature=settings.llm_temperature,
            llm_seed=settings.llm_seed,
        )
        async with in_process(settings) as target:
            runs = await Evaluation(
                target, embedder, script, player=player, progress=_progress
            ).run(characters)
    report = reports.build_report(runs, about)
    if args.out:
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        await asyncio.to_thread(Path(args.out).write_text, text, encoding="utf-8")
    print(reports.table(report))
    failures = reports.missed(report, _thresholds(args))
    for message in failures:
        print(f"anima eval: threshold missed: {message}", file=sys.stderr)
    return 1 if failures else 0


async def _probe_suite(
    args: argparse.Namespace,
    settings: Settings,
    characters: list[Any],
    player: str,
    about: dict[str, Any],
) -> int:
    """``--suite knowledge`` or ``--suite memory``: probes through the REST API."""
    from contextlib import AbstractAsyncContextManager

    from anima.evaluation import knowledge as suite
    from anima.evaluation.runner import RestTarget, in_process, remote

    by_stem = {Path(c.source).stem: c for c in characters}
    knowledge_probes, memory_probes = suite.load_probes()
    about.update(suite=args.suite, llm_seed=settings.llm_seed)
    target: AbstractAsyncContextManager[RestTarget]
    if args.url:
        key = args.key or os.environ.get("ANIMA_EVAL_KEY", "")
        if not key:
            print("anima: eval --url needs --key (or ANIMA_EVAL_KEY)", file=sys.stderr)
            return 2
        about.update(target=f"server {args.url}")
        target = remote(args.url, args.workspace, key, args.secret)
    else:
        about.update(
            target="in process",
            llm_backend=settings.llm_backend,
            llm_model=str(settings.llm_model_path or settings.llm_model),
            knowledge_top_k=settings.knowledge_top_k,
            knowledge_min_score=settings.knowledge_min_score,
            memory_min_score=settings.memory_min_score,
        )
        target = in_process(settings)
    async with target as t:
        prober = suite.Prober(t, player, _progress)
        if args.suite == "knowledge":
            probes = [p for p in knowledge_probes if p.character in by_stem][: args.limit]
            results = await suite.run_knowledge(prober, by_stem, probes)
            about["distractors"] = suite.DISTRACTORS
        else:
            mprobes = [p for p in memory_probes if p.character in by_stem][: args.limit]
            results = await suite.run_memory(prober, by_stem, mprobes)
    report = {**about, "overall": suite.summary(results), "probes": [r.as_dict() for r in results]}
    if args.out:
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        await asyncio.to_thread(Path(args.out).write_text, text, encoding="utf-8")
    o = report["overall"]
    print(
        f"{args.suite}: {o['probes']} probes, retrieved {o['retrieved']:.0%}, "
        f"answered {o['answered']:.0%}, turn p50 {o['turn_s_p50']:.2f}s"
    )
    return 0
