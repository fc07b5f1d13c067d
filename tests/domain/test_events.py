"""Domain events as stored data: every kind but audio goes through JSON and back unchanged."""

from __future__ import annotations

import json

import pytest

from anima.domain import events
from anima.domain.events import (
    AudioChunk,
    EmotionChanged,
    Event,
    InteractionEnd,
    NarratedAction,
    RelationshipChanged,
    Silence,
    SpaffCode,
    Strength,
    TriggerFired,
    Utterance,
)
from anima.domain.proxy import ProxyEvent

STORED: list[Event] = [
    Utterance("i", "u", "a", "Hello, Ann.", fallback=True),
    NarratedAction("i", "u", "a", "wipes the counter"),
    EmotionChanged("i", "u", "a", SpaffCode.TENSE_HUMOR, Strength.STRONG),
    RelationshipChanged("i", "a", trust=2, familiar=-1),
    TriggerFired("i", "a", "ferry_offered", (("price", "3"), ("river", "Styx"))),
    Silence("i", "u", "a", 250),
    InteractionEnd("i", "a", cancelled=True),
]


@pytest.mark.parametrize("event", STORED, ids=lambda e: type(e).__name__)
def test_an_event_survives_json(event: Event) -> None:
    data = json.loads(json.dumps(events.to_dict(event)))
    assert data["kind"] == type(event).__name__
    back = events.from_dict(data)
    assert back == event
    assert type(back) is type(event)


def test_enums_are_stored_as_their_numbers() -> None:
    data = events.to_dict(EmotionChanged("i", "u", "a", SpaffCode.JOY, Strength.WEAK))
    assert (data["behavior"], data["strength"]) == (19, 1)
    back = events.from_dict(data)
    assert isinstance(back, EmotionChanged)
    assert back.behavior is SpaffCode.JOY


def test_what_is_not_a_stored_event() -> None:
    with pytest.raises(TypeError):
        events.to_dict(AudioChunk("i", "u", "a", b"\0\0", 16000))
    with pytest.raises(ValueError, match="kind"):
        events.from_dict({"kind": "AudioChunk"})
    with pytest.raises(ValueError, match="kind"):
        events.from_dict({"type": "text", "text": "Hi"})
    with pytest.raises(ValueError, match="Utterance"):
        events.from_dict({"kind": "Utterance", "text": "Hi"})


def test_a_proxy_event_survives_json_and_is_told_from_the_wire_shape() -> None:
    for queued in (
        ProxyEvent("ws:1", "u", "7", Utterance("i", "u1", "a", "Mind the mud."), continued=True),
        ProxyEvent("ws:1", "u", None, TriggerFired("i", "a", "greeted")),
        ProxyEvent("ws:1", "u", "7", None),  # the session is gone
    ):
        data = json.loads(json.dumps(queued.to_dict()))
        assert ProxyEvent.stored(data)
        assert ProxyEvent.from_dict(data) == queued
    wire = {"type": "text", "sessionId": "ws:1", "uid": "u", "final": True, "text": "Hi"}
    assert not ProxyEvent.stored(wire)
    assert not ProxyEvent.stored({"type": "disconnected", "sessionId": "ws:1", "uid": "u"})
