"""Engine REST face (`/v1`): simpleSendText, openSession, sendText, sendTrigger.

Parse, call the engine, encode. The turn itself is the same event stream the streaming faces
send as packets; here it is collected into one Interaction.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from pydantic import ValidationError

from anima.api.auth import RuntimeKey
from anima.api.checked import CheckedRoute
from anima.domain.credentials import Scope
from anima.domain.proto import invalid_argument
from anima.errors import InvalidArgument
from anima.pipeline.engine import Engine
from anima.pipeline.prompt_trace import TRACE_KEY as PROMPT_TRACE_KEY
from anima.wire.engine import (
    OpenSessionRequest,
    SendTextRequest,
    SendTriggerRequest,
    SimpleSendTextRequest,
    interaction_json,
    mind_json,
    session_json,
    stored_interaction_json,
)
from anima.wire.schemas import (
    ERRORS,
    CharacterMind,
    Interaction,
    InteractionList,
    Session,
    ok,
)

router = APIRouter(tags=["engine"], route_class=CheckedRoute, responses=ERRORS)


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.anima.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]
SessionHeader = Annotated[
    str | None,
    Header(alias="Grpc-Metadata-session-id", description="must equal the path's session"),
]


def _check_session_header(session: str, header: str | None) -> None:
    if header is None:
        raise InvalidArgument(
            "missing header Grpc-Metadata-session-id; send the session id returned by openSession",
            field="Grpc-Metadata-session-id",
        )
    if header != session:
        raise InvalidArgument(
            f"header Grpc-Metadata-session-id '{header}' does not match the session in the path "
            f"'{session}'",
            field="Grpc-Metadata-session-id",
        )


def parse_trigger(ws: str, name: str | None) -> str:
    """``workspaces/{ws}/triggers/{id}`` → ``id``."""
    parts = (name or "").split("/")
    if len(parts) != 4 or parts[0] != "workspaces" or parts[2] != "triggers" or not parts[3]:
        raise InvalidArgument(
            f"triggerEvent.trigger must look like 'workspaces/{ws}/triggers/{{id}}', got {name!r}",
            field="triggerEvent.trigger",
        )
    if parts[1] != ws:
        raise InvalidArgument(
            f"trigger {name!r} belongs to workspace '{parts[1]}', not '{ws}'",
            field="triggerEvent.trigger",
        )
    return parts[3]


async def _simple_send_text(
    ws: str, character: str, body: SimpleSendTextRequest, engine: Engine
) -> dict[str, Any]:
    if body.character and body.character != f"workspaces/{ws}/characters/{character}":
        raise InvalidArgument(
            f"character {body.character!r} does not match the path "
            f"'workspaces/{ws}/characters/{character}'",
            field="character",
        )
    interaction = await engine.simple_send_text(
        ws, character, body.text or "", session_id=body.session_id, player=body.to_player()
    )
    return interaction_json(ws, interaction)


@router.post(
    "/v1/workspaces/{ws}/characters/{character}:simpleSendText",
    summary="Send text to a character; a session is opened (or continued) for you",
    **ok(Interaction),
)
async def simple_send_text_post(
    ws: str, character: str, body: SimpleSendTextRequest, _key: RuntimeKey, engine: EngineDep
) -> dict[str, Any]:
    return await _simple_send_text(ws, character, body, engine)


@router.get(
    "/v1/workspaces/{ws}/characters/{character}:simpleSendText",
    summary="simpleSendText with query parameters",
    **ok(Interaction),
)
async def simple_send_text_get(
    ws: str,
    character: str,
    _key: RuntimeKey,
    engine: EngineDep,
    text: str | None = None,
    session_id: Annotated[str | None, Query(alias="sessionId")] = None,
    end_user_id: Annotated[str | None, Query(alias="endUserId")] = None,
    end_user_fullname: Annotated[str | None, Query(alias="endUserFullname")] = None,
    character_name: Annotated[str | None, Query(alias="character")] = None,
) -> dict[str, Any]:
    try:
        body = SimpleSendTextRequest.model_validate(
            {
                "character": character_name,
                "text": text,
                "sessionId": session_id,
                "endUserId": end_user_id,
                "endUserFullname": end_user_fullname,
            }
        )
    except ValidationError as exc:
        raise invalid_argument(exc) from None
    return await _simple_send_text(ws, character, body, engine)


async def _open(
    ws: str, kind: str, resource_id: str, body: OpenSessionRequest | None, engine: Engine
) -> dict[str, Any]:
    expected = f"workspaces/{ws}/{kind}/{resource_id}"
    if body is not None and body.name and body.name != expected:
        raise InvalidArgument(
            f"name {body.name!r} does not match the path '{expected}'", field="name"
        )
    player = body.user.to_player() if body is not None and body.user is not None else None
    session = await engine.open_session(ws, expected, player)
    return session_json(session)


@router.post(
    "/v1/workspaces/{ws}/characters/{character}:openSession",
    summary="Open a session with one character",
    **ok(Session),
)
async def open_character_session(
    ws: str,
    character: str,
    _key: RuntimeKey,
    engine: EngineDep,
    body: Annotated[OpenSessionRequest | None, Body()] = None,
) -> dict[str, Any]:
    return await _open(ws, "characters", character, body, engine)


@router.post(
    "/v1/workspaces/{ws}/scenes/{scene}:openSession",
    summary="Open a session with every character of a scene",
    **ok(Session),
)
async def open_scene_session(
    ws: str,
    scene: str,
    _key: RuntimeKey,
    engine: EngineDep,
    body: Annotated[OpenSessionRequest | None, Body()] = None,
) -> dict[str, Any]:
    return await _open(ws, "scenes", scene, body, engine)


@router.post(
    "/v1/workspaces/{ws}/sessions/{session}/sessionCharacters/{agent}:sendText",
    summary="Send text to a character of an open session",
    **ok(Interaction),
)
async def send_text(
    ws: str,
    session: str,
    agent: str,
    body: SendTextRequest,
    _key: RuntimeKey,
    engine: EngineDep,
    session_header: SessionHeader = None,
) -> dict[str, Any]:
    _check_session_header(session, session_header)
    interaction = await engine.send_text(ws, session, agent, body.text or "")
    return interaction_json(ws, interaction)


@router.post(
    "/v1/workspaces/{ws}/sessions/{session}/sessionCharacters/{agent}:sendTrigger",
    summary="Send a trigger event to a character of an open session",
    **ok(Interaction),
)
async def send_trigger(
    ws: str,
    session: str,
    agent: str,
    body: SendTriggerRequest,
    _key: RuntimeKey,
    engine: EngineDep,
    session_header: SessionHeader = None,
) -> dict[str, Any]:
    _check_session_header(session, session_header)
    event = body.trigger_event
    trigger = parse_trigger(ws, event.trigger if event else None)
    params = tuple((p.name, p.value) for p in (event.parameters if event else []))
    interaction = await engine.send_trigger(ws, session, agent, trigger, params)
    return interaction_json(ws, interaction)


@router.get(
    "/v1/workspaces/{ws}/sessions/{session}/sessionCharacters/{agent}/state",
    summary="Inspect a session character: mood, emotion, relationship and label, goals",
    description=(
        "Read-only. `mood` is on the four initialMood axes (-100..100); `emotion` is the SPAFF "
        "behaviour and strength the character would show now; `relationship` is the cumulative "
        "state with this session's player (endUserId) when the character has relationships "
        "enabled, with its label (Archenemy, Enemy, Acquaintance, Friend, Close friend, Date, "
        "Relationship, Life partner); `goals` lists completed and disabled goals."
    ),
    **ok(CharacterMind),
)
async def inspect_character(
    ws: str, session: str, agent: str, _key: RuntimeKey, engine: EngineDep
) -> dict[str, Any]:
    return mind_json(await engine.inspect(ws, session, agent))


@router.get(
    "/v1/workspaces/{ws}/sessions/{session}/interactions",
    summary="A session's interactions, oldest first (readable after the session expired)",
    **ok(InteractionList),
)
async def list_interactions(
    ws: str,
    session: str,
    key: RuntimeKey,
    engine: EngineDep,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    interactions = await engine.history(ws, session, page_size)
    items = [stored_interaction_json(ws, i) for i in interactions]
    if not key.scope.allows(Scope.STUDIO):  # the prompt shows the character's whole design
        for item in items:
            item["trace"] = {k: v for k, v in item["trace"].items() if k != PROMPT_TRACE_KEY}
    return {"interactions": items}
