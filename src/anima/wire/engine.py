"""Engine REST shapes (rest-api.md#engine-api): requests in camelCase or snake_case, and the
Session and Interaction resources exactly as the documented clients read them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictStr, field_validator

from anima.domain.session import Interaction, Player, Session

if TYPE_CHECKING:
    from anima.pipeline.engine import CharacterMind


# Length limits of the free text a client sends: what a name or an id can reasonably be, far
# below what would slow a turn down (a 100 KB name took 6 s to tokenize on every turn). A longer
# value is a 400 naming the field and its limit. ``text`` itself is limited by the engine
# (Settings.max_text_chars).
MAX_NAME_CHARS = 200  # player names, ids, gender, role, parameter names
MAX_RESOURCE_CHARS = 400  # resource names: workspaces/{ws}/characters/{id}
MAX_VALUE_CHARS = 2000  # a trigger parameter's value
MAX_PARAMETERS = 64

# Where the schema says string or bool, nothing else is taken (no 1 for true, no 5 for "5").
Name = Annotated[StrictStr, Field(max_length=MAX_NAME_CHARS)]
Resource = Annotated[StrictStr, Field(max_length=MAX_RESOURCE_CHARS)]


def _both(camel: str, snake: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(camel, snake))


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class EndUserConfig(_Request):
    end_user_id: Name | None = _both("endUserId", "end_user_id")
    given_name: Name | None = _both("givenName", "given_name")
    gender: Name | None = None
    role: Name | None = None
    age: int | None = Field(default=None, ge=0, le=200)

    @field_validator("age", mode="before")
    @classmethod
    def _age(cls, value: Any) -> Any:
        # int64 travels as a JSON string in proto3 JSON ("27"); an empty string means unset.
        if isinstance(value, str):
            value = value.strip()
            return None if value == "" else value
        return value

    def to_player(self, full_name: str = "") -> Player:
        return Player(
            end_user_id=self.end_user_id or "",
            given_name=self.given_name or "",
            gender=self.gender or "",
            age=self.age,
            role=self.role or "",
            full_name=full_name,
        )


class SimpleSendTextRequest(_Request):
    character: Resource | None = None
    text: StrictStr | None = None
    session_id: Name | None = _both("sessionId", "session_id")
    end_user_id: Name | None = _both("endUserId", "end_user_id")
    end_user_fullname: Name | None = _both("endUserFullname", "end_user_fullname")

    def to_player(self) -> Player:
        return Player(
            end_user_id=self.end_user_id or "",
            given_name=self.end_user_fullname or "",
            full_name=self.end_user_fullname or "",
        )


class OpenSessionRequest(_Request):
    name: Resource | None = None
    user: EndUserConfig | None = None


class SendTextRequest(_Request):
    name: Resource | None = None
    text: StrictStr | None = None


class TriggerParameter(_Request):
    name: Name
    value: Annotated[StrictStr, Field(max_length=MAX_VALUE_CHARS)] = ""


class TriggerEvent(_Request):
    trigger: Resource | None = None
    parameters: list[TriggerParameter] = Field(default_factory=list, max_length=MAX_PARAMETERS)


class SendTriggerRequest(_Request):
    name: Resource | None = None
    trigger_event: TriggerEvent | None = _both("triggerEvent", "trigger_event")
    end_user_id: Name | None = _both("endUserId", "end_user_id")


# -- responses ------------------------------------------------------------------


def session_json(session: Session) -> dict[str, Any]:
    return {
        "name": session.id,
        "sessionCharacters": [
            {
                "name": c.resource(session.workspace),
                "character": c.agent_id,
                "displayName": c.display_name,
                "characterAssets": {
                    "avatarImg": c.avatar_img,
                    "avatarImgOriginal": c.avatar_img_original,
                },
            }
            for c in session.characters
        ],
        "loadedScene": session.loaded_scene,
    }


def trigger_resource(workspace: str, name: str) -> str:
    return name if name.startswith("workspaces/") else f"workspaces/{workspace}/triggers/{name}"


def interaction_json(workspace: str, interaction: Interaction) -> dict[str, Any]:
    rel = interaction.relationship
    return {
        "name": f"workspaces/{workspace}/sessions/{interaction.session_id}"
        f"/interactions/{interaction.id}",
        "textList": list(interaction.texts),
        "emotion": {"behavior": interaction.emotion[0], "strength": interaction.emotion[1]},
        "sessionId": interaction.session_id,
        "relationshipUpdate": {
            axis: int(rel.get(axis, 0))
            for axis in ("trust", "respect", "familiar", "flirtatious", "attraction")
        },
        "activeTriggers": [
            {
                "trigger": trigger_resource(workspace, name),
                "parameters": [{"name": k, "value": v} for k, v in params],
            }
            for name, params in interaction.triggers_out
        ],
    }


def stored_interaction_json(workspace: str, interaction: Interaction) -> dict[str, Any]:
    """An Interaction with what came in and when: the session's history."""
    data = interaction_json(workspace, interaction)
    data["agent"] = interaction.agent_id
    data["createTime"] = rfc3339(interaction.created_at)
    data["input"] = (
        {
            "trigger": trigger_resource(workspace, interaction.trigger),
            "parameters": [{"name": k, "value": v} for k, v in interaction.parameters],
        }
        if interaction.input_kind == "trigger"
        else {"text": interaction.input_text, "narratedAction": interaction.input_kind == "action"}
    )
    data["narrated"] = list(interaction.narrated)
    data["cancelled"] = interaction.cancelled
    data["trace"] = interaction.trace
    return data


def rfc3339(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def mind_json(mind: CharacterMind) -> dict[str, Any]:
    m = mind.mood
    return {
        "mood": {"joy": m.joy, "fear": m.fear, "trust": m.trust, "surprise": m.surprise},
        "emotion": {"behavior": mind.behavior.name, "strength": mind.strength.name},
        "relationship": {
            "enabled": mind.relationship_enabled,
            **mind.relationship.as_dict(),
            "label": mind.label or "",
        },
        "goals": {
            "completed": sorted(mind.goals.completed),
            "disabled": sorted(mind.goals.disabled),
        },
        "memories": list(mind.memories),
        "safety": list(mind.safety),
    }
