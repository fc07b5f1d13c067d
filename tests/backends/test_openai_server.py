"""The openai backend against a real OpenAI-compatible server: llama.cpp's own, serving the
embedded model in a subprocess (slow)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anima.backends import models
from anima.backends.openai_compat import OpenAILLM
from anima.domain.character import Character
from anima.domain.events import InteractionEnd, Utterance
from anima.domain.prompt import PromptInput, build_prompt
from anima.domain.session import Player
from anima.errors import BackendError
from anima.pipeline.turn import TurnContext, TurnRequest, run_turn

pytestmark = pytest.mark.slow

AXEON = Character.model_validate(
    {"defaultCharacterDescription": {"givenName": "Axeon", "description": "A grumpy blacksmith."}}
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("sse_starlette", reason="needs llama-cpp-python[server] (the dev extra)")
    model = models.locate(models.SMOLLM2, tmp_path_factory.mktemp("data"))
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--model_alias",
                "smollm2",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "2048",
                "--n_threads",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server did not start:\n{Path(log).read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def prompt_input(text: str) -> PromptInput:
    return PromptInput(character=AXEON, player=Player(given_name="Ann"), text=text)


async def test_chat_api_turn(server: str) -> None:
    llm = OpenAILLM(base_url=server, model="smollm2", api="chat", temperature=0.0, seed=1)
    try:
        ctx = TurnContext(llm=llm, character=AXEON, agent_id="a", player=Player(given_name="Ann"))
        events = [e async for e in run_turn(ctx, TurnRequest("i", text="Hello! Who are you?"))]
        assert [e for e in events if isinstance(e, Utterance)]
        assert isinstance(events[-1], InteractionEnd)
        assert llm.last_metrics is not None
        assert llm.last_metrics.chunks > 0
    finally:
        await llm.aclose()


async def test_completions_api_with_a_transcript(server: str) -> None:
    llm = OpenAILLM(base_url=server, model="smollm2", api="completions", temperature=0.0, seed=1)
    try:
        assert llm.prompt_format == "completion"
        text = "".join([c async for c in llm.stream(build_prompt(prompt_input("Hello!")))])
        assert text.strip()
        assert "\nAnn:" not in text  # the stop sequence ended it at the player's label
    finally:
        await llm.aclose()


async def test_closing_the_stream_early(server: str) -> None:
    llm = OpenAILLM(base_url=server, model="smollm2", temperature=0.0)
    try:
        stream = llm.stream(build_prompt(prompt_input("Tell me a long story.")))
        assert await anext(stream)
        await stream.aclose()
        assert llm.last_metrics is not None
        assert llm.last_metrics.cancelled
        # the server is still usable afterwards
        assert "".join([c async for c in llm.stream(build_prompt(prompt_input("Hi")))])
    finally:
        await llm.aclose()


async def test_unknown_route_is_a_non_retryable_error(server: str) -> None:
    llm = OpenAILLM(base_url=server.removesuffix("/v1") + "/nope", model="smollm2", retries=0)
    try:
        with pytest.raises(BackendError) as info:
            _ = [c async for c in llm.stream(build_prompt(prompt_input("Hi")))]
        assert not info.value.retryable
        assert "404" in info.value.message
    finally:
        await llm.aclose()
