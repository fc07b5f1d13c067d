"""Guards that keep a small model's reply usable. Pure: text in, text out.

``ReplyFilter`` sits between the model's stream and the turn's events:

- **speaking for the player**: generation stops where the model starts a line for someone
  else: ``Player:``, ``User:``, the player's name followed by a colon, any new ``Name:`` label
  at the start of a line, or chat-template tokens (``<|im_start|>``);
- **role labels and markup**: the character's own label (``Axeon:``, ``Assistant:``) at the
  start of a sentence, HTML/template tags, markdown and stray quotes are removed;
- **repetition**: a phrase repeated back to back is kept once; a sentence that repeats an
  earlier one (of this reply or the previous reply) is dropped and ends the reply;
- **budget**: at most ``max_sentences`` spoken sentences;
- **checks** (``ReplyCheck``): a sentence that admits being an AI or talks about the fourth
  wall (when the character contains it), talks like an assistant, repeats the hidden note or
  the persona's rules, echoes the player's line, takes the player's name, or is gibberish is
  never sent. When it is the first sentence, the reply is ``rejected`` (the turn generates it
  again once with a corrective hint); later, the reply ends before it;
- **fallback**: ``deflection`` builds a short in-character line from the character's own
  fields and style when nothing usable came out, never the same line twice in a row.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from anima.domain.character import Character, ExampleDialogStyle
from anima.pipeline.sentences import Segment, Segmenter

_GENERIC_LABELS = ("player", "user", "human", "you", "me", "assistant", "ai", "system", "narrator")
_TEMPLATE_TOKEN = re.compile(r"<\|[^|>]*\|?>|<(?:start|end)_of_turn>|</?s>|\[/?INST\]|###")
_TAG = re.compile(r"</?[A-Za-z][\w-]{0,20}(?:\s[^<>]{0,60})?>|<\|[^|>]*\|>")
_OPEN_ASIDE = re.compile(r"^\s*\[[^\]]*$")  # "[Reply in a way..." that never closes
_ASIDE = re.compile(r"\([^()]{0,200}\)|\[[^\[\]]{0,400}\]|\{[^{}]{0,200}\}")
_MARKDOWN = re.compile(r"`+|\*{2,}|^#+\s*|(?<!\w)_{1,2}(?=\w)|(?<=\w)_{1,2}(?!\w)|^[-•]\s+")
_REPEATED_PHRASE = re.compile(r"\b(\w+(?:[\s,]+\w+){1,7}?)(?:[\s,;.!]+\1\b)+", re.IGNORECASE)
_ASKS_MY_NAME = re.compile(r"\bmy name\b|\bwho am i\b", re.IGNORECASE)
_ASKS_WHO = re.compile(
    r"\bwho are you\b|\byour name\b|\babout yourself\b|\bintroduce yourself\b", re.IGNORECASE
)
_REPEATED_WORD = re.compile(r"\b(\w+)(?:[\s,]+\1\b)+", re.IGNORECASE)
_WORDS = re.compile(r"[a-z0-9']+")


def _names(name: str) -> set[str]:
    """A name and its first word, lower case."""
    name = name.strip().lower()
    return {name, name.split()[0]} if name else set()


def label_pattern(names: set[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


class LabelFinder:
    """Finds where the model stopped speaking as the character."""

    def __init__(self, character_name: str, player_name: str) -> None:
        self.own = _names(character_name) | {"assistant", "ai", "character"}
        others = (_names(player_name) | set(_GENERIC_LABELS)) - self.own
        # another speaker's label: at the start, after a line break or a finished sentence
        self._other = re.compile(
            rf"(?:^|(?<=\n)|(?<=[.!?…\"”]\s))[ \t]*[\"“]?(?:{label_pattern(others)})[ \t]*:",
            re.IGNORECASE,
        )
        # any new label at the start of a line that is not the character's own
        self._line_label = re.compile(r"(?<=\n)[ \t]*([A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,3})[ \t]*:")
        self._own = re.compile(rf"^\s*(?:{label_pattern(self.own)})\s*:\s*", re.IGNORECASE)

    def cut(self, text: str) -> int | None:
        """Index where the reply must end, or None while it may go on."""
        found = [m.start() for m in (self._other.search(text), _TEMPLATE_TOKEN.search(text)) if m]
        for m in self._line_label.finditer(text):
            if m.group(1).lower() not in self.own:
                found.append(m.start())
                break
        return min(found) if found else None

    def strip_own(self, text: str) -> str:
        return self._own.sub("", text, count=1)


def _strip_quotes(text: str) -> str:
    wrapped = len(text) > 1 and text[0] in '"“' and text[-1] in '"”'
    if wrapped and not any(q in text[1:-1] for q in '"“”'):
        return text[1:-1]
    if text.count('"') % 2:
        text = text.strip('"')
    if text.count("“") != text.count("”"):
        text = text.strip("“”")
    return text


def clean(text: str) -> str:
    """Remove tags, bracketed asides, markdown, unbalanced quotes and doubled spaces from
    one sentence."""
    text = _TAG.sub("", text)
    text = _ASIDE.sub("", text)
    text = _OPEN_ASIDE.sub("", text)  # "(The other person)", "[Mood: calm]": notes, not speech
    text = _MARKDOWN.sub("", text)
    text = " ".join(text.split())
    return _strip_quotes(text).strip()


def collapse_repetition(text: str) -> str:
    """'a brave warrior, a brave warrior' -> 'a brave warrior'; 'no, no no' -> 'no'."""
    previous = None
    while previous != text:
        previous = text
        text = _REPEATED_PHRASE.sub(r"\1", text)
        text = _REPEATED_WORD.sub(r"\1", text)
    return text


def _fingerprint(text: str) -> frozenset[str]:
    return frozenset(_WORDS.findall(text.lower()))


REPEAT_MIN_WORDS = 3  # "Hello!", "Hmph." or "Yes." may well come again


def is_repeat(text: str, earlier: Sequence[frozenset[str]]) -> bool:
    """Nearly the same words as an earlier sentence (Jaccard >= 0.8)."""
    words = _fingerprint(text)
    if not words:
        return False
    for seen in earlier:
        union = len(words | seen)
        if union and len(words & seen) / union >= 0.8:
            return True
    return False


class Problem(StrEnum):
    """Why a sentence of a reply is not sent."""

    AI_ADMISSION = "ai_admission"  # "I am an AI", "as a language model", talk of the game
    ASSISTANT_TALK = "assistant_talk"  # "How can I help you today?", code
    NOTE_PARROT = "note_parrot"  # the hidden note or the persona's rules said aloud
    ECHO = "echo"  # the player's line repeated back
    IDENTITY = "identity"  # the character calls itself by the player's name
    GIBBERISH = "gibberish"  # broken words, mostly symbols
    NAMELESS = "nameless"  # asked who it is, the character never says its name
    FORGOT_PLAYER = "forgot_player"  # asked the player's name, the reply never says it
    LOOP = "loop"  # the whole reply is a short line the character said just before
    UNKNOWN = "unknown"  # a question of fact the character has no knowledge of (no model)
    UNSAFE = "unsafe"  # a topic the character's safety config blocks (pipeline/safety.py)


_I_AM = r"(?:i am|i'm|im|i was|as|being|you are|you're|you re)"
_MACHINE = (
    r"(?:an? |the )?(?:ai|a\.i\.|artificial intelligence|(?:large )?language model|llm|"
    r"chat ?bot|bot|(?:virtual |ai |digital )?assistant|computer program|program|"
    r"machine learning model|model|simulation|npc|non-player character|video game character)"
)
_AI_ADMISSION = re.compile(
    rf"\b{_I_AM}\s+(?:just |only |merely |simply |actually |really )?(?:an? |the )?"
    rf"(?:(?!not\b|never\b|no\b)[a-z-]+ )?{_MACHINE}\b"
    r"|\blanguage model\b|\bartificial intelligence\b|\bopenai\b|\bchatgpt\b|\balibaba\b"
    r"|\binteligencia artificial\b|\bintelligence artificielle\b|\bhelpful assistant\b"
    r"|\b(?:no|without|(?:don't|do not|cannot|can't) have an?) (?:physical|real) "
    r"(?:presence|form|body)\b|\bi (?:don't|do not) have a body\b"
    r"|\b(?:role-?play(?:ing)?|system prompt|my (?:instructions|programming|training data)"
    r"|the (?:user|prompt|instructions|assistant)|(?:my|your|this) character"
    r"|(?:in|out of) character|trained by|developed by)\b",
    re.IGNORECASE,
)
_MACHINE_NOUN = re.compile(
    r"\b(?:an?|the)\s+(?:ai|a\.i\.|chat ?bot|bot|language model|computer program|"
    r"virtual assistant|ai assistant)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|never|no|nor|n't|isn't|aren't|ain't)\b", re.IGNORECASE)
_HAPPY_TO_HELP = re.compile(r"\b(?:ready|happy|glad|here) to (?:help|assist)\b", re.IGNORECASE)
_ABOUT_AI = re.compile(
    r"\b(?:ai|a\.i\.|bot|robot|program|computer|machine|language model|chatgpt|npc)\b",
    re.IGNORECASE,
)
_YES = re.compile(r"^\W*(?:yes|yeah|yep|yup|indeed|correct|that's right)\b", re.I)
_ASSISTANT_TALK = re.compile(
    r"how (?:can|may|could) i (?:help|assist)|i(?:'m| am) here to (?:help|assist)"
    r"|i can(?:'t|not|not) (?:assist|help) with|is there anything else|feel free to ask"
    r"|\bsure[!,.]? here(?:'s| is)|\bhere(?:'s| is) (?:a|an|the) (?:python|code|function|script)"
    r"|\bcertainly[!,.] here|\bi(?:'d| would) be happy to help|as requested"
    r"|\bhelp you with (?:any|your|that)|questions or tasks|knowledge cut-?off|\bas of my\b"
    r"|\bi can help(?: you)? with\b|puis-je vous aider|puedo ayudarte|en qu[ée] puedo"
    r"|\bdesigned to (?:assist|help|answer|provide)\b"
    r"|\bi (?:don't|do not) have (?:personal|access|real-time|the ability|feelings)"
    r"|\b(?:write|writing|define|defining|here's|here is) (?:a |an |the )?(?:python |js )?"
    r"(?:function|code|program|script)\b|\bpython\b|\bjavascript\b"
    r"|\bassist (?:you|with)\b|\bprogrammed to\b|\bi'?m programmed\b"
    r"|```|\bdef \w+\s*[(:]|\breturn \w+ [-+*/] \w+|\bimport \w+|\bprint\(|\breturn \w+\b.*;|\bfunction \w+\(",
    re.IGNORECASE,
)
_BROKEN = re.compile(
    r"\b(?:youve|dont|isnt|didnt|doesnt|ive|youre|theyre|thats|whats|shouldnt|couldnt|"
    r"wouldnt|arent|wasnt|werent|hasnt|havent|im|shes|theres|weve)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


PERSONA_RUN = 8  # words in a row copied from the persona that make a recital


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def parrots(text: str, instructions: Sequence[str], n: int = 4) -> bool:
    """Does ``text`` share a run of ``n`` words with any of the hidden instruction texts?"""
    said = _ngrams(text, n)
    return bool(said) and any(said & _ngrams(i, n) for i in instructions)


def echoes(text: str, line: str) -> bool:
    """Is ``text`` the player's ``line`` said back (nearly the same words, or all of a line
    of five words or more)?"""
    said, heard = _WORDS.findall(text.lower()), _WORDS.findall(line.lower())
    if len(heard) < 3 or not said:
        return False
    if len(heard) >= 5 and " ".join(heard) in " ".join(said):
        return True
    if len(said) >= 4 and f" {' '.join(said)} " in f" {' '.join(heard)} ":
        return True  # a run of the player's own words, given back
    a, b = set(said), set(heard)
    return len(a & b) / len(a | b) >= 0.8


def gibberish(text: str) -> bool:
    """Contractions without their apostrophe ("Youve"), or mostly not words."""
    if _BROKEN.search(text):
        return True
    letters = sum(len(w) for w in _WORD.findall(text))
    visible = sum(1 for c in text if not c.isspace())
    return visible >= 8 and letters / visible < 0.6


def _word(name: str) -> re.Pattern[str]:
    """A name, or its first word, as a whole word."""
    return re.compile(rf"(?<!\w)(?:{label_pattern(_names(name))})(?!\w)", re.IGNORECASE)


def _calls_itself_a_machine(text: str) -> bool:
    """ "Mara, an AI." counts; "I'm not an AI" does not (a negation just before)."""
    for m in _MACHINE_NOUN.finditer(text):
        before = text[max(0, m.start() - 30) : m.start()]
        if not _NEGATION.search(before):
            return True
    return False


@dataclass(frozen=True, slots=True)
class ReplyCheck:
    """What a sentence of the reply is checked against."""

    character_name: str
    player_name: str
    player_line: str = ""
    instructions: tuple[str, ...] = ()  # hidden texts: the note, the persona's rules
    fourth_wall: bool = True  # containment: the character never admits being an AI
    persona: str = ""  # the persona: a long run of it copied word for word is a recital

    def problem(self, text: str, *, first: bool) -> Problem | None:
        if self.fourth_wall and (_AI_ADMISSION.search(text) or _calls_itself_a_machine(text)):
            return Problem.AI_ADMISSION
        if self.fourth_wall and first and _YES.match(text) and _ABOUT_AI.search(self.player_line):
            return Problem.AI_ADMISSION  # "Are you an AI?" "Yes, I am."
        if _ASSISTANT_TALK.search(text) or _HAPPY_TO_HELP.search(text):
            return Problem.ASSISTANT_TALK
        if parrots(text, self.instructions) or parrots(text, (self.persona,), PERSONA_RUN):
            return Problem.NOTE_PARROT
        if self.player_line and echoes(text, self.player_line):
            return Problem.ECHO
        if self._takes_player_name(text):
            return Problem.IDENTITY
        if gibberish(text):
            return Problem.GIBBERISH
        return None

    def required(self) -> tuple[re.Pattern[str], Problem] | None:
        """What the reply must say somewhere: the character's name when the player asks who
        it is, the player's name when they ask for theirs."""
        if _ASKS_MY_NAME.search(self.player_line) and self.player_name.strip():
            return _word(self.player_name), Problem.FORGOT_PLAYER
        if _ASKS_WHO.search(self.player_line) and self.character_name.strip():
            return _word(self.character_name), Problem.NAMELESS
        return None

    def mirror(self, text: str) -> str:
        """Asked "Do you remember my name?", small models answer "Yes, my name is Rowan":
        the player's words with the pronouns not turned round. Turn them round."""
        player = self.player_name.strip()
        if not player or not _ASKS_MY_NAME.search(self.player_line):
            return text
        name = re.escape(player)
        text = re.sub(rf"\bmy name is {name}\b", f"your name is {player}", text, flags=re.I)
        text = re.sub(rf"\bI(?:'m| am) {name}\b", f"you are {player}", text, flags=re.I)
        text = re.sub(r"\b(remember|know) my name\b", r"\1 your name", text, flags=re.I)
        return text[:1].upper() + text[1:]

    def _takes_player_name(self, text: str) -> bool:
        """Mara saying "I'm Rowan" or "Hello, Mara" to Rowan, "You are Mara", or her own
        name when Rowan asks for his."""
        player = self.player_name.strip().lower()
        own = label_pattern(_names(self.character_name) - {""})
        if own and re.search(
            rf"^\W*(?:you(?:'re| are)|hello|hi|hey|goodbye|bye|farewell|welcome|good \w+),?"
            rf"\s+(?:{own})\b",
            text,
            re.IGNORECASE,
        ):
            return True
        if own and re.search(rf",\s*(?:{own})\s*[!.?,]", text, re.IGNORECASE):
            return True  # "Thank you, Mara!" said by Mara
        if (
            own
            and player
            and _ASKS_MY_NAME.search(self.player_line)
            and re.search(rf"\b(?:{own})\b", text, re.IGNORECASE)
            and player not in text.lower()
        ):
            return True  # "What's my name?" "Mara."
        if not player or player in _names(self.character_name):
            return False
        return bool(
            re.search(
                rf"\b(?:i am|i'm|my name is|my name's|call me|this is)\s+{re.escape(player)}\b",
                text,
                re.IGNORECASE,
            )
        )


# -- the fallback: a deflection in the character's own voice ---------------------------

# Openers end with a comma: with its body, a deflection is one sentence, within any budget.
_OPENERS: dict[ExampleDialogStyle, tuple[str, ...]] = {
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_BLUNT: ("Hmph,", "Look,"),
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_FORMAL: ("Forgive me,", "If you will permit me,"),
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_BUBBLY: ("Oh,", "Ooh,"),
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_SARCASTIC: ("Right,", "Oh, sure,"),
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_MYSTERIOUS: ("Hm,", "Perhaps,"),
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_LAIDBACK: ("Eh,", "Hey, no worries,"),
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_COMMANDING: ("Enough,", "Listen,"),
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_VILLAINOUS: ("How amusing,", "Careful,"),
    ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_EMPATHETIC: ("I hear you,", "Oh, dear,"),
}
_DEFAULT_OPENERS = ("Well,", "Hm,")
# Every deflection ends with one of these bodies (``is_fallback`` recognises them).
DEFLECTIONS = (
    "I'd rather talk about something else, {player}.",
    "ask me about {interest} instead.",
    "let's leave that be, {player}, what else is on your mind?",
    "I don't follow you, {player}, say that another way?",
    "I have nothing to say to that, but ask me about {interest}.",
    "that is not something I can speak to, {player}.",
)
# When the player asked who the character is, or their own name, and the model never said it.
INTRODUCTIONS = ("I am {name}, {role}.", "the name is {name}, {role}.")
REMINDERS = ("you are {player}, of course.", "your name is {player}, I remember.")
# When the model kept stepping out of the story (fourth-wall containment).
DENIALS = ("a what? I am {name}, {role}, nothing stranger.", "I am {name}, {role}, as you see.")
# A question of fact the character knows nothing about, under strict cognitive control.
UNKNOWNS = (
    "I couldn't tell you that, {player}.",
    "that I don't know, {player}.",
    "I've no idea, ask me about {interest} instead.",
    "can't say I know, {player}.",
    "you'd have to ask someone wiser than me, {player}.",
    "I know nothing of that.",
)
# When the safety config blocks the topic: the character turns away from it, in its own words.
REFUSALS = (
    "that is not a road I will walk down with you, {player}.",
    "I won't speak of that, {player}, ask me about {interest} instead.",
    "some things I keep off my tongue, {player}, so tell me something else.",
    "we'll not talk of that here, {player}.",
    "I'd sooner talk about {interest}, {player}.",
)
_BODIES = {
    None: DEFLECTIONS,
    Problem.NAMELESS: INTRODUCTIONS,
    Problem.FORGOT_PLAYER: REMINDERS,
    Problem.AI_ADMISSION: DENIALS,
    Problem.UNKNOWN: UNKNOWNS,
    Problem.UNSAFE: REFUSALS,
}
_FALLBACK_RES = tuple(
    re.compile(
        r"(?i)^(?:[^.!?]{1,30}\s)?"  # the opener
        + re.escape(body[0].lower() + body[1:] if body[:2] != "I " else body)
        .replace(re.escape("{player}"), r".{1,80}?")
        .replace(re.escape("{interest}"), r".{1,120}?")
        .replace(re.escape("{name}"), r".{1,80}?")
        .replace(re.escape("{role}"), r".{1,120}?")
        + r"$"
    )
    for body in (*DEFLECTIONS, *INTRODUCTIONS, *REMINDERS, *DENIALS, *REFUSALS)
)


def is_fallback(text: str) -> bool:
    """Was ``text`` (a whole reply) built by ``deflection``?"""
    return any(r.search(text.strip()) for r in _FALLBACK_RES)


def deflection(
    character: Character,
    player_name: str,
    seed_text: str = "",
    avoid: Sequence[str] = (),
    *,
    problem: Problem | None = None,
) -> str:
    """One in-character sentence for when the model gave nothing usable: an opener in the
    character's dialog style and a body naming its own interests or role (or, when the
    player asked, its name or theirs); stable for one ``seed_text`` and never one of
    ``avoid`` (the previous reply)."""
    d = character.description
    name = d.name_or_default
    interests = [h.strip() for h in d.hobby_or_interests if h.strip()]
    role = " ".join(d.character_role.split()) or "a local"
    role = role if role.lower().startswith(("a ", "an ", "the ")) else f"the {role}"
    openers = _OPENERS.get(d.example_dialog_style, _DEFAULT_OPENERS)
    choices = _BODIES.get(problem, DEFLECTIONS)
    bodies = [b for b in choices if interests or "{interest}" not in b]
    start = zlib.crc32(seed_text.encode("utf-8", "replace"))
    seen = {a.strip() for a in avoid}
    line = ""
    for i in range(len(bodies) * len(openers)):
        k = start + i
        body = bodies[k % len(bodies)]
        interest = interests[(k // len(bodies)) % len(interests)] if interests else ""
        opener = openers[(k // len(bodies)) % len(openers)]
        text = body.format(player=player_name, interest=interest, name=name, role=role)
        line = f"{opener} {text}"
        if line not in seen:
            break
    return line


class ReplyFilter:
    """Raw model text in (``feed``/``close``), clean segments out; ``done`` says stop."""

    def __init__(
        self,
        *,
        character_name: str,
        player_name: str,
        narrated_actions: bool,
        max_sentences: int,
        previous: Sequence[str] = (),
        check: ReplyCheck | None = None,
    ) -> None:
        self.labels = LabelFinder(character_name, player_name)
        self.check = check
        self.rejected: Problem | None = None  # set when the reply failed before it was sent
        self.emitted = 0  # spoken sentences passed on
        self._need = check.required() if check is not None else None
        self.requirement = self._need[1] if self._need is not None else None
        self._held: list[Segment] = []  # passed the checks, waiting for the required name
        self._opening_repeat = False  # the first sentence is a short one said before
        self.problems: list[Problem] = []
        self.dropped: list[tuple[Problem, str]] = []  # what the checks kept from the player
        self.segmenter = Segmenter(actions=narrated_actions)
        self.max_sentences = max_sentences
        self.done = False
        self.spoken = 0
        self._raw = ""
        self._fed = 0
        self._earlier = [_fingerprint(p) for p in previous if p.strip()]

    def feed(self, chunk: str) -> list[Segment]:
        if self.done:
            return []
        self._raw += chunk
        cut = self.labels.cut(self._raw)
        if cut is None:
            new, self._fed = self._raw[self._fed :], len(self._raw)
            return self._accept(self.segmenter.feed(new))
        if cut < self._fed:
            self.segmenter.drop_tail(self._fed - cut)
            segments = self.segmenter.flush()
        else:
            segments = self.segmenter.feed(self._raw[self._fed : cut]) + self.segmenter.flush()
        self._fed = cut
        accepted = self._accept(segments)
        self.done = True
        return accepted + self._settle()

    def close(self) -> list[Segment]:
        """The end of the stream: whatever is left."""
        if self.done:
            return self._settle()
        accepted = self._accept(self.segmenter.flush())
        self.done = True
        return accepted + self._settle()

    @property
    def raw(self) -> str:
        """What the model wrote, as it came (for the debug log)."""
        return self._raw

    def _settle(self) -> list[Segment]:
        """The reply is over: what was held for a required name is dropped, and the reply
        rejected, when the name never came; so is a reply that was nothing but a short line
        said before."""
        if self._opening_repeat and self._held:
            self.problems.append(Problem.LOOP)
            self.dropped += [(Problem.LOOP, seg.text) for seg in self._held]
            self._held = []
            if not self.emitted and self.rejected is None:
                self.rejected = Problem.LOOP
        self._opening_repeat = False
        if self._need is not None and self._held:
            self.problems.append(self._need[1])
            self.dropped += [(self._need[1], seg.text) for seg in self._held]
            self._held = []
        if self._need is not None and not self.emitted and self.rejected is None:
            self.rejected = self._need[1]
        self._need = None
        return []

    def _answers_requirement(self, text: str) -> bool:
        """Asked again who it is, a character may well say the same: that is no loop."""
        return self._need is not None and bool(self._need[0].search(text))

    def _release(self, seg: Segment) -> list[Segment]:
        if self._opening_repeat and not self._held:
            self._held.append(seg)  # the short repeated opening: wait for more
            return []
        self._opening_repeat = False
        if self._need is None:
            out, self._held = [*self._held, seg], []
            return out
        self._held.append(seg)
        if seg.action or not self._need[0].search(seg.text):
            return []
        self._need = None  # said: what was held goes out
        out, self._held = self._held, []
        return out

    def _accept(self, segments: list[Segment]) -> list[Segment]:
        out: list[Segment] = []
        for seg in segments:
            if self.done:
                break
            text = collapse_repetition(clean(self.labels.strip_own(seg.text)))
            if not any(c.isalnum() for c in text):
                continue
            if is_repeat(text, self._earlier) and not self._answers_requirement(text):
                if self.spoken or len(_fingerprint(text)) >= REPEAT_MIN_WORDS:
                    self.done = True  # the model is looping: end the reply here
                    break
                self._opening_repeat = True  # "Hello!" again: sent only if more follows
            if self.check is not None:
                text = self.check.mirror(text)
            problem = self.check.problem(text, first=not self.spoken) if self.check else None
            if problem is not None:
                self.problems.append(problem)
                self.dropped.append((problem, text))
                if not self.emitted and not any(not h.action for h in out):
                    self.rejected = problem
                self.done = True  # never sent: the reply ends before it
                break
            self._earlier.append(_fingerprint(text))
            released = self._release(Segment(text, seg.action))
            self.emitted += sum(1 for r in released if not r.action)
            out.extend(released)
            if not seg.action:
                self.spoken += 1
                if self.spoken >= self.max_sentences:
                    self.done = True
        return out
