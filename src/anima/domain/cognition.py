"""Cognitive control: what a character does with a question of fact it knows nothing about.

The character knows its persona, its facts (personal and common knowledge), what it remembers
of the player and the conversation. When the player asks a question of fact ("What is the
capital of Varn?", "Who built the bridge?", "How far is the river?") and retrieval found
nothing relevant, the level decides:

* ``STRICT``: the character does not guess. The model is not asked; the character says, in
  its own voice, that it does not know.
* ``MILD``: the model answers, told that the character says so when it does not know.
* ``NONE`` and ``UNSPECIFIED``: the model answers freely from whatever it knows of the world.
  (Unset is not MILD: the question-of-fact test also takes in everyday questions such as
  "What is this place like?", and the note made those replies evasive in the evaluation.)

Questions that are not about facts ("How are you?", "What do you think of me?", "Will you
help me?") are never affected, and neither is a question the conversation or the persona
answers (the caller measures that as ``grounded``).
"""

from __future__ import annotations

import re
from enum import StrEnum

from anima.domain.character import CognitiveControl

_FACT_QUESTION = re.compile(
    r"^(?:(?:and|so|but|then|well|tell me|say)[, ]+)?"
    r"(?:what|who|whom|whose|where|when|which|how (?:many|much|old|far|long|big|tall|deep|"
    r"high|often|does|do|did|is|was)|why (?:is|was|does|did)|(?:is|are|was|were|does|did|"
    r"do|has|have) (?:the|a|an|there|it|they|he|she)\b)",
    re.IGNORECASE,
)
# About the character's own mind or the two of them, not facts of the world.
_NOT_FACTUAL = re.compile(
    r"\b(?:you think|you feel|you want|you like|you need|you mean|you say|you doing|"
    r"do you want|do you like|about me|of me|should (?:i|we)|shall (?:i|we)|can (?:i|we|you)|"
    r"will you|would you|could you|your name|you are|are you|you're|how are|how is it going|"
    r"what's up|what is up|what now|what next|who are you|what are you|my name)\b",
    re.IGNORECASE,
)


class Knowing(StrEnum):
    ANSWER = "answer"  # the model answers as usual
    ADMIT = "admit"  # the model answers, told to say so when the character does not know
    DEFLECT = "deflect"  # the character says it does not know, without the model


def is_fact_question(text: str) -> bool:
    t = " ".join(text.split())
    if not t.endswith("?"):
        return False
    last = re.split(r"(?<=[.!?])\s+", t)[-1]
    return bool(_FACT_QUESTION.match(last)) and not _NOT_FACTUAL.search(last)


def decide(level: CognitiveControl, text: str, *, grounded: bool) -> Knowing:
    """What the character does with ``text`` (the player's line); ``grounded``: retrieval
    found something relevant in its knowledge, memories, persona or the conversation."""
    if grounded or level is CognitiveControl.COGNITIVE_CONTROL_NONE or not is_fact_question(text):
        return Knowing.ANSWER
    if level is CognitiveControl.COGNITIVE_CONTROL_STRICT:
        return Knowing.DEFLECT
    if level is CognitiveControl.COGNITIVE_CONTROL_MILD:
        return Knowing.ADMIT
    return Knowing.ANSWER  # unset: as NONE (the note made everyday questions evasive)


_WORD = re.compile(r"[a-z][a-z'-]{3,}")
_COMMON = frozenset(
    [
        "what",
        "which",
        "where",
        "when",
        "whose",
        "does",
        "have",
        "been",
        "were",
        "there",
        "that",
        "this",
        "your",
        "about",
        "with",
        "from",
        "they",
        "them",
        "their",
        "then",
        "than",
        "tell",
        "know",
        "many",
        "much",
        "long",
        "does",
        "also",
        "into",
        "just",
        "like",
        "some",
        "would",
        "could",
        "should",
        "shall",
        "will",
        "here",
        "very",
        "more",
        "most",
        "other",
    ]
)


def grounded_in(text: str, sources: list[str]) -> bool:
    """True when a content word of ``text`` (four letters or more, not a question word)
    appears in one of ``sources``: the persona or the conversation mentions the subject."""
    words = {w for w in _WORD.findall(text.lower()) if w not in _COMMON}
    if not words:
        return False
    seen = {w for source in sources for w in _WORD.findall(source.lower())}
    return bool(words & seen)
