"""Emotion of a session character: a mood that moves with each line and shows as SPAFF.

Pure functions over frozen values; the session keeps an ``EmotionState`` per character and
drives it once per turn::

    profile = EmotionProfile(initial=Mood(...), traits=Traits(...), fluidity=0.6)
    state = EmotionState.initial(profile)
    state = react(state, player_appraisal, profile)     # decays one turn, then reacts
    phrase = prompt_phrase(state, profile)              # goes into the next prompt
    for each utterance of the reply:
        state = reflect(state, utterance_appraisal, profile)
        behavior, strength = express(state, profile)    # emitted with the utterance

The mood lives on the four axes of the Character's ``initialMood`` (-100..100 each):
joy (sadness .. joy), fear (anger .. fear), trust (disgust .. trust) and surprise
(anticipation .. surprise), and starts at the initial mood.

Dynamics, per player line:

1. Decay: the mood moves back toward the initial mood by ``DECAY_BASE + DECAY_FLUID *
   fluidity`` of the distance (10% a turn at fluidity 0, 30% at fluidity 1).
2. Impulse: each intent has a push on the four axes (``PUSH``); the appraisal's
   probabilities weight them; the personality bends them: aggressive characters turn
   hostility into anger, peaceful ones into hurt and sadness; positive ones feel good things
   more and bad things less; open ones warm up to kindness and intimacy faster, cautious ones
   tense up at flirting and surprises; extraverts show everything more. The wording's
   valence adds to joy, its intensity scales the whole push.
3. The push times ``GAIN * fluidity`` moves the mood, with less headroom near the bounds, so
   fluidity 0 never moves it.

The character's own lines (``reflect``) push the same way at ``SELF_WEIGHT`` of the strength,
without decay: a character talking itself into a temper, or out of one.

``express`` maps the mood to a SPAFF behaviour: the strongest of the eight poles (joy,
sadness, anger, fear, trust, disgust, surprise, anticipation) wins, under ``NEUTRAL_BELOW``
the character is NEUTRAL; personality and the last player intent tell apart behaviours of
one pole (insults make an aggressive character angry, then BELLIGERENT; a peaceful one
sad, or STONEWALLING if introverted; joy after a joke is HUMOR). Strength: WEAK under
``NORMAL_FROM``, STRONG from ``STRONG_FROM``, else NORMAL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anima.domain.appraisal import HOSTILE, INTIMATE, KIND, Appraisal, Intent
from anima.domain.events import SpaffCode, Strength

GAIN = 45.0  # mood points a full-strength push moves at fluidity 1
DECAY_BASE = 0.10
DECAY_FLUID = 0.20
SELF_WEIGHT = 0.25
NEUTRAL_BELOW = 15.0
NORMAL_FROM = 35.0
STRONG_FROM = 65.0
TRAIT_SET = 30.0  # a personality slider at or past +-30 counts as set


def _clip(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


@dataclass(frozen=True, slots=True)
class Mood:
    """A point on the four mood axes, each -100..100 (values outside are clipped)."""

    joy: float = 0.0  # sadness -100 .. joy 100
    fear: float = 0.0  # anger -100 .. fear 100
    trust: float = 0.0  # disgust -100 .. trust 100
    surprise: float = 0.0  # anticipation -100 .. surprise 100

    def __post_init__(self) -> None:
        for axis in ("joy", "fear", "trust", "surprise"):
            object.__setattr__(self, axis, _clip(float(getattr(self, axis)), -100.0, 100.0))

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.joy, self.fear, self.trust, self.surprise)


@dataclass(frozen=True, slots=True)
class Traits:
    """The Character's personality sliders, each -100..100."""

    positive: float = 0.0  # negative .. positive
    peaceful: float = 0.0  # aggressive .. peaceful
    open: float = 0.0  # cautious .. open
    extravert: float = 0.0  # introvert .. extravert

    def __post_init__(self) -> None:
        for axis in ("positive", "peaceful", "open", "extravert"):
            object.__setattr__(self, axis, _clip(float(getattr(self, axis)), -100.0, 100.0))


@dataclass(frozen=True, slots=True)
class EmotionProfile:
    """What of the Character drives its emotions: initial mood, personality, fluidity 0..1."""

    initial: Mood = Mood()
    traits: Traits = Traits()
    fluidity: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fluidity", _clip(float(self.fluidity), 0.0, 1.0))


@dataclass(frozen=True, slots=True)
class EmotionState:
    """The session character's current mood and the last player intent (the cue)."""

    mood: Mood
    cue: Intent | None = None

    @classmethod
    def initial(cls, profile: EmotionProfile) -> EmotionState:
        return cls(mood=profile.initial)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for the store."""
        return {
            "joy": self.mood.joy,
            "fear": self.mood.fear,
            "trust": self.mood.trust,
            "surprise": self.mood.surprise,
            "cue": self.cue.value if self.cue is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmotionState:
        cue = data.get("cue")
        return cls(
            mood=Mood(
                joy=float(data.get("joy", 0.0)),
                fear=float(data.get("fear", 0.0)),
                trust=float(data.get("trust", 0.0)),
                surprise=float(data.get("surprise", 0.0)),
            ),
            cue=Intent(cue) if cue else None,
        )


# The push of each intent on (joy, fear, trust, surprise), before personality. Fear
# negative is anger. Hostile intents get their anger/fear split from the personality.
PUSH: Mapping[Intent, tuple[float, float, float, float]] = {
    Intent.INSULT: (-0.35, -0.55, -0.50, 0.10),
    Intent.THREAT: (-0.30, 0.55, -0.40, 0.30),
    Intent.COMPLIMENT: (0.60, 0.00, 0.45, 0.10),
    Intent.GRATITUDE: (0.45, 0.00, 0.40, 0.00),
    Intent.APOLOGY: (0.20, 0.15, 0.35, 0.00),
    Intent.FLIRT: (0.40, 0.00, 0.25, 0.30),
    Intent.CONFIDE: (0.00, 0.00, 0.50, 0.10),
    Intent.JOKE: (0.55, 0.00, 0.10, 0.20),
    Intent.SAD_NEWS: (-0.65, 0.10, 0.10, 0.20),
    Intent.GOOD_NEWS: (0.65, 0.00, 0.10, 0.30),
    Intent.SURPRISE: (0.00, 0.05, 0.00, 0.80),
    Intent.NEUTRAL: (0.00, 0.00, 0.00, -0.10),
}
# How far an aggressive (+) or peaceful (-) character turns each intent toward anger.
AGGRESSION: Mapping[Intent, float] = {Intent.INSULT: 0.60, Intent.THREAT: 1.30}


def push(appraisal: Appraisal, traits: Traits) -> Mood:
    """How hard one appraised line pushes each mood axis, bent by the personality.

    Returned as a Mood: 100 on an axis is a full-strength push (``GAIN * fluidity`` points).
    """
    positive = traits.positive / 100.0
    aggressive = -traits.peaceful / 100.0
    peace = max(0.0, traits.peaceful / 100.0)
    openness = traits.open / 100.0
    caution = max(0.0, -openness)

    joy = fear = trust = surprise = 0.0
    for intent, p in appraisal.scores.items():
        if p == 0.0:
            continue
        j, f, t, s = PUSH[intent]
        f = _clip(f - AGGRESSION.get(intent, 0.0) * aggressive, -1.0, 1.0)
        if intent in HOSTILE:
            j -= 0.30 * peace  # peaceful characters are hurt rather than angered
        if intent in KIND or intent in INTIMATE:
            t *= 1.0 + 0.4 * openness
        if intent in (Intent.FLIRT, Intent.SURPRISE):
            f += 0.30 * caution  # cautious characters tense up
        joy, fear, trust, surprise = joy + p * j, fear + p * f, trust + p * t, surprise + p * s

    joy += 0.30 * appraisal.valence
    # Positive characters feel good things more and bad things less; negative ones the reverse.
    joy *= 1.0 + 0.4 * positive if joy > 0 else 1.0 - 0.4 * positive
    trust *= 1.0 + 0.4 * positive if trust > 0 else 1.0 - 0.4 * positive
    scale = (0.75 + 0.5 * appraisal.intensity) * (1.0 + 0.25 * traits.extravert / 100.0)
    return Mood(joy * scale * 100, fear * scale * 100, trust * scale * 100, surprise * scale * 100)


def _move(mood: Mood, delta: Mood, amount: float) -> Mood:
    """Add ``delta`` (x100, scaled by ``amount``) with less headroom near the bounds."""
    axes = []
    for value, d in zip(mood.as_tuple(), delta.as_tuple(), strict=True):
        step = d / 100.0 * amount
        headroom = (100.0 - value) / 100.0 if step > 0 else (100.0 + value) / 100.0
        axes.append(value + step * headroom)
    return Mood(*axes)


def decay(state: EmotionState, profile: EmotionProfile, turns: int = 1) -> EmotionState:
    """Move the mood back toward the initial mood, ``turns`` turns' worth."""
    if turns <= 0:
        return state
    keep = (1.0 - (DECAY_BASE + DECAY_FLUID * profile.fluidity)) ** turns
    axes = (
        i + (m - i) * keep
        for m, i in zip(state.mood.as_tuple(), profile.initial.as_tuple(), strict=True)
    )
    return EmotionState(Mood(*axes), state.cue)


def react(state: EmotionState, appraisal: Appraisal, profile: EmotionProfile) -> EmotionState:
    """The character hears a player line: one turn of decay, then the line's push."""
    decayed = decay(state, profile)
    amount = GAIN * profile.fluidity
    mood = _move(decayed.mood, push(appraisal, profile.traits), amount)
    return EmotionState(mood, appraisal.intent)


def reflect(state: EmotionState, appraisal: Appraisal, profile: EmotionProfile) -> EmotionState:
    """The character hears itself say a line: a smaller push, no decay, same cue."""
    amount = GAIN * profile.fluidity * SELF_WEIGHT
    return EmotionState(_move(state.mood, push(appraisal, profile.traits), amount), state.cue)


# The eight poles, in tie-break order.
_POLES = ("anger", "sadness", "fear", "disgust", "joy", "trust", "surprise", "anticipation")


def _poles(mood: Mood) -> dict[str, float]:
    return {
        "anger": max(0.0, -mood.fear),
        "sadness": max(0.0, -mood.joy),
        "fear": max(0.0, mood.fear),
        "disgust": max(0.0, -mood.trust),
        "joy": max(0.0, mood.joy),
        "trust": max(0.0, mood.trust),
        "surprise": max(0.0, mood.surprise),
        "anticipation": max(0.0, -mood.surprise),
    }


def _strength(magnitude: float) -> Strength:
    if magnitude >= STRONG_FROM:
        return Strength.STRONG
    if magnitude >= NORMAL_FROM:
        return Strength.NORMAL
    return Strength.WEAK


def express(state: EmotionState, profile: EmotionProfile) -> tuple[SpaffCode, Strength]:
    """The SPAFF behaviour and strength the character shows now."""
    poles = _poles(state.mood)
    pole = max(_POLES, key=lambda name: (poles[name], -_POLES.index(name)))
    magnitude = poles[pole]
    if magnitude < NEUTRAL_BELOW:
        return SpaffCode.NEUTRAL, Strength.NORMAL
    return _behavior(pole, magnitude, state, profile.traits), _strength(magnitude)


def _behavior(pole: str, magnitude: float, state: EmotionState, traits: Traits) -> SpaffCode:
    cue, mood = state.cue, state.mood
    aggressive = traits.peaceful <= -TRAIT_SET
    peaceful = traits.peaceful >= TRAIT_SET
    if pole == "anger":
        if peaceful:
            return SpaffCode.STONEWALLING if traits.extravert < 0 else SpaffCode.DEFENSIVENESS
        if aggressive and magnitude >= 50.0:
            return SpaffCode.BELLIGERENCE
        return SpaffCode.ANGER
    if pole == "sadness":
        if cue in HOSTILE and traits.extravert <= -TRAIT_SET:
            return SpaffCode.STONEWALLING  # hurt introverts withdraw
        whiny = traits.positive <= -TRAIT_SET and traits.extravert >= 0
        return SpaffCode.WHINING if whiny else SpaffCode.SADNESS
    if pole == "fear":
        if cue is Intent.JOKE:
            return SpaffCode.TENSE_HUMOR
        return SpaffCode.DEFENSIVENESS if aggressive else SpaffCode.TENSION
    if pole == "disgust":
        if aggressive:
            return SpaffCode.CONTEMPT
        if cue in HOSTILE and traits.extravert >= TRAIT_SET:
            return SpaffCode.CRITICISM
        return SpaffCode.DISGUST
    if pole == "joy":
        if cue is Intent.JOKE:
            return SpaffCode.HUMOR
        warm = cue in (Intent.COMPLIMENT, Intent.GRATITUDE, Intent.FLIRT)
        return SpaffCode.AFFECTION if warm and mood.trust >= 20.0 else SpaffCode.JOY
    if pole == "trust":
        warm = cue in (Intent.COMPLIMENT, Intent.GRATITUDE, Intent.FLIRT)
        return SpaffCode.AFFECTION if warm and mood.joy > 0 else SpaffCode.VALIDATION
    if pole == "surprise":
        return SpaffCode.SURPRISE
    bossy = aggressive and traits.extravert >= TRAIT_SET
    return SpaffCode.DOMINEERING if bossy else SpaffCode.INTEREST


# (how the character feels, how to sound) for each behaviour.
_PHRASES: Mapping[SpaffCode, tuple[str, str]] = {
    SpaffCode.NEUTRAL: ("calm", "Speak in an even, natural tone."),
    SpaffCode.DISGUST: ("disgusted", "Let your distaste show."),
    SpaffCode.CONTEMPT: ("contemptuous", "Be scornful and condescending."),
    SpaffCode.BELLIGERENCE: ("hostile", "Be provocative and pick a fight."),
    SpaffCode.DOMINEERING: ("domineering", "Take charge and give orders."),
    SpaffCode.CRITICISM: ("critical", "Point out what is wrong."),
    SpaffCode.ANGER: ("angry", "Answer curtly and sharply."),
    SpaffCode.TENSION: ("tense and uneasy", "Sound nervous and guarded."),
    SpaffCode.TENSE_HUMOR: ("nervous", "Joke a little to ease the tension."),
    SpaffCode.DEFENSIVENESS: ("defensive", "Justify yourself and deflect blame."),
    SpaffCode.WHINING: ("sorry for yourself", "Complain about your lot."),
    SpaffCode.SADNESS: ("sad", "Speak quietly and with little energy."),
    SpaffCode.STONEWALLING: ("hurt and withdrawn", "Give short, closed answers."),
    SpaffCode.INTEREST: ("curious", "Ask questions and show interest."),
    SpaffCode.VALIDATION: ("understanding", "Acknowledge what the player feels."),
    SpaffCode.AFFECTION: ("fond of the player", "Be warm and caring."),
    SpaffCode.HUMOR: ("playful", "Be light-hearted and joke along."),
    SpaffCode.SURPRISE: ("surprised", "Show your astonishment."),
    SpaffCode.JOY: ("happy", "Sound cheerful and upbeat."),
}
_ADVERB: Mapping[Strength, str] = {
    Strength.WEAK: "a little ",
    Strength.NORMAL: "",
    Strength.STRONG: "very ",
}


def prompt_phrase(state: EmotionState, profile: EmotionProfile) -> str:
    """A short instruction for the next prompt: "You feel very angry. Answer curtly..."."""
    behavior, strength = express(state, profile)
    feeling, guidance = _PHRASES.get(behavior, _PHRASES[SpaffCode.NEUTRAL])
    adverb = "" if behavior is SpaffCode.NEUTRAL else _ADVERB.get(strength, "")
    return f"You feel {adverb}{feeling}. {guidance}"


def prompt_mood(state: EmotionState, profile: EmotionProfile) -> str | None:
    """The mood for this turn's note in a few words ("very angry"), or None when there is
    nothing worth saying: a calm character, or one whose mood cannot move (emotional
    fluidity 0). Only the feeling: a small model turns a guidance sentence ("Sound cheerful
    and upbeat") into what it talks about."""
    behavior, strength = express(state, profile)
    if profile.fluidity <= 0 or behavior is SpaffCode.NEUTRAL:
        return None
    feeling, _guidance = _PHRASES[behavior]
    return f"{_ADVERB.get(strength, '')}{feeling}"
