"""Any server speaking the OpenAI API (OpenAI, vLLM, Ollama, llama.cpp's server...).

``Settings.openai_api`` picks the endpoint: ``chat`` (chat completions, the prompt rendered as
messages) or ``completions`` (legacy completions, the prompt rendered as a transcript with
stop sequences, for base models). Closing the stream closes the HTTP response, which tells
the server to stop generating.

Vendor errors become ``BackendError`` here: connection failures, timeouts, 408/409/429 and 5xx
answers are retryable; other 4xx answers (bad key, unknown model) are not.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import openai

from anima.backends.llm import LLMBase, PromptFormat, Usage
from anima.backends.render import chat_messages, transcript
from anima.domain.prompt import Prompt
from anima.errors import BackendError, InvalidArgument
from anima.settings import Settings

_RETRYABLE_STATUS = frozenset({408, 409, 429})


def backend_error(exc: openai.OpenAIError, base_url: str) -> BackendError:
    """Translate an ``openai`` exception (raise the result ``from exc``)."""
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(f"the language model server at {base_url} timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(
            f"cannot reach the language model server at {base_url}: {exc}", retryable=True
        )
    if isinstance(exc, openai.APIStatusError):
        retryable = exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500
        return BackendError(
            f"the language model server at {base_url} answered {exc.status_code}: {exc.message}",
            retryable=retryable,
        )
    return BackendError(f"the language model server at {base_url} failed: {exc}", retryable=False)


class OpenAILLM(LLMBase):
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "not-needed",
        api: str = "chat",
        prompt_format: PromptFormat | None = None,
        temperature: float = 0.7,
        top_p: float | None = None,
        seed: int | None = None,
        timeout_s: float = 60.0,
        retries: int = 1,
    ) -> None:
        super().__init__(timeout_s=timeout_s, retries=retries)
        expected: PromptFormat = "chat" if api == "chat" else "completion"
        if prompt_format is not None and prompt_format != expected:
            raise InvalidArgument(
                f"llm_prompt_format={prompt_format} does not fit openai_api={api}: "
                "chat prompts go to the chat API, completion prompts to the completions API",
                field="llm_prompt_format",
            )
        self.prompt_format = expected
        self.base_url = base_url
        self.model = model
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAILLM:
        fmt = None if settings.llm_prompt_format == "auto" else settings.llm_prompt_format
        return cls(
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            api=settings.openai_api,
            prompt_format=fmt,
            temperature=0.7 if settings.llm_temperature is None else settings.llm_temperature,
            top_p=settings.llm_top_p,
            seed=settings.llm_seed,
            timeout_s=settings.llm_timeout_seconds,
        )

    async def _stream(self, prompt: Prompt) -> AsyncGenerator[str | Usage, None]:
        seed: int | openai.Omit = openai.omit
        if self.seed is not None:
            seed = self.seed + prompt.attempt  # a repair draws other tokens
        elif prompt.attempt:
            seed = prompt.attempt * 7919
        top_p = openai.omit if self.top_p is None else self.top_p
        stop = list(prompt.stop[:4])
        try:
            if self.prompt_format == "chat":
                chat = await self._client.chat.completions.create(
                    model=self.model,
                    messages=chat_messages(prompt),  # type: ignore[arg-type]
                    max_tokens=prompt.max_tokens,
                    temperature=self.temperature,
                    top_p=top_p,
                    stop=stop,
                    seed=seed,
                    stream=True,
                )
                assert isinstance(chat, openai.AsyncStream)
                async with chat:
                    async for chunk in chat:
                        if chunk.choices and chunk.choices[0].delta.content:
                            yield chunk.choices[0].delta.content
            else:
                legacy = await self._client.completions.create(
                    model=self.model,
                    prompt=transcript(prompt),
                    max_tokens=prompt.max_tokens,
                    temperature=self.temperature,
                    top_p=top_p,
                    stop=stop,
                    seed=seed,
                    stream=True,
                )
                async with legacy:
                    async for piece in legacy:
                        if piece.choices and piece.choices[0].text:
                            yield piece.choices[0].text
        except openai.OpenAIError as exc:
            raise backend_error(exc, self.base_url) from exc

    async def aclose(self) -> None:
        await self._client.close()
