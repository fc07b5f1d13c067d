"""Studio: a character's recent safety events (the audit of pipeline/safety.py).

``GET /studio/v1/workspaces/{ws}/characters/{c}/safetyEvents?pageSize=&action=`` lists the
verdicts recorded on the character's turns in that workspace, newest first: what topic, how
sure, at which level, allowed or blocked, on the player's line or the reply. A key of another
workspace is refused like every Studio call, and only this workspace's events are read.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from anima.api.auth import StudioKey
from anima.api.checked import CheckedRoute
from anima.api.deps import StoreDep
from anima.domain import paging
from anima.domain.safety import Action
from anima.errors import InvalidArgument, NotFound
from anima.wire.engine import rfc3339
from anima.wire.schemas import ERRORS, SafetyEventList, ok, query_parameter

router = APIRouter(
    prefix="/studio/v1/workspaces/{ws}",
    tags=["studio"],
    route_class=CheckedRoute,
    responses=ERRORS,
)

QUERY = (
    query_parameter(
        "pageSize", {"type": "integer", "minimum": 0}, "default 50; more than 1000 is 1000"
    ),
    query_parameter(
        "action", {"type": "string", "enum": [a.value for a in Action]}, "only this action"
    ),
)


def _size(raw: str | None) -> int:
    if raw is None or raw == "":
        return paging.page_size(None)
    try:
        return paging.page_size(int(raw))
    except ValueError:
        raise InvalidArgument(
            f"pageSize must be an integer, got {raw!r}", field="pageSize"
        ) from None


@router.get(
    "/characters/{c}/safetyEvents",
    summary="List a character's recent safety events (Anima)",
    description="The safety verdicts of the character's turns, newest first: topic, score, "
    "level, action (allow or block), side (player or reply) and, for the player's lines, "
    "the text. A blocked reply sentence is recorded without its text.",
    **ok(SafetyEventList, query=QUERY),
)
async def list_safety_events(
    ws: str, c: str, _key: StudioKey, store: StoreDep, request: Request
) -> dict[str, Any]:
    size = _size(request.query_params.get("pageSize"))
    action = request.query_params.get("action") or None
    if action is not None and action not in {a.value for a in Action}:
        raise InvalidArgument(f"action must be allow or block, got {action!r}", field="action")
    if await store.characters.get(ws, c) is None:
        raise NotFound(f"workspaces/{ws}/characters/{c} does not exist")
    events = await store.safety_events.recent(ws, c, limit=size, action=action)
    return {
        "safetyEvents": [
            {
                "session": f"workspaces/{ws}/sessions/{e['session_id']}",
                "interaction": e["interaction_id"],
                "agent": e["agent_id"],
                "side": e["side"],
                "topic": e["topic"],
                "score": e["score"],
                "level": e["level"],
                "action": e["action"],
                **({"text": e["text"]} if e["text"] else {}),
                "createTime": rfc3339(e["created_at"]),
            }
            for e in events
        ]
    }
