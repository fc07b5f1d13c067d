"""Rendering a ``Prompt`` for a model: chat messages (instruction-tuned models) or a
transcript to continue (base models). Pure functions shared by the backends.

Chat: the persona is the system message, then the author's example dialog as turns, then the
history alternating user/assistant and the player's new line. The per-turn note (mood,
relationship, goal instruction, knowledge, a game event) is a second system message just
before the player's new line: the model reads it as context and then answers the player (put
after the line, small models answer the note instead), and the prompt up to the character's
previous reply stays the same from one turn to the next, so a server that reuses its cache
evaluates only the new exchange and this note. Turns with nothing to note add nothing.

Transcript:

    <persona>

    Ann: Hello!
    Axeon: Greetings, traveller.
    [Axeon's mood: wary.]
    Ann: Who are you?
    Axeon:

The model continues after the final label; ``Prompt.stop`` ends it at the next speaker.
"""

from __future__ import annotations

from anima.domain.prompt import Message, Prompt


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
    if prompt.note and turns:
        # before the player's line: the model answers the player, not the note
        turns.insert(len(turns) - 1, {"role": "system", "content": prompt.note})
    return [{"role": "system", "content": prompt.system}, *examples, *turns]


def transcript(prompt: Prompt) -> str:
    lines = [prompt.system, ""]
    lines.extend(f"{m.name}: {m.text}" for m in prompt.examples)
    if prompt.examples:
        lines.append("")
    said = [f"{m.name}: {m.text}" for m in prompt.messages]
    if prompt.note:
        said.insert(max(0, len(said) - 1), "[" + prompt.note.replace("\n", " ") + "]")
    lines.extend(said)
    lines.append(f"{prompt.character_name}:")
    return "\n".join(lines)
