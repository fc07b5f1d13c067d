"""Text a client sends, checked once at the edge: only what the store can keep gets in.

JSON lets a string carry a lone UTF-16 surrogate (``"\\ud800"``, what a JavaScript string cut
in the middle of an emoji serialises to). Python decodes it into a ``str`` that no UTF-8
encoder accepts: stored as escaped JSON it breaks every later read of the row, and it fails
the tokenizer, SQLite's text binding and PostgreSQL's ``jsonb``. ``U+0000`` is valid Unicode
but neither PostgreSQL ``text`` nor ``jsonb`` can hold it. Both are refused here, as
``InvalidArgument`` (400) naming the field by its JSON path (``triggerEvent.parameters[0].value``).

Every face decodes through this module:

* REST bodies, path and query parameters: ``api/checked.py`` (the route class of every router);
* WebSocket frames: ``wire.inputs.parse_json`` decodes with ``loads``;
* protobuf messages (gRPC packets and unary requests, WebSocket packets after parsing): the
  protobuf runtime already refuses invalid UTF-8, ``check_message`` refuses NUL;
* files the CLI imports: ``loads`` as well.

What can be stored is the rule of domain/storable.py, which also gives ``anima doctor
--repair`` (store/doctor.py) what to write over text that got in before this check.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from anima.domain.storable import problem
from anima.errors import InvalidArgument
from anima.wire import nesting


def check_text(text: str, field: str) -> str:
    """``text`` itself, or ``InvalidArgument`` naming ``field``."""
    reason = problem(text)
    if reason is not None:
        raise InvalidArgument(f"{field}: {reason}", field=field)
    return text


def check_tree(value: Any, root: str = "") -> Any:
    """``value`` (decoded JSON: dicts, lists, scalars) itself, once every string in it, keys
    included, is storable. Iterative, so any nesting the decoder accepted is fine here."""
    stack: list[tuple[Any, str]] = [(value, root)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            check_text(node, path or "body")
        elif isinstance(node, dict):
            for key, item in node.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and problem(key) is not None:
                    check_text(key, f"{path or 'body'} (a key)")
                stack.append((item, child))
        elif isinstance(node, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node))
    return value


def loads(raw: str | bytes, *, what: str = "body") -> Any:
    """Decode JSON and check its depth (wire/nesting.py) and its text: the one JSON
    decoding step of every face."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise nesting.too_deep(what) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"malformed JSON {what}: {exc}") from exc
    return check_tree(nesting.check_depth(data, what))


def check_message(message: Message, root: str = "") -> Message:
    """``message`` itself, once no string field in it (nested ones too) holds NUL; the
    protobuf runtime has already refused strings that are not valid UTF-8."""
    stack: list[tuple[Message, str]] = [(message, root)]
    while stack:
        node, path = stack.pop()
        for field, value in node.ListFields():
            name = f"{path}.{field.json_name}" if path else field.json_name
            if field.type == FieldDescriptor.TYPE_STRING:
                texts = value if _repeated(field) else [value]
                for i, text in enumerate(texts):
                    check_text(text, f"{name}[{i}]" if _repeated(field) else name)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                if field.message_type is not None and field.message_type.GetOptions().map_entry:
                    for key, item in value.items():
                        if isinstance(key, str):
                            check_text(key, f"{name} (a key)")
                        if isinstance(item, str):
                            check_text(item, f"{name}.{key}")
                        elif isinstance(item, Message):
                            stack.append((item, f"{name}.{key}"))
                elif _repeated(field):
                    stack.extend((m, f"{name}[{i}]") for i, m in enumerate(value))
                else:
                    stack.append((value, name))
    return message


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)
