"""SillyTavern Character Cards (V1, V2 and V3) to and from Anima characters. Pure, no I/O.

A card is JSON (``{"spec": "chara_card_v2"|"chara_card_v3", "data": {...}}``, or V1's bare
fields), on its own or base64 in a PNG ``tEXt`` chunk (keyword ``chara`` for V1/V2, ``ccv3``
for V3; a V3 PNG carries both). ``read_character_file`` takes the bytes of any such file, or
of a Studio Character JSON, and returns an ``Import``: the Character and what was lost.

Card -> Anima (``{{char}}``/``{{user}}``/``<BOT>``/``<USER>`` become ``{character}``/``{player}``):

    name                       -> givenName (at most 100 characters)
    description                -> description
    personality                -> personalityAdjectives when a short comma list, else a
                                  "Personality:" paragraph of the description
    scenario                   -> a "Scenario:" paragraph of the description
    first_mes                  -> the first line of exampleDialog, and a goal ``greeting``
                                  (trigger ``greeting``, said verbatim once)
    mes_example                -> exampleDialog (``<START>`` separators dropped)
    character_book entries     -> personalKnowledge facts (enabled entries, split at sentence
                                  ends into facts of at most 255 characters)
    nickname (V3)              -> nicknames
    data.extensions.anima      -> the whole Anima character, when the card came from Anima

Lost on import (listed in ``Import.lost``): the image, creator_notes, system_prompt,
post_history_instructions, alternate_greetings, group_only_greetings, tags, creator,
character_version, the lorebook's keys and insertion settings (Anima retrieves facts by
meaning), V3 assets and other extensions; text over a field's limit is cut.

Anima -> card writes a V3 card (``to_card``; V2 with ``spec="chara_card_v2"``): description
with "Motivation:" and "Flaws:" paragraphs, personality from the adjectives, mes_example from
exampleDialog, first_mes from a ``greeting`` goal's verbatim line, facts as constant lorebook
entries, and the whole character under ``data.extensions.anima``, so Anima -> card -> Anima
loses nothing. A card reader other than Anima ignores the mood and personality sliders,
relationship, goals, safety levels, voice and common knowledge (they live only in that
extension).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from anima.domain.character import MAX_FACT_CHARS, Character, parse_character
from anima.domain.goals_yaml import parse_goals, template_problems
from anima.domain.limits import MAX_EXAMPLE_CHARS, MAX_ITEMS, MAX_LABEL_CHARS, MAX_PROSE_CHARS
from anima.errors import InvalidArgument

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
V2 = "chara_card_v2"
V3 = "chara_card_v3"
EXTENSION = "anima"
GREETING = "greeting"

_MACROS = (
    (re.compile(r"\{\{\s*char\s*\}\}|<BOT>", re.IGNORECASE), "{character}"),
    (re.compile(r"\{\{\s*user\s*\}\}|<USER>", re.IGNORECASE), "{player}"),
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_LOST_FIELDS = (
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "alternate_greetings",
    "group_only_greetings",
    "tags",
    "creator",
    "character_version",
    "assets",
)


@dataclass(frozen=True, slots=True)
class Import:
    character: Character
    source: str  # "studio", "card v1", "card v2", "card v3" (+ " png")
    lost: list[str] = field(default_factory=list)


# -- reading ------------------------------------------------------------------------------


def read_character_file(data: bytes, filename: str = "file") -> Import:
    """A Character from a Studio JSON, a Character Card JSON or a Character Card PNG."""
    if data.startswith(PNG_SIGNATURE):
        card = card_from_png(data, filename)
        found = from_card(card)
        return Import(found.character, found.source + " png", ["the image", *found.lost])
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(
            f"{filename} is neither JSON nor PNG ({exc}); import a Studio Character JSON or a "
            "Character Card (JSON or PNG)"
        ) from None
    if is_card(body):
        return from_card(body)
    return Import(parse_character(body), "studio")


def is_card(body: Any) -> bool:
    return isinstance(body, dict) and (
        body.get("spec") in (V2, V3) or ("first_mes" in body and "name" in body)
    )


def png_text_chunks(data: bytes) -> dict[str, bytes]:
    """The ``tEXt`` chunks of a PNG, keyword -> text (the first of each keyword)."""
    if not data.startswith(PNG_SIGNATURE):
        raise InvalidArgument("not a PNG file (its signature is missing)")
    chunks: dict[str, bytes] = {}
    at = len(PNG_SIGNATURE)
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        if len(body) < length:
            raise InvalidArgument("the PNG file is cut short (a chunk runs past its end)")
        if kind == b"tEXt" and b"\0" in body:
            keyword, text = body.split(b"\0", 1)
            chunks.setdefault(keyword.decode("latin-1"), text)
        if kind == b"IEND":
            break
        at += 12 + length
    return chunks


def card_from_png(data: bytes, filename: str = "file") -> dict[str, Any]:
    """The card in a PNG: its ``ccv3`` chunk, else its ``chara`` chunk."""
    chunks = png_text_chunks(data)
    for keyword in ("ccv3", "chara"):
        if keyword in chunks:
            try:
                card = json.loads(base64.b64decode(chunks[keyword], validate=True))
            except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InvalidArgument(
                    f"the '{keyword}' text chunk of {filename} is not base64 JSON ({exc})"
                ) from None
            if not is_card(card):
                raise InvalidArgument(f"the '{keyword}' chunk of {filename} is not a card")
            return dict(card)
    raise InvalidArgument(
        f"{filename} is a PNG without a character card (no 'chara' or 'ccv3' text chunk)"
    )


def from_card(card: dict[str, Any]) -> Import:
    """An Anima character from a card (V1, V2 or V3)."""
    spec = card.get("spec")
    data = card.get("data") if spec in (V2, V3) else card
    if not isinstance(data, dict):
        raise InvalidArgument("the card's 'data' must be an object")
    source = {V2: "card v2", V3: "card v3"}.get(str(spec), "card v1")
    extensions = data.get("extensions") if isinstance(data.get("extensions"), dict) else {}
    own = extensions.get(EXTENSION) if extensions else None
    if isinstance(own, dict):
        return Import(parse_character(own), source)
    lost: list[str] = [f for f in _LOST_FIELDS if data.get(f)]
    if extensions:
        lost.append("extensions")

    def text(key: str) -> str:
        value = data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise InvalidArgument(f"the card's '{key}' must be a string")
        return _macros(value).strip()

    name = text("name")
    if not name:
        raise InvalidArgument("the card has no 'name'")
    given_name = _cut(name, MAX_LABEL_CHARS, "name", lost)
    adjectives, personality = _adjectives(text("personality"))
    paragraphs = [text("description")]
    if personality:
        paragraphs.append(f"Personality: {personality}")
    if text("scenario"):
        paragraphs.append(f"Scenario: {text('scenario')}")
    description = _cut(
        "\n\n".join(p for p in paragraphs if p), MAX_PROSE_CHARS, "description", lost
    )
    first = text("first_mes")
    examples = _examples(text("mes_example"))
    if first:
        examples = f"{{character}}: {first}\n{examples}".strip()
    example_dialog = _cut(examples, MAX_EXAMPLE_CHARS, "example dialogue", lost)
    nickname = text("nickname")
    body: dict[str, Any] = {
        "defaultCharacterDescription": {
            "givenName": given_name,
            "description": description,
            "personalityAdjectives": adjectives,
            "exampleDialog": example_dialog,
            "nicknames": [nickname[:MAX_LABEL_CHARS]] if nickname else [],
        },
        "personalKnowledge": {"facts": [{"text": t} for t in _book_facts(data, lost)]},
        "yamlConfig": _greeting_goal(first, lost),
    }
    return Import(parse_character(body), source, lost)


def _macros(text: str) -> str:
    for pattern, replacement in _MACROS:
        text = pattern.sub(replacement, text)
    return text


def _cut(text: str, limit: int, what: str, lost: list[str]) -> str:
    if len(text) <= limit:
        return text
    lost.append(f"{what} after {limit} characters")
    cut = text[:limit]
    end = max(cut.rfind("\n"), cut.rfind(". "))
    return cut[: end + 1].rstrip() if end > limit // 2 else cut


def _adjectives(personality: str) -> tuple[list[str], str]:
    """A short comma list ("kind, shy, curious") as adjectives; anything else as prose."""
    words = [w.strip() for w in re.split(r"[,;\n]", personality.rstrip(".")) if w.strip()]
    if words and len(words) <= MAX_ITEMS and all(len(w.split()) <= 3 for w in words):
        return [w[:MAX_LABEL_CHARS] for w in words], ""
    return [], personality


def _examples(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines() if line.strip().upper() != "<START>"]
    return "\n".join(lines).strip()


def _book_facts(data: dict[str, Any], lost: list[str]) -> list[str]:
    book = data.get("character_book")
    if not isinstance(book, dict):
        return []
    entries = book.get("entries")
    facts: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("enabled") is False:
            continue
        if entry.get("keys"):
            lost_keys = "lorebook entry keys and insertion settings"
            if lost_keys not in lost:
                lost.append(lost_keys)
        content = entry.get("content")
        if isinstance(content, str) and content.strip():
            facts.extend(_facts(_macros(content.strip())))
    return facts


def _facts(text: str) -> list[str]:
    """``text`` as facts of at most 255 characters, split at sentence ends where possible."""
    out: list[str] = []
    for sentence in _SENTENCE.split(" ".join(text.split())):
        while len(sentence) > MAX_FACT_CHARS:
            cut = sentence.rfind(" ", 0, MAX_FACT_CHARS)
            cut = cut if cut > 0 else MAX_FACT_CHARS
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if out and len(out[-1]) + 1 + len(sentence) <= MAX_FACT_CHARS:
            out[-1] = f"{out[-1]} {sentence}"
        elif sentence:
            out.append(sentence)
    return out


def _greeting_goal(first: str, lost: list[str]) -> str:
    if not first:
        return ""
    if template_problems(first):
        lost.append("first message as a greeting goal (it has braces that are not placeholders)")
        return ""
    return (
        "goals:\n"
        f"  - name: {GREETING}\n"
        "    repeatable: false\n"
        f"    activation: {{trigger: {GREETING}}}\n"
        "    actions:\n"
        f"      - say_verbatim: {json.dumps(first, ensure_ascii=False)}\n"
    )


# -- writing ------------------------------------------------------------------------------


def to_card(character: Character, *, spec: str = V3) -> dict[str, Any]:
    """A Character Card (V3 by default, or V2) of ``character``."""
    if spec not in (V2, V3):
        raise InvalidArgument(f"unknown card spec '{spec}'; use {V2} or {V3}")
    d = character.description
    paragraphs = [d.description]
    if d.motivation:
        paragraphs.append(f"Motivation: {d.motivation}")
    if d.flaws:
        paragraphs.append(f"Flaws: {d.flaws}")
    examples = d.example_dialog
    data: dict[str, Any] = {
        "name": d.given_name,
        "description": _to_macros("\n\n".join(p for p in paragraphs if p)),
        "personality": ", ".join(d.personality_adjectives),
        "scenario": "",
        "first_mes": _to_macros(_greeting_line(character)),
        "mes_example": _to_macros(f"<START>\n{examples}") if examples else "",
        "creator_notes": "Exported from Anima.",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": [],
        "character_book": {
            "name": f"{d.given_name}'s facts",
            "entries": [
                {
                    "keys": [],
                    "content": _to_macros(f.text),
                    "extensions": {},
                    "enabled": True,
                    "insertion_order": i,
                    "constant": True,
                    "use_regex": False,
                    "id": i,
                }
                for i, f in enumerate(character.personal_knowledge.facts)
            ],
            "extensions": {},
        },
        "tags": list(d.hobby_or_interests),
        "creator": "",
        "character_version": "",
        "extensions": {EXTENSION: _portable(character)},
    }
    if spec == V3:
        data.update(
            nickname=d.nicknames[0] if d.nicknames else "",
            group_only_greetings=[],
            assets=[{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        )
    return {"spec": spec, "spec_version": "3.0" if spec == V3 else "2.0", "data": data}


def _portable(character: Character) -> dict[str, Any]:
    body = character.to_json()
    body.pop("name", None)  # the exporting workspace's resource name means nothing elsewhere
    return body


def _to_macros(text: str) -> str:
    return text.replace("{character}", "{{char}}").replace("{player}", "{{user}}")


def _greeting_line(character: Character) -> str:
    try:
        goal = parse_goals(character.yaml_config or "").goal(GREETING)
    except InvalidArgument:
        return ""
    if goal is None:
        return ""
    return next((a.say_verbatim for a in goal.actions if a.say_verbatim), "")


def card_png(card: dict[str, Any], image: bytes | None = None) -> bytes:
    """A PNG with ``card`` in its text chunks (``ccv3`` for V3, and ``chara`` always, as V2
    readers expect), on ``image`` (its own card chunks replaced) or a small plain picture."""
    base = image if image is not None else plain_png()
    if not base.startswith(PNG_SIGNATURE):
        raise InvalidArgument("the image to put the card in is not a PNG")
    chunks: list[bytes] = []
    at = len(PNG_SIGNATURE)
    while at + 8 <= len(base):
        (length,) = struct.unpack(">I", base[at : at + 4])
        kind = base[at + 4 : at + 8]
        whole = base[at : at + 12 + length]
        keyword = base[at + 8 : at + 8 + length].split(b"\0", 1)[0]
        if kind == b"IEND":
            break
        if not (kind == b"tEXt" and keyword in (b"chara", b"ccv3")):
            chunks.append(whole)
        at += 12 + length
    encoded = base64.b64encode(json.dumps(card, ensure_ascii=False).encode())
    v2 = card if card.get("spec") != V3 else {**card, "spec": V2, "spec_version": "2.0"}
    texts = [_chunk(b"tEXt", b"chara\0" + base64.b64encode(json.dumps(v2).encode()))]
    if card.get("spec") == V3:
        texts.append(_chunk(b"tEXt", b"ccv3\0" + encoded))
    return PNG_SIGNATURE + b"".join(chunks) + b"".join(texts) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def plain_png(size: int = 64, rgb: tuple[int, int, int] = (92, 74, 140)) -> bytes:
    """A small one-colour picture, for a card exported without an image."""
    row = b"\0" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * size))
        + _chunk(b"IEND", b"")
    )
