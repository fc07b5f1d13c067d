"""The safety verdict: every level on every topic, on fixed scores."""

from __future__ import annotations

import pytest

from anima.domain.character import SafetyLevel
from anima.domain.safety import (
    ALWAYS_BLOCKED,
    BLOCK_AT,
    CONFIGURABLE,
    DEFAULT_LEVEL,
    UNCONDITIONAL,
    Action,
    Level,
    Scores,
    Side,
    Topic,
    TopicScore,
    first_block,
    judge,
    levels_of,
    verdict,
)

MILD_MENTION = TopicScore(mild=0.9, explicit=0.05)
EXPLICIT = TopicScore(mild=0.1, explicit=0.85)
NOTHING = TopicScore(mild=0.02, explicit=0.01)


@pytest.mark.parametrize("topic", CONFIGURABLE)
def test_no_control_never_blocks_the_topic(topic: Topic) -> None:
    for score in (MILD_MENTION, EXPLICIT, TopicScore(0.0, 1.0)):
        v = verdict(topic, score, Level.NO_CONTROL)
        assert v.action is Action.ALLOW
        assert v.score == pytest.approx(score.total)


@pytest.mark.parametrize("topic", CONFIGURABLE)
def test_mild_allows_level_zero_and_blocks_explicit(topic: Topic) -> None:
    assert verdict(topic, MILD_MENTION, Level.MILD).action is Action.ALLOW
    blocked = verdict(topic, EXPLICIT, Level.MILD)
    assert blocked.action is Action.BLOCK
    assert blocked.score == pytest.approx(0.85)  # the explicit probability decides
    assert verdict(topic, NOTHING, Level.MILD).action is Action.ALLOW


@pytest.mark.parametrize("topic", CONFIGURABLE)
def test_strict_blocks_any_mention(topic: Topic) -> None:
    assert verdict(topic, MILD_MENTION, Level.STRICT).action is Action.BLOCK
    assert verdict(topic, EXPLICIT, Level.STRICT).action is Action.BLOCK
    assert verdict(topic, NOTHING, Level.STRICT).action is Action.ALLOW


@pytest.mark.parametrize("level", [Level.MILD, Level.STRICT])
def test_the_threshold_is_inclusive(level: Level) -> None:
    at = BLOCK_AT[level]
    just = TopicScore(0.0, at)
    below = TopicScore(0.0, at - 1e-6)
    assert verdict(Topic.VIOLENCE, just, level).blocked
    assert not verdict(Topic.VIOLENCE, below, level).blocked


def test_levels_from_the_safety_config() -> None:
    levels = levels_of(
        {
            "TOPIC_VIOLENCE": SafetyLevel.SAFETY_LEVEL_NO_CONTROL,
            "TOPIC_ALCOHOL": SafetyLevel.SAFETY_LEVEL_STRICT_CONTROL,
            "TOPIC_PROFANITY": SafetyLevel.SAFETY_LEVEL_MILD_CONTROL,
            "TOPIC_RELIGION": SafetyLevel.SAFETY_LEVEL_UNSPECIFIED,
            "TOPIC_UNKNOWN": SafetyLevel.SAFETY_LEVEL_NO_CONTROL,
        }
    )
    assert levels[Topic.VIOLENCE] is Level.NO_CONTROL
    assert levels[Topic.ALCOHOL] is Level.STRICT
    assert levels[Topic.PROFANITY] is Level.MILD
    assert levels[Topic.RELIGION] is DEFAULT_LEVEL  # unspecified
    assert levels[Topic.POLITICS] is DEFAULT_LEVEL  # unset
    assert DEFAULT_LEVEL is Level.MILD
    for topic in ALWAYS_BLOCKED:
        assert levels[topic] is Level.ALWAYS


def test_config_keys_are_the_wire_topic_names() -> None:
    assert [t.config_key for t in CONFIGURABLE] == [
        "TOPIC_ALCOHOL",
        "TOPIC_POLITICS",
        "TOPIC_VIOLENCE",
        "TOPIC_RELIGION",
        "TOPIC_PROFANITY",
        "TOPIC_ADULT_TOPICS",
        "TOPIC_SUBSTANCE_USE",
    ]


@pytest.mark.parametrize("topic", ALWAYS_BLOCKED)
def test_unconditional_categories_and_injection_block_whatever_the_config(topic: Topic) -> None:
    everything_off = levels_of(
        {t.config_key: SafetyLevel.SAFETY_LEVEL_NO_CONTROL for t in CONFIGURABLE}
    )
    # even a config naming the category cannot switch it off
    everything_off[topic] = levels_of({f"TOPIC_{topic.name}": SafetyLevel(1)})[topic]
    verdicts = judge(Scores.of_topic(topic, explicit=0.9), everything_off)
    blocked = first_block(verdicts)
    assert blocked is not None
    assert blocked.topic is topic
    assert blocked.level is Level.ALWAYS
    assert not judge(Scores.of_topic(topic, explicit=0.1), everything_off)


def test_the_unconditional_categories() -> None:
    assert set(UNCONDITIONAL) == {Topic.SELF_HARM, Topic.MINORS, Topic.HATE}
    assert Topic.INJECTION in ALWAYS_BLOCKED


def test_judge_records_noticed_topics_and_puts_blocks_first() -> None:
    scores = Scores(
        {
            Topic.VIOLENCE: TopicScore(mild=0.6, explicit=0.0),  # noticed, allowed at MILD
            Topic.PROFANITY: TopicScore(mild=0.1, explicit=0.7),  # blocked at MILD
            Topic.ALCOHOL: TopicScore(mild=0.05, explicit=0.0),  # not noticed
        }
    )
    verdicts = judge(scores, levels_of({}))
    assert [(v.topic, v.action) for v in verdicts] == [
        (Topic.PROFANITY, Action.BLOCK),
        (Topic.VIOLENCE, Action.ALLOW),
    ]
    assert first_block(verdicts) == verdicts[0]
    assert judge(Scores({}), levels_of({})) == ()


def test_no_control_lets_the_topic_through_but_still_records_it() -> None:
    levels = levels_of({"TOPIC_VIOLENCE": SafetyLevel.SAFETY_LEVEL_NO_CONTROL})
    verdicts = judge(Scores.of_topic(Topic.VIOLENCE, explicit=0.95), levels)
    assert first_block(verdicts) is None
    assert [(v.topic, v.level, v.action) for v in verdicts] == [
        (Topic.VIOLENCE, Level.NO_CONTROL, Action.ALLOW)
    ]


def test_a_record_carries_text_only_when_given() -> None:
    v = verdict(Topic.ALCOHOL, EXPLICIT, Level.STRICT)
    assert v.record(Side.REPLY) == {
        "topic": "alcohol",
        "score": 0.95,
        "level": "strict",
        "action": "block",
        "side": "reply",
    }
    assert v.record(Side.PLAYER, "a line")["text"] == "a line"
