"""Studio resource names: ``workspaces/{ws}/{collection}/{id}``, ids made from display names,
and references between resources (a character's common knowledge, a scene's characters)."""

from __future__ import annotations

import re
import secrets
import unicodedata
from enum import StrEnum

from anima.domain.aip160 import And, Expr, FilterSyntaxError, Not, Or, Restriction

MAX_ID_CHARS = 64


class ResourceKind(StrEnum):
    """A Studio collection; the value is its path segment."""

    CHARACTER = "characters"
    SCENE = "scenes"
    COMMON_KNOWLEDGE = "common-knowledge"

    @property
    def singular(self) -> str:
        return {"characters": "character", "scenes": "scene"}.get(self.value, "commonKnowledge")

    @property
    def spellings(self) -> frozenset[str]:
        """Collection segments accepted in a reference (the seed's singular form too)."""
        extra = {"common-knowledge": {"commonKnowledge", "common_knowledge"}}.get(self.value, set())
        return frozenset({self.value, self.singular, *extra})


def resource_name(workspace: str, kind: ResourceKind, resource_id: str) -> str:
    return f"workspaces/{workspace}/{kind.value}/{resource_id}"


def operation_name(resource: str, operation_id: str) -> str:
    return f"{resource}/operations/{operation_id}"


def parse_reference(reference: str, workspace: str, kind: ResourceKind) -> str | None:
    """The id a reference points at in ``workspace``: a full resource name or a bare id.
    None when it names another workspace or another kind of resource."""
    ref = reference.strip()
    if "/" not in ref:
        return ref or None
    parts = ref.split("/")
    if len(parts) == 4 and parts[0] == "workspaces" and parts[2] in kind.spellings:
        return parts[3] if parts[1] == workspace and parts[3] else None
    return None


_NON_WORD = re.compile(r"[^a-z0-9]+")


def slug(display_name: str, default: str) -> str:
    """A resource id from a display name: lower case ASCII words joined by ``_``."""
    ascii_name = (
        unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode("ascii")
    )
    words = [w for w in _NON_WORD.split(ascii_name.lower()) if w]
    return "_".join(words)[:MAX_ID_CHARS].strip("_") or default


def with_suffix(base: str) -> str:
    """``base`` with a short random suffix, for when ``base`` is taken."""
    return f"{base[: MAX_ID_CHARS - 5]}_{secrets.token_hex(2)}"


def name_filter(expr: Expr | None, workspace: str, kind: ResourceKind) -> Expr | None:
    """A parsed list filter over resource names, rewritten to compare ids.

    Allowed: ``{singular}.name`` (or ``name``) with ``=`` or ``!=``, any AND/OR/NOT nesting.
    The result's restrictions all read ``id = <id>`` / ``id != <id>``; a name from another
    workspace becomes an id no resource has (the empty string)."""
    if expr is None:
        return None
    if isinstance(expr, Restriction):
        fields = {f"{kind.singular}.name", "name"}
        if expr.field not in fields:
            raise FilterSyntaxError(
                f"unsupported field '{expr.field}'; this list filters on {kind.singular}.name",
                expr.position,
            )
        if expr.op not in ("=", "!="):
            raise FilterSyntaxError(
                f"unsupported comparator '{expr.op or '(none)'}' on {expr.field}; use = or !=",
                expr.position,
            )
        return Restriction(
            "id", expr.op, parse_reference(expr.value, workspace, kind) or "", expr.position
        )
    if isinstance(expr, Not):
        inner = name_filter(expr.operand, workspace, kind)
        assert inner is not None
        return Not(inner)
    parts = tuple(p for p in (name_filter(o, workspace, kind) for o in expr.operands) if p)
    return And(parts) if isinstance(expr, And) else Or(parts)
