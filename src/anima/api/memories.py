"""What characters remember of each player: list, edit and forget (Anima's own routes).

    GET    /v1/workspaces/{ws}/characters/{c}/players/{player}/memories         -> MemoryList
    GET    /v1/workspaces/{ws}/characters/{c}/players/{player}/memories/{id}    -> Memory
    PATCH  /v1/workspaces/{ws}/characters/{c}/players/{player}/memories/{id}    -> Memory
    DELETE /v1/workspaces/{ws}/characters/{c}/players/{player}/memories/{id}    -> {}
    DELETE /v1/workspaces/{ws}/characters/{c}/players/{player}/memories         -> {"deleted": n}

``player`` is the ``endUserId`` the sessions were opened with. A runtime key of the workspace
is needed: the game's own server answers its players' requests to see or erase their data.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from anima.api.auth import RuntimeKey
from anima.api.checked import CheckedRoute
from anima.errors import InvalidArgument, NotFound
from anima.pipeline.recall import Recall
from anima.store.memory import StoredMemory
from anima.wire.engine import rfc3339
from anima.wire.schemas import ERRORS, DeletedCount, Empty, MemoryList, MemoryShape, ok

router = APIRouter(
    prefix="/v1/workspaces/{ws}/characters/{character}/players/{player}/memories",
    tags=["memory"],
    route_class=CheckedRoute,
    responses=ERRORS,
)

MAX_MEMORY_CHARS = 500


def get_recall(request: Request) -> Recall:
    recall: Recall | None = request.app.state.anima.engine.turns.recall
    if recall is None:
        raise NotFound("long-term memory is not available in this server")
    return recall


RecallDep = Annotated[Recall, Depends(get_recall)]


def memory_json(ws: str, m: StoredMemory) -> dict[str, Any]:
    base = f"workspaces/{ws}/characters/{m.character_id}/players/{m.end_user_id}"
    return {
        "name": f"{base}/memories/{m.id}",
        "text": m.text.replace("{player}", m.player_name or "the player"),
        "slot": m.slot,
        "interaction": f"workspaces/{ws}/sessions/{m.session_id}/interactions/{m.interaction_id}",
        "createTime": rfc3339(m.created_at),
        "updateTime": rfc3339(m.updated_at),
    }


@router.get("", summary="What a character remembers of a player, oldest first", **ok(MemoryList))
async def list_memories(
    ws: str, character: str, player: str, _key: RuntimeKey, recall: RecallDep
) -> dict[str, Any]:
    found = await recall.memory.store.memories.of_player(ws, character, player)
    return {"memories": [memory_json(ws, m) for m in found]}


@router.get("/{memory}", summary="One memory", **ok(MemoryShape))
async def get_memory(
    ws: str, character: str, player: str, memory: str, _key: RuntimeKey, recall: RecallDep
) -> dict[str, Any]:
    return memory_json(ws, await _one(recall, ws, character, player, memory))


@router.patch(
    "/{memory}",
    summary="Correct what a character remembers (the text is embedded again)",
    **ok(MemoryShape),
)
async def edit_memory(
    ws: str,
    character: str,
    player: str,
    memory: str,
    _key: RuntimeKey,
    recall: RecallDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument("text must be a non-empty string", field="text")
    if len(text) > MAX_MEMORY_CHARS:
        raise InvalidArgument(f"text is longer than {MAX_MEMORY_CHARS} characters", field="text")
    found = await _one(recall, ws, character, player, memory)
    await recall.memory.edit(found, text.strip())
    return memory_json(ws, await _one(recall, ws, character, player, memory))


@router.delete("/{memory}", summary="Forget one memory", **ok(Empty))
async def delete_memory(
    ws: str, character: str, player: str, memory: str, _key: RuntimeKey, recall: RecallDep
) -> dict[str, Any]:
    if not await recall.memory.store.memories.delete(ws, character, player, memory):
        raise NotFound(f"no memory '{memory}' of player '{player}' for character '{character}'")
    return {}


@router.delete(
    "", summary="Forget everything a character remembers of a player", **ok(DeletedCount)
)
async def delete_memories(
    ws: str, character: str, player: str, _key: RuntimeKey, recall: RecallDep
) -> dict[str, Any]:
    return {"deleted": await recall.memory.store.memories.delete(ws, character, player)}


async def _one(recall: Recall, ws: str, character: str, player: str, memory: str) -> StoredMemory:
    found = await recall.memory.store.memories.get(ws, character, player, memory)
    if found is None:
        raise NotFound(f"no memory '{memory}' of player '{player}' for character '{character}'")
    return found
