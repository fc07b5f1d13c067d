"""Rendering a ``Prompt`` for a model: chat messages (instruction-tuned models) or a
transcript to continue (base models). Pure functions shared by the backends.

Chat: the persona is the system message, then the author's example dialog as turns, then the
history alternating user/assistant and the player's new line. The per-turn note (mood,
relationship, goal instruction, knowledge, a game event) comes last, as a second system
message right before the character answers: the model reads it as context, not as a line of
the conversation to echo, and the prompt up to the player's previous line stays the same from
one turn to the next, so a server that reuses its cache evaluates only the new exchange and
this note. Turns with nothing to note add nothing.

Transcript:

    <persona>

    Ann: Hello!
    Axeon: Greetings, traveller.
    Ann: Who are you?
    [Mood: wary.]
    Axeon:

The model continues after the final label; ``Prompt.stop`` ends it at the next speaker.
"""

from __future__ import annotations

from anima.domain.prompt import Message, Prompt


def note_text(prompt: Prompt) -> str:
    return f"[Context for {prompt.character_name}'s next reply, not to be read out]\n{prompt.note}"


def _turns(prompt: Prompt, messages: tuple[Message, ...]) -> list[dict[str, str]]:
    """Strictly alternating user/assistant messages (some chat templates refuse anything
    else): consecutive lines of one role are joined, and a line by anyone but the player or
    the character is prefixed with its speaker's name."""
    turns: list[dict[str, str]] = []
    for m in messages:
        text = m.text
        if m.role == "user" and m.name != prompt.player_name:
            text = f"{m.name}: {text}"
        if turns and turns[-1]["role"] == m.role:
            turns[-1]["content"] += "\n" + text
        else:
            turns.append({"role": m.role, "content": text})
    return turns


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    examples = _turns(prompt, prompt.examples)
    if examples and examples[-1]["role"] == "user":
        examples.pop()  # an example ending on the player would merge into the real history
    turns = _turns(prompt, prompt.messages)
    if examples and turns and examples[-1]["role"] == turns[0]["role"]:
        examples.pop()
    out = [{"role": "system", "content": prompt.system}, *examples, *turns]
    if prompt.note:
        out.append({"role": "system", "content": note_text(prompt)})
    return out


def transcript(prompt: Prompt) -> str:
    lines = [prompt.system, ""]
    lines.extend(f"{m.name}: {m.text}" for m in prompt.examples)
    if prompt.examples:
        lines.append("")
    lines.extend(f"{m.name}: {m.text}" for m in prompt.messages)
    if prompt.note:
        lines.append("[" + prompt.note.replace("\n", " ") + "]")
    lines.append(f"{prompt.character_name}:")
    return "\n".join(lines)
