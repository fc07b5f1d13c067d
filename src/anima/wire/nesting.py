"""How deep a client's JSON may nest, checked once on every face.

Every parser after ``json.loads`` (protobuf's ``ParseDict``, pydantic, ``copy.deepcopy``,
the JSON encoders) recurses once or more per level, so a document nested a few hundred levels
deep raised ``RecursionError`` wherever it landed (a WebSocket frame nested 1,000 deep ended
its connection with no error). ``depth`` measures a parsed document without
recursing; a document deeper than ``MAX_DEPTH`` is refused with ``InvalidArgument``. No
Inworld packet or REST body nests deeper than about ten levels. ``wire.text.loads``, the
one JSON decoding step of every face, applies it.
"""

from __future__ import annotations

from typing import Any

from anima.errors import InvalidArgument

MAX_DEPTH = 64


def depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, ``[]`` and ``{}`` are 1)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children if isinstance(child, dict | list))
    return deepest


def too_deep(what: str) -> InvalidArgument:
    return InvalidArgument(f"the {what} nests deeper than {MAX_DEPTH} levels")


def check_depth(value: Any, what: str = "body") -> Any:
    """``value`` itself, or ``InvalidArgument`` when it nests deeper than ``MAX_DEPTH``."""
    if depth(value) > MAX_DEPTH:
        raise too_deep(what)
    return value
