"""Cutting a streamed reply into sentences and narrated actions, as the text arrives.

``Segmenter.feed(chunk)`` returns the segments completed by that chunk; ``flush()`` returns
the rest at the end of the stream. A sentence ends at ``. ! ? …`` (with any closing quotes or
brackets) followed by white space, or at a line break; not after common abbreviations
(``Mr.``, ``e.g.``), single initials (``J. R. R.``), or an ellipsis that runs on in lower case
(``Well... maybe``). Text between single asterisks (``*wipes the counter*``) is a narrated
action; ``**bold**`` markup is removed. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TERMINATOR = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n+")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "sr",
        "jr",
        "vs",
        "etc",
        "eg",
        "ie",
        "mt",
        "ft",
        "no",
        "capt",
        "gen",
        "sgt",
        "lt",
        "col",
        "rev",
    ]
)
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    action: bool = False


def _is_boundary(text: str, end: int, match: re.Match[str]) -> bool:
    """Does the terminator ``match`` (ending at ``end``) end a sentence?"""
    punct = match.group(0)
    if punct.startswith("\n"):
        return True
    if punct.rstrip("\"'”’)]") == ".":
        last = _LAST_WORD.search(text[: match.start() + 1])
        if last:
            word = last.group(1).lower().replace(".", "")
            if word in _ABBREVIATIONS or len(word) == 1:
                return False
    if punct.startswith(("..", "…")):
        rest = text[end:].lstrip()
        if rest and rest[0].islower():
            return False
    return True


class Segmenter:
    def __init__(self, *, actions: bool = True) -> None:
        self.actions = actions  # False: narrated actions are dropped, not spoken
        self._buf = ""
        self._in_action = False

    @property
    def pending(self) -> str:
        return self._buf

    def drop_tail(self, n: int) -> None:
        """Forget the last ``n`` characters fed (text that turned out not to be the reply)."""
        if n > 0:
            self._buf = self._buf[: max(0, len(self._buf) - n)]

    def feed(self, text: str) -> list[Segment]:
        self._buf += text
        return self._drain(final=False)

    def flush(self) -> list[Segment]:
        out = self._drain(final=True)
        rest = self._buf.replace("*", "").strip()
        if rest:
            out += self._segment(rest, self._in_action)
        self._buf = ""
        self._in_action = False
        return out

    def _segment(self, text: str, action: bool) -> list[Segment]:
        text = " ".join(text.split())
        if not text or (action and not self.actions):
            return []
        return [Segment(text, action)]

    def _drain(self, *, final: bool) -> list[Segment]:
        out: list[Segment] = []
        while True:
            self._buf = self._buf.replace("**", "")
            if not final and self._buf.endswith("*"):
                return out  # may be the start of "**"
            star = self._buf.find("*")
            if self._in_action:
                if star < 0:
                    return out
                out += self._segment(self._buf[:star], action=True)
                self._buf = self._buf[star + 1 :]
                self._in_action = False
                continue
            cut = self._sentence_end(final=final)
            if star >= 0 and (cut is None or star < cut):
                out += self._segment(self._buf[:star], action=False)
                self._buf = self._buf[star + 1 :]
                self._in_action = True
                continue
            if cut is None:
                return out
            out += self._segment(self._buf[:cut], action=False)
            self._buf = self._buf[cut:]

    def _sentence_end(self, *, final: bool) -> int | None:
        for m in _TERMINATOR.finditer(self._buf):
            end = m.end()
            waits = m.group(0).startswith(("..", "…")) and not self._buf[end:].strip()
            if waits and not final:
                # The next words decide (abbreviation? ellipsis running on?): wait for them.
                return None
            if _is_boundary(self._buf, end, m):
                return end
        return None
