"""Relationship: integer deltas from appraisals, scaled by fluidity; labels from thresholds."""

from __future__ import annotations

import pytest

from anima.domain.appraisal import Appraisal, Intent
from anima.domain.relationship import (
    AXES,
    RelationshipDelta,
    RelationshipLabel,
    RelationshipState,
    apply,
    label,
    prompt_phrase,
)

INSULT = Appraisal.of(Intent.INSULT, confidence=0.9, valence=-0.5, intensity=0.5)
COMPLIMENT = Appraisal.of(Intent.COMPLIMENT, confidence=0.9, valence=0.6, intensity=0.5)
FLIRT = Appraisal.of(Intent.FLIRT, confidence=0.9, valence=0.4, intensity=0.4)
CONFIDE = Appraisal.of(Intent.CONFIDE, confidence=0.9, intensity=0.3)


def repeat(appraisal: Appraisal, times: int, fluidity: float = 0.0) -> RelationshipState:
    state = RelationshipState()
    for _ in range(times):
        state, _ = apply(state, appraisal, fluidity=fluidity)
    return state


@pytest.mark.parametrize("appraisal", [INSULT, COMPLIMENT, FLIRT, CONFIDE, Appraisal.neutral()])
def test_disabled_means_zero_deltas(appraisal: Appraisal) -> None:
    state = RelationshipState(trust=10, familiar=5)
    new, delta = apply(state, appraisal, fluidity=1.0, enabled=False)
    assert new == state
    assert delta == RelationshipDelta()
    assert delta.is_zero
    assert delta.as_dict() == dict.fromkeys(AXES, 0)


def test_repeated_insults_lower_trust_and_respect() -> None:
    state = RelationshipState()
    for _ in range(5):
        new, delta = apply(state, INSULT, fluidity=0.0)
        assert delta.trust < 0
        assert delta.respect < 0
        assert delta.attraction <= 0
        state = new
    assert label(state) is RelationshipLabel.ACQUAINTANCE  # five insults are not a feud yet
    assert label(repeat(INSULT, 10)) is RelationshipLabel.ENEMY
    assert label(repeat(INSULT, 4, fluidity=1.0)) is RelationshipLabel.ENEMY
    assert label(repeat(INSULT, 30)) is RelationshipLabel.ARCHENEMY


def test_kindness_builds_trust_and_respect_into_friendship() -> None:
    _, delta = apply(RelationshipState(), COMPLIMENT, fluidity=0.0)
    assert delta.trust > 0
    assert delta.respect > 0
    state = repeat(COMPLIMENT, 12)
    assert label(state) is RelationshipLabel.FRIEND


def test_flirting_builds_flirtatiousness_and_attraction() -> None:
    _, delta = apply(RelationshipState(), FLIRT, fluidity=0.0)
    assert delta.flirtatious > 0
    assert delta.attraction > 0
    assert label(repeat(FLIRT, 8)) is RelationshipLabel.DATE


def test_confidences_build_trust_and_familiarity() -> None:
    _, delta = apply(RelationshipState(), CONFIDE, fluidity=0.0)
    assert delta.trust > 0
    assert delta.familiar > 1


def test_time_spent_makes_familiar_even_when_slow() -> None:
    state = RelationshipState()
    for _ in range(10):
        state, delta = apply(state, Appraisal.neutral(), fluidity=-1.0)
        assert delta == RelationshipDelta(familiar=1)
    assert state.familiar == 10


def test_fluidity_scales_the_deltas() -> None:
    slow = apply(RelationshipState(), INSULT, fluidity=-1.0)[1]
    mid = apply(RelationshipState(), INSULT, fluidity=0.0)[1]
    fast = apply(RelationshipState(), INSULT, fluidity=1.0)[1]
    assert slow.respect > mid.respect > fast.respect
    assert slow.trust >= mid.trust > fast.trust


def test_delta_is_what_was_applied_after_clipping() -> None:
    state = RelationshipState(trust=-99, respect=-100, familiar=100)
    new, delta = apply(state, INSULT, fluidity=1.0)
    assert new.trust == -100
    assert delta.trust == -1
    assert delta.respect == 0
    assert delta.familiar == 0
    for axis in AXES:
        assert getattr(new, axis) == getattr(state, axis) + getattr(delta, axis)


def test_deltas_are_integers_and_deterministic() -> None:
    mixed = Appraisal(
        {Intent.INSULT: 0.4, Intent.JOKE: 0.35, Intent.FLIRT: 0.25}, valence=-0.1, intensity=0.7
    )
    first = apply(RelationshipState(trust=3), mixed, fluidity=0.3)
    second = apply(RelationshipState(trust=3), mixed, fluidity=0.3)
    assert first == second
    assert all(isinstance(v, int) for v in first[1].as_dict().values())


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (RelationshipState(), RelationshipLabel.ACQUAINTANCE),
        # Archenemy: regard <= -60
        (RelationshipState(trust=-60, respect=-60), RelationshipLabel.ARCHENEMY),
        (RelationshipState(trust=-60, respect=-59), RelationshipLabel.ENEMY),
        # Enemy: regard <= -25
        (RelationshipState(trust=-25, respect=-25), RelationshipLabel.ENEMY),
        (RelationshipState(trust=-25, respect=-24), RelationshipLabel.ACQUAINTANCE),
        # Friend: regard >= 20 and familiar >= 15
        (RelationshipState(trust=20, respect=20, familiar=15), RelationshipLabel.FRIEND),
        (RelationshipState(trust=20, respect=19, familiar=15), RelationshipLabel.ACQUAINTANCE),
        (RelationshipState(trust=20, respect=20, familiar=14), RelationshipLabel.ACQUAINTANCE),
        # Close friend: regard >= 50 and familiar >= 50
        (RelationshipState(trust=50, respect=50, familiar=50), RelationshipLabel.CLOSE_FRIEND),
        (RelationshipState(trust=50, respect=49, familiar=50), RelationshipLabel.FRIEND),
        (RelationshipState(trust=50, respect=50, familiar=49), RelationshipLabel.FRIEND),
        # Date: romance >= 20 and familiar >= 10
        (RelationshipState(familiar=10, flirtatious=20, attraction=20), RelationshipLabel.DATE),
        (
            RelationshipState(familiar=10, flirtatious=20, attraction=19),
            RelationshipLabel.ACQUAINTANCE,
        ),
        (
            RelationshipState(familiar=9, flirtatious=20, attraction=20),
            RelationshipLabel.ACQUAINTANCE,
        ),
        # Relationship: romance >= 45, trust >= 35, familiar >= 40
        (
            RelationshipState(trust=35, familiar=40, flirtatious=45, attraction=45),
            RelationshipLabel.RELATIONSHIP,
        ),
        (
            RelationshipState(trust=34, familiar=40, flirtatious=45, attraction=45),
            RelationshipLabel.DATE,
        ),
        (
            RelationshipState(trust=35, familiar=39, flirtatious=45, attraction=45),
            RelationshipLabel.DATE,
        ),
        (
            RelationshipState(trust=35, familiar=40, flirtatious=45, attraction=44),
            RelationshipLabel.DATE,
        ),
        # Life partner: romance >= 70, trust >= 60, familiar >= 70
        (
            RelationshipState(trust=60, familiar=70, flirtatious=70, attraction=70),
            RelationshipLabel.LIFE_PARTNER,
        ),
        (
            RelationshipState(trust=59, familiar=70, flirtatious=70, attraction=70),
            RelationshipLabel.RELATIONSHIP,
        ),
        (
            RelationshipState(trust=60, familiar=69, flirtatious=70, attraction=70),
            RelationshipLabel.RELATIONSHIP,
        ),
        (
            RelationshipState(trust=60, familiar=70, flirtatious=70, attraction=69),
            RelationshipLabel.RELATIONSHIP,
        ),
        # Hostility wins over romance.
        (
            RelationshipState(trust=-40, respect=-40, familiar=50, flirtatious=80, attraction=80),
            RelationshipLabel.ENEMY,
        ),
    ],
)
def test_label_thresholds(state: RelationshipState, expected: RelationshipLabel) -> None:
    assert label(state) is expected


def test_every_label_has_a_phrase_naming_the_player() -> None:
    examples = {
        RelationshipLabel.ARCHENEMY: RelationshipState(trust=-90, respect=-90),
        RelationshipLabel.ENEMY: RelationshipState(trust=-30, respect=-30),
        RelationshipLabel.ACQUAINTANCE: RelationshipState(),
        RelationshipLabel.FRIEND: RelationshipState(trust=30, respect=30, familiar=20),
        RelationshipLabel.CLOSE_FRIEND: RelationshipState(trust=60, respect=60, familiar=60),
        RelationshipLabel.DATE: RelationshipState(familiar=20, flirtatious=30, attraction=30),
        RelationshipLabel.RELATIONSHIP: RelationshipState(
            trust=40, familiar=50, flirtatious=50, attraction=50
        ),
        RelationshipLabel.LIFE_PARTNER: RelationshipState(
            trust=80, familiar=80, flirtatious=80, attraction=80
        ),
    }
    assert set(examples) == set(RelationshipLabel)
    phrases = set()
    for expected, state in examples.items():
        assert label(state) is expected
        phrase = prompt_phrase(state, "Ann")
        assert "Ann" in phrase
        assert phrase[0].isupper()
        phrases.add(phrase)
    assert len(phrases) == len(RelationshipLabel)
    assert prompt_phrase(RelationshipState()).startswith("The player is an acquaintance")


def test_state_is_clipped_and_round_trips() -> None:
    state = RelationshipState(trust=500, respect=-500, familiar=-5, flirtatious=7, attraction=-3)
    assert state.as_dict() == {
        "trust": 100,
        "respect": -100,
        "familiar": 0,
        "flirtatious": 7,
        "attraction": -3,
    }
    assert RelationshipState.from_dict(state.as_dict()) == state
    assert RelationshipState.from_dict({}) == RelationshipState()


def test_the_prompt_hears_of_a_relationship_only_beyond_acquaintance() -> None:
    from anima.domain.relationship import RelationshipState, prompt_relationship

    assert prompt_relationship(RelationshipState(), "Ann") is None
    friend = RelationshipState(trust=40, respect=40, familiar=40)
    line = prompt_relationship(friend, "Ann")
    assert line is not None
    assert "Ann" in line
    assert "friend" in line
