"""The openai backend's failure paths, without a model: server down, error statuses."""

from __future__ import annotations

import socket

import httpx
import openai
import pytest

from anima.backends.openai_compat import OpenAILLM, backend_error
from anima.domain.character import Character
from anima.domain.prompt import PromptInput, build_prompt
from anima.errors import BackendError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_server_down_is_a_retryable_backend_error() -> None:
    llm = OpenAILLM(
        base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", timeout_s=5, retries=0
    )
    prompt = build_prompt(PromptInput(character=Character(), text="Hi"))
    with pytest.raises(BackendError) as info:
        _ = [c async for c in llm.stream(prompt)]
    assert info.value.retryable
    assert "cannot reach" in info.value.message
    assert isinstance(info.value.__cause__, openai.APIConnectionError)
    assert llm.last_metrics is not None
    assert llm.last_metrics.error is not None
    await llm.aclose()


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(401, False), (404, False), (400, False), (429, True), (500, True), (503, True)],
)
def test_status_codes_map_to_retryable(status: int, retryable: bool) -> None:
    request = httpx.Request("POST", "http://x/v1/chat/completions")
    response = httpx.Response(status, request=request, json={"error": {"message": "nope"}})
    exc = openai.APIStatusError("nope", response=response, body=None)
    err = backend_error(exc, "http://x/v1")
    assert err.retryable is retryable
    assert str(status) in err.message


def test_timeouts_are_retryable() -> None:
    exc = openai.APITimeoutError(request=httpx.Request("POST", "http://x"))
    assert backend_error(exc, "http://x").retryable
