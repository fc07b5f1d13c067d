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
- **fallback**: ``fallback_line`` gives a short in-character line when nothing usable came out.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

from anima.pipeline.sentences import Segment, Segmenter

_GENERIC_LABELS = ("player", "user", "human", "you", "me", "assistant", "ai", "system", "narrator")
_TEMPLATE_TOKEN = re.compile(r"<\|[^|>]*\|?>|<(?:start|end)_of_turn>|</?s>|\[/?INST\]|###")
_TAG = re.compile(r"</?[A-Za-z][\w-]{0,20}(?:\s[^<>]{0,60})?>|<\|[^|>]*\|>")
_MARKDOWN = re.compile(r"`+|\*{2,}|^#+\s*|(?<!\w)_{1,2}(?=\w)|(?<=\w)_{1,2}(?!\w)|^[-•]\s+")
_REPEATED_PHRASE = re.compile(r"\b(\w+(?:[\s,]+\w+){1,7}?)(?:[\s,;.!]+\1\b)+", re.IGNORECASE)
_REPEATED_WORD = re.compile(r"\b(\w+)(?:[\s,]+\1\b)+", re.IGNORECASE)
_WORDS = re.compile(r"[a-z0-9']+")

FALLBACK_LINES = (
    "Hmm, give me a moment to think about that.",
    "Sorry, {player}, my mind wandered. What were you saying?",
    "Well... I am not sure what to say to that.",
    "Let me think about that one.",
)


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
    """Remove tags, markdown, unbalanced quotes and doubled spaces from one sentence."""
    text = _TAG.sub("", text)
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


def fallback_line(player_name: str, seed_text: str = "") -> str:
    """A short neutral in-character line, chosen stably from the player's text."""
    line = FALLBACK_LINES[zlib.crc32(seed_text.encode("utf-8")) % len(FALLBACK_LINES)]
    return line.replace("{player}", player_name)


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
    ) -> None:
        self.labels = LabelFinder(character_name, player_name)
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
        return accepted

    def close(self) -> list[Segment]:
        """The end of the stream: whatever is left."""
        if self.done:
            return []
        accepted = self._accept(self.segmenter.flush())
        self.done = True
        return accepted

    def _accept(self, segments: list[Segment]) -> list[Segment]:
        out: list[Segment] = []
        for seg in segments:
            if self.done:
                break
            text = collapse_repetition(clean(self.labels.strip_own(seg.text)))
            if not any(c.isalnum() for c in text):
                continue
            if is_repeat(text, self._earlier):
                self.done = True  # the model is looping: end the reply here
                break
            self._earlier.append(_fingerprint(text))
            out.append(Segment(text, seg.action))
            if not seg.action:
                self.spoken += 1
                if self.spoken >= self.max_sentences:
                    self.done = True
        return out
