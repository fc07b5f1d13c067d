"""Cognitive control: what a character does with a question of fact it knows nothing about."""

from __future__ import annotations

import pytest

from anima.domain.character import CognitiveControl as CC
from anima.domain.cognition import Knowing, decide, grounded_in, is_fact_question


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of Varn?",
        "Who built the old bridge?",
        "How far is the river from here?",
        "Where does the king live?",
        "Is there a road to the coast?",
        "Fine. And when did the war end?",
    ],
)
def test_questions_of_fact(text: str) -> None:
    assert is_fact_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "How are you?",
        "What do you think of me?",
        "Will you help me?",
        "Who are you?",
        "What is my name?",
        "Are you a machine?",
        "The capital is far away.",
        "Tell me a story.",
    ],
)
def test_not_questions_of_fact(text: str) -> None:
    assert not is_fact_question(text)


QUESTION = "What is the capital of Varn?"


def test_levels_on_an_unanswered_question_of_fact() -> None:
    assert decide(CC.COGNITIVE_CONTROL_STRICT, QUESTION, grounded=False) is Knowing.DEFLECT
    assert decide(CC.COGNITIVE_CONTROL_MILD, QUESTION, grounded=False) is Knowing.ADMIT
    assert decide(CC.COGNITIVE_CONTROL_UNSPECIFIED, QUESTION, grounded=False) is Knowing.ANSWER
    assert decide(CC.COGNITIVE_CONTROL_NONE, QUESTION, grounded=False) is Knowing.ANSWER


@pytest.mark.parametrize("level", list(CC))
def test_grounded_questions_and_small_talk_are_always_answered(level: CC) -> None:
    assert decide(level, QUESTION, grounded=True) is Knowing.ANSWER
    assert decide(level, "How are you?", grounded=False) is Knowing.ANSWER


def test_grounded_in_persona_or_conversation() -> None:
    persona = ["Brom guards the north gate of the capital."]
    assert grounded_in("Which gate do you guard?", persona)
    assert not grounded_in("What is the price of silver?", persona)
    assert not grounded_in("What is it?", persona)  # no content word at all
