"""The embedded backend end to end with the real SmolLM2 model (slow)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from anima.backends.llama import LlamaLLM
from anima.backends.registry import create_llm
from anima.domain.character import Character
from anima.domain.events import InteractionEnd, Utterance
from anima.domain.prompt import Line, Prompt, PromptInput, Speaker, build_prompt
from anima.domain.session import Player
from anima.pipeline.turn import TurnContext, TurnRequest, run_turn

pytestmark = pytest.mark.slow

AXEON = Character.model_validate(
    {
        "defaultCharacterDescription": {
            "givenName": "Axeon",
            "characterRole": "a blacksmith",
            "description": "A grumpy old blacksmith who loves his forge.",
            "dialogResponseLength": "DIALOG_RESPONSE_LENGTH_LONG",
        }
    }
)


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaLLM]:
    from anima.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), llm_temperature=0.0, llm_seed=7)
    model = create_llm(settings)
    assert isinstance(model, LlamaLLM)
    yield model
    model.close()


def prompt(text: str, history: tuple[Line, ...] = ()) -> Prompt:
    return build_prompt(
        PromptInput(character=AXEON, player=Player(given_name="Ann"), text=text, history=history)
    )


async def text_of(llm: LlamaLLM, p: Prompt) -> str:
    return "".join([c async for c in llm.stream(p)])


async def test_a_turn_with_the_real_model(llm: LlamaLLM) -> None:
    assert llm.prompt_format == "chat"
    ctx = TurnContext(llm=llm, character=AXEON, agent_id="a", player=Player(given_name="Ann"))
    events = [
        e async for e in run_turn(ctx, TurnRequest("i", text="Hello! What do you make here?"))
    ]
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert utterances
    assert all(u.text.strip() for u in utterances)
    assert isinstance(events[-1], InteractionEnd)
    m = llm.last_metrics
    assert m is not None
    assert m.usage.prompt_tokens > 50
    assert m.first_chunk_s is not None


async def test_the_persona_is_reused_on_the_next_turn(llm: LlamaLLM) -> None:
    first = prompt("Hello!")
    reply = await text_of(llm, first)
    second = prompt(
        "And what else?", (Line(Speaker.PLAYER, "Hello!"), Line(Speaker.CHARACTER, reply))
    )
    await text_of(llm, second)
    m = llm.last_metrics
    assert m is not None
    assert m.usage.cached_tokens >= len(first.system) // 8  # at least the persona
    assert m.usage.cached_tokens < m.usage.prompt_tokens


async def test_concurrent_turns_do_not_corrupt_each_other(llm: LlamaLLM) -> None:
    a, b = prompt("Tell me about your forge."), prompt("Do you like dragons?")
    alone = [await text_of(llm, a), await text_of(llm, b)]
    together = await asyncio.gather(text_of(llm, a), text_of(llm, b))
    assert list(together) == alone


async def test_a_reply_does_not_depend_on_what_the_model_read_before(llm: LlamaLLM) -> None:
    # Turn 2 reuses turn 1's prompt and reply from the context; the same prompt read cold
    # (the context emptied) must give the same words at temperature 0.
    lines: tuple[Line, ...] = ()
    for text in ("Hello! Who are you?", "What do you make here?", "Is it hard work?"):
        p = prompt(text, lines)
        warm = await text_of(llm, p)
        m = llm.last_metrics
        assert m is not None
        if lines:  # the last reply was kept in the context and reused
            assert m.usage.cached_tokens > len(llm.tokens(prompt(lines[-2].text, lines[:-2])))
        await llm.idle()
        llm._llama.n_tokens = 0
        assert await text_of(llm, p) == warm
        lines = (*lines, Line(Speaker.PLAYER, text), Line(Speaker.CHARACTER, warm))


async def test_closing_the_stream_stops_generation(llm: LlamaLLM) -> None:
    p = prompt("Please tell me a very long story about your life, with every detail.")
    await llm.idle()
    before = llm.generated_tokens
    full = await text_of(llm, p)
    full_tokens = llm.generated_tokens - before
    assert full_tokens > 5

    before = llm.generated_tokens
    stream = llm.stream(p)
    assert await anext(stream)
    await stream.aclose()
    await llm.idle()  # the worker has finished
    assert llm.generated_tokens - before < full_tokens
    assert full  # the uncancelled run produced text


async def test_a_model_path_with_its_sha256(tmp_path: Path, llm: LlamaLLM) -> None:
    from anima.backends import models
    from anima.settings import Settings

    settings = Settings(
        data_dir=tmp_path,
        llm_model_path=llm.model_path,
        llm_model_sha256=models.BUNDLED[Settings().llm_model].sha256,
        llm_prompt_format="completion",
        llm_context_tokens=512,
    )
    other = LlamaLLM.from_settings(settings)
    try:
        assert other.prompt_format == "completion"
        assert other.tokens(prompt("Hi"))  # renders as a transcript
    finally:
        other.close()
