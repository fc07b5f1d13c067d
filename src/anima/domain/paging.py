"""Opaque page tokens for list methods (AIP-158).

A token remembers where the last page ended and a digest of the request's other parameters;
a token replayed with different parameters (or another workspace) is refused with 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from anima.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int | None) -> int:
    """``pageSize`` as served: 0 or absent means the default; above the maximum is capped."""
    if requested is None or requested == 0:
        return DEFAULT_PAGE_SIZE
    if requested < 0:
        raise InvalidArgument(
            f"pageSize must be between 0 and {MAX_PAGE_SIZE}, got {requested}", field="pageSize"
        )
    return min(requested, MAX_PAGE_SIZE)


def _digest(params: dict[str, object]) -> str:
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Cursor:
    """The sort key of the last item served: (created_at, id)."""

    created_at: float
    id: str


def encode_token(cursor: Cursor, params: dict[str, object]) -> str:
    raw = json.dumps([cursor.created_at, cursor.id, _digest(params)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, params: dict[str, object]) -> Cursor | None:
    """The cursor of ``token`` (None for an empty token) if it was issued for ``params``."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, last_id, digest = json.loads(raw)
        cursor = Cursor(float(created_at), str(last_id))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidArgument(
            "pageToken is not a token this server issued", field="pageToken"
        ) from None
    if digest != _digest(params):
        raise InvalidArgument(
            "pageToken was issued for a list request with different parameters; "
            "keep every other parameter (filter, view, pageSize) the same while paging",
            field="pageToken",
        )
    return cursor
