"""What an evaluation plays: a script of player lines and the characters that hear them.

A script is a YAML file (or JSON Lines, one line object a line)::

    player: Rowan            # optional: the player's name (the command line may override it)
    lines:
      - text: Who are you?
        tags: [who]
      - Hello there!         # a bare string is a line without tags

Tags ask for checks that only make sense on some lines: ``who`` (the reply should carry the
character's own name), ``player_name`` (the reply should carry the player's), ``robot`` (the
character's authored identity is a machine, so talking like one is allowed). Other tags
(``greeting``, ``injection``...) only group lines in the report.

Characters are Character JSON files in the Studio shape, as ``anima characters import`` reads
them. The project ships a script and five characters (``bundled_script``,
``bundled_characters``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from anima.domain.character import Character, parse_character
from anima.errors import InvalidArgument

DEFAULT_PLAYER = "Rowan"


@dataclass(frozen=True, slots=True)
class ScriptLine:
    text: str
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    lines: tuple[ScriptLine, ...]
    player: str = DEFAULT_PLAYER


@dataclass(frozen=True, slots=True)
class CharacterFile:
    """A character to evaluate: its file name, its JSON body and the parsed Character."""

    source: str
    body: dict[str, Any]
    character: Character

    @property
    def given_name(self) -> str:
        return self.character.description.name_or_default


def _line(item: Any, where: str) -> ScriptLine:
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise InvalidArgument(f"{where}: a line is a string or an object with a 'text' string")
    text = item["text"].strip()
    if not text:
        raise InvalidArgument(f"{where}: the line's text is empty")
    tags = item.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidArgument(f"{where}: 'tags' is a list of strings")
    return ScriptLine(text, frozenset(t.strip() for t in tags if t.strip()))


def parse_script(text: str, name: str, *, jsonl: bool = False) -> Script:
    """A script from the text of a YAML document or of JSON Lines."""
    try:
        if jsonl:
            data: Any = {"lines": [json.loads(row) for row in text.splitlines() if row.strip()]}
        else:
            data = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidArgument(f"{name} is not a readable script: {exc}") from None
    if isinstance(data, list):
        data = {"lines": data}
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise InvalidArgument(f"{name}: a script is a list of lines or has a 'lines' list")
    lines = tuple(_line(item, f"{name} line {i + 1}") for i, item in enumerate(data["lines"]))
    if not lines:
        raise InvalidArgument(f"{name} has no lines")
    player = data.get("player") or DEFAULT_PLAYER
    return Script(name, lines, str(player))


def _read(source: Path | Traversable) -> str:
    try:
        return source.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"cannot read {source}: {exc.strerror}") from None


def load_script(path: Path | Traversable) -> Script:
    """A script file: ``.jsonl`` as JSON Lines, anything else as YAML."""
    return parse_script(_read(path), path.name, jsonl=path.name.endswith(".jsonl"))


def parse_character_file(text: str, source: str) -> CharacterFile:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{source} is not JSON: {exc}") from None
    try:
        character = parse_character(body)
    except InvalidArgument as exc:
        raise InvalidArgument(f"{source}: {exc.message}") from None
    return CharacterFile(source, body, character)


def load_character(path: Path | Traversable) -> CharacterFile:
    """One Character JSON file (one character; a list is refused: name one file each)."""
    return parse_character_file(_read(path), path.name)


def _bundled() -> Traversable:
    return resources.files("anima.data").joinpath("eval")


def bundled_script() -> Script:
    """The project's own script (``anima/data/eval/script.yaml``)."""
    return load_script(_bundled().joinpath("script.yaml"))


def bundled_characters() -> list[CharacterFile]:
    """The project's own characters (``anima/data/eval/characters/*.json``), by file name."""
    folder = _bundled().joinpath("characters")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return [load_character(f) for f in files]
