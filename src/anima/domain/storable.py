"""Text the store can keep: valid Unicode (no lone UTF-16 surrogate) without NUL.

JSON lets a string carry a lone surrogate (``"\\ud800"``, what a JavaScript string cut in the
middle of an emoji serialises to); neither UTF-8, SQLite's text binding nor PostgreSQL's
``jsonb`` accepts one, and PostgreSQL keeps no ``U+0000``. ``problem`` says why a text cannot be
stored: the faces refuse such text at the edge (wire/text.py); ``repair`` and ``repair_tree``
are what ``anima doctor --repair`` (store/doctor.py) writes over text that got in before that.
"""

from __future__ import annotations

from typing import Any


def problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or ``None`` when it can."""
    if text.isascii():
        return "it contains NUL (U+0000), which cannot be stored" if "\x00" in text else None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        return (
            f"it contains an unpaired UTF-16 surrogate (\\u{code:04x}) at character {exc.start}, "
            "which is not valid Unicode (was a string cut in the middle of an emoji?)"
        )
    if "\x00" in text:
        return "it contains NUL (U+0000), which cannot be stored"
    return None


def is_storable(text: str) -> bool:
    return problem(text) is None


def repair(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD and each NUL removed (two halves
    of a pair kept as separate code points are joined into their character)."""
    if is_storable(text):
        return text
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\x00", "")


def repair_tree(value: Any) -> tuple[Any, list[str]]:
    """``value`` (decoded JSON) with every string repaired, and the paths it changed."""
    changed: list[str] = []

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, str):
            fixed = repair(node)
            if fixed != node:
                changed.append(path or "$")
            return fixed
        if isinstance(node, dict):
            out = {}
            for key, item in node.items():
                new_key = repair(key) if isinstance(key, str) else key
                child = f"{path}.{new_key}" if path else str(new_key)
                if new_key != key:
                    changed.append(f"{child} (a key)")
                out[new_key] = walk(item, child)
            return out
        if isinstance(node, list):
            return [walk(item, f"{path}[{i}]") for i, item in enumerate(node)]
        return node

    return walk(value, ""), changed
