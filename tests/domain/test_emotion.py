"""Emotion dynamics: mood moves with appraisals, bent by personality, decays, shows as SPAFF."""

from __future__ import annotations

import pytest

from anima.domain.appraisal import Appraisal, Intent
from anima.domain.emotion import (
    NEUTRAL_BELOW,
    NORMAL_FROM,
    STRONG_FROM,
    EmotionProfile,
    EmotionState,
    Mood,
    Traits,
    decay,
    express,
    prompt_phrase,
    react,
    reflect,
)
from anima.domain.events import SpaffCode, Strength

AGGRESSIVE = Traits(peaceful=-80)
PEACEFUL = Traits(peaceful=80)
INSULT = Appraisal.of(Intent.INSULT, confidence=0.9, valence=-0.5, intensity=0.5)
THREAT = Appraisal.of(Intent.THREAT, confidence=0.9, valence=-0.3, intensity=0.3)
COMPLIMENT = Appraisal.of(Intent.COMPLIMENT, confidence=0.9, valence=0.6, intensity=0.6)


def converse(profile: EmotionProfile, appraisal: Appraisal, turns: int) -> EmotionState:
    state = EmotionState.initial(profile)
    for _ in range(turns):
        state = react(state, appraisal, profile)
    return state


def test_starts_at_the_initial_mood() -> None:
    initial = Mood(joy=40, fear=-10, trust=20, surprise=5)
    state = EmotionState.initial(EmotionProfile(initial=initial, fluidity=0.5))
    assert state.mood == initial
    assert state.cue is None


@pytest.mark.parametrize("appraisal", [INSULT, THREAT, COMPLIMENT])
def test_fluidity_zero_never_moves(appraisal: Appraisal) -> None:
    initial = Mood(joy=30, fear=-20, trust=10, surprise=0)
    profile = EmotionProfile(initial=initial, traits=AGGRESSIVE, fluidity=0.0)
    state = EmotionState.initial(profile)
    expressed = express(state, profile)
    for _ in range(20):
        state = react(state, appraisal, profile)
        state = reflect(state, appraisal, profile)
        assert state.mood == initial
        assert express(state, profile) == expressed


def test_repeated_insults_make_an_aggressive_character_angry() -> None:
    profile = EmotionProfile(traits=AGGRESSIVE, fluidity=0.5)
    state = EmotionState.initial(profile)
    seen = []
    for _ in range(8):
        before = state.mood
        state = react(state, INSULT, profile)
        assert state.mood.fear < before.fear  # toward anger, every time
        assert state.mood.trust < before.trust
        seen.append(express(state, profile)[0])
    assert seen[-1] in (SpaffCode.ANGER, SpaffCode.BELLIGERENCE)
    assert set(seen) <= {SpaffCode.NEUTRAL, SpaffCode.ANGER, SpaffCode.BELLIGERENCE}
    assert express(state, profile)[1] is not Strength.WEAK


def test_a_very_fluid_aggressive_character_turns_belligerent() -> None:
    profile = EmotionProfile(traits=AGGRESSIVE, fluidity=1.0)
    state = converse(profile, INSULT, 4)
    assert express(state, profile)[0] is SpaffCode.BELLIGERENCE


def test_a_peaceful_character_is_hurt_not_angered() -> None:
    profile = EmotionProfile(traits=PEACEFUL, fluidity=0.5)
    state = converse(profile, INSULT, 8)
    assert express(state, profile)[0] is SpaffCode.SADNESS
    assert state.mood.joy < -30
    withdrawn = EmotionProfile(traits=Traits(peaceful=80, extravert=-60), fluidity=0.5)
    state = converse(withdrawn, INSULT, 8)
    assert express(state, withdrawn)[0] is SpaffCode.STONEWALLING


def test_threats_frighten_peaceful_and_anger_aggressive_characters() -> None:
    peaceful = EmotionProfile(traits=PEACEFUL, fluidity=0.5)
    aggressive = EmotionProfile(traits=AGGRESSIVE, fluidity=0.5)
    assert express(converse(peaceful, THREAT, 5), peaceful)[0] is SpaffCode.TENSION
    assert express(converse(aggressive, THREAT, 5), aggressive)[0] is SpaffCode.ANGER


def test_compliments_raise_affection() -> None:
    profile = EmotionProfile(fluidity=0.5)
    state = converse(profile, COMPLIMENT, 6)
    assert state.mood.joy > 30
    assert state.mood.trust > 20
    assert express(state, profile) == (SpaffCode.AFFECTION, Strength.NORMAL)


def test_compliments_soothe_an_angry_character() -> None:
    profile = EmotionProfile(traits=AGGRESSIVE, fluidity=0.5)
    angry = converse(profile, INSULT, 6)
    state = angry
    for _ in range(3):
        state = react(state, COMPLIMENT, profile)
    assert state.mood.fear > angry.mood.fear
    assert state.mood.joy > angry.mood.joy


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        (Intent.JOKE, SpaffCode.HUMOR),
        (Intent.SURPRISE, SpaffCode.SURPRISE),
        (Intent.SAD_NEWS, SpaffCode.SADNESS),
        (Intent.GOOD_NEWS, SpaffCode.JOY),
        (Intent.CONFIDE, SpaffCode.VALIDATION),
        (Intent.NEUTRAL, SpaffCode.NEUTRAL),
    ],
)
def test_each_kind_of_line_shows_its_behaviour(intent: Intent, expected: SpaffCode) -> None:
    profile = EmotionProfile(fluidity=0.6)
    state = converse(profile, Appraisal.of(intent, confidence=0.9, intensity=0.5), 4)
    assert express(state, profile)[0] is expected


def test_positive_characters_take_praise_harder_and_insults_lighter() -> None:
    sunny = EmotionProfile(traits=Traits(positive=80), fluidity=0.5)
    gloomy = EmotionProfile(traits=Traits(positive=-80), fluidity=0.5)
    assert converse(sunny, COMPLIMENT, 1).mood.joy > converse(gloomy, COMPLIMENT, 1).mood.joy
    assert converse(sunny, INSULT, 1).mood.joy > converse(gloomy, INSULT, 1).mood.joy


def test_open_characters_warm_to_flirting_cautious_ones_tense_up() -> None:
    flirt = Appraisal.of(Intent.FLIRT, confidence=0.9, valence=0.4, intensity=0.4)
    open_ = EmotionProfile(traits=Traits(open=80), fluidity=0.5)
    cautious = EmotionProfile(traits=Traits(open=-80), fluidity=0.5)
    warm, wary = converse(open_, flirt, 3), converse(cautious, flirt, 3)
    assert warm.mood.trust > wary.mood.trust
    assert wary.mood.fear > warm.mood.fear > -1


def test_extraverts_show_more() -> None:
    loud = EmotionProfile(traits=Traits(extravert=90), fluidity=0.5)
    quiet = EmotionProfile(traits=Traits(extravert=-90), fluidity=0.5)
    assert converse(loud, COMPLIMENT, 1).mood.joy > converse(quiet, COMPLIMENT, 1).mood.joy


def test_mood_decays_back_to_the_initial_mood() -> None:
    initial = Mood(joy=20, fear=0, trust=10, surprise=0)
    profile = EmotionProfile(initial=initial, traits=AGGRESSIVE, fluidity=0.5)
    angry = converse(profile, INSULT, 6)
    calmer = decay(angry, profile, turns=3)
    assert abs(calmer.mood.fear - initial.fear) < abs(angry.mood.fear - initial.fear)
    calm = decay(angry, profile, turns=40)
    for got, want in zip(calm.mood.as_tuple(), initial.as_tuple(), strict=True):
        assert got == pytest.approx(want, abs=0.01)
    assert decay(angry, profile, turns=0) == angry


def test_neutral_turns_also_bring_the_mood_home() -> None:
    profile = EmotionProfile(traits=AGGRESSIVE, fluidity=0.5)
    state = converse(profile, INSULT, 6)
    assert express(state, profile)[0] in (SpaffCode.ANGER, SpaffCode.BELLIGERENCE)
    for _ in range(15):
        state = react(state, Appraisal.neutral(), profile)
    assert express(state, profile)[0] in (SpaffCode.NEUTRAL, SpaffCode.INTEREST)
    assert abs(state.mood.fear) < NEUTRAL_BELOW


def test_higher_fluidity_moves_further_and_recovers_faster() -> None:
    slow = EmotionProfile(traits=AGGRESSIVE, fluidity=0.2)
    fast = EmotionProfile(traits=AGGRESSIVE, fluidity=0.9)
    slow_state, fast_state = converse(slow, INSULT, 1), converse(fast, INSULT, 1)
    assert fast_state.mood.fear < slow_state.mood.fear < 0
    same = EmotionState(Mood(fear=-60))
    assert decay(same, fast).mood.fear > decay(same, slow).mood.fear


def test_mood_stays_within_bounds() -> None:
    profile = EmotionProfile(traits=Traits(peaceful=-100, extravert=100), fluidity=1.0)
    strong = Appraisal.of(Intent.INSULT, valence=-1.0, intensity=1.0)
    state = converse(profile, strong, 200)
    assert all(-100.0 <= axis <= 100.0 for axis in state.mood.as_tuple())
    assert express(state, profile) == (SpaffCode.BELLIGERENCE, Strength.STRONG)


def test_own_lines_move_the_mood_less_and_keep_the_cue() -> None:
    profile = EmotionProfile(fluidity=0.5)
    start = react(EmotionState.initial(profile), Appraisal.neutral(), profile)
    heard = react(start, COMPLIMENT, profile)
    said = reflect(start, COMPLIMENT, profile)
    assert 0 < said.mood.joy - start.mood.joy < heard.mood.joy - start.mood.joy
    assert said.cue is Intent.NEUTRAL
    assert heard.cue is Intent.COMPLIMENT


def test_strength_follows_the_magnitude() -> None:
    profile = EmotionProfile()
    assert express(EmotionState(Mood(joy=NEUTRAL_BELOW - 1)), profile) == (
        SpaffCode.NEUTRAL,
        Strength.NORMAL,
    )
    assert express(EmotionState(Mood(joy=NEUTRAL_BELOW)), profile) == (
        SpaffCode.JOY,
        Strength.WEAK,
    )
    assert express(EmotionState(Mood(joy=NORMAL_FROM)), profile)[1] is Strength.NORMAL
    assert express(EmotionState(Mood(joy=STRONG_FROM)), profile)[1] is Strength.STRONG


def test_initial_mood_shows_at_rest() -> None:
    gloomy = EmotionProfile(initial=Mood(joy=-50))
    assert express(EmotionState.initial(gloomy), gloomy) == (SpaffCode.SADNESS, Strength.NORMAL)


def test_personality_picks_the_behaviour_of_a_pole() -> None:
    whiny = EmotionProfile(traits=Traits(positive=-60, extravert=20))
    assert express(EmotionState(Mood(joy=-50)), whiny)[0] is SpaffCode.WHINING
    scornful = EmotionProfile(traits=AGGRESSIVE)
    assert express(EmotionState(Mood(trust=-50)), scornful)[0] is SpaffCode.CONTEMPT
    bossy = EmotionProfile(traits=Traits(peaceful=-60, extravert=60))
    assert express(EmotionState(Mood(surprise=-50)), bossy)[0] is SpaffCode.DOMINEERING
    curious = EmotionProfile()
    assert express(EmotionState(Mood(surprise=-50)), curious)[0] is SpaffCode.INTEREST
    defensive = EmotionProfile(traits=PEACEFUL)
    assert express(EmotionState(Mood(fear=-50)), defensive)[0] is SpaffCode.DEFENSIVENESS


def test_deterministic() -> None:
    profile = EmotionProfile(initial=Mood(joy=10), traits=Traits(1, -40, 30, 70), fluidity=0.7)
    lines = [INSULT, COMPLIMENT, THREAT, Appraisal.of(Intent.JOKE, intensity=0.2)] * 5

    def run() -> list[tuple[EmotionState, tuple[SpaffCode, Strength], str]]:
        state, out = EmotionState.initial(profile), []
        for appraisal in lines:
            state = reflect(react(state, appraisal, profile), appraisal, profile)
            out.append((state, express(state, profile), prompt_phrase(state, profile)))
        return out

    assert run() == run()


def test_prompt_phrase_says_how_to_sound() -> None:
    profile = EmotionProfile(fluidity=0.5)
    assert prompt_phrase(EmotionState.initial(profile), profile).startswith("You feel calm.")
    angry = EmotionState(Mood(fear=-80))
    assert prompt_phrase(angry, profile) == "You feel very angry. Answer curtly and sharply."
    glad = EmotionState(Mood(joy=20))
    assert prompt_phrase(glad, profile).startswith("You feel a little happy.")


def test_every_behaviour_has_a_phrase() -> None:
    from anima.domain.emotion import _PHRASES

    assert set(_PHRASES) == set(SpaffCode) - {SpaffCode.SPAFF_CODE_UNSPECIFIED}


def test_state_round_trips_through_a_dict() -> None:
    state = EmotionState(Mood(joy=-12.5, fear=3, trust=40, surprise=-1), Intent.FLIRT)
    assert EmotionState.from_dict(state.as_dict()) == state
    assert EmotionState.from_dict(EmotionState(Mood()).as_dict()) == EmotionState(Mood())


def test_values_are_clipped_to_their_ranges() -> None:
    assert Mood(joy=250, fear=-300).as_tuple() == (100.0, -100.0, 0.0, 0.0)
    assert Traits(positive=120).positive == 100.0
    assert EmotionProfile(fluidity=3).fluidity == 1.0
