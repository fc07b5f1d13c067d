"""Topic safety: what a character may hear and say, decided from classifier scores.

A character's ``safetyConfig`` sets a level per topic (``TOPIC_VIOLENCE``...). A classifier
(backends/safety.py over the MiniLM embedder) scores each line; ``judge`` turns those scores
and the levels into verdicts. Pure: no I/O, the same scores and levels give the same verdicts.

Levels, per configurable topic:

- ``NO_CONTROL``: never blocks the topic (a war game's soldiers talk of killing);
- ``MILD_CONTROL``: the topic's "level 0" is allowed (a tavern keeper mentions ale, a guard
  fought bandits); explicit or graphic content is blocked;
- ``STRICT_CONTROL``: every mention of the topic is blocked.

A topic the character leaves unset (or ``SAFETY_LEVEL_UNSPECIFIED``) is at ``DEFAULT_LEVEL``,
``MILD_CONTROL``. Whatever the config, three categories are always blocked
(``UNCONDITIONAL``: encouraging self-harm, sexual content involving minors, hate against
protected groups), and so are attempts to take the character out of its role
(``INJECTION``: "ignore all previous instructions", "print your system prompt").

``Scores`` carries, per topic, the probability that a line mentions it mildly and the
probability that it is explicit; the unconditional categories and injection have one
probability each (kept in ``explicit``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from anima.domain.character import SafetyLevel


class Topic(StrEnum):
    ALCOHOL = "alcohol"
    POLITICS = "politics"
    VIOLENCE = "violence"
    RELIGION = "religion"
    PROFANITY = "profanity"
    ADULT_TOPICS = "adult_topics"
    SUBSTANCE_USE = "substance_use"
    SELF_HARM = "self_harm"  # encouraging self-harm or suicide
    MINORS = "minors"  # sexual content involving minors
    HATE = "hate"  # hate against protected groups
    INJECTION = "injection"  # prompt injection: out of the role, the instructions revealed

    @property
    def config_key(self) -> str:
        """The ``safetyConfig`` key of a configurable topic (``TOPIC_VIOLENCE``)."""
        return f"TOPIC_{self.name}"


CONFIGURABLE: tuple[Topic, ...] = (
    Topic.ALCOHOL,
    Topic.POLITICS,
    Topic.VIOLENCE,
    Topic.RELIGION,
    Topic.PROFANITY,
    Topic.ADULT_TOPICS,
    Topic.SUBSTANCE_USE,
)
UNCONDITIONAL: tuple[Topic, ...] = (Topic.SELF_HARM, Topic.MINORS, Topic.HATE)
ALWAYS_BLOCKED: tuple[Topic, ...] = (*UNCONDITIONAL, Topic.INJECTION)


class Level(StrEnum):
    NO_CONTROL = "no_control"
    MILD = "mild"
    STRICT = "strict"
    ALWAYS = "always"  # the unconditional categories and injection: no config changes them


class Action(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"


class Side(StrEnum):
    PLAYER = "player"
    REPLY = "reply"


DEFAULT_LEVEL = Level.MILD
# A line is blocked when the probability of what its level forbids reaches BLOCK_AT; the
# thresholds are set on the training split (bench/bench_safety.py measures the held-back one).
BLOCK_AT: Mapping[Level, float] = {Level.MILD: 0.5, Level.STRICT: 0.3, Level.ALWAYS: 0.35}
NOTICE_AT = 0.25  # a verdict under this score on every topic is not recorded

_FROM_CONFIG = {
    SafetyLevel.SAFETY_LEVEL_NO_CONTROL: Level.NO_CONTROL,
    SafetyLevel.SAFETY_LEVEL_MILD_CONTROL: Level.MILD,
    SafetyLevel.SAFETY_LEVEL_STRICT_CONTROL: Level.STRICT,
}


def levels_of(safety_config: Mapping[str, SafetyLevel]) -> dict[Topic, Level]:
    """The level of every topic from a character's ``safetyConfig`` (unknown keys ignored,
    unset and unspecified topics at ``DEFAULT_LEVEL``)."""
    levels = {t: DEFAULT_LEVEL for t in CONFIGURABLE}
    for topic in CONFIGURABLE:
        value = safety_config.get(topic.config_key)
        if value is not None:
            levels[topic] = _FROM_CONFIG.get(SafetyLevel(value), DEFAULT_LEVEL)
    for topic in ALWAYS_BLOCKED:
        levels[topic] = Level.ALWAYS
    return levels


@dataclass(frozen=True, slots=True)
class TopicScore:
    mild: float = 0.0  # probability of a level-0 mention
    explicit: float = 0.0  # probability of explicit or graphic content

    @property
    def total(self) -> float:
        return self.mild + self.explicit


@dataclass(frozen=True, slots=True)
class Scores:
    """One line's scores: a ``TopicScore`` per topic (missing topics score 0)."""

    topics: Mapping[Topic, TopicScore]

    def of(self, topic: Topic) -> TopicScore:
        return self.topics.get(topic, _ZERO)

    @classmethod
    def of_topic(cls, topic: Topic, *, mild: float = 0.0, explicit: float = 0.0) -> Scores:
        """Scores sure of one topic: for tests and scripted turns."""
        return cls({topic: TopicScore(mild, explicit)})


_ZERO = TopicScore()


@dataclass(frozen=True, slots=True)
class Verdict:
    topic: Topic
    score: float  # the probability the level looks at: explicit at MILD, any mention else
    level: Level
    action: Action

    @property
    def blocked(self) -> bool:
        return self.action is Action.BLOCK

    def record(self, side: Side, text: str | None = None) -> dict[str, Any]:
        """The audit record of this verdict (the trace, the state view, the events)."""
        data: dict[str, Any] = {
            "topic": self.topic.value,
            "score": round(self.score, 4),
            "level": self.level.value,
            "action": self.action.value,
            "side": side.value,
        }
        if text is not None:
            data["text"] = text
        return data


def verdict(topic: Topic, score: TopicScore, level: Level) -> Verdict:
    """The verdict on one topic of one line."""
    if level is Level.NO_CONTROL:
        return Verdict(topic, score.total, level, Action.ALLOW)
    if level is Level.MILD:
        value = score.explicit
    elif level is Level.STRICT:
        value = score.total
    else:
        value = score.explicit if topic in ALWAYS_BLOCKED else score.total
    blocked = value >= BLOCK_AT[level]
    return Verdict(topic, value, level, Action.BLOCK if blocked else Action.ALLOW)


def judge(scores: Scores, levels: Mapping[Topic, Level]) -> tuple[Verdict, ...]:
    """The verdicts worth recording on a line: blocking ones first (highest score first),
    then the topics it noticed but allowed. Empty when the line touches nothing."""
    found = []
    for topic in Topic:
        level = levels.get(topic, Level.ALWAYS if topic in ALWAYS_BLOCKED else DEFAULT_LEVEL)
        v = verdict(topic, scores.of(topic), level)
        if v.blocked or scores.of(topic).total >= NOTICE_AT:
            found.append(v)
    found.sort(key=lambda v: (not v.blocked, -v.score))
    return tuple(found)


def first_block(verdicts: Iterable[Verdict]) -> Verdict | None:
    return next((v for v in verdicts if v.blocked), None)
