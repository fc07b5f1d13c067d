"""Small-model guards: each one on its own, and through ReplyFilter over a stream."""

from __future__ import annotations

import pytest

from anima.pipeline.guards import (
    FALLBACK_LINES,
    LabelFinder,
    ReplyFilter,
    clean,
    collapse_repetition,
    fallback_line,
    is_repeat,
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


def test_sentence_budget_stops_the_reply() -> None:
    segments, stopped = run("One. Two. *nods* Three. Four.", max_sentences=2)
    assert segments == [Segment("One."), Segment("Two.")]
    assert stopped


def test_nothing_usable_gives_no_segments() -> None:
    segments, _ = run("... ** <|im_end|>")
    assert segments == []


def test_fallback_line_is_stable_and_in_the_list() -> None:
    line = fallback_line("Ann", "hello")
    assert line == fallback_line("Ann", "hello")
    assert line in {f.replace("{player}", "Ann") for f in FALLBACK_LINES}
    assert "{player}" not in fallback_line("Ann", "x")
