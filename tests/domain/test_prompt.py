"""Prompt building: every field of the character reaches the prompt; golden renderings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from anima.backends.render import chat_messages, transcript
from anima.domain.character import Character
from anima.domain.prompt import (
    HISTORY_DROP_BLOCK,
    Line,
    Prompt,
    PromptInput,
    SceneInfo,
    Speaker,
    build_prompt,
    fit_history,
)
from anima.domain.session import Player

GOLDEN = Path(__file__).resolve().parent.parent / "golden"

FULL: dict[str, Any] = {
    "defaultCharacterDescription": {
        "givenName": "Axeon the Enchanted",
        "pronoun": "PRONOUN_MALE",
        "characterRole": "the blacksmith of {character}'s village",
        "lifeStage": "LIFE_STAGE_LATE_ADULTHOOD",
        "description": "A fearless warrior who greets {player} at the forge.",
        "motivation": "Likes to fight against dragons",
        "flaws": "Stubborn and proud",
        "personalityAdjectives": ["brave", "grumpy"],
        "hobbyOrInterests": ["fishing", "old songs"],
        "exampleDialogStyle": "EXAMPLE_DIALOG_STYLE_BLUNT",
        "exampleDialog": "{player}: Hello!\n{character}: Hmph. What do you want?",
        "dialogResponseLength": "DIALOG_RESPONSE_LENGTH_SHORT",
        "narrativeActionsEnabled": True,
    },
    "personality": {"positive": -60, "peaceful": 30, "open": 5, "extravert": -25},
}


def character(**description: Any) -> Character:
    data = {**FULL, "defaultCharacterDescription": {**FULL["defaultCharacterDescription"]}}
    data["defaultCharacterDescription"].update(description)
    return Character.model_validate(data)


ANN = Player(end_user_id="u-17", given_name="Ann", gender="female", age=31, role="a traveller")


def render(prompt: Prompt) -> str:
    chat = "\n".join(f"[{m['role']}]\n{m['content']}" for m in chat_messages(prompt))
    return (
        f"== chat ==\n{chat}\n== transcript ==\n{transcript(prompt)}\n"
        f"== stop ==\n{list(prompt.stop)}\n"
        f"== budget ==\nmax_tokens={prompt.max_tokens} max_sentences={prompt.max_sentences} "
        f"narrated_actions={prompt.narrated_actions} dropped_lines={prompt.dropped_lines}\n"
    )


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("ANIMA_TEST_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"no golden file {path.name}: run with ANIMA_TEST_UPDATE_GOLDEN=1")
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs (see the diff above)"


HISTORY = (
    Line(Speaker.PLAYER, "Good morning!"),
    Line(Speaker.CHARACTER, "Morning. Need a blade?"),
    Line(Speaker.OTHER, "He always says that.", name="Mira"),
)


@pytest.mark.parametrize(
    ("name", "inp"),
    [
        (
            "prompt_full",
            PromptInput(character=character(), player=ANN, text="Can you fix my sword?"),
        ),
        ("prompt_minimal", PromptInput(character=Character(), text="Hi")),
        (
            "prompt_scene_history_seams",
            PromptInput(
                character=character(),
                player=ANN,
                text="What happened here?",
                history=HISTORY,
                scene=SceneInfo(
                    "The forge", "A hot, smoky room where {character} works.", ("Mira",)
                ),
                mood="You feel irritated and tense.",
                relationship="You barely know {player}.",
                instruction="Ask {player} to pay for the repair.",
                knowledge=("The village was attacked last night.",),
                event="A dragon roars outside.",
            ),
        ),
        (
            "prompt_custom_style_event_only",
            PromptInput(
                character=character(
                    customDialogStyles=[
                        {"displayName": "off", "isActive": False, "adjectives": ["curt"]},
                        {
                            "displayName": "cowboy",
                            "isActive": True,
                            "adjectives": ["talkative", "snarky"],
                            "colloquialism": "cowboy lingo",
                        },
                    ],
                    narrativeActionsEnabled=False,
                    dialogResponseLength="DIALOG_RESPONSE_LENGTH_LONG",
                ),
                player=ANN,
                text=None,
                event="{player} walks into the forge.",
            ),
        ),
    ],
)
def test_golden(name: str, inp: PromptInput) -> None:
    check_golden(name, render(build_prompt(inp)))


def test_every_character_field_reaches_the_persona() -> None:
    system = build_prompt(PromptInput(character=character(), player=ANN, text="Hi")).system
    for expected in [
        "You are Axeon the Enchanted, the blacksmith of Axeon the Enchanted's village.",
        "Axeon the Enchanted: elderly, pronouns he/him.",
        "A fearless warrior who greets Ann at the forge.",
        "Axeon the Enchanted's motivation: likes to fight against dragons.",
        "Axeon the Enchanted's flaws: stubborn and proud.",
        "brave, grumpy",
        "very negative",  # positive -60
        "peaceful",  # 30
        "introverted",  # extravert -25
        "Axeon the Enchanted likes fishing and old songs.",
        "talks in a way that is short, direct and to the point.",
        "Answer in one or two short sentences.",
        "*smiles*",
        "You are talking to Ann (female; 31 years old; a traveller).",
        "Stay in the story",
    ]:
        assert expected in system, expected
    assert " open" not in system.split("Axeon the Enchanted is ")[1].split("\n")[0]  # |5| < 20
    prompt = build_prompt(PromptInput(character=character(), player=ANN, text="Hi"))
    assert [(m.role, m.text) for m in prompt.examples] == [
        ("user", "Who are you?"),
        ("assistant", "I'm Axeon the Enchanted, the blacksmith of Axeon the Enchanted's village."),
        ("user", "And do you know my name?"),
        ("assistant", "You're Ann."),
        ("user", "Are you a machine?"),
        ("assistant", "A machine? No, I'm Axeon the Enchanted."),
        ("user", "Hello!"),
        ("assistant", "Hmph. What do you want?"),
    ]
    assert "{player}" not in system
    assert "{character}" not in system


def test_player_without_name_is_called_player() -> None:
    prompt = build_prompt(PromptInput(character=character(), text="Hi"))
    assert prompt.player_name == "Player"
    assert prompt.stop[0] == "\nPlayer:"


def test_response_length_sets_the_budget_and_the_cap_wins() -> None:
    short = build_prompt(PromptInput(character=character(), text="Hi"))
    long = build_prompt(
        PromptInput(
            character=character(dialogResponseLength="DIALOG_RESPONSE_LENGTH_LONG"), text="Hi"
        )
    )
    assert (short.max_sentences, long.max_sentences) == (2, 7)
    assert short.max_tokens < long.max_tokens
    capped = build_prompt(
        PromptInput(
            character=character(dialogResponseLength="DIALOG_RESPONSE_LENGTH_LONG"),
            text="Hi",
            max_tokens_cap=60,
        )
    )
    assert capped.max_tokens == 60


def test_narrated_actions_off_says_so() -> None:
    prompt = build_prompt(
        PromptInput(character=character(narrativeActionsEnabled=False), text="Hi")
    )
    assert not prompt.narrated_actions
    assert "Do not describe actions." in prompt.system


def test_persona_is_stable_and_per_turn_parts_go_to_the_note() -> None:
    one = build_prompt(PromptInput(character=character(), player=ANN, text="Hi"))
    two = build_prompt(
        PromptInput(
            character=character(),
            player=ANN,
            text="Anything else?",
            history=HISTORY,
            mood="You feel angry.",
            event="It starts to rain.",
        )
    )
    assert one.system == two.system
    assert one.note == ""
    assert "Axeon the Enchanted's mood: You feel angry." in two.note
    assert "What just happened: It starts to rain." in two.note


def test_history_drops_oldest_lines_in_blocks() -> None:
    lines = tuple(Line(Speaker.PLAYER, f"line {i} " + "x" * 40) for i in range(40))
    kept, dropped = fit_history(lines, budget_tokens=200)
    assert dropped % HISTORY_DROP_BLOCK == 0
    assert dropped > 0
    assert kept == lines[dropped:]
    assert kept[-1].text.startswith("line 39")
    # one more line changes the cut only when a new block has to go
    _kept2, dropped2 = fit_history((*lines, lines[0]), budget_tokens=200)
    assert dropped2 in (dropped, dropped + HISTORY_DROP_BLOCK)
    prompt = build_prompt(
        PromptInput(character=character(), text="Hi", history=lines, history_token_budget=200)
    )
    assert prompt.dropped_lines == dropped
    assert prompt.messages[-1].text == "Hi"


def test_roles_alternate_for_chat_templates() -> None:
    prompt = build_prompt(
        PromptInput(character=character(), player=ANN, text="Hey", history=HISTORY)
    )
    messages = chat_messages(prompt)
    roles = [m["role"] for m in messages]
    # the introduction and the example dialog as turns, then the history
    assert roles == ["system", *["user", "assistant"] * 5, "user"]
    assert messages[-1]["content"] == "Mira: He always says that.\nHey"
    assert transcript(prompt).endswith(
        "Ann: Good morning!\nAxeon the Enchanted: Morning. Need a blade?\n"
        "Mira: He always says that.\nAnn: Hey\nAxeon the Enchanted:"
    )


def test_building_does_not_mutate_the_input() -> None:
    history = list(HISTORY)
    inp = PromptInput(character=character(), text="Hi", history=tuple(history))
    build_prompt(inp)
    assert list(inp.history) == history


def test_exchanges_answered_with_a_deflection_never_reach_the_model() -> None:
    history = (
        Line(Speaker.PLAYER, "Hello!"),
        Line(Speaker.CHARACTER, "Hmph. Hello."),
        Line(Speaker.PLAYER, "Are you an AI?"),
        Line(Speaker.CHARACTER, "Hmph, ask me about fishing instead.", fallback=True),
        Line(Speaker.PLAYER, "Fine. Nice forge."),
        Line(Speaker.CHARACTER, "It is."),
    )
    prompt = build_prompt(PromptInput(character=character(), text="Bye", history=history))
    assert [m.text for m in prompt.messages] == [
        "Hello!",
        "Hmph. Hello.",
        "Fine. Nice forge.",
        "It is.",
        "Bye",
    ]
