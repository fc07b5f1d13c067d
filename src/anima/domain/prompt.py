"""The prompt of a turn, built from the deployed character: pure, backend-neutral.

``build_prompt(PromptInput) -> Prompt``. A ``Prompt`` has four parts, ordered from the most
stable to the least, so a backend that reuses its cache of an earlier prompt (llama.cpp's
prefix reuse) only evaluates what changed:

1. ``system``: the persona (character, player, scene, rules). Same text every turn of a session.
2. ``examples``: first exchanges in which the character names itself and the player (built from
   its fields), then the author's example dialog as turns.
3. ``messages``: the recent history and the player's new line, oldest first. Exchanges the
   engine answered with a deflection are left out.
4. ``note``: what holds for this reply only (a mood worth mentioning, a relationship beyond
   acquaintance, goal instruction, knowledge snippets, a one-off game event), as short context
   lines; backends render it just before the player's new line. Empty when there is nothing.

History is kept within ``history_token_budget`` (estimated at four characters a token): the
oldest lines are dropped, in blocks of ``HISTORY_DROP_BLOCK`` lines so the kept history starts
at the same line for several turns and stays a reusable prefix. Nothing is summarised; the
number of dropped lines is in ``Prompt.dropped_lines``.

``{player}`` and ``{character}`` in any text the character's author wrote (and in scene, event
and instruction texts) are replaced by the player's and the character's names. Each backend
renders a ``Prompt`` in its own format (chat template or transcript) inside ``backends/``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from anima.domain.character import (
    Character,
    CharacterDescription,
    DialogResponseLength,
    ExampleDialogStyle,
    LifeStage,
    Personality,
    Pronoun,
)
from anima.domain.session import Player

HISTORY_DROP_BLOCK = 8
CHARS_PER_TOKEN = 4


class Speaker(StrEnum):
    PLAYER = "player"
    CHARACTER = "character"
    OTHER = "other"  # another character of the scene, named by ``Line.name``


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the conversation so far."""

    speaker: Speaker
    text: str
    name: str = ""  # who spoke, for Speaker.OTHER
    fallback: bool = False  # a deflection the engine said for the model: never fed back


@dataclass(frozen=True, slots=True)
class SceneInfo:
    name: str = ""
    description: str = ""
    others: tuple[str, ...] = ()  # names of the other characters present


@dataclass(frozen=True, slots=True)
class ResponseBudget:
    """How long a reply may be: told to the model and enforced on its output."""

    max_tokens: int
    max_sentences: int
    instruction: str


@dataclass(frozen=True, slots=True)
class PromptInput:
    character: Character
    player: Player = field(default_factory=Player)
    text: str | None = None  # the player's new line; None for a turn started by an event
    history: tuple[Line, ...] = ()
    scene: SceneInfo | None = None
    # Seams for later stages; each is rendered in the per-turn note when set.
    mood: str | None = None  # "You feel irritated and tense."
    relationship: str | None = None  # "You trust {player} and consider them a friend."
    instruction: str | None = None  # a goal's instruction that steers this reply
    knowledge: tuple[str, ...] = ()  # retrieved facts
    memories: tuple[str, ...] = ()  # what the character remembers of this player
    unknown: bool = False  # a question of fact nothing retrieved answers (cognitive control)
    event: str | None = None  # a one-off event the game tells the character about
    hint: str | None = None  # a corrective hint when a first reply was rejected
    attempt: int = 0  # 0 for the first generation of a turn, 1 for its repair
    history_token_budget: int = 1024
    max_tokens_cap: int | None = None  # the deployment's ceiling (Settings.llm_max_tokens)


Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role  # "user" is anyone but the character
    name: str  # the speaker's name, for transcripts
    text: str


@dataclass(frozen=True, slots=True)
class Prompt:
    system: str
    messages: tuple[Message, ...]  # one per line; roles may repeat (several speakers)
    note: str
    character_name: str
    player_name: str
    stop: tuple[str, ...]
    max_tokens: int
    max_sentences: int
    narrated_actions: bool
    dropped_lines: int = 0
    examples: tuple[Message, ...] = ()  # the author's example dialog, as turns before history
    attempt: int = 0  # backends vary the seed with it
    facts: tuple[str, ...] = ()  # the note's lines of knowledge and memory: sayable aloud
    # How many leading characters of ``system`` come from the character version alone (no
    # player, scene or turn in them): the part a backend may evaluate once per version.
    character_chars: int = 0

    @property
    def character_part(self) -> str:
        return self.system[: self.character_chars]


# -- vocabulary -----------------------------------------------------------------

_PRONOUNS = {
    Pronoun.PRONOUN_FEMALE: "she/her",
    Pronoun.PRONOUN_MALE: "he/him",
    Pronoun.PRONOUN_OTHER: "they/them",
}

_LIFE_STAGES = {
    LifeStage.LIFE_STAGE_CHILDHOOD: "a child",
    LifeStage.LIFE_STAGE_ADOLESCENCE: "a teenager",
    LifeStage.LIFE_STAGE_YOUNG_ADULTHOOD: "a young adult",
    LifeStage.LIFE_STAGE_MIDDLE_ADULTHOOD: "middle-aged",
    LifeStage.LIFE_STAGE_LATE_ADULTHOOD: "elderly",
}

_STYLES = {
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_DEFAULT: "engaging and realistic",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_BUBBLY: "thoughtful, energetic and friendly",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_FORMAL: "formal and matter-of-fact",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_BLUNT: "short, direct and to the point",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_INQUISITIVE: "inquisitive, usually asking a question",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_COMMANDING: "intense and determined",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_EMPATHETIC: "gentle and compassionate",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_ENTERTAINING: "entertaining, animated and comical",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_HYPOCHONDRIAC: "neurotic and fearful",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_LAIDBACK: "relaxed, informal and nonchalant",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_LONG_WINDED: "verbose and meandering",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_MORAL: "principled and incorruptible",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_MYSTERIOUS: "elusive and cryptic",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_RACONTEUR: "entertaining and descriptive",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_SARCASTIC: "snide and contemptuous",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_TENACIOUS: "determined and persistent",
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_VILLAINOUS: "sinister and cruel",
}

# (low word, high word) for each personality slider, -100..100
_SLIDERS = (
    ("positive", "negative", "positive"),
    ("peaceful", "aggressive", "peaceful"),
    ("open", "cautious", "open"),
    ("extravert", "introverted", "extraverted"),
)

_BUDGETS = {
    DialogResponseLength.DIALOG_RESPONSE_LENGTH_VERY_SHORT: ResponseBudget(
        24, 1, "Answer in a few words."
    ),
    DialogResponseLength.DIALOG_RESPONSE_LENGTH_SHORT: ResponseBudget(
        48, 2, "Answer in one or two short sentences."
    ),
    DialogResponseLength.DIALOG_RESPONSE_LENGTH_UNSPECIFIED: ResponseBudget(
        90, 3, "Keep each answer brief: one to three sentences."
    ),
    DialogResponseLength.DIALOG_RESPONSE_LENGTH_MEDIUM: ResponseBudget(
        90, 3, "Answer in two or three sentences."
    ),
    DialogResponseLength.DIALOG_RESPONSE_LENGTH_LONG: ResponseBudget(
        220, 7, "Answer in one long paragraph of five to seven sentences."
    ),
    DialogResponseLength.DIALOG_RESPONSE_LENGTH_VERY_LONG: ResponseBudget(
        400, 12, "Answer at length, in two paragraphs."
    ),
}


def response_budget(length: DialogResponseLength, cap: int | None = None) -> ResponseBudget:
    """The reply budget of a ``dialogResponseLength``, its tokens capped at ``cap``."""
    budget = _BUDGETS[length]
    if cap is not None and cap < budget.max_tokens:
        return ResponseBudget(cap, budget.max_sentences, budget.instruction)
    return budget


def personality_words(p: Personality) -> list[str]:
    """Slider values as words: |v| < 20 says nothing, 20..49 plain, 50..100 'very'."""
    words: list[str] = []
    for attr, low, high in _SLIDERS:
        value: int = getattr(p, attr)
        if abs(value) < 20:
            continue
        word = high if value > 0 else low
        words.append(f"very {word}" if abs(value) >= 50 else word)
    return words


def dialog_style(d: CharacterDescription) -> str:
    """The active custom style when there is one, else the preset's description."""
    for style in d.custom_dialog_styles:
        if style.is_active:
            parts = []
            if style.adjectives:
                parts.append(", ".join(a.strip() for a in style.adjectives if a.strip()))
            if style.colloquialism.strip():
                parts.append(f"full of {style.colloquialism.strip()}")
            if parts:
                return "; ".join(parts)
    return _STYLES.get(d.example_dialog_style, "")


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) + 4  # + role label and separators


# -- building -------------------------------------------------------------------


class _Names:
    def __init__(self, character: str, player: str) -> None:
        self.character = character
        self.player = player

    def sub(self, text: str) -> str:
        return " ".join(
            text.replace("{player}", self.player).replace("{character}", self.character).split()
        )

    def sub_lines(self, text: str) -> str:
        """Like ``sub`` but keeps line breaks (example dialog)."""
        lines = (self.sub(line) for line in text.splitlines())
        return "\n".join(line for line in lines if line)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?…\"')" else text + "."


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _persona(
    inp: PromptInput, names: _Names, budget: ResponseBudget, examples: tuple[Message, ...]
) -> str:
    """Who the character is, then who it talks to, then how to answer: short plain
    sentences a small model follows, with the character's name as the subject."""
    d = inp.character.description
    name = names.character
    out: list[str] = []

    intro = f"You are {name}"
    if d.character_role.strip():
        intro += f", {_with_article(_lower_first(names.sub(d.character_role)))}"
    out.append(intro + ".")
    about = []
    if d.life_stage in _LIFE_STAGES:
        about.append(_LIFE_STAGES[d.life_stage])
    if d.pronoun in _PRONOUNS:
        about.append(f"pronouns {_PRONOUNS[d.pronoun]}")
    if about:
        out.append(f"{name}: {', '.join(about)}.")
    if d.description.strip():
        out.append(_sentence(names.sub(d.description)))
    if d.motivation.strip():
        out.append(_about(name, "motivation", names.sub(d.motivation)))
    if d.flaws.strip():
        out.append(_about(name, "flaws", names.sub(d.flaws)))
    traits = [a.strip() for a in d.personality_adjectives if a.strip()]
    traits += personality_words(inp.character.personality)
    if traits:
        out.append(f"{name} is {_join(traits)}.")
    hobbies = [h.strip() for h in d.hobby_or_interests if h.strip()]
    if hobbies:
        out.append(f"{name} likes {_join(hobbies)}.")
    style = dialog_style(d)
    if style:
        out.append(f"{name} talks in a way that is {style}.")
    if d.example_dialog.strip() and not examples:
        out.append(f"How {name} talks: {names.sub(d.example_dialog)}")

    out.append("")  # what follows depends on the player and the scene
    out.append(_player_line(inp.player, names))
    if inp.scene is not None:
        out.extend(_scene_lines(inp.scene, names))

    out.append("")
    rules = [f"Reply as {name}, in the first person.", budget.instruction]
    if d.narrative_actions_enabled:
        rules.append("You may add an action between asterisks, like *smiles*.")
    else:
        rules.append("Do not describe actions.")
    if inp.character.fourth_wall_contained:
        rules.append("Stay in the story: you are a real person living in this world.")
    out.append(" ".join(rules))
    return "\n".join(out)


def _about(name: str, label: str, text: str) -> str:
    """'Charon wants him caught.' stays; 'Likes dragons' -> "Axeon's motivation: likes dragons." """
    if text.lower().startswith(name.lower().split()[0]):
        return _sentence(text)
    return f"{name}'s {label}: {_sentence(_lower_first(text))}"


def _with_article(role: str) -> str:
    """'innkeeper' -> 'the innkeeper'; 'a smith', 'the king', 'Mara's cook' stay."""
    if role.lower().startswith(("a ", "an ", "the ", "one ")) or "'s " in role:
        return role
    return f"the {role}"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _player_line(player: Player, names: _Names) -> str:
    facts = []
    if player.gender.strip():
        facts.append(player.gender.strip())
    if player.age:
        facts.append(f"{player.age} years old")
    if player.role.strip():
        facts.append(names.sub(player.role))
    facts += [f"{k}: {names.sub(v)}" for k, v in player.profile if k.strip() and v.strip()]
    line = f"You are talking to {names.player}"
    line += f" ({'; '.join(facts)})." if facts else "."
    return line + f" If {names.player} asks their name, it is {names.player}."


def _scene_lines(scene: SceneInfo, names: _Names) -> list[str]:
    out = []
    title, about = names.sub(scene.name), names.sub(scene.description)
    if title and about:
        out.append(f"Scene: {_sentence(title)} {_sentence(about)}")
    elif title or about:
        out.append(f"Scene: {_sentence(title or about)}")
    others = [names.sub(o) for o in scene.others if o.strip()]
    if others:
        out.append(f"Also present: {', '.join(others)}.")
    return out


def _facts(inp: PromptInput, names: _Names) -> tuple[str, ...]:
    """The note's lines of what the character knows and remembers (facts it may say)."""
    lines = []
    facts = [names.sub(k) for k in inp.knowledge if k.strip()]
    if facts:
        lines.append(f"{names.character} knows: " + " ".join(_sentence(f) for f in facts))
    memories = [names.sub(m) for m in inp.memories if m.strip()]
    if memories:
        lines.append(f"{names.character} remembers: " + " ".join(_sentence(m) for m in memories))
    return tuple(lines)


def _note(inp: PromptInput, names: _Names) -> str:
    """This turn's state as context lines (never sentences in the character's voice, which a
    small model repeats aloud); empty when nothing is worth saying."""
    parts = []
    if inp.mood and inp.mood.strip():
        parts.append(f"{names.character}'s mood: {_sentence(names.sub(inp.mood))}")
    if inp.relationship and inp.relationship.strip():
        parts.append(f"Relationship: {_sentence(names.sub(inp.relationship))}")
    parts.extend(_facts(inp, names))
    if inp.unknown:
        parts.append(f"{names.character} does not know the answer and says so.")
    if inp.event and inp.event.strip():
        parts.append(f"What just happened: {_sentence(names.sub(inp.event))}")
    if inp.instruction and inp.instruction.strip():
        parts.append(f"In this reply: {_sentence(names.sub(inp.instruction))}")
    if inp.hint and inp.hint.strip():
        parts.append(_sentence(names.sub(inp.hint)))
    return "\n".join(parts)


def _introduction(inp: PromptInput, names: _Names) -> tuple[Message, ...]:
    """First exchanges in which the character says who it is and who the player is (and,
    with fourth-wall containment, that it is no machine), from its own fields: small models
    that see them answer such questions with the right names, not the player's name for
    their own or "an AI"."""
    d = inp.character.description
    role = _with_article(_lower_first(names.sub(d.character_role))) if d.character_role else ""
    said = f"I'm {names.character}, {role}." if role else f"I'm {names.character}."
    turns = [
        Message("user", names.player, "Who are you?"),
        Message("assistant", names.character, said),
        Message("user", names.player, "And do you know my name?"),
        Message("assistant", names.character, f"You're {names.player}."),
    ]
    if inp.character.fourth_wall_contained:
        turns += [
            Message("user", names.player, "Are you a machine?"),
            Message("assistant", names.character, f"A machine? No, I'm {names.character}."),
        ]
    return tuple(turns)


def example_turns(example_dialog: str, names: _Names) -> tuple[Message, ...]:
    """The author's example dialog as chat turns, when every line is ``Name: text`` and the
    character speaks in it; ``()`` otherwise (then it stays in the persona as text)."""
    turns: list[Message] = []
    own = {names.character.lower(), names.character.split()[0].lower(), "{character}"}
    for raw in names.sub_lines(example_dialog).splitlines():
        label, sep, text = raw.partition(":")
        if not sep or not text.strip() or len(label) > 40:
            return ()
        speaker = label.strip()
        if speaker.lower() in own:
            turns.append(Message("assistant", names.character, text.strip()))
        else:
            turns.append(Message("user", speaker, text.strip()))
    if not any(t.role == "assistant" for t in turns):
        return ()
    return tuple(turns)


def _to_message(line: Line, names: _Names) -> Message:
    if line.speaker is Speaker.CHARACTER:
        return Message("assistant", names.character, line.text.strip())
    if line.speaker is Speaker.PLAYER:
        return Message("user", names.player, line.text.strip())
    return Message("user", line.name.strip() or "Someone", line.text.strip())


def without_deflections(lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """The history without the exchanges the character answered with a deflection (the
    player's line and the deflection): the model never sees a canned line as its own, and
    never a run of the player's lines left unanswered."""
    kept: list[Line] = []
    for line in lines:
        if line.fallback:
            while kept and kept[-1].speaker is not Speaker.CHARACTER:
                kept.pop()
            continue
        kept.append(line)
    return tuple(kept)


def fit_history(lines: tuple[Line, ...], budget_tokens: int) -> tuple[tuple[Line, ...], int]:
    """The newest lines that fit ``budget_tokens``, dropping the oldest in whole blocks."""
    sizes = [estimate_tokens(line.text) for line in lines]
    total = sum(sizes)
    dropped = 0
    while total > budget_tokens and dropped < len(lines):
        block = min(HISTORY_DROP_BLOCK, len(lines) - dropped)
        total -= sum(sizes[dropped : dropped + block])
        dropped += block
    return lines[dropped:], dropped


def stop_sequences(character_name: str, player_name: str) -> tuple[str, ...]:
    """At most four (the OpenAI API's limit): the player's label first."""
    stops = [f"\n{player_name}:", "\nPlayer:", "\nUser:", f"\n{character_name}:"]
    return tuple(dict.fromkeys(stops))[:4]


def build_prompt(inp: PromptInput) -> Prompt:
    d = inp.character.description
    names = _Names(d.name_or_default, inp.player.name)
    budget = response_budget(d.dialog_response_length, inp.max_tokens_cap)
    said = without_deflections(inp.history)
    kept, dropped = fit_history(said, inp.history_token_budget)
    messages = [_to_message(line, names) for line in kept if line.text.strip()]
    if inp.text is not None and inp.text.strip():
        messages.append(Message("user", names.player, inp.text.strip()))
    elif not messages or messages[-1].role != "user":
        # A turn started by an event or an instruction: the character speaks first.
        messages.append(Message("user", names.player, "..."))
    examples = example_turns(d.example_dialog, names)
    system = _persona(inp, names, budget, examples)
    return Prompt(
        system=system,
        messages=tuple(messages),
        note=_note(inp, names),
        examples=_introduction(inp, names) + examples,
        character_name=names.character,
        player_name=names.player,
        stop=stop_sequences(names.character, names.player),
        max_tokens=budget.max_tokens,
        max_sentences=budget.max_sentences,
        narrated_actions=d.narrative_actions_enabled,
        dropped_lines=dropped,
        attempt=inp.attempt,
        facts=_facts(inp, names),
        character_chars=_character_chars(system, inp, names),
    )


def _character_chars(system: str, inp: PromptInput, names: _Names) -> int:
    """The length of the persona's first paragraph (who the character is) when nothing in it
    depends on the player: the text the author wrote names no ``{player}``."""
    d = inp.character.description
    authored = (d.character_role, d.description, d.motivation, d.flaws, d.example_dialog)
    if any("{player}" in text for text in authored):
        return 0
    end = system.find("\n\n")
    return end if end > 0 else 0
