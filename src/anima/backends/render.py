"""Rendering a ``Prompt`` for a model: chat messages (instruction-tuned models) or a
transcript to continue (base models). Pure functions shared by the backends.

Chat: the persona is the system message, history alternates user/assistant, and the per-turn
note rides at the end of the last user message (every chat template accepts that; not all
accept a second system message, nor two user messages in a row).

Transcript:

    <persona>

    Ann: Hello!
    Axeon: Greetings, traveller.
    (Note: You feel wary.)
    Ann: Who are you?
    Axeon:

The model continues after the final label; ``Prompt.stop`` ends it at the next speaker.
"""

from __future__ import annotations

from anima.domain.prompt import Prompt


def note_text(prompt: Prompt) -> str:
    return f"(Note for {prompt.character_name}, not to be said aloud: {prompt.note})"


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    """System, then strictly alternating user/assistant messages (some chat templates refuse
    anything else): consecutive lines of one role are joined, and a line by anyone but the
    player or the character is prefixed with its speaker's name."""
    turns: list[dict[str, str]] = []
    for m in prompt.messages:
        text = m.text
        if m.role == "user" and m.name != prompt.player_name:
            text = f"{m.name}: {text}"
        if turns and turns[-1]["role"] == m.role:
            turns[-1]["content"] += "\n" + text
        else:
            turns.append({"role": m.role, "content": text})
    if prompt.note and turns:
        turns[-1]["content"] += f"\n\n{note_text(prompt)}"
    return [{"role": "system", "content": prompt.system}, *turns]


def transcript(prompt: Prompt) -> str:
    lines = [prompt.system, ""]
    last = len(prompt.messages) - 1
    for i, m in enumerate(prompt.messages):
        if i == last and prompt.note:
            lines.append(f"(Note: {prompt.note})")
        lines.append(f"{m.name}: {m.text}")
    lines.append(f"{prompt.character_name}:")
    return "\n".join(lines)
