"""The REST calls of the web SDK beside its WebSocket: session state and feedback.

    GET    /v1/workspaces/{ws}/sessions/{session}/state        -> SessionState JSON
    POST   /v1/feedback/workspaces/{ws}/sessions/{session}/interactions/{interaction}/groups/{group}/feedbacks
    DELETE /v1/feedback/{name}                                   -> {}

Auth is the session token (``Authorization: Bearer <token>``, ``Grpc-Metadata-session-id``).
The web SDK parses a failed response's body *at the root* as ``google.rpc.Status`` (spec
§1.1), so these routes answer errors with ``status_json`` (``{"code", "message", "details"}``
with the InworldStatus that makes it refresh an expired token), not the REST API's
``{"error": ...}`` wrapper. The state is the sealed blob of pipeline/saved_state.py, the same
bytes the gRPC face's ``GetSessionState`` returns.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from anima.api.checked import CheckedRoute
from anima.api.deps import AppState, get_state
from anima.api.tokens import session_token
from anima.domain.feedback import DISLIKE_TYPES, Feedback
from anima.errors import AnimaError, InvalidArgument, NotFound, PermissionDenied
from anima.pipeline.saved_state import SessionStates
from anima.wire.packets import status_json
from anima.wire.schemas import SDK_ERRORS, Empty, SessionState, ok
from anima.wire.schemas import Feedback as FeedbackShape


class _SdkRoute(CheckedRoute):
    """Unstorable text is refused in the web SDK's error shape, as every error here is."""

    def error_response(self, exc: AnimaError) -> Response:
        return JSONResponse(status_json(exc), status_code=exc.http_status)


router = APIRouter(tags=["streaming"], route_class=_SdkRoute, responses=SDK_ERRORS)


def session_states(state: AppState) -> SessionStates:
    """The app's SessionStates (sealed state export and restore), built on first use."""
    states = state.extras.get("session_states")
    if not isinstance(states, SessionStates):
        states = state.extras["session_states"] = SessionStates(state.engine)
    return states


async def _answer(work: Callable[[], Awaitable[dict[str, Any]]]) -> JSONResponse:
    try:
        return JSONResponse(await work())
    except AnimaError as exc:
        return JSONResponse(status_json(exc), status_code=exc.http_status)


def _rfc3339(when: float) -> str:
    return (
        datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


@router.get(
    "/v1/workspaces/{ws}/sessions/{session}/state",
    summary="The session's state, opaque and sealed, to continue it later",
    **ok(SessionState),
)
async def get_session_state(ws: str, session: str, request: Request) -> JSONResponse:
    async def work() -> dict[str, Any]:
        await session_token(request)
        saved = await session_states(get_state(request)).export(ws, session)
        body: dict[str, Any] = {
            "state": base64.b64encode(saved.blob).decode(),
            "creationTime": _rfc3339(saved.created_at),
        }
        if saved.interaction_id:
            body["version"] = {"interactionId": saved.interaction_id}
        return body

    return await _answer(work)


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    is_like: StrictBool = Field(False, alias="isLike")
    type: list[StrictStr] = Field(default_factory=list, max_length=len(DISLIKE_TYPES))
    comment: StrictStr = Field("", max_length=4000)


def parse_feedback(raw: Any) -> FeedbackBody:
    """A client's InteractionFeedback (shared with the gRPC face); a bad field is a 400."""
    try:
        return FeedbackBody.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidArgument(f"{where}: {first['msg']}", field=where) from exc


def feedback_json(feedback: Feedback) -> dict[str, Any]:
    return {
        "name": feedback.name,
        "isLike": feedback.is_like,
        "type": list(feedback.types),  # always present: the web SDK maps over it
        "comment": feedback.comment,
    }


async def create_feedback(
    state: AppState,
    ws: str,
    session_id: str,
    interaction_id: str,
    group: str,
    body: FeedbackBody,
) -> Feedback:
    """Store feedback on an interaction of a session of ``ws`` (shared with the gRPC face)."""
    unknown = [t for t in body.type if t not in DISLIKE_TYPES]
    if unknown:
        raise InvalidArgument(
            f"unknown feedback type {unknown[0]!r}; use one of {', '.join(DISLIKE_TYPES[1:])}",
            field="type",
        )
    session = await state.store.sessions.get(session_id)
    if session is None or session.workspace != ws:
        raise NotFound(f"session '{session_id}' not found in workspace '{ws}'")
    if not interaction_id.strip():
        raise InvalidArgument("the interaction id is empty", field="interaction")
    feedback = Feedback(
        id=str(uuid.uuid4()),
        workspace=ws,
        session_id=session_id,
        interaction_id=interaction_id,
        group=group or "default",
        is_like=body.is_like,
        types=tuple(body.type),
        comment=body.comment,
        created_at=time.time(),
    )
    return await state.store.feedback.add(feedback)


async def delete_feedback(state: AppState, ws: str, name: str) -> None:
    """Delete feedback by its resource name (shared with the gRPC face)."""
    parts = name.strip("/").split("/")
    if (
        len(parts) != 10
        or parts[0] != "workspaces"
        or parts[2] != "sessions"
        or parts[4] != "interactions"
        or parts[6] != "groups"
        or parts[8] != "feedbacks"
    ):
        raise InvalidArgument(
            "feedback names look like 'workspaces/{ws}/sessions/{session}/interactions/"
            "{interaction}/groups/{group}/feedbacks/{id}'",
            field="name",
        )
    if parts[1] != ws:
        raise PermissionDenied(f"this session token is for workspace '{ws}'")
    found = await state.store.feedback.get(ws, parts[9])
    if found is None or found.name != "/".join(parts):
        raise NotFound(f"feedback '{name}' not found")
    await state.store.feedback.delete(ws, parts[9])


@router.post(
    "/v1/feedback/workspaces/{ws}/sessions/{session}/interactions/{interaction}/groups/{group}/feedbacks",
    summary="Like or dislike an interaction",
    **ok(FeedbackShape),
)
async def post_feedback(
    ws: str, session: str, interaction: str, group: str, request: Request
) -> JSONResponse:
    async def work() -> dict[str, Any]:
        await session_token(request)
        try:
            raw = await request.json()
        except ValueError as exc:
            raise InvalidArgument("the body must be JSON (an InteractionFeedback)") from exc
        if isinstance(raw, dict) and isinstance(raw.get("interactionFeedback"), dict):
            raw = raw["interactionFeedback"]
        body = parse_feedback(raw)
        stored = await create_feedback(get_state(request), ws, session, interaction, group, body)
        return feedback_json(stored)

    return await _answer(work)


@router.delete("/v1/feedback/{name:path}", summary="Delete feedback", **ok(Empty))
async def remove_feedback(name: str, request: Request) -> JSONResponse:
    async def work() -> dict[str, Any]:
        claims = await session_token(request)
        await delete_feedback(get_state(request), claims.workspace, name)
        return {}

    return await _answer(work)
