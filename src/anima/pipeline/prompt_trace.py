"""The exact prompt the model saw on a turn, recorded into the turn's trace.

``PromptRecorder`` stands in front of the shared model for one turn: each prompt it streams is
rendered the way the backend sends it (chat messages, or one completion transcript) and kept
as ``trace["prompt"]``; a repaired reply keeps the prompt of its last attempt. The
interactions API shows it only to keys with studio scope (api/engine.py).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from anima.backends.llm import LLM, PromptFormat
from anima.backends.render import chat_messages, transcript
from anima.domain.prompt import Prompt

TRACE_KEY = "prompt"


def rendered(prompt: Prompt, prompt_format: PromptFormat) -> dict[str, Any]:
    """What the backend sends for ``prompt``, as data for the trace."""
    if prompt_format == "completion":
        return {"format": "completion", "text": transcript(prompt), "attempt": prompt.attempt}
    return {"format": "chat", "messages": chat_messages(prompt), "attempt": prompt.attempt}


class PromptRecorder:
    """The shared model, recording each prompt of one turn into ``trace``. It does not own
    the model: closing it leaves the model open."""

    def __init__(self, llm: LLM, trace: dict[str, Any]) -> None:
        self.llm = llm
        self.trace = trace
        self.name = llm.name
        self.prompt_format: PromptFormat = llm.prompt_format

    def stream(self, prompt: Prompt) -> AsyncGenerator[str, None]:
        self.trace[TRACE_KEY] = rendered(prompt, self.prompt_format)
        return self.llm.stream(prompt)

    async def aclose(self) -> None:
        return None
