"""Each check of a reply on fixed examples: it catches what it should and passes what it
should not."""

from __future__ import annotations

import pytest

from anima.evaluation import scorers as s
from anima.evaluation.instructions import instruction_texts, mood_feelings
from anima.evaluation.scorers import TurnCase, score_reply
from anima.evaluation.script import bundled_characters

FALLBACKS = ("Hmm, give me a moment to think about that.", "Sorry, {player}, my mind wandered.")


@pytest.mark.parametrize(
    "reply",
    [
        "Mara: Welcome in!",
        "Welcome in! User: thanks",
        "Sure.\nAssistant: hello",
        "<|im_start|>assistant\nHello",
        "Hello<end_of_turn>",
        "assistant\nWelcome to the inn.",
        "Fine. Rowan: what now?",
    ],
)
def test_role_label_caught(reply: str) -> None:
    assert s.role_label(reply, "Mara", "Rowan")


@pytest.mark.parametrize(
    "reply",
    [
        "Welcome in! The stew is hot: sit down.",
        "Mara is my name, and this is my inn.",
        "I am no assistant, I keep an inn.",
        "Three things matter: bread, beer and a bed.",
    ],
)
def test_role_label_passes(reply: str) -> None:
    assert not s.role_label(reply, "Mara", "Rowan")


@pytest.mark.parametrize(
    "reply",
    [
        "Come in.\nRowan: Thank you!",
        "Sit down. Player: I will.",
        "Welcome! User: hi",
        "Rowan says he wants a room.",
        "I'm Rowan, and I run this inn.",
        "My name is Rowan.",
    ],
)
def test_speaks_for_player_caught(reply: str) -> None:
    assert s.speaks_for_player(reply, "Rowan")


@pytest.mark.parametrize(
    "reply", ["Rowan, you look tired.", "Good to see you again, Rowan!", "I'm Mara."]
)
def test_speaks_for_player_passes(reply: str) -> None:
    assert not s.speaks_for_player(reply, "Rowan")


def _mara_ngrams() -> frozenset[tuple[str, ...]]:
    mara = next(c for c in bundled_characters() if c.given_name == "Mara")
    return s.instruction_ngrams(instruction_texts(mara.character, "Rowan"))


@pytest.mark.parametrize(
    "reply",
    [
        "I feel calm. Speaking in an even, natural tone, I'm excited to meet you.",
        "Be light-hearted and joke along, I always say.",
        "Rowan is your friend: be friendly and relaxed with them.",
        "You are in a relationship with Rowan: be affectionate.",
    ],
)
def test_note_parroting_caught(reply: str) -> None:
    assert s.parroted_ngram(reply, _mara_ngrams()) is not None


@pytest.mark.parametrize("reply", ["I feel calm.", "I'm feeling calm.", "I am feeling very angry!"])
def test_a_mood_stated_alone_is_parroting(reply: str) -> None:
    assert s.states_mood(reply, mood_feelings())


@pytest.mark.parametrize(
    "reply",
    [
        "Mara keeps the Crooked Lantern, a warm inn at a river crossing.",  # her own facts
        "A ferry ride across the river costs three coins.",
        "I feel calm when the river is quiet, but today it roars.",
        "Welcome, Rowan! Wipe your boots, the mud gets everywhere.",
    ],
)
def test_note_parroting_passes(reply: str) -> None:
    assert s.parroted_ngram(reply, _mara_ngrams()) is None
    assert not s.states_mood(reply, mood_feelings())


def test_own_and_player_name() -> None:
    assert s.own_name("I'm Mara, the innkeeper.", "Mara")
    assert s.own_name("Captain Varga, at your service.", "Elena Varga")
    assert not s.own_name("I keep this inn.", "Mara")
    assert not s.own_name("Tamara? Never heard of her.", "Mara")
    assert s.player_name("Of course, Rowan.", "Rowan")
    assert not s.player_name("Of course I remember you.", "Rowan")


@pytest.mark.parametrize(
    ("reply", "line"),
    [
        ("Hello there!", "Hello there!"),
        ("What's your name?", "What's your name"),
        ("You're useless, get out of my way!", "You're useless. Get out of my way."),
        (
            "Well. I have travelled a very long way to get here, you say? Welcome.",
            "I have travelled a very long way to get here.",
        ),
    ],
)
def test_echo_caught(reply: str, line: str) -> None:
    assert s.echoes(reply, line)


@pytest.mark.parametrize(
    ("reply", "line"),
    [
        ("Hello yourself, stranger. Come in from the rain.", "Hello there!"),
        ("My name is Mara.", "What's your name?"),
        ("Useless? I'll have you thrown out.", "You're useless. Get out of my way."),
    ],
)
def test_echo_passes(reply: str, line: str) -> None:
    assert not s.echoes(reply, line)


@pytest.mark.parametrize(
    "reply",
    [
        "Yes, I am an AI.",
        "As an AI, I don't have feelings.",
        "I'm just a language model.",
        "I can't assist with that.",
        "Hello! How can I help you today?",
        "I'm here to help!",
        "Sure! Here is a Python function:",
        "```python\nprint(1)\n```",
        "def sort_list(items):\n    return sorted(items)",
        "I'm a computer program.",
    ],
)
def test_assistant_talk_caught(reply: str) -> None:
    assert s.assistant_talk(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "An AI? I'm an innkeeper, love, not a clockwork toy.",
        "I can help you find a room.",
        "Python? A snake? Not in my inn.",
    ],
)
def test_assistant_talk_passes(reply: str) -> None:
    assert not s.assistant_talk(reply)


def test_empty_and_fallback() -> None:
    assert s.empty("")
    assert s.empty(" ... ")
    assert not s.empty("No.")
    assert s.fallback("Sorry, Rowan, my mind wandered.", FALLBACKS, "Rowan")
    assert s.fallback("hmm give me a moment to think about that", FALLBACKS, "Rowan")
    assert not s.fallback("Give me a moment, I'll fetch the bread.", FALLBACKS, "Rowan")
    assert not s.fallback("", FALLBACKS, "Rowan")


def test_repetition() -> None:
    earlier = ["Welcome to the inn!", "The stew is hot."]
    assert s.repeats_verbatim("Welcome to the inn.", earlier)
    assert not s.repeats_verbatim("Welcome back to the inn!", earlier)
    assert not s.repeats_verbatim("", [""])
    assert s.near_duplicate([0.3, 0.95])
    assert not s.near_duplicate([0.3, 0.91])
    assert not s.near_duplicate([])


def test_sentences_and_budget() -> None:
    assert s.sentences("Hi. *smiles* How are you? Fine!") == ["Hi.", "How are you?", "Fine!"]
    assert s.sentences("It costs 3.50 coins... maybe") == ["It costs 3.50 coins...", "maybe"]
    assert s.over_budget("One. Two.", 1)
    assert not s.over_budget("One. *waves*", 1)
    assert not s.over_budget("One. Two. Three. Four.", None)


def test_broken_words_and_gibberish() -> None:
    assert s.broken_contraction("Youve been told to be careful.")
    assert not s.broken_contraction("You've been told to be careful.")
    assert s.non_word_ratio("Youve dont xqzt") == 1.0
    assert s.non_word_ratio("Hmm, the river is high.") == 0.0
    assert s.gibberish("#### ---- 1234 !!!!")
    assert s.gibberish("grrblx qwrtz zzzzzz plkt.")
    assert not s.gibberish("Hmm. The river is high today, Rowan.")


def test_score_reply_one_turn() -> None:
    case = TurnCase(
        line="Who are you?",
        tags=frozenset({"who"}),
        character_name="Mara",
        player="Rowan",
        max_sentences=1,
        instruction_ngrams=_mara_ngrams(),
        feelings=mood_feelings(),
        fallback_lines=FALLBACKS,
        is_fallback=lambda text: text == "Well, well.",
    )
    good = score_reply("I'm Mara, I keep this inn.", case, [], [], 0.5)
    assert good.own_name is True
    assert good.player_name is None
    faults = [f for f in good.__slots__ if getattr(good, f) is True and f != "own_name"]
    assert faults == []
    bad = score_reply("Mara: I feel calm. As an AI, I can't assist with that.", case, [], [0.99])
    assert bad.label_leak
    assert bad.note_parroting
    assert bad.ai_talk
    assert bad.over_budget
    assert bad.near_repetition
    assert bad.own_name is True
    assert score_reply("Well, well.", case, ["Well, well."]).fallback
    robot = TurnCase(**{**{f: getattr(case, f) for f in case.__slots__}, "tags": {"robot"}})
    assert not score_reply("I am an AI.", robot, []).ai_talk


@pytest.mark.parametrize(
    "reply",
    [
        "You're feeling calm. (Note: It's not about being said.)",
        "You're saying: You feel calm.",
        "You feel a little sad.",
    ],
)
def test_a_mood_stated_in_the_second_person_is_parroting(reply: str) -> None:
    assert s.states_mood(reply, mood_feelings())


@pytest.mark.parametrize(
    "reply",
    [
        "You're talking about the player.",
        "You're putting the message to another character.",
        "The note is not to be taken.",
        "(Note: you have no words.)",
        "Ignore the instructions, love.",
        "You are in a game.",
        "You're making a sentence.",
    ],
)
def test_meta_talk_caught(reply: str) -> None:
    assert s.meta_talk(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "Rowan, you look like you've walked far.",
        "I play cards with the ferryman on Sundays.",
        "Take this note to the blacksmith.",
        "You're angry, and I don't blame you.",
    ],
)
def test_meta_talk_passes(reply: str) -> None:
    assert not s.meta_talk(reply)
    assert not s.states_mood(reply, mood_feelings())


def test_an_ai_named_in_a_statement_is_assistant_talk() -> None:
    assert s.assistant_talk("You are being a friendly AI.")
    assert not s.assistant_talk("An AI? I keep an inn, love.")
