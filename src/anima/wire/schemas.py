"""The REST answers as OpenAPI sees them: one model per response body, and the error answers.

These models only describe: the routes build their bodies with the codecs of this package
(``wire.engine``, ``wire.studio``, the resources' ``to_json``) and name the model here with
``ok(Model)``, so the served ``/openapi.json`` types every answer without a second
serialisation on the request path. ``tests/api/test_openapi.py`` runs schemathesis against the
document: a body that drifts from its model fails there.

Errors: every route of the REST API answers ``{"error": google.rpc.Status}`` (``ERRORS``);
the web SDK's routes beside its WebSocket answer the bare ``google.rpc.Status`` (``SDK_ERRORS``),
as the SDK parses it at the root. FastAPI's 422 is never answered (a validation failure is a
400), so it is not documented; ``default`` covers the rest of rest-api.md#errors (409, 412,
429, 500, 503, 504).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from anima.domain.character import Character, Meta
from anima.domain.knowledge import CommonKnowledge
from anima.domain.scene import Scene


class _Shape(BaseModel):
    """An answer's shape: fields it may carry beyond these are allowed."""

    model_config = ConfigDict(populate_by_name=True)


# -- errors ------------------------------------------------------------------------------------


class Status(_Shape):
    """google.rpc.Status."""

    code: int = Field(description="the HTTP status (REST) or gRPC code (web SDK routes)")
    message: str
    details: list[dict[str, Any]] = Field(
        default_factory=list,
        description="google.rpc.BadRequest (fieldViolations), RetryInfo or InworldStatus",
    )


class ErrorStatus(Status):
    status: str = Field(description="INVALID_ARGUMENT, UNAUTHENTICATED, NOT_FOUND, ...")


class ErrorBody(_Shape):
    """The body of every failed REST call (rest-api.md#errors)."""

    error: ErrorStatus


def _errors(model: type[BaseModel], *, auth: bool = True) -> dict[int | str, dict[str, Any]]:
    answers: dict[int | str, str] = {
        400: "INVALID_ARGUMENT: a field is missing, malformed, too long or not storable text",
        401: "UNAUTHENTICATED: no or wrong credentials",
        403: "PERMISSION_DENIED: the key or token is for another workspace or scope",
        404: "NOT_FOUND: no such resource",
        413: "RESOURCE_EXHAUSTED: the request body is larger than ANIMA_MAX_BODY_BYTES",
        "default": "any other error of rest-api.md#errors (409, 412, 429, 500, 503, 504)",
    }
    if not auth:
        del answers[401], answers[403]
    return {code: {"model": model, "description": text} for code, text in answers.items()}


ERRORS = _errors(ErrorBody)
# What the app answers before a route runs keeps the REST shape: an unknown path (404), a body
# over the limit (413).
SDK_ERRORS = {
    **_errors(Status),
    404: {"model": Status | ErrorBody, "description": "NOT_FOUND (the REST shape: no such path)"},
    413: _errors(ErrorBody)[413],
}
UNAUTHENTICATED_ERRORS = _errors(ErrorBody, auth=False)


def ok(
    model: Any,
    description: str = "Successful Response",
    *,
    body: str | None = None,
    query: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """Route arguments documenting a 200 of ``model`` (the route still returns its dict), and
    for routes that parse their input themselves, the request ``body`` (a component schema's
    name) and the ``query`` parameters they read."""
    extra: dict[str, Any] = {}
    if body is not None:
        schema = {"$ref": f"#/components/schemas/{body}"}
        extra["requestBody"] = {"content": {"application/json": {"schema": schema}}}
    if query:
        extra["parameters"] = list(query)
    return {
        "response_model": None,
        "responses": {200: {"model": model, "description": description}},
        "openapi_extra": extra or None,
    }


def query_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def enum_names(enum: type[IntEnum]) -> dict[str, Any]:
    return {"type": "string", "enum": [m.name for m in enum]}


PAGE = (
    query_parameter(
        "pageSize", {"type": "integer", "minimum": 0}, "default 50; more than 1000 is 1000"
    ),
    query_parameter("pageToken", {"type": "string"}, "nextPageToken of the previous page"),
    query_parameter("filter", {"type": "string"}, "AIP-160: name=... terms, AND, OR, NOT"),
)
UPDATE_MASK = (
    query_parameter(
        "updateMask",
        {"type": "string"},
        "comma-separated field paths to change; by default the fields present in the body",
    ),
)


# -- health and workspaces --------------------------------------------------------------------


class Health(_Shape):
    status: str


class Workspace(_Shape):
    name: str = Field(description="workspaces/{ws}")


class Empty(_Shape):
    """``{}``."""


# -- Studio ----------------------------------------------------------------------------------


class GoalTrigger(_Shape):
    name: str
    parameters: list[str]


class CharacterMeta(Meta):
    deployed_version: int = Field(
        0, description="Anima: the version sessions open now (0: never deployed)"
    )
    triggers: list[GoalTrigger] = Field(
        default_factory=list,
        description="Anima: the triggers that start a goal of the deployed version, with "
        "the parameters ({{p.NAME}}) its actions use",
    )


class CharacterResource(Character):
    """A Character; ``meta`` with the WITH_META view."""

    with_meta: CharacterMeta | None = Field(None, alias="meta")


class ImportCharacterRequest(_Shape):
    model_config = ConfigDict(extra="forbid")

    file: str = Field(
        description="the file, base64: a Studio Character JSON, or a SillyTavern Character "
        "Card (V1, V2 or V3) as JSON or as PNG with the card in its text chunk"
    )
    filename: str = Field("file", max_length=200, description="named in error messages")


class CharacterCard(_Shape):
    """A SillyTavern Character Card (V2 or V3)."""

    spec: str = Field(description="chara_card_v3 or chara_card_v2")
    spec_version: str
    data: dict[str, Any] = Field(
        description="name, description, personality, first_mes, mes_example, character_book, "
        "...; extensions.anima holds the whole Anima character"
    )


class ImportedCharacter(_Shape):
    character: Character
    source: str = Field(description="studio, card v1, card v2 or card v3, + ' png'")
    lost: list[str] = Field(description="what the file held that the character cannot keep")


class CharacterWithScenes(Character):
    """A Character of a list; ``scenes`` with the WITH_SCENES view."""

    scenes: list[Scene] | None = None


class CharacterList(_Shape):
    characters: list[CharacterWithScenes]
    next_page_token: str = Field(alias="nextPageToken")


class SceneList(_Shape):
    scenes: list[Scene]
    next_page_token: str = Field(alias="nextPageToken")


class KnowledgeList(_Shape):
    common_knowledge: list[CommonKnowledge] = Field(alias="commonKnowledge")
    next_page_token: str = Field(alias="nextPageToken")


class OperationError(_Shape):
    code: int
    message: str
    details: list[Any] = Field(default_factory=list)


class Operation(_Shape):
    """google.longrunning.Operation of a deploy."""

    name: str
    metadata: dict[str, Any]
    done: bool
    error: OperationError | None = None
    response: dict[str, Any] | None = Field(None, description="the deployed resource")


# -- engine ----------------------------------------------------------------------------------


class Emotion(_Shape):
    behavior: str
    strength: str


class AvatarAssets(_Shape):
    avatar_img: str = Field(alias="avatarImg")
    avatar_img_original: str = Field(alias="avatarImgOriginal")


class SessionCharacter(_Shape):
    name: str = Field(description="workspaces/{ws}/characters/{c}")
    character: str = Field(description="the agent id to address in sendText/sendTrigger")
    display_name: str = Field(alias="displayName")
    character_assets: AvatarAssets = Field(alias="characterAssets")


class Session(_Shape):
    name: str = Field(description="the session id, {ws}:{uuid}")
    session_characters: list[SessionCharacter] = Field(alias="sessionCharacters")
    loaded_scene: str = Field(alias="loadedScene")


class Parameter(_Shape):
    name: str
    value: str


class ActiveTrigger(_Shape):
    trigger: str
    parameters: list[Parameter]


class RelationshipUpdate(_Shape):
    trust: int
    respect: int
    familiar: int
    flirtatious: int
    attraction: int


class Interaction(_Shape):
    name: str
    text_list: list[str] = Field(alias="textList")
    emotion: Emotion
    session_id: str = Field(alias="sessionId")
    relationship_update: RelationshipUpdate = Field(alias="relationshipUpdate")
    active_triggers: list[ActiveTrigger] = Field(alias="activeTriggers")


class InteractionInput(_Shape):
    """What came in: ``text`` (and ``narratedAction``), or ``trigger`` and ``parameters``."""

    text: str | None = None
    narrated_action: bool | None = Field(None, alias="narratedAction")
    trigger: str | None = None
    parameters: list[Parameter] | None = None


class StoredInteraction(Interaction):
    agent: str
    create_time: str = Field(alias="createTime")
    input: InteractionInput
    narrated: list[bool]
    cancelled: bool
    trace: dict[str, Any] = Field(
        default_factory=dict,
        description="Anima: what the brain did on this turn (knowledge and memories "
        "retrieved, safety verdicts, ...), one entry per stage that has something to show; "
        "`prompt` (the exact prompt the model saw) only for keys with studio scope",
    )


class InteractionList(_Shape):
    interactions: list[StoredInteraction]


class MindMood(_Shape):
    joy: float
    fear: float
    trust: float
    surprise: float


class MindRelationship(RelationshipUpdate):
    enabled: bool
    label: str


class MindGoals(_Shape):
    completed: list[str]
    disabled: list[str]


class MemoryShape(_Shape):
    """Something a character remembers of a player (``endUserId``)."""

    name: str
    text: str
    slot: str = Field(description="what it is about; a newer statement about it replaces it")
    interaction: str = Field(description="the interaction the player said it in")
    create_time: str = Field(alias="createTime")
    update_time: str = Field(alias="updateTime", description="when last said or confirmed")


class MemoryList(_Shape):
    memories: list[MemoryShape]


class DeletedCount(_Shape):
    deleted: int


class SafetyVerdict(_Shape):
    """One verdict of the safety stage (README: Topic safety)."""

    topic: str = Field(description="alcohol, violence, ..., self_harm, minors, hate, injection")
    score: float
    level: str = Field(description="no_control, mild, strict, or always (never configurable)")
    action: str = Field(description="allow or block")
    side: str = Field(description="player (the player's line) or reply (a sentence of it)")
    text: str | None = Field(default=None, description="the player's line (never a reply's)")


class CharacterMind(_Shape):
    mood: MindMood
    emotion: Emotion
    relationship: MindRelationship
    goals: MindGoals
    memories: list[str] = Field(
        default_factory=list,
        description="what the character remembers of this session's player (endUserId)",
    )
    safety: list[SafetyVerdict] = Field(
        default_factory=list, description="Anima: the latest safety verdicts, oldest first"
    )


class SafetyEvent(SafetyVerdict):
    session: str = Field(description="workspaces/{ws}/sessions/{id}")
    interaction: str = Field(description="the interaction's id")
    agent: str
    create_time: str = Field(alias="createTime")


class SafetyEventList(_Shape):
    safety_events: list[SafetyEvent] = Field(alias="safetyEvents")


# -- streaming companions --------------------------------------------------------------------


class Token(_Shape):
    token: str
    type: str
    expiration_time: str = Field(alias="expirationTime")
    session_id: str = Field(alias="sessionId")


class StateVersion(_Shape):
    interaction_id: str = Field(alias="interactionId")


class SessionState(_Shape):
    state: str = Field(description="base64 of the sealed state")
    creation_time: str = Field(alias="creationTime")
    version: StateVersion | None = None


class Feedback(_Shape):
    name: str
    is_like: bool = Field(alias="isLike")
    type: list[str]
    comment: str
