"""The Studio API (``/studio/v1``): characters, scenes and common knowledge.

Each collection has the same life cycle: create, get, list, update (a draft), delete, and
``:deploy``, which answers an Operation at once and does its work in the background
(pipeline/deploy.py); the operation is polled at ``.../{id}/operations/{op}``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Body, FastAPI, Path, Request, Response
from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from anima.api.auth import StudioKey
from anima.api.checked import CheckedRoute
from anima.api.deps import StateDep, StoreDep
from anima.domain import aip160, paging
from anima.domain.cards import V2, V3, card_png, read_character_file, to_card
from anima.domain.character import (
    READ_ONLY_FIELDS as CHARACTER_READ_ONLY,
)
from anima.domain.character import (
    Character,
    CharacterItemView,
    CharacterView,
    character_id_for,
    parse_character,
    with_generated_uuids,
)
from anima.domain.goals_yaml import parse_goals, trigger_inputs
from anima.domain.knowledge import CommonKnowledge, knowledge_id_for, parse_common_knowledge
from anima.domain.proto import parse_enum
from anima.domain.resource import ResourceKind, name_filter, parse_reference
from anima.domain.scene import Scene, parse_scene, scene_id_for
from anima.domain.update_mask import apply_update
from anima.errors import AnimaError, InvalidArgument, NotFound
from anima.pipeline.deploy import Deployer, model_preparers
from anima.store import Store
from anima.store.resources import ResourceRepo
from anima.wire.schemas import (
    ERRORS,
    PAGE,
    UPDATE_MASK,
    CharacterCard,
    CharacterList,
    CharacterResource,
    Empty,
    ImportCharacterRequest,
    ImportedCharacter,
    KnowledgeList,
    Operation,
    SceneList,
    enum_names,
    ok,
    query_parameter,
)
from anima.wire.studio import operation_json

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", CharacterItemView, CharacterView)
F = TypeVar("F", bound=Callable[..., Any])

Json = dict[str, Any]
JsonBody = Annotated[Json, Body()]


@asynccontextmanager
async def _deployer(app: FastAPI) -> AsyncIterator[None]:
    """Runs deploy jobs for the life of the app (resuming what a stopped process left)."""
    state = app.state.anima
    recall = state.engine.turns.recall
    preparers = [recall.knowledge] if recall else []
    deployer = Deployer(
        state.store, preparers=[*preparers, *model_preparers(state.engine.turns.llm)]
    )
    state.extras["deployer"] = deployer
    await deployer.start()
    try:
        yield
    finally:
        await deployer.close()


router = APIRouter(
    prefix="/studio/v1/workspaces/{ws}",
    tags=["studio"],
    lifespan=_deployer,
    route_class=CheckedRoute,
    responses=ERRORS,
)


@dataclass(frozen=True)
class Collection(Generic[M]):
    """What differs between the Studio collections."""

    kind: ResourceKind
    list_key: str  # the list response's field
    wrapper: str  # a body may also come wrapped as {"<wrapper>": {...}}
    parse: Callable[[Any], M]
    new_id: Callable[[M], str]
    read_only: frozenset[str]
    repo: Callable[[Store], ResourceRepo[M, Any]]
    prepare: Callable[[M], M] = lambda r: r

    def path_name(self, ws: str, resource_id: str) -> str:
        return f"workspaces/{ws}/{self.kind.value}/{resource_id}"


CHARACTERS: Collection[Character] = Collection(
    ResourceKind.CHARACTER,
    "characters",
    "character",
    parse_character,
    character_id_for,
    CHARACTER_READ_ONLY,
    lambda s: s.characters,
    with_generated_uuids,
)
SCENES: Collection[Scene] = Collection(
    ResourceKind.SCENE,
    "scenes",
    "scene",
    parse_scene,
    scene_id_for,
    frozenset({"name"}),
    lambda s: s.scenes,
)
KNOWLEDGE: Collection[CommonKnowledge] = Collection(
    ResourceKind.COMMON_KNOWLEDGE,
    "commonKnowledge",
    "commonKnowledge",
    parse_common_knowledge,
    knowledge_id_for,
    frozenset({"name"}),
    lambda s: s.knowledge,
)


# -- shared steps -------------------------------------------------------------


def _unwrap(body: Json, c: Collection[Any]) -> Json:
    inner = body.get(c.wrapper)
    if len(body) == 1 and isinstance(inner, dict):
        return inner
    return body


def _query(request: Request, *names: str) -> str | None:
    for name in names:
        if name in request.query_params:
            return request.query_params[name]
    return None


def _enum_param(enum: type[E], raw: str | None, field: str) -> E:
    if raw is None or raw == "":
        return enum(0)
    try:
        return parse_enum(enum, raw)
    except PydanticCustomError as exc:
        raise InvalidArgument(f"{field}: {exc.message()}", field=field) from None


def _page_size(request: Request) -> int:
    raw = _query(request, "pageSize", "page_size")
    if raw is None or raw == "":
        return paging.page_size(None)
    try:
        return paging.page_size(int(raw))
    except ValueError:
        raise InvalidArgument(
            f"pageSize must be an integer, got {raw!r}", field="pageSize"
        ) from None


async def _get_or_404(c: Collection[M], store: Store, ws: str, resource_id: str) -> M:
    found = await c.repo(store).get(ws, resource_id)
    if found is None:
        raise NotFound(f"{c.path_name(ws, resource_id)} does not exist")
    return found


async def _create(c: Collection[M], store: Store, ws: str, body: Json) -> M:
    resource = c.prepare(c.parse(_unwrap(body, c)))
    return await c.repo(store).create(ws, resource, c.new_id(resource))


async def _page(
    c: Collection[M], store: Store, ws: str, request: Request, extra: Json
) -> tuple[list[M], str]:
    size = _page_size(request)
    text = _query(request, "filter") or ""
    params: dict[str, object] = {"ws": ws, "filter": text, "pageSize": size, **extra}
    cursor = paging.decode_token(_query(request, "pageToken", "page_token") or "", params)
    where = name_filter(aip160.parse(text), ws, c.kind)
    items, last = await c.repo(store).page(ws, limit=size, after=cursor, where=where)
    return items, "" if last is None else paging.encode_token(last, params)


async def _update(c: Collection[M], store: Store, ws: str, rid: str, body: Json, r: Request) -> M:
    patch = c.parse(_unwrap(body, c))
    mask = _query(r, "updateMask", "update_mask")

    def change(current: M) -> M:
        return c.prepare(apply_update(current, patch, mask, c.read_only))

    updated = await c.repo(store).update(ws, rid, change)
    if updated is None:
        raise NotFound(f"{c.path_name(ws, rid)} does not exist")
    return updated


async def _delete(c: Collection[Any], store: Store, ws: str, resource_id: str) -> Json:
    if not await c.repo(store).delete(ws, resource_id):
        raise NotFound(f"{c.path_name(ws, resource_id)} does not exist")
    return {}


async def _deploy(c: Collection[Any], state: StateDep, ws: str, resource_id: str) -> Json:
    op = await c.repo(state.store).start_deploy(ws, resource_id)
    if op is None:
        raise NotFound(f"{c.path_name(ws, resource_id)} does not exist")
    deployer: Deployer = state.extras["deployer"]
    deployer.submit(op)
    return operation_json(op)


async def _operation(c: Collection[Any], store: Store, ws: str, rid: str, op_id: str) -> Json:
    op = await store.operations.get(op_id)
    if op is None or (op.workspace, op.kind, op.resource_id) != (ws, c.kind, rid):
        raise NotFound(f"{c.path_name(ws, rid)}/operations/{op_id} does not exist")
    return operation_json(op)


# -- characters ---------------------------------------------------------------


def _character_json(character: Character, view: CharacterItemView) -> Json:
    body = character.to_json()
    if view is CharacterItemView.CHARACTER_ITEM_VIEW_WITH_META:
        body["meta"] = character.meta().model_dump(mode="json", by_alias=True)
    return body


def _triggers(character: Character) -> list[Json]:
    try:
        config = parse_goals(character.yaml_config or "")
    except AnimaError:  # deployed before goals were validated: it has none that work
        return []
    return [{"name": n, "parameters": list(p)} for n, p in trigger_inputs(config)]


@router.post(
    "/characters",
    summary="Create a character (a draft; deploy to use it)",
    **ok(Character, body="Character"),
)
@router.post("/characters/", include_in_schema=False)
async def create_character(ws: str, _key: StudioKey, store: StoreDep, body: JsonBody) -> Json:
    return (await _create(CHARACTERS, store, ws, body)).to_json()


# Before "/characters/{c}", which would take "tessa:exportCard" for an id.
@router.get(
    "/characters/{c}:exportCard",
    summary="Export a character as a Character Card V3 (or V2), JSON or PNG",
    description="Anima: the card keeps the whole character under `data.extensions.anima`, so "
    "importing it back loses nothing; other card readers see name, description, personality, "
    "example dialogue, greeting and facts.",
    response_model=None,
    responses={
        200: {
            "model": CharacterCard,
            "description": "the card as JSON, or with format=png a PNG holding it",
            "content": {"image/png": {}},
        }
    },
    openapi_extra={
        "parameters": [
            query_parameter("format", {"type": "string", "enum": ["json", "png"]}, "json"),
            query_parameter("spec", {"type": "string", "enum": ["v2", "v3"]}, "v3"),
        ]
    },
)
async def export_card(ws: str, c: str, _key: StudioKey, store: StoreDep, request: Request) -> Any:
    fmt = _query(request, "format") or "json"
    spec = _query(request, "spec") or "v3"
    if fmt not in ("json", "png"):
        raise InvalidArgument("format must be json or png", field="format")
    if spec not in ("v2", "v3"):
        raise InvalidArgument("spec must be v2 or v3", field="spec")
    card = to_card(await _get_or_404(CHARACTERS, store, ws, c), spec=V2 if spec == "v2" else V3)
    if fmt == "json":
        return card
    return Response(card_png(card), media_type="image/png")


@router.get(
    "/characters/{c}",
    summary="Get a character",
    **ok(CharacterResource, query=(query_parameter("view", enum_names(CharacterItemView), ""),)),
)
async def get_character(
    ws: str, c: str, _key: StudioKey, store: StoreDep, request: Request
) -> Json:
    view = _enum_param(CharacterItemView, _query(request, "view"), "view")
    body = _character_json(await _get_or_404(CHARACTERS, store, ws, c), view)
    if "meta" in body:
        deployed = await store.characters.get_deployed(ws, c)
        body["meta"]["deployedVersion"] = 0 if deployed is None else deployed.version
        body["meta"]["triggers"] = [] if deployed is None else _triggers(deployed.character)
    return body


@router.get(
    "/characters",
    summary="List characters",
    **ok(CharacterList, query=(*PAGE, query_parameter("view", enum_names(CharacterView), ""))),
)
@router.get("/characters/", include_in_schema=False)
async def list_characters(ws: str, _key: StudioKey, store: StoreDep, request: Request) -> Json:
    view = _enum_param(CharacterView, _query(request, "view"), "view")
    with_scenes = view is CharacterView.CHARACTER_VIEW_WITH_SCENES
    items, token = await _page(CHARACTERS, store, ws, request, {"view": int(with_scenes)})
    out = [ch.to_json() for ch in items]
    if with_scenes:
        scenes = await store.scenes.all(ws)
        for body, ch in zip(out, items, strict=True):
            body["scenes"] = [
                s.to_json()
                for s in scenes
                if any(
                    parse_reference(ref.character, ws, ResourceKind.CHARACTER) == ch.id
                    for ref in s.characters
                )
            ]
    return {"characters": out, "nextPageToken": token}


@router.post(
    "/characters:import",
    summary="Import a character: Studio JSON, or a Character Card V1/V2/V3 (JSON or PNG)",
    description="Anima: creates a draft from the file; `lost` names what the file held that "
    "the character cannot keep (the card's image, creator notes, lorebook keys, ...).",
    **ok(ImportedCharacter),
)
async def import_character(
    ws: str, _key: StudioKey, store: StoreDep, body: ImportCharacterRequest
) -> Json:
    try:
        data = base64.b64decode(body.file, validate=True)
    except (binascii.Error, ValueError):  # ValueError: characters outside ASCII
        raise InvalidArgument("file must be base64", field="file") from None
    found = read_character_file(data, body.filename)
    created = await _create(CHARACTERS, store, ws, found.character.to_json())
    return {"character": created.to_json(), "source": found.source, "lost": found.lost}


@router.patch(
    "/characters/{c}",
    summary="Update a character's draft",
    **ok(Character, body="Character", query=UPDATE_MASK),
)
async def update_character(
    ws: str, c: str, _key: StudioKey, store: StoreDep, body: JsonBody, request: Request
) -> Json:
    return (await _update(CHARACTERS, store, ws, c, body, request)).to_json()


@router.delete(
    "/characters/{c}", summary="Delete a character and its deployed versions", **ok(Empty)
)
async def delete_character(ws: str, c: str, _key: StudioKey, store: StoreDep) -> Json:
    return await _delete(CHARACTERS, store, ws, c)


@router.post(
    "/characters/{c}:deploy",
    summary="Deploy a character (a long-running operation)",
    **ok(Operation),
)
async def deploy_character(ws: str, c: str, _key: StudioKey, state: StateDep) -> Json:
    return await _deploy(CHARACTERS, state, ws, c)


@router.get("/characters/{c}/operations/{op}", summary="Get a deploy operation", **ok(Operation))
async def character_operation(ws: str, c: str, op: str, _key: StudioKey, store: StoreDep) -> Json:
    return await _operation(CHARACTERS, store, ws, c, op)


# -- scenes and common knowledge ----------------------------------------------


def _annotate(**types: Any) -> Callable[[F], F]:
    """Set parameter annotations of an endpoint, for FastAPI to read from its signature."""

    def apply(endpoint: F) -> F:
        endpoint.__annotations__.update(types)
        return endpoint

    return apply


def _simple_routes(
    c: Collection[Any], collection: str, param: str, resource: type[Any], page: type[Any]
) -> None:
    """The same seven routes for a collection without views."""
    item = f"/{collection}/{{{param}}}"
    noun = c.kind.singular
    # The path parameter's name differs per collection: its annotation is set here, not
    # written in the signatures (which ``from __future__ import annotations`` makes strings).
    typed = _annotate(rid=Annotated[str, Path(alias=param, description=f"the {noun}'s id")])

    @router.post(
        f"/{collection}",
        summary=f"Create a {noun}",
        name=f"create_{noun}",
        **ok(resource, body=resource.__name__),
    )
    @router.post(f"/{collection}/", include_in_schema=False)
    async def create(ws: str, _key: StudioKey, store: StoreDep, body: JsonBody) -> Json:
        return (await _create(c, store, ws, body)).to_json()  # type: ignore[no-any-return]

    @router.get(item, summary=f"Get a {noun}", name=f"get_{noun}", **ok(resource))
    @typed
    async def get(ws: str, rid: str, _key: StudioKey, store: StoreDep) -> Json:
        return (await _get_or_404(c, store, ws, rid)).to_json()  # type: ignore[no-any-return]

    @router.get(
        f"/{collection}",
        summary=f"List {collection}",
        name=f"list_{noun}",
        **ok(page, query=PAGE),
    )
    @router.get(f"/{collection}/", include_in_schema=False)
    async def listing(ws: str, _key: StudioKey, store: StoreDep, request: Request) -> Json:
        items, token = await _page(c, store, ws, request, {})
        return {c.list_key: [i.to_json() for i in items], "nextPageToken": token}

    @router.patch(
        item,
        summary=f"Update a {noun}'s draft",
        name=f"update_{noun}",
        **ok(resource, body=resource.__name__, query=UPDATE_MASK),
    )
    @typed
    async def patch(
        ws: str, rid: str, _key: StudioKey, store: StoreDep, body: JsonBody, request: Request
    ) -> Json:
        return (await _update(c, store, ws, rid, body, request)).to_json()  # type: ignore[no-any-return]

    @router.delete(item, summary=f"Delete a {noun}", name=f"delete_{noun}", **ok(Empty))
    @typed
    async def remove(ws: str, rid: str, _key: StudioKey, store: StoreDep) -> Json:
        return await _delete(c, store, ws, rid)

    @router.post(
        item + ":deploy", summary=f"Deploy a {noun}", name=f"deploy_{noun}", **ok(Operation)
    )
    @typed
    async def deploy(ws: str, rid: str, _key: StudioKey, state: StateDep) -> Json:
        return await _deploy(c, state, ws, rid)

    @router.get(
        item + "/operations/{op}",
        summary=f"Get a {noun} deploy",
        name=f"op_{noun}",
        **ok(Operation),
    )
    @typed
    async def operation(ws: str, rid: str, op: str, _key: StudioKey, store: StoreDep) -> Json:
        return await _operation(c, store, ws, rid, op)


_simple_routes(SCENES, "scenes", "scene", Scene, SceneList)
_simple_routes(KNOWLEDGE, "common-knowledge", "knowledge", CommonKnowledge, KnowledgeList)
