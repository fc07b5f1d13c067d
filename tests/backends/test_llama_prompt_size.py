"""A prompt longer than the embedded model's context is the client's text, not a failing
model: 412 FAILED_PRECONDITION, never 503 (slow: the real SmolLM2 model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from anima.backends.llama import LlamaLLM
from anima.backends.registry import create_llm
from anima.domain.character import Character
from anima.domain.prompt import PromptInput, build_prompt
from anima.domain.session import Player
from anima.errors import FailedPrecondition
from anima.settings import Settings

pytestmark = pytest.mark.slow


async def test_a_prompt_over_the_context_is_a_failed_precondition(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, llm_context_tokens=256)
    llm = create_llm(settings)
    assert isinstance(llm, LlamaLLM)
    try:
        character = Character.model_validate(
            {"defaultCharacterDescription": {"givenName": "Ann", "description": "word " * 600}}
        )
        prompt = build_prompt(
            PromptInput(character=character, player=Player(given_name="Bo"), text="Hello")
        )
        with pytest.raises(FailedPrecondition, match="does not fit the model's context"):
            async for _ in llm.stream(prompt):
                pass
    finally:
        llm.close()
