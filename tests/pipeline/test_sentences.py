"""Sentence splitting over streamed text, whatever the chunk boundaries."""

from __future__ import annotations

import pytest

from anima.pipeline.sentences import Segment, Segmenter


def split(text: str, size: int, *, actions: bool = True) -> list[Segment]:
    s = Segmenter(actions=actions)
    out: list[Segment] = []
    for i in range(0, len(text), size):
        out += s.feed(text[i : i + size])
    return out + s.flush()


TEXT = (
    "Hello there, Mr. Smith! *wipes the counter* Well... maybe. "
    "I am J. R. R. Tolkien's fan? It costs 3.50 coins.\n\nNew line here "
    '"Quoted sentence." And **bold** words. *waves'
)
EXPECTED = [
    Segment("Hello there, Mr. Smith!"),
    Segment("wipes the counter", action=True),
    Segment("Well... maybe."),
    Segment("I am J. R. R. Tolkien's fan?"),
    Segment("It costs 3.50 coins."),
    Segment('New line here "Quoted sentence."'),
    Segment("And bold words."),
    Segment("waves", action=True),
]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_same_segments_for_any_chunking(size: int) -> None:
    assert split(TEXT, size) == EXPECTED


def test_sentences_come_out_as_soon_as_they_are_complete() -> None:
    s = Segmenter()
    assert s.feed("Hi there") == []
    assert s.feed("! How") == [Segment("Hi there!")]
    assert s.feed(" are you?") == []  # the last sentence may still go on...
    assert s.flush() == [Segment("How are you?")]  # ...until the stream ends


def test_an_ellipsis_waits_for_the_next_word() -> None:
    s = Segmenter()
    assert s.feed("Wait. ") == [Segment("Wait.")]
    assert s.feed("Well... ") == []
    assert s.feed("maybe") == []  # runs on in lower case
    assert s.feed(". Then") == [Segment("Well... maybe.")]
    assert s.feed("... ") == []
    assert s.feed("No") == [Segment("Then...")]


def test_actions_are_dropped_when_disabled() -> None:
    assert split("*nods* Yes. *smiles*", 2, actions=False) == [Segment("Yes.")]


def test_empty_and_blank_text() -> None:
    assert split("", 3) == []
    assert split("  \n\n ", 1) == []


def test_drop_tail_forgets_pending_text() -> None:
    s = Segmenter()
    assert s.feed("Fine. And you Ann") == [Segment("Fine.")]
    s.drop_tail(4)
    assert s.flush() == [Segment("And you")]
