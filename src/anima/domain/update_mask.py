"""PATCH semantics of the Studio API (AIP-134), on the JSON of a resource.

With an ``updateMask`` (comma-separated field paths, camelCase or snake_case), exactly the
named fields are copied from the body; a named field absent from the body is reset to its
default; ``*`` replaces every writable field. Without a mask, the fields present in the body
are merged: sub-messages recursively, everything else (strings, lists, maps) replaced whole.
Read-only fields are ignored either way.
"""

from __future__ import annotations

from typing import Any, TypeVar, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from anima.errors import InvalidArgument

M = TypeVar("M", bound=BaseModel)


def _wire_name(name: str, info: FieldInfo) -> str:
    return info.serialization_alias or info.alias or name


def _message_type(info: FieldInfo) -> type[BaseModel] | None:
    """The sub-message class of a field, or None for scalars, lists and maps."""
    annotation = info.annotation
    if get_origin(annotation) is None and isinstance(annotation, type):
        return annotation if issubclass(annotation, BaseModel) else None
    return None


def _field_by_spelling(model: type[BaseModel], segment: str) -> tuple[str, FieldInfo] | None:
    """The wire name and info of the field ``segment`` names (wire, alias or python name)."""
    for name, info in model.model_fields.items():
        spellings = {name, _wire_name(name, info)}
        if info.alias:
            spellings.add(info.alias)
        choices = getattr(info.validation_alias, "choices", None)
        if choices:
            spellings.update(c for c in choices if isinstance(c, str))
        if segment in spellings:
            return _wire_name(name, info), info
    return None


def parse_mask(text: str, model: type[BaseModel], read_only: frozenset[str]) -> list[list[str]]:
    """``updateMask`` as lists of wire-name segments; ``[["*"]]`` for a full replacement."""
    paths: list[list[str]] = []
    for raw in text.split(","):
        path = raw.strip()
        if not path:
            continue
        if path == "*":
            return [["*"]]
        if path.split(".")[0] in read_only:
            continue
        segments: list[str] = []
        current: type[BaseModel] | None = model
        for segment in path.split("."):
            found = _field_by_spelling(current, segment) if current is not None else None
            if found is None:
                raise InvalidArgument(
                    f"updateMask: unknown field path '{path}'", field="updateMask"
                )
            segments.append(found[0])
            current = _message_type(found[1])
        paths.append(segments)
    return paths


def _merge(model: type[BaseModel], target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        found = _field_by_spelling(model, key)
        sub = _message_type(found[1]) if found else None
        if sub is not None and isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(sub, target[key], value)
        else:
            target[key] = value


def _get(data: dict[str, Any], path: list[str]) -> Any:
    for segment in path:
        data = data.get(segment, {}) if isinstance(data, dict) else {}
    return data


def _set(data: dict[str, Any], path: list[str], value: Any) -> None:
    for segment in path[:-1]:
        child = data.get(segment)
        if not isinstance(child, dict):
            child = data[segment] = {}
        data = child
    data[path[-1]] = value


def apply_update(
    current: M,
    patch: M,
    mask: str | None,
    read_only: frozenset[str] = frozenset({"name"}),
) -> M:
    """The resource after a PATCH. ``patch`` is the validated body (``model_fields_set`` tells
    which fields it carried); ``current.name`` is always kept."""
    model = type(current)
    data = current.model_dump(mode="json", by_alias=True)
    if mask is None:
        present = patch.model_dump(mode="json", by_alias=True, exclude_unset=True)
        _merge(model, data, {k: v for k, v in present.items() if k not in read_only})
    else:
        full = patch.model_dump(mode="json", by_alias=True)
        for path in parse_mask(mask, model, read_only):
            if path == ["*"]:
                data = {k: v for k, v in full.items() if k not in read_only}
                break
            _set(data, path, _get(full, path))
    data["name"] = current.model_dump(by_alias=True).get("name", "")
    return model.model_validate(data)
