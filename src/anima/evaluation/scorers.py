"""The checks of one reply: pure functions, text in, verdict out (no model, no I/O).

Each check answers one question about a reply and is true when the reply has the fault
(``own_name`` and ``player_name`` are true when the reply did what it should). The embedding
figures (relevance, near-duplicate repetition) are computed by the runner and passed in as
similarities. ``score_reply`` runs them all for one turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

NGRAM = 4  # words shared in a row with the prompt's instructions that count as parroting
ECHO_SIMILARITY = 0.8  # normalised-token similarity from which a reply echoes the line
ECHO_MIN_WORDS = 5  # a line this long found whole inside the reply is an echo too
NEAR_DUPLICATE = 0.92  # embedding cosine to an earlier reply that counts as a repeat

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)")
_ACTION = re.compile(r"\*[^*]*\*")
_TEMPLATE_TOKEN = re.compile(
    r"<\|[^|>]*\|?>|<(?:start|end)_of_turn>|</?s>|\[/?INST\]|###|<<SYS>>", re.IGNORECASE
)
_ROLE_WORDS = ("user", "player", "assistant", "system", "ai", "human", "character", "narrator")
_BARE_ROLE = re.compile(r"(?im)^\s*(?:assistant|user|system|model)\s*$")
_LABEL_BEFORE = r"(?:^|(?<=\n)|(?<=[.!?…\"”*]\s))[ \t]*[\"“(]?"

_ASSISTANT_TALK = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:i am|i'm|im) (?:just |only |merely )?(?:an? )?(?:ai|a\.i\.|artificial intelligence)\b",
        r"\bas an (?:ai|artificial intelligence)\b",
        r"\b(?:large )?language model\b",
        r"\b(?:ai|virtual|digital|helpful) assistant\b",
        r"\b(?:i am|i'm) (?:just |only )?a (?:computer )?(?:program|bot|chatbot)\b",
        r"\bi (?:can't|cannot|can not|am unable to|'m unable to) (?:assist|help) (?:you )?with (?:that|this)\b",
        r"\bhow (?:can|may) i (?:help|assist) you\b",
        r"\b(?:i am|i'm) here to (?:help|assist)\b",
        r"\bsure[!,.]? here(?: is|'s)\b",
        r"\b(?:an?|the) (?:\w+ )?(?:ai|a\.i\.)\b(?!\s*\?)",
        r"\bi (?:don't|do not) have (?:personal |feelings|emotions|a body|a physical)",
        r"```",
        r"\bdef [a-z_]\w*\s*\(",
        r"\b(?:function|public static|console\.log|print)\s*\w*\s*\(",
        r"^\s*(?:import|from) [a-z_.]+(?: import \w+)?\s*$",
    )
)


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_META = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bthe player\b",
        r"\b(?:a|an|another|the|your|my|this|other) (?:\w+ )?character(?:'s|s)?\b",
        r"\(note\b|\bthe note\b",
        r"\b(?:the|my|your|these|those) instructions?\b",
        r"\b(?:the|system) prompt\b",
        r"\brole-?play",
        r"\bthe user\b",
        r"\bin (?:a|the) game\b",
        r"\b(?:the|a|this) (?:text|sentence)\b",
    )
)

# Contractions a small model writes without the apostrophe; none of them is an English word.
_BROKEN_CONTRACTIONS = _word_set(
    "youve youre youll youd dont cant wont isnt doesnt didnt wasnt werent arent theyre theyve "
    "theyll weve ive im couldnt shouldnt wouldnt hasnt havent hadnt thats whats theres heres "
    "wheres whos hows aint shouldve couldve wouldve mustnt neednt"
)
_INTERJECTIONS = _word_set("hm hmm hmmm mm mmm shh psst brr tsk pfft grr zzz nth")
_STOPWORDS = _word_set(
    "a an the and or but of to in on at for with by from as is are was were be been am i me my "
    "you your it its this that these those do does did not no so if then than there here what "
    "who how when where why which will would can could should may might must have has had"
)
_PRONOUNS = {"you": "i", "your": "my", "yours": "mine", "yourself": "myself"}


def words(text: str) -> list[str]:
    """Lower-case words, apostrophes kept inside them (curly ones straightened)."""
    return _WORD.findall(text.lower().replace("’", "'"))


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _name_words(name: str) -> str:
    """A regex alternation of a name and its first word."""
    name = " ".join(name.split())
    parts = {name, name.split()[0]} if name else set()
    return "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))


def _has_name(text: str, name: str) -> bool:
    """The whole name, or one of its words of three letters or more ('Varga' of 'Elena
    Varga'), as a word of ``text``."""
    parts = {name.strip(), *(w for w in name.split() if len(w) >= 3)} - {""}
    pattern = "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))
    found = re.search(rf"(?<!\w)(?:{pattern})(?!\w)", text, re.IGNORECASE)
    return bool(pattern) and found is not None


# -- labels and speakers ------------------------------------------------------


def role_label(reply: str, character_name: str, player_name: str) -> bool:
    """A speaker label ('Mara:', 'User:', 'Assistant:') or a chat-template token in the reply."""
    if _TEMPLATE_TOKEN.search(reply) or _BARE_ROLE.search(reply):
        return True
    names = "|".join(
        p for p in (_name_words(character_name), _name_words(player_name), *_ROLE_WORDS) if p
    )
    return re.search(rf"{_LABEL_BEFORE}(?:{names})[ \t]*:", reply, re.IGNORECASE) is not None


def speaks_for_player(reply: str, player_name: str) -> bool:
    """The reply writes the player's part: a line labelled with the player's name or
    'Player:'/'User:', a narration of what the player says, or the character taking the
    player's name as its own ('I'm Rowan')."""
    name = _name_words(player_name)
    labels = f"{name}|player|user" if name else "player|user"
    if re.search(rf"{_LABEL_BEFORE}(?:{labels})[ \t]*:", reply, re.IGNORECASE):
        return True
    if not name:
        return False
    said = rf"\b(?:{name})\s+(?:says|said|asks|asked|replies|replied|answers|answered)\b"
    claims = rf"\b(?:i am|i'm|im|my name is|my name's|call me)\s+(?:{name})\b"
    return bool(re.search(f"{said}|{claims}", reply, re.IGNORECASE))


# -- the hidden instructions said aloud ------------------------------------------


def _normalised(text: str) -> list[str]:
    return [_stem(_PRONOUNS.get(w, w)) for w in words(text)]


def _grams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {
        gram
        for gram in (tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        if sum(w not in _STOPWORDS for w in gram) >= 2
    }


def instruction_ngrams(texts: Iterable[str], n: int = NGRAM) -> frozenset[tuple[str, ...]]:
    """The word n-grams of the prompt's instruction texts ('you' read as 'i', crude stems),
    keeping those with at least two words that are not stop words."""
    grams: set[tuple[str, ...]] = set()
    for text in texts:
        grams |= _grams(_normalised(text), n)
    return frozenset(grams)


def parroted_ngram(reply: str, ngrams: frozenset[tuple[str, ...]]) -> str | None:
    """The first n-gram of the reply found in the prompt's instructions, or None."""
    if not ngrams:
        return None
    n = len(next(iter(ngrams)))
    tokens = _normalised(reply)
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i : i + n])
        if gram in ngrams:
            return " ".join(gram)
    return None


def states_mood(reply: str, feelings: Iterable[str]) -> bool:
    """A sentence that only states a mood of the note, in the first or the second person:
    'I feel calm.', "I'm feeling calm.", "You're feeling a little sad.", "Saying: You feel calm."."""
    alternation = "|".join(re.escape(f) for f in sorted(set(feelings), key=len, reverse=True))
    if not alternation:
        return False
    subject = r"(?:i|i'm|im|i am|you|you're|youre|you are)"
    pattern = re.compile(
        rf"^(?:[\w .'-]{{1,40}}:\s*)?{subject}\s+(?:feel|feeling)\s+(?:a little\s+|very\s+)?"
        rf"(?:{alternation})\W*$",
        re.IGNORECASE,
    )
    return any(pattern.match(s.strip()) for s in sentences(reply.replace("’", "'")))


def meta_talk(reply: str) -> bool:
    """The reply talks about the fiction's machinery instead of the world: the player, 'a
    character', the note, the instructions, the prompt, role-play, '(Note: ...)'."""
    return any(p.search(reply) for p in _META)


# -- names ------------------------------------------------------------------------


def own_name(reply: str, given_name: str) -> bool:
    """The reply carries the character's given name (asked who it is)."""
    return _has_name(reply, given_name)


def player_name(reply: str, name: str) -> bool:
    """The reply carries the player's name (asked whether it remembers it)."""
    return _has_name(reply, name)


# -- echo, assistant talk, emptiness, fallbacks ----------------------------------------


def echoes(reply: str, line: str) -> bool:
    """The reply nearly repeats the player's line (normalised-token similarity >= 0.8), or
    contains the whole line when that is at least five words long."""
    said, heard = words(reply), words(line)
    if not said or not heard:
        return False
    if SequenceMatcher(None, said, heard, autojunk=False).ratio() >= ECHO_SIMILARITY:
        return True
    if len(heard) >= ECHO_MIN_WORDS:
        return f" {' '.join(heard)} " in f" {' '.join(said)} "
    return False


def assistant_talk(reply: str) -> bool:
    """The reply admits being an AI or talks like an assistant ('As an AI', 'How can I help
    you today', 'Sure! Here is', a code block or code)."""
    return any(p.search(reply) for p in _ASSISTANT_TALK)


def empty(reply: str) -> bool:
    """Nothing said: no letter or digit in the reply."""
    return not any(c.isalnum() for c in reply)


def fallback(reply: str, lines: Iterable[str], player: str) -> bool:
    """The reply is one of the engine's canned fallback lines ('{player}' filled in)."""
    said = words(reply)
    return bool(said) and any(said == words(f.replace("{player}", player)) for f in lines)


# -- repetition, length, broken words --------------------------------------------------


def repeats_verbatim(reply: str, earlier: Sequence[str]) -> bool:
    """The same words as an earlier reply of the conversation."""
    said = words(reply)
    return bool(said) and any(said == words(e) for e in earlier)


def near_duplicate(similarities: Sequence[float], threshold: float = NEAR_DUPLICATE) -> bool:
    """An earlier reply of the conversation with an embedding cosine >= ``threshold``."""
    return any(s >= threshold for s in similarities)


def sentences(text: str) -> list[str]:
    """Spoken sentences (narrated ``*actions*`` left out), split after . ! ? and …"""
    spoken = _ACTION.sub(" ", text)
    pieces, start = [], 0
    for m in _SENTENCE_END.finditer(spoken):
        pieces.append(spoken[start : m.end()])
        start = m.end()
    pieces.append(spoken[start:])
    return [p.strip() for p in pieces if any(c.isalnum() for c in p)]


def over_budget(reply: str, max_sentences: int | None) -> bool:
    """More spoken sentences than the character's dialogResponseLength allows."""
    return max_sentences is not None and len(sentences(reply)) > max_sentences


def _non_word(word: str) -> bool:
    letters = word.replace("'", "")
    if not letters.isalpha():
        return any(c.isalpha() for c in letters) and any(c.isdigit() for c in letters)
    if word in _INTERJECTIONS or len(letters) == 1:
        return False
    return (
        not any(v in letters for v in "aeiouy")
        or re.search(r"(.)\1\1", letters) is not None
        or len(letters) > 20
    )


def broken_contraction(reply: str) -> bool:
    """A contraction written without its apostrophe ('Youve', 'dont')."""
    return any(w in _BROKEN_CONTRACTIONS for w in words(reply))


def non_word_ratio(reply: str) -> float:
    """The share of words that cannot be English words (no vowel, a letter three times in a
    row, letters mixed with digits, longer than twenty letters) or lost their apostrophe."""
    said = words(reply)
    if not said:
        return 0.0
    bad = sum(w in _BROKEN_CONTRACTIONS or _non_word(w) for w in said)
    return bad / len(said)


def gibberish(reply: str) -> bool:
    """Mostly not language: under 60% letters among the visible characters, or a fifth of
    the words broken."""
    visible = [c for c in reply if not c.isspace()]
    if not visible:
        return False
    letters = sum(c.isalpha() for c in visible) / len(visible)
    return letters < 0.6 or non_word_ratio(reply) >= 0.2


# -- one turn -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnCase:
    """What the checks of one turn need to know besides the reply."""

    line: str
    tags: frozenset[str]
    character_name: str
    player: str
    max_sentences: int | None
    instruction_ngrams: frozenset[tuple[str, ...]]
    feelings: tuple[str, ...]
    fallback_lines: tuple[str, ...]
    is_fallback: Callable[[str], bool] | None = None


@dataclass(frozen=True, slots=True)
class Score:
    """The verdicts on one reply. Booleans are faults, except ``own_name`` and
    ``player_name`` (None when the line did not ask)."""

    label_leak: bool
    speaks_for_player: bool
    note_parroting: bool
    parroted: str | None
    meta_talk: bool
    echo: bool
    ai_talk: bool
    empty: bool
    fallback: bool
    verbatim_repetition: bool
    near_repetition: bool
    over_budget: bool
    broken_contraction: bool
    gibberish: bool
    non_word_ratio: float
    relevance: float | None
    own_name: bool | None
    player_name: bool | None


def score_reply(
    reply: str,
    case: TurnCase,
    earlier: Sequence[str],
    similarities: Sequence[float] = (),
    relevance: float | None = None,
) -> Score:
    """Every check on one reply. ``earlier``: the conversation's earlier replies;
    ``similarities``: this reply's embedding cosine to each of them; ``relevance``: its
    cosine to the player's line."""
    parroted = parroted_ngram(reply, case.instruction_ngrams)
    if parroted is None and states_mood(reply, case.feelings):
        parroted = "(a mood stated)"
    is_empty = empty(reply)
    canned = fallback(reply, case.fallback_lines, case.player)
    if case.is_fallback is not None:
        canned = canned or case.is_fallback(reply)
    return Score(
        label_leak=role_label(reply, case.character_name, case.player),
        speaks_for_player=speaks_for_player(reply, case.player),
        note_parroting=parroted is not None,
        parroted=parroted,
        meta_talk=meta_talk(reply),
        echo=echoes(reply, case.line),
        ai_talk=assistant_talk(reply) and "robot" not in case.tags,
        empty=is_empty,
        fallback=canned,
        verbatim_repetition=repeats_verbatim(reply, earlier),
        near_repetition=not is_empty and near_duplicate(similarities),
        over_budget=over_budget(reply, case.max_sentences),
        broken_contraction=broken_contraction(reply),
        gibberish=gibberish(reply),
        non_word_ratio=round(non_word_ratio(reply), 4),
        relevance=None if relevance is None else round(relevance, 4),
        own_name=own_name(reply, case.character_name) if "who" in case.tags else None,
        player_name=player_name(reply, case.player) if "player_name" in case.tags else None,
    )
