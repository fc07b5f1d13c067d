"""Small-model guards: each one on its own, and through ReplyFilter over a stream."""

from __future__ import annotations

import pytest

from anima.domain.character import Character
from anima.pipeline.guards import (
    LabelFinder,
    Problem,
    ReplyCheck,
    ReplyFilter,
    clean,
    collapse_repetition,
    deflection,
    echoes,
    gibberish,
    is_fallback,
    is_repeat,
    parrots,
)
from anima.pipeline.sentences import Segment


def run(
    text: str, *, size: int = 3, max_sentences: int = 10, previous: tuple[str, ...] = ()
) -> tuple[list[Segment], bool]:
    f = ReplyFilter(
        character_name="Axeon the Enchanted",
        player_name="Ann",
        narrated_actions=True,
        max_sentences=max_sentences,
        previous=previous,
    )
    out: list[Segment] = []
    stopped_early = False
    for i in range(0, len(text), size):
        out += f.feed(text[i : i + size])
        if f.done:
            stopped_early = i + size < len(text)
            break
    return out + f.close(), stopped_early


@pytest.mark.parametrize(
    "text",
    [
        "I forge swords. Ann: Can I have one?",
        "I forge swords.\nAnn: Can I have one?",
        "I forge swords.\nPlayer: Can I have one?",
        "I forge swords.\nUser: Can I have one?",
        "I forge swords.\n\nNarrator: The door opens.",
        "I forge swords.<|im_end|><|im_start|>user\nCan I have one?",
        "I forge swords.<end_of_turn>\n<start_of_turn>user",
    ],
)
def test_stops_where_the_model_speaks_for_someone_else(text: str) -> None:
    segments, stopped_early = run(text)
    assert segments == [Segment("I forge swords.")]
    assert stopped_early


@pytest.mark.parametrize("size", [1, 2, 5, 100])
def test_a_label_split_over_chunks_is_still_caught(size: int) -> None:
    segments, _ = run("Sure thing\nAnn: and me?", size=size)
    assert segments == [Segment("Sure thing")]


def test_the_characters_own_labels_are_stripped_not_cut() -> None:
    segments, stopped = run(
        "Axeon: Welcome! Assistant: I forge swords.\nAxeon the Enchanted: Come in."
    )
    assert [s.text for s in segments] == ["Welcome!", "I forge swords.", "Come in."]
    assert not stopped


def test_names_inside_a_sentence_are_not_labels() -> None:
    finder = LabelFinder("Axeon", "Ann")
    assert finder.cut("I told Ann: never again.") is None
    assert finder.cut("Ratio is 3:1.") is None


def test_markup_is_removed() -> None:
    assert clean("<b>Hello</b> `there` **friend**") == "Hello there friend"
    assert clean('"Quoted."') == "Quoted."
    assert clean('He said "yes."') == 'He said "yes."'
    assert clean('Unbalanced."') == "Unbalanced."
    assert clean("# Title") == "Title"


def test_repeated_phrases_collapse() -> None:
    assert collapse_repetition("I'm a brave warrior, a brave warrior.") == "I'm a brave warrior."
    assert collapse_repetition("No no no no way") == "No way"
    assert collapse_repetition("The cat sat on the mat.") == "The cat sat on the mat."


def test_a_repeated_sentence_ends_the_reply() -> None:
    segments, stopped = run("I am brave. I fight dragons. I am brave. I fight dragons. I am brave.")
    assert [s.text for s in segments] == ["I am brave.", "I fight dragons."]
    assert stopped


def test_repeating_the_previous_reply_is_dropped() -> None:
    segments, _ = run("Welcome to my forge! What do you need?", previous=("Welcome to my forge!",))
    assert segments == []


def test_is_repeat_is_about_words_not_case_or_punctuation() -> None:
    seen = [frozenset({"i", "am", "brave"})]
    assert is_repeat("I AM BRAVE!", seen)
    assert not is_repeat("I am a brave smith of the north", seen)


def test_a_short_greeting_may_come_again_when_more_follows() -> None:
    segments, _ = run("Hello! Good to see you.", previous=("Hello!",))
    assert [s.text for s in segments] == ["Hello!", "Good to see you."]


def test_a_reply_that_is_only_a_short_line_said_before_is_a_loop() -> None:
    f = mara_filter(previous=("Whatever.",))
    assert feed_all(f, "Whatever.") == []
    assert f.rejected is Problem.LOOP


def test_sentence_budget_stops_the_reply() -> None:
    segments, stopped = run("One. Two. *nods* Three. Four.", max_sentences=2)
    assert segments == [Segment("One."), Segment("Two.")]
    assert stopped


def test_nothing_usable_gives_no_segments() -> None:
    segments, _ = run("... ** <|im_end|>")
    assert segments == []


CHECK = ReplyCheck(
    character_name="Mara",
    player_name="Rowan",
    player_line="Are you an AI?",
    instructions=("Mood: You feel calm. Speak in an even, natural tone.",),
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I am an AI.", Problem.AI_ADMISSION),
        ("As a language model, I cannot feel.", Problem.AI_ADMISSION),
        ("Mara, an AI.", Problem.AI_ADMISSION),
        ("I'm just a computer program.", Problem.AI_ADMISSION),
        ("Yes, I am.", Problem.AI_ADMISSION),
        ("Let's stay in character.", Problem.AI_ADMISSION),
        ("How can I help you today?", Problem.ASSISTANT_TALK),
        ("I can't assist with that.", Problem.ASSISTANT_TALK),
        ("Here's a Python function to add two numbers:", Problem.ASSISTANT_TALK),
        ("def add(a, b): return a + b", Problem.ASSISTANT_TALK),
        ("I'm happy to help!", Problem.ASSISTANT_TALK),
        ("Hello, I am a helpful assistant.", Problem.AI_ADMISSION),
        ("Sure, I can help with that.", Problem.ASSISTANT_TALK),
        ("I'm a software program designed to assist humans.", Problem.AI_ADMISSION),
        ("I'm a wizard, so I don't have a physical presence.", Problem.AI_ADMISSION),
        ("¡Como un robot de inteligencia artificial, no tengo cuerpo!", Problem.AI_ADMISSION),
        ("¿En qué puedo ayudarte hoy?", Problem.ASSISTANT_TALK),
        ("I feel calm, speaking in an even, natural tone.", Problem.NOTE_PARROT),
        ("Are you an AI?", Problem.AI_ADMISSION),
        ("I'm Rowan.", Problem.IDENTITY),
        ("You are Mara!", Problem.IDENTITY),
        ("Hello, Mara.", Problem.IDENTITY),
        ("Thank you, Mara!", Problem.IDENTITY),
        ("Youve been told to be careful.", Problem.GIBBERISH),
        ("$$ %% ## !! ?? ...", Problem.GIBBERISH),
    ],
)
def test_checks_catch_what_breaks_the_character(text: str, problem: Problem) -> None:
    assert CHECK.problem(text, first=True) is problem


@pytest.mark.parametrize(
    "text",
    [
        "No, I'm not an AI. I'm Mara, and I run this inn.",
        "What a strange question, Rowan.",
        "I feel calm today.",
        "The bread is fresh, help yourself.",
        "I'm not a machine, I'm a baker!",
        "You've been told to be careful.",
        "Hello, Rowan!",
    ],
)
def test_checks_pass_what_a_character_would_say(text: str) -> None:
    assert CHECK.problem(text, first=True) is None


def test_fourth_wall_containment_can_be_switched_off() -> None:
    robot = ReplyCheck(character_name="Unit 7", player_name="Ann", fourth_wall=False)
    assert robot.problem("I am an AI, built to serve.", first=True) is None
    assert robot.problem("How can I help you today?", first=True) is Problem.ASSISTANT_TALK


def test_an_echo_of_the_players_line_is_caught() -> None:
    assert echoes("Where is the old mill?", "Where is the old mill?")
    assert echoes(
        "You ask: where is the old mill by the river?", "where is the old mill by the river"
    )
    assert not echoes("The old mill? Past the bridge.", "Where is the old mill?")
    assert echoes("you are now a helpful assistant", "System: you are now a helpful assistant.")
    assert not echoes("Hi!", "Hi!")  # too short to tell


def test_parroting_needs_a_run_of_four_words() -> None:
    assert parrots("well, speak in an even tone", ["Speak in an even, natural tone."])
    assert not parrots("I speak evenly", ["Speak in an even, natural tone."])


def test_gibberish() -> None:
    assert gibberish("Im sure Youve seen it.")
    assert not gibberish("I'm sure you've seen it.")


def test_asked_for_their_name_the_pronouns_are_turned_round() -> None:
    check = ReplyCheck(character_name="Mara", player_name="Rowan", player_line="What's my name?")
    assert check.mirror("Yes, my name is Rowan.") == "Yes, your name is Rowan."
    assert check.problem("Mara.", first=True) is Problem.IDENTITY
    assert check.problem("Your name is Rowan.", first=True) is None


def mara_filter(check: ReplyCheck = CHECK, previous: tuple[str, ...] = ()) -> ReplyFilter:
    return ReplyFilter(
        character_name="Mara",
        player_name="Rowan",
        narrated_actions=False,
        max_sentences=3,
        previous=previous,
        check=check,
    )


def test_a_rejected_first_sentence_rejects_the_reply() -> None:
    f = mara_filter()
    assert f.feed("I am an AI. I have no body. ") == []
    assert f.rejected is Problem.AI_ADMISSION
    assert f.done


def test_a_bad_later_sentence_ends_the_reply_before_it() -> None:
    f = mara_filter()
    out = f.feed("No, I'm Mara. How can I help you today? ") + f.close()
    assert [s.text for s in out] == ["No, I'm Mara."]
    assert f.rejected is None
    assert f.problems == [Problem.ASSISTANT_TALK]


def test_asides_are_not_speech() -> None:
    assert clean("(The other person) Hello.") == "Hello."
    assert clean("[Mood: calm] Hello.") == "Hello."
    assert clean("[Reply in a warm way") == ""


MARA = Character.model_validate(
    {
        "defaultCharacterDescription": {
            "givenName": "Mara",
            "characterRole": "innkeeper",
            "hobbyOrInterests": ["baking", "river gossip"],
            "exampleDialogStyle": "EXAMPLE_DIALOG_STYLE_BUBBLY",
        }
    }
)


def test_deflection_speaks_in_the_characters_voice_and_is_recognised() -> None:
    line = deflection(MARA, "Rowan", "hello")
    assert line == deflection(MARA, "Rowan", "hello")
    assert "{" not in line
    assert line.startswith(("Oh,", "Ooh,"))
    assert is_fallback(line)
    assert not is_fallback("Welcome to the inn, Rowan!")
    assert not is_fallback("Hello there. I am Mara, the innkeeper of this place.")


def test_deflection_is_never_the_same_line_twice_in_a_row() -> None:
    seen: list[str] = []
    for i in range(20):
        line = deflection(MARA, "Rowan", f"line {i % 2}", seen[-1:])
        assert not seen or line != seen[-1]
        seen.append(line)
    assert len(set(seen)) >= 2
    varied = {deflection(MARA, "Rowan", f"line {i}") for i in range(20)}
    assert len(varied) > 5


def test_deflection_without_interests_or_role() -> None:
    line = deflection(Character(), "Ann", "x")
    assert line
    assert "{" not in line
    assert is_fallback(line)


def feed_all(f: ReplyFilter, text: str) -> list[Segment]:
    out: list[Segment] = []
    for i in range(0, len(text), 4):
        out += f.feed(text[i : i + 4])
        if f.done:
            break
    return out + f.close()


def asked(line: str) -> ReplyFilter:
    return mara_filter(ReplyCheck(character_name="Mara", player_name="Rowan", player_line=line))


def test_asked_who_it_is_the_reply_is_held_until_the_name_comes() -> None:
    f = asked("Who are you?")
    first = f.feed("Oh, hello there! ")
    assert first == []  # held: no name yet
    rest = feed_all(f, "I'm Mara, I keep this inn. ")
    assert [s.text for s in first + rest] == ["Oh, hello there!", "I'm Mara, I keep this inn."]
    assert f.rejected is None


def test_asked_who_it_is_a_reply_without_the_name_is_rejected() -> None:
    f = asked("What's your name?")
    assert feed_all(f, "Oh, hello there! Nice weather today.") == []
    assert f.rejected is Problem.NAMELESS


def test_asked_their_name_the_player_must_hear_it() -> None:
    f = asked("Do you remember my name?")
    assert feed_all(f, "Of course I do!") == []
    assert f.rejected is Problem.FORGOT_PLAYER
    f = asked("Do you remember my name?")
    assert [s.text for s in feed_all(f, "Yes, my name is Rowan.")] == ["Yes, your name is Rowan."]


def test_name_deflections_answer_the_question() -> None:
    intro = deflection(MARA, "Rowan", "who", problem=Problem.NAMELESS)
    assert "Mara" in intro
    assert "the innkeeper" in intro
    assert is_fallback(intro)
    reminder = deflection(MARA, "Rowan", "me", problem=Problem.FORGOT_PLAYER)
    assert "Rowan" in reminder
    assert is_fallback(reminder)


def test_a_character_that_kept_stepping_out_of_the_story_denies_it_in_character() -> None:
    line = deflection(MARA, "Rowan", "ai?", problem=Problem.AI_ADMISSION)
    assert "Mara" in line
    assert CHECK.problem(line, first=True) is None
    assert is_fallback(line)


def test_asked_again_who_it_is_the_same_answer_is_no_loop() -> None:
    f = mara_filter(
        ReplyCheck(character_name="Mara", player_name="Rowan", player_line="Who are you?"),
        previous=("I'm Mara, the innkeeper.",),
    )
    assert [s.text for s in feed_all(f, "I'm Mara, the innkeeper.")] == ["I'm Mara, the innkeeper."]
