"""The workspace resource itself (a protected route every key can check itself against)."""

from __future__ import annotations

from fastapi import APIRouter

from anima.api.auth import StudioKey
from anima.api.checked import CheckedRoute
from anima.api.deps import StoreDep
from anima.errors import NotFound

router = APIRouter(tags=["studio"], route_class=CheckedRoute)


@router.get("/studio/v1/workspaces/{ws}", summary="Get a workspace")
async def get_workspace(ws: str, _key: StudioKey, store: StoreDep) -> dict[str, str]:
    if not await store.keys.workspace_exists(ws):
        raise NotFound(f"workspace '{ws}' does not exist")
    return {"name": f"workspaces/{ws}"}
