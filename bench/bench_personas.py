"""Many characters on the embedded model (the default model, llama.cpp, this machine's CPU):
saved persona and conversation states against reading every prompt again.

One player talks to four characters with ~800-token personas, taking turns with each in
order, so every turn follows a turn with another character. Figures, time to first token
(``GenerationMetrics.first_chunk_s``), all from one run:

1. ``warm``: a single character's later turns (the context already holds the conversation).
2. ``alternating``: rounds 2-3 of the four-character walk, with the state cache, and one
   round with the cache off (llama's own reuse only: what happened before).
3. ``new_session``: each character's first turn, its persona computed at deploy
   (``LlamaLLM.prepare``) and its opening read when the session opened (``LlamaLLM.warm``,
   as the engine does), after another character's turn; then the same with the persona
   only (not read ahead), and with the cache off.
4. ``restart``: a new process's model (a new ``LlamaLLM`` on the same data dir) answering a
   new session's first turn: the persona comes from disk, the opening is read ahead.
5. ``threads``: one llama thread against two, for a single conversation's warm turns and
   generation speed, with MiniLM embedding lines beside it as the appraisal of other
   players would.

Ratios are against the warm median of the same run; the machine is shared and noisy.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from anima.backends.llama import LlamaLLM
from anima.backends.minilm import MiniLMEmbedder
from anima.backends.state_cache import as_tokens
from anima.domain.character import Character
from anima.domain.prompt import Line, Prompt, PromptInput, Speaker, build_prompt
from anima.domain.session import Player
from anima.settings import Settings
from bench.bench_llm import QUESTIONS

PLAYER = Player(given_name="Ann")
PLACES = ("the Crooked Kettle", "the mill on the Wend", "the old watchtower", "the ferry")
ROLES = ("innkeeper", "miller", "watchman", "ferryman")
NAMES = ("Brenna", "Osric", "Maud", "Tobin")
LORE = (
    "{name} is the {role} of {place}, where the king's road meets the river path. The beams "
    "are older than the village, the cellar older still, and travellers say the hearth never "
    "goes out. {name} inherited the place from an aunt, who won it in a game of cards from a "
    "one-eyed sailor. Supper is a stew of barley, leeks and whatever the hunters bring. "
)
MOTIVES = (
    "{name} wants the road safe again, the bridge mended before the spring floods, and news "
    "of a brother who went south with the salt traders six winters ago and never wrote. "
)


def character(i: int) -> Character:
    name, role, place = NAMES[i], ROLES[i], PLACES[i]
    lore = LORE.format(name=name, role=role, place=place)
    return Character.model_validate(
        {
            "defaultCharacterDescription": {
                "givenName": name,
                "characterRole": f"the {role} of {place}",
                "description": (lore * 8)[:2990],
                "motivation": (MOTIVES.format(name=name) * 5)[:990],
                "personalityAdjectives": ["warm", "witty", "curious"],
                "dialogResponseLength": "DIALOG_RESPONSE_LENGTH_SHORT",
            }
        }
    )


class Session:
    def __init__(self, c: Character, player: Player = PLAYER) -> None:
        self.character = c
        self.player = player
        self.history: tuple[Line, ...] = ()
        self.turn = 0

    def prompt(self) -> Prompt:
        return build_prompt(
            PromptInput(
                character=self.character,
                player=self.player,
                text=QUESTIONS[self.turn % len(QUESTIONS)],
                history=self.history,
            )
        )

    async def open(self, llm: LlamaLLM) -> bool:
        """What the server does when the session opens: the model reads its opening."""
        return await llm.warm(self.prompt())

    async def say(self, llm: LlamaLLM) -> float:
        p = self.prompt()
        reply = "".join([c async for c in llm.stream(p)])
        await llm.idle()
        m = llm.last_metrics
        assert m is not None
        assert m.first_chunk_s is not None
        line = QUESTIONS[self.turn % len(QUESTIONS)]
        self.history += (Line(Speaker.PLAYER, line), Line(Speaker.CHARACTER, reply.strip()))
        self.turn += 1
        return m.first_chunk_s


def _med(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def _r(values: list[float]) -> list[float]:
    return [round(v, 4) for v in values]


def _log(*parts: object) -> None:
    print("bench_personas:", *parts, file=sys.stderr, flush=True)


async def walk(data_dir: Path) -> dict[str, Any]:
    settings = Settings(data_dir=data_dir, llm_seed=7, llm_timeout_seconds=600)
    llm = LlamaLLM.from_settings(settings)
    assert llm.state_cache is not None
    cache = llm.state_cache
    chars = [character(i) for i in range(4)]
    try:
        sizes = []
        started = time.perf_counter()
        for c in chars:  # the deploys
            p = build_prompt(PromptInput(character=c, player=Player(given_name="Anyone")))
            persona = llm.persona_tokens(p, as_tokens(llm.tokens(p)))
            sizes.append(0 if persona is None else len(persona))
            await llm.prepare(p)
        prepare_s = (time.perf_counter() - started) / len(chars)
        _log("prepared", sizes)

        # 1. one character, one session: warm turns
        single = Session(chars[0], Player(given_name="Rowan"))
        warm = [await single.say(llm) for _ in range(5)][1:]
        _log("warm", warm)

        # 2-3. the four-character walk; each session is opened (its opening read ahead)
        # before any first turn, so every first turn follows another character's turn
        sessions = [Session(c) for c in chars]
        warmed = [await s.open(llm) for s in sessions]
        first_turns = [await s.say(llm) for s in sessions]
        _log("first turns", first_turns, "opened ahead", warmed)
        unopened = [Session(c, Player(given_name="Elin")) for c in chars]  # the persona only
        first_unopened = [await s.say(llm) for s in unopened]
        _log("first turns, not read ahead", first_unopened)
        alternating = [await s.say(llm) for _ in range(2) for s in sessions]
        _log("alternating", alternating)
        stats = cache.stats
        with_cache = {
            "hits": dict(stats.hits),
            "misses": stats.misses,
            "memory_bytes": stats.memory_bytes,
            "memory_entries": stats.memory_entries,
            "disk_bytes": stats.disk_bytes,
            "evictions": stats.evictions,
        }

        llm.state_cache = None  # llama's own prefix reuse only
        alternating_off = [await s.say(llm) for s in sessions[:2]]  # slow: two are enough
        _log("alternating, no cache", alternating_off)
        fresh = [Session(c, Player(given_name="Cole")) for c in chars[2:]]
        first_off = [await s.say(llm) for s in fresh]
        _log("first turns, no cache", first_off)
        llm.state_cache = cache
    finally:
        llm.close()

    # 4. a restarted process
    restarted = LlamaLLM.from_settings(settings)
    try:
        dana = [Session(c, Player(given_name="Dana")) for c in chars[1:3]]
        for s in dana:
            await s.open(restarted)
        after = [await s.say(restarted) for s in dana]
        assert restarted.state_cache is not None
        restart_hits = dict(restarted.state_cache.stats.hits)
        _log("after restart", after)
    finally:
        restarted.close()

    w = statistics.median(warm)
    return {
        "persona_tokens": sizes,
        "prepare_s_per_character": round(prepare_s, 3),
        "warm_ttft_s": _r(warm),
        "warm_ttft_s_median": _med(warm),
        "alternating_ttft_s": _r(alternating),
        "alternating_ttft_s_median": _med(alternating),
        "alternating_over_warm": round(statistics.median(alternating) / w, 2),
        "alternating_without_cache_ttft_s": _r(alternating_off),
        "alternating_without_cache_over_warm": round(statistics.median(alternating_off) / w, 2),
        "new_session_ttft_s": _r(first_turns),
        "new_session_over_warm": round(statistics.median(first_turns) / w, 2),
        "new_session_not_read_ahead_ttft_s": _r(first_unopened),
        "new_session_not_read_ahead_over_warm": round(statistics.median(first_unopened) / w, 2),
        "new_session_without_cache_ttft_s": _r(first_off),
        "new_session_without_cache_over_warm": round(statistics.median(first_off) / w, 2),
        "after_restart_ttft_s": _r(after),
        "after_restart_over_warm": round(statistics.median(after) / w, 2),
        "after_restart_hits": restart_hits,
        "cache": with_cache,
        "target_ratio": 1.5,
    }


async def threads(data_dir: Path, n: int) -> dict[str, Any]:
    """A single conversation's warm turns with ``n`` llama threads, MiniLM busy beside it."""
    llm = LlamaLLM.from_settings(
        Settings(data_dir=data_dir, llm_seed=7, llm_threads=n, llm_timeout_seconds=600)
    )
    embedder = MiniLMEmbedder()
    stop = threading.Event()
    embedded = 0

    def appraisal() -> None:  # two lines a turn for a few other players
        nonlocal embedded
        i = 0
        while not stop.is_set():
            embedder._run([f"another player's line number {i}", f"a reply, number {i}"])
            embedded += 2
            i += 1
            stop.wait(0.05)

    worker = threading.Thread(target=appraisal, daemon=True)
    worker.start()
    try:
        session = Session(character(0), Player(given_name="Rowan"))
        ttft, tps = [], []
        for i in range(4):
            before = llm.generated_tokens
            t = await session.say(llm)
            m = llm.last_metrics
            assert m is not None
            generated = llm.generated_tokens - before
            gen_s = m.duration_s - (m.first_chunk_s or 0)
            if i and generated > 1 and gen_s > 0:
                ttft.append(t)
                tps.append((generated - 1) / gen_s)
    finally:
        stop.set()
        worker.join()
        llm.close()
    return {
        "warm_ttft_s_median": _med(ttft),
        "tokens_per_second_median": round(statistics.median(tps), 1),
        "embedded_beside": embedded,
    }


async def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out: dict[str, Any] = {"model": Settings().llm_model}
        out["walk"] = await walk(Path(tmp) / "walk")
        out["threads"] = {}
        for n in (1, 2):
            out["threads"][str(n)] = await threads(Path(tmp) / f"threads{n}", n)
            _log("threads", n, out["threads"][str(n)])
        return out
