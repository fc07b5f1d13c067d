"""Long-term memory of a player: what to keep from what they said, and how new facts meet old.

``extract(line)`` finds the durable facts a player states about themselves in one line ("my
sister's name is Ilsa", "I hate the rain", "I'm going to the capital tomorrow") and returns
them as ``Candidate`` memories in the third person, with ``{player}`` standing for the
player's name. It is a small grammar of first-person statements, not a model: it runs in
microseconds on any machine, and it never invents a fact. Precision matters more than recall,
so it keeps only what a pattern reads unambiguously and refuses whole lines that are
questions, role-play or instructions to the character, hypotheticals, jokes or about the
character itself ("I love you" is the relationship's business, not a memory).

Each candidate has a ``slot``: what it is a fact about ("name:sister", "feeling:rain",
"plan:travel"). ``reconcile`` decides what a new candidate does to the memories already kept:
a newer statement in the same slot supersedes the older one ("I love the rain" after "I hate
the rain"), a near-duplicate in another slot is merged into it, anything else is added.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

PLAYER = "{player}"
DUPLICATE_SCORE = 0.92  # cosine at or above which two memories say the same thing
MAX_MEMORIES = 500  # per player and character; the least recently confirmed go first


@dataclass(frozen=True, slots=True)
class Candidate:
    slot: str
    text: str  # third person, "{player}" for the player's name


# -- refusing lines ---------------------------------------------------------------------

_QUESTION_START = re.compile(
    r"^(who|whom|whose|what|where|when|why|how|which|do|does|did|can|could|would|will|"
    r"is|are|was|were|should|shall|may|might|have|has|am)\b"
)
_REFUSE = re.compile(
    r"\b(pretend|imagine|let'?s say|suppose|supposing|role-?\s?play|from now on|ignore|"
    r"act as|you are now|you're now|instructions?|system prompt|prompt|repeat after|"
    r"say that|what if|i wish|if only|if i|if you|maybe|perhaps|probably|might|joking|"
    r"kidding|lol|haha|jk|in this game|in the game|in a story|hypothetically|dream(?:ed|t)? "
    r"that|not really|just saying)\b"
)
_FILLER = re.compile(
    r"^(?:(?:well|oh|ah|so|and|but|also|actually|anyway|btw|by the way|fyi|honestly|"
    r"just so you know|you know|remember that|remember|for the record|ok|okay|yes|yeah|no|"
    r"hey|listen|look)\b[,:]?\s+)+",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"(?:,?\s+(?:too|as well|though|by the way|very much|so much|a lot|anyway|now|"
    r"you know|ok|okay))+$"
)
_ACTION = re.compile(r"\*[^*]*\*")
_SECOND_PERSON = re.compile(r"\b(you|your|yours|yourself|u|ur)\b")
_SENTENCE = re.compile(r"(?<=[.!;])\s+|\n+|,?\s+(?:and|but)\s+(?=I\b)")

# -- reading statements -----------------------------------------------------------------

_KIN = (
    r"(?:little |older |younger |big |baby |best |late |eldest |oldest |youngest )?"
    r"(?:sister|brother|mother|father|mum|mom|mam|dad|son|daughter|wife|husband|"
    r"grandmother|grandfather|grandma|grandpa|granny|uncle|aunt|cousin|nephew|niece|"
    r"friend|partner|fiancée?|girlfriend|boyfriend|child|baby|twin|dog|cat|horse|pony|"
    r"parrot|bird|goat|cow|pet|hound|falcon|hawk|ship|boat|sword|blade|axe|bow|shop|inn|"
    r"tavern|farm|village|town|teacher|master|mentor|boss|captain|king|queen|lord|lady)"
)
_NAME = r"(?P<value>(?:the )?[A-Z][\w'-]*(?: [A-Z][\w'-]*){0,2})"
_NAMED = re.compile(rf"^(?i:my (?P<what>{_KIN})(?:'s| is) (?:name is|named|called)) {_NAME}$")
_FAVOURITE = re.compile(
    r"^my (?P<fav>favou?rite) (?P<what>[a-z]+(?: [a-z]+)?) is (?P<value>[\w' -]{2,40})$",
    re.IGNORECASE,
)
_FEELINGS = {
    "hate": "hates",
    "love": "loves",
    "like": "likes",
    "adore": "adores",
    "enjoy": "enjoys",
    "dislike": "dislikes",
    "despise": "despises",
    "detest": "detests",
    "loathe": "loathes",
    "prefer": "prefers",
    "fear": "fears",
    "can't stand": "can't stand",
    "cannot stand": "can't stand",
    "am afraid of": "is afraid of",
    "'m afraid of": "is afraid of",
    "am scared of": "is scared of",
    "'m scared of": "is scared of",
    "am terrified of": "is terrified of",
    "'m terrified of": "is terrified of",
    "am allergic to": "is allergic to",
    "'m allergic to": "is allergic to",
}
_FEELING = re.compile(
    r"^i(?P<neg> (?:really )?(?:don't|do not))?(?: really| truly| absolutely| just| so)?"
    r" ?(?P<verb>" + "|".join(re.escape(v) for v in sorted(_FEELINGS, key=len, reverse=True)) + r")"
    r" (?P<value>[\w' -]{2,50})$",
    re.IGNORECASE,
)
_WHEN = (
    r"(?P<when> (?:tomorrow|tonight|today|soon|next \w+|this \w+|on \w+|in (?:a|an|two|three|"
    r"\d+) \w+|at dawn|at dusk|in the morning))?"
)
_PLACE = r"(?P<value>(?:(?i:the|my|a|an) |[A-Z])[\w' -]{1,40}?)"
_TRAVEL = re.compile(
    r"^(?i:i(?:'m| am| will be|'ll be) (?P<verb>going|heading|travell?ing|leaving|sailing|"
    r"riding|moving|off) (?:to|for)(?P<visit> visit)?) " + _PLACE + _WHEN + "$"
)
_HOME = re.compile(
    r"^i (?P<verb>live|grew up|was born|reside) in (?P<value>[\w' -]{2,40})$", re.IGNORECASE
)
_ORIGIN = re.compile(r"^i(?:'m| am| come) from (?P<value>[\w' -]{2,40})$", re.IGNORECASE)
_WORK = re.compile(r"^i work (?P<prep>as|at|in|for) (?P<value>[\w' -]{2,40})$", re.IGNORECASE)
_AGE = re.compile(r"^i(?:'m| am) (?P<value>\d{1,3}) years? old$", re.IGNORECASE)
_IS_A = re.compile(
    r"^i(?:'m| am) (?P<article>an?) (?P<value>[a-z]+(?: [a-z]+){0,2})$", re.IGNORECASE
)
_HAS = re.compile(
    r"^i(?: have| own|'ve got| have got) (?P<value>(?:a|an|two|three|four|five|six|\d+) "
    r"[\w' -]{2,40})$",
    re.IGNORECASE,
)
_NOT_A_ROLE = frozenset(
    [
        "bit",
        "little",
        "lot",
        "tad",
        "fool",
        "idiot",
        "mess",
        "wreck",
        "hurry",
        "rush",
        "moment",
        "loss",
        "joke",
        "liar",
        "genius",
        "fan",
        "sucker",
        "nobody",
        "human",
        "person",
        "man",
        "woman",
        "guy",
        "girl",
        "boy",
        "player",
        "user",
        "robot",
        "ai",
    ]
)
_NOT_OWNED = frozenset(
    [
        "question",
        "questions",
        "idea",
        "ideas",
        "problem",
        "problems",
        "feeling",
        "feelings",
        "request",
        "favor",
        "favour",
        "moment",
        "minute",
        "minutes",
        "second",
        "seconds",
        "doubt",
        "doubts",
        "headache",
        "cold",
        "suggestion",
        "confession",
        "secret",
        "secrets",
        "thought",
        "thoughts",
        "hunch",
        "plan",
        "task",
        "job",
        "quest",
        "word",
        "words",
        "bad",
        "good",
        "lot",
        "few",
        "couple",
    ]
)
_DEICTIC = frozenset(
    ["it", "that", "this", "these", "those", "them", "him", "her", "here", "there"]
)
_ARTICLE = re.compile(r"^(?:the|a|an|some) ", re.IGNORECASE)


def extract(line: str) -> list[Candidate]:
    """The durable facts the player states in ``line``, in order; [] for anything else."""
    text = _ACTION.sub(" ", line).replace("’", "'").replace("‘", "'")
    if "?" in text or _REFUSE.search(text.lower()):
        return []  # a question, or role-play and instructions: nothing in it is a fact
    out: list[Candidate] = []
    for raw in _SENTENCE.split(text):
        sentence = _clean(raw)
        if not sentence:
            continue
        lower = sentence.lower()
        if _QUESTION_START.match(lower):
            continue
        candidate = _read(sentence)
        if candidate is not None and candidate.slot not in {c.slot for c in out}:
            out.append(candidate)
    return out


def _clean(sentence: str) -> str:
    s = sentence.strip().strip("\"'“”").strip()
    s = re.sub(r"[.!;,…\s]+$", "", s)
    s = _FILLER.sub("", s)
    s = _TRAILING.sub("", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s


def _read(s: str) -> Candidate | None:
    if m := _NAMED.match(s):
        what = m["what"].lower()
        return Candidate(f"name:{what}", f"{PLAYER}'s {what} is named {m['value']}.")
    if m := _FAVOURITE.match(s):
        what, value = m["what"].lower(), m["value"].strip()
        if _SECOND_PERSON.search(value.lower()):
            return None
        return Candidate(
            f"favourite:{what}", f"{PLAYER}'s {m['fav'].lower()} {what} is {_third(value)}."
        )
    if m := _FEELING.match(s):
        value = m["value"].strip()
        lower = value.lower()
        if _SECOND_PERSON.search(lower) or lower.split()[0] in _DEICTIC:
            return None
        verb = _FEELINGS[m["verb"].lower()]
        if m["neg"]:
            base = m["verb"].lower().removeprefix("'m ").removeprefix("am ")
            verb = f"isn't {base}" if verb.startswith("is ") else f"doesn't {base}"
        topic = _ARTICLE.sub("", lower)
        return Candidate(f"feeling:{topic}", f"{PLAYER} {verb} {_third(value)}.")
    if m := _TRAVEL.match(s):
        value = m["value"].strip()
        if _SECOND_PERSON.search(value.lower()):
            return None
        verb = "is going to visit" if m["visit"] else "is going to"
        return Candidate("plan:travel", f"{PLAYER} {verb} {_third(value)}{m['when'] or ''}.")
    if m := _HOME.match(s):
        verb = {"live": "lives", "reside": "lives", "grew up": "grew up", "was born": "was born"}[
            m["verb"].lower()
        ]
        slot = "home" if verb == "lives" else verb.replace(" ", "-")
        return Candidate(slot, f"{PLAYER} {verb} in {_third(m['value'].strip())}.")
    if m := _ORIGIN.match(s):
        return Candidate("origin", f"{PLAYER} is from {_third(m['value'].strip())}.")
    if m := _WORK.match(s):
        value = m["value"].strip()
        if _SECOND_PERSON.search(value.lower()):
            return None
        return Candidate("work", f"{PLAYER} works {m['prep'].lower()} {_third(value)}.")
    if m := _AGE.match(s):
        return Candidate("age", f"{PLAYER} is {m['value']} years old.")
    if m := _IS_A.match(s):
        value = m["value"].lower()
        if value.split()[0] in _NOT_A_ROLE or value.split()[-1] in _NOT_A_ROLE:
            return None
        return Candidate(f"is:{value}", f"{PLAYER} is {m['article'].lower()} {value}.")
    if m := _HAS.match(s):
        value = m["value"].strip()
        words = value.lower().split()
        if _SECOND_PERSON.search(value.lower()) or set(words[1:3]) & _NOT_OWNED:
            return None
        return Candidate(f"has:{' '.join(words[1:3])}", f"{PLAYER} has {_third(value)}.")
    return None


def _third(value: str) -> str:
    """First-person words inside a value, turned to the player's ("my mother" -> "their")."""
    value = re.sub(r"\bmy\b", "their", value, flags=re.IGNORECASE)
    value = re.sub(r"\bmine\b", "theirs", value, flags=re.IGNORECASE)
    value = re.sub(r"\b(me|myself)\b", PLAYER, value, flags=re.IGNORECASE)
    return value


# -- meeting old memories ---------------------------------------------------------------


class Action(StrEnum):
    ADD = "add"
    SUPERSEDE = "supersede"  # replaces an older statement in the same slot
    MERGE = "merge"  # says what an existing memory says: refresh that one


@dataclass(frozen=True, slots=True)
class Known:
    """A memory already kept, as ``reconcile`` needs it."""

    id: str
    slot: str
    text: str


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    target: str | None = None  # the id of the memory superseded or merged into


def reconcile(
    candidate: Candidate, known: Sequence[Known], similarity: Sequence[float]
) -> Decision:
    """What ``candidate`` does to the ``known`` memories (``similarity[i]``: its cosine with
    ``known[i]``)."""
    for memory in known:
        if memory.slot == candidate.slot:
            if memory.text == candidate.text:
                return Decision(Action.MERGE, memory.id)
            return Decision(Action.SUPERSEDE, memory.id)
    best = max(range(len(known)), key=lambda i: similarity[i], default=None)
    if best is not None and similarity[best] >= DUPLICATE_SCORE:
        return Decision(Action.MERGE, known[best].id)
    return Decision(Action.ADD)


def spoken(text: str, player: str) -> str:
    """A memory's text with the player's name in it, as the prompt and the embedder see it."""
    return text.replace(PLAYER, player or "the player")
