"""The workspace resource itself (a protected route every key can check itself against)."""

from __future__ import annotations

from fastapi import APIRouter

from anima.api.auth import StudioKey
from anima.api.checked import CheckedRoute
from anima.api.deps import StoreDep
from anima.errors import NotFound
from anima.wire.schemas import ERRORS, Workspace, ok

router = APIRouter(tags=["studio"], route_class=CheckedRoute, responses=ERRORS)


@router.get("/studio/v1/workspaces/{ws}", summary="Get a workspace", **ok(Workspace))
async def get_workspace(ws: str, _key: StudioKey, store: StoreDep) -> dict[str, str]:
    if not await store.keys.workspace_exists(ws):
        raise NotFound(f"workspace '{ws}' does not exist")
    return {"name": f"workspaces/{ws}"}
