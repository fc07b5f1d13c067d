"""The character brain on the embedded model (SmolLM2-135M, llama.cpp, this machine's CPU).

1. ``turns``: time to first utterance and tokens per second over a few ordinary turns.
2. ``overhead``: the engine's LLM path (``LlamaLLM.stream``: worker thread, queue, timeouts,
   metrics) against calling llama-cpp-python directly with the same prompt tokens, the same
   sampling and the same number of generated tokens; both start from an empty KV cache.
   Also the pipeline's own cost per turn (prompt building, sentence splitting, guards, events)
   measured with the zero-latency scripted backend.
3. ``prefix_reuse``: time to first token at turn 10 against turn 1 with a ~1,500-token persona,
   with llama's prefix reuse (the engine's normal path) and without (cache reset every turn).

Medians of several runs; the machine is shared, so read the figures as rough.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import llama_cpp

from anima.backends.llama import LlamaLLM
from anima.backends.registry import create_llm
from anima.backends.scripted import ScriptedLLM
from anima.domain.character import Character
from anima.domain.events import Utterance
from anima.domain.prompt import Line, Prompt, PromptInput, Speaker, build_prompt
from anima.domain.session import Player
from anima.pipeline.turn import TurnContext, TurnRequest, run_turn
from anima.settings import Settings

PLAYER = Player(given_name="Ann")
QUESTIONS = [
    "Hello! Who are you?",
    "What do you do all day?",
    "Tell me about this place.",
    "Do you have any advice for a traveller?",
    "What do you fear the most?",
    "Who is your best friend?",
    "What did you eat today?",
    "Where were you born?",
    "What is your favourite song?",
    "Will you help me find the old road?",
]

BASE = {
    "givenName": "Brenna",
    "characterRole": "the innkeeper of the Crooked Kettle",
    "description": "Brenna runs a busy inn at a crossroads and knows every traveller's gossip.",
    "motivation": "Keep her inn warm and full of stories.",
    "personalityAdjectives": ["warm", "witty", "curious"],
    "dialogResponseLength": "DIALOG_RESPONSE_LENGTH_MEDIUM",
}

LORE = (
    "The Crooked Kettle stands where the king's road meets the river path. Its beams are "
    "older than the village, its cellar older still, and travellers say the hearth never "
    "goes out. Brenna inherited it from her aunt, who won it in a game of cards from a "
    "one-eyed sailor. The stew is made with barley, leeks and whatever the hunters bring. "
)


def character(long: bool = False) -> Character:
    description = dict(BASE)
    if long:
        description["description"] = " ".join([LORE] * 17)  # ~1,500 tokens of persona
    return Character.model_validate({"defaultCharacterDescription": description})


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


async def bench_turns(llm: LlamaLLM) -> dict[str, Any]:
    ctx = TurnContext(llm=llm, character=character(), agent_id="a", player=PLAYER)
    ttfu: list[float] = []
    tps: list[float] = []
    tokens: list[int] = []
    history: tuple[Line, ...] = ()
    for i, q in enumerate(QUESTIONS[:6]):
        await llm.idle()
        before = llm.generated_tokens
        start = time.perf_counter()
        first: float | None = None
        said: list[str] = []
        async for event in run_turn(ctx, TurnRequest(f"t{i}", q, history)):
            if isinstance(event, Utterance):
                first = first or time.perf_counter() - start
                said.append(event.text)
        await llm.idle()  # the guards may have stopped the model: count what it generated
        m = llm.last_metrics
        assert m is not None
        assert first is not None
        generated = llm.generated_tokens - before
        ttfu.append(first)
        gen_s = m.duration_s - (m.first_chunk_s or 0)
        if generated > 1 and gen_s > 0:
            tps.append((generated - 1) / gen_s)
        tokens.append(generated)
        history += (Line(Speaker.PLAYER, q), Line(Speaker.CHARACTER, " ".join(said)))
    return {
        "turns": len(ttfu),
        "time_to_first_utterance_s_median": _median(ttfu),
        "time_to_first_utterance_s_max": round(max(ttfu), 4),
        "tokens_per_second_median": round(statistics.median(tps), 1),
        "generated_tokens": tokens,
    }


def _direct(llm: LlamaLLM, tokens: list[int], prompt: Prompt, n: int) -> tuple[float, int]:
    raw = llm._llama
    raw.reset()
    start = time.perf_counter()
    produced = 0
    for _ in raw.create_completion(
        tokens,
        max_tokens=n,
        temperature=llm.temperature,
        repeat_penalty=llm.repeat_penalty,
        stop=[*prompt.stop, llm.eos_text],
        stream=True,
        seed=llm.seed,
    ):
        produced += 1
    return time.perf_counter() - start, produced


async def _engine(llm: LlamaLLM, prompt: Prompt) -> tuple[float, int]:
    await llm.idle()
    llm._llama.reset()
    start = time.perf_counter()
    async for _ in llm.stream(prompt):
        pass
    elapsed = time.perf_counter() - start
    m = llm.last_metrics
    assert m is not None
    return elapsed, m.usage.completion_tokens


async def bench_overhead(llm: LlamaLLM, rounds: int = 7) -> dict[str, Any]:
    prompt = build_prompt(PromptInput(character=character(), player=PLAYER, text=QUESTIONS[1]))
    await llm.idle()
    tokens = llm.tokens(prompt)
    direct, engine, counts = [], [], set()
    for _ in range(rounds):
        e, n_e = await _engine(llm, prompt)
        d, n_d = _direct(llm, tokens, prompt, prompt.max_tokens)
        engine.append(e)
        direct.append(d)
        counts.add((n_e, n_d))
    d_med, e_med = statistics.median(direct), statistics.median(engine)

    scripted = ScriptedLLM(["Well met, traveller! *wipes the counter* What brings you here? " * 2])
    ctx = TurnContext(llm=scripted, character=character(), agent_id="a", player=PLAYER)
    history = tuple(
        Line(Speaker.PLAYER if i % 2 == 0 else Speaker.CHARACTER, f"line {i} of the talk so far")
        for i in range(20)
    )
    n = 300
    start = time.perf_counter()
    for i in range(n):
        async for _ in run_turn(ctx, TurnRequest(f"s{i}", "Hello there!", history)):
            pass
    per_turn = (time.perf_counter() - start) / n
    return {
        "prompt_tokens": len(tokens),
        "generated_tokens_engine_vs_direct": sorted(counts),
        "direct_llama_cpp_s_median": round(d_med, 4),
        "engine_stream_s_median": round(e_med, 4),
        "overhead_percent": round(100 * (e_med - d_med) / d_med, 2),
        "target_percent": 5,
        "pipeline_cpu_ms_per_turn_scripted": round(per_turn * 1000, 3),
    }


async def _ttft_series(llm: LlamaLLM, reuse: bool, turns: int = 10) -> list[float]:
    long = character(long=True)
    history: tuple[Line, ...] = ()
    out: list[float] = []
    await llm.idle()
    llm._llama.reset()
    for i in range(turns):
        prompt = build_prompt(
            PromptInput(
                character=long,
                player=PLAYER,
                text=QUESTIONS[i],
                history=history,
                history_token_budget=1500,
            )
        )
        if not reuse:
            await llm.idle()
            llm._llama.reset()
        reply = "".join([c async for c in llm.stream(prompt)])
        m = llm.last_metrics
        assert m is not None
        assert m.first_chunk_s is not None
        out.append(m.first_chunk_s)
        history += (Line(Speaker.PLAYER, QUESTIONS[i]), Line(Speaker.CHARACTER, reply.strip()))
    return out


async def bench_prefix_reuse(llm: LlamaLLM) -> dict[str, Any]:
    long_prompt = build_prompt(
        PromptInput(character=character(long=True), player=PLAYER, text="Hi")
    )
    await llm.idle()
    persona_tokens = len(llm.tokens(long_prompt))
    reuse = await _ttft_series(llm, reuse=True)
    m = llm.last_metrics
    assert m is not None
    cached_last = m.usage.cached_tokens
    prompt_last = m.usage.prompt_tokens
    fresh = await _ttft_series(llm, reuse=False)
    return {
        "persona_prompt_tokens": persona_tokens,
        "turn10_prompt_tokens": prompt_last,
        "turn10_cached_tokens": cached_last,
        "ttft_s_with_reuse": [round(x, 4) for x in reuse],
        "ttft_s_without_reuse": [round(x, 4) for x in fresh],
        "turn10_over_turn1_with_reuse": round(reuse[-1] / reuse[0], 3),
        "turn10_over_turn1_without_reuse": round(fresh[-1] / fresh[0], 3),
        "target_ratio": 1.5,
    }


async def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), llm_temperature=0.0, llm_seed=11)
        started = time.perf_counter()
        llm = create_llm(settings)
        load_s = time.perf_counter() - started
        assert isinstance(llm, LlamaLLM)
        try:
            return {
                "model": llm.model_path.name,
                "llama_cpp_python": llama_cpp.__version__,
                "threads": llm._llama.n_threads if hasattr(llm._llama, "n_threads") else None,
                "load_and_verify_s": round(load_s, 3),
                "turns": await bench_turns(llm),
                "overhead": await bench_overhead(llm),
                "prefix_reuse": await bench_prefix_reuse(llm),
            }
        finally:
            llm.close()
