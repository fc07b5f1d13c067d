"""The prompt's instruction texts: what a character must never say aloud.

Taken from the code that writes the prompt, so they stay in sync with it: the persona's
framing and rules (``build_prompt`` on a copy of the character whose authored fields are
replaced by a marker, so only the engine's own words remain), and every phrase
``emotion.prompt_phrase`` and ``relationship.prompt_phrase`` can write (from their tables).
The character's own facts (its name, description, knowledge) are left out: saying those is
in character.
"""

from __future__ import annotations

import re

from anima.domain import emotion, relationship
from anima.domain.character import Character
from anima.domain.events import SpaffCode
from anima.domain.prompt import PromptInput, build_prompt
from anima.domain.session import Player

_MARK = "qqzmark"
_FEELING = re.compile(r"^You feel (?:a little |very )?(.+?)\.")


def _skeleton(character: Character) -> Character:
    """The character with every authored text replaced by the marker."""
    d = character.description
    blank = d.model_copy(
        update={
            "description": _MARK,
            "motivation": _MARK,
            "flaws": _MARK,
            "character_role": _MARK,
            "example_dialog": _MARK,
            "personality_adjectives": [_MARK],
            "hobby_or_interests": [_MARK],
            "custom_dialog_styles": [],
        }
    )
    return character.model_copy(update={"description": blank})


def prompt_framing(character: Character, player: str) -> list[str]:
    """The engine's own sentences around the character's facts, in the persona and the
    per-turn note, as fragments between the places where authored text goes."""
    prompt = build_prompt(
        PromptInput(
            character=_skeleton(character),
            player=Player(given_name=player),
            text=_MARK,
            mood=_MARK,
            relationship=_MARK,
            instruction=_MARK,
            knowledge=(_MARK,),
            event=_MARK,
        )
    )
    text = f"{prompt.system}\n{prompt.note}"
    return [f.strip() for f in re.split(_MARK, text, flags=re.IGNORECASE) if f.strip()]


def mood_phrases() -> list[str]:
    """Every text ``emotion.prompt_phrase`` can return."""
    out = []
    for behavior, (feeling, guidance) in emotion._PHRASES.items():
        neutral = behavior is SpaffCode.NEUTRAL
        adverbs = ("",) if neutral else tuple(emotion._ADVERB.values())
        out += [f"You feel {adverb}{feeling}. {guidance}" for adverb in adverbs]
    return out


def relationship_phrases(player: str) -> list[str]:
    """Every sentence ``relationship.prompt_phrase`` can return for ``player``."""
    phrases = (p.format(name=player) for p in relationship._PHRASES.values())
    return [p[0].upper() + p[1:] for p in phrases]


def instruction_texts(character: Character, player: str) -> list[str]:
    """Every instruction text the engine can put in this character's prompt."""
    return [
        *prompt_framing(character, player),
        *mood_phrases(),
        *relationship_phrases(player),
    ]


def mood_feelings() -> tuple[str, ...]:
    """The feelings a mood phrase names ('calm', 'tense and uneasy')."""
    found = (_FEELING.match(p) for p in mood_phrases())
    return tuple(dict.fromkeys(m.group(1) for m in found if m))
