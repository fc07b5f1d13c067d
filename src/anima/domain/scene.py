"""The Scene resource: a setting, the characters in it and the knowledge they share."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, field_validator

from anima.domain.character import Message
from anima.domain.limits import Label, Prose, Reference, References
from anima.domain.proto import invalid_argument
from anima.domain.resource import slug
from anima.errors import InvalidArgument

MAX_SCENE_CHARACTERS = 100
READ_ONLY_FIELDS = frozenset({"name"})


class SceneCharacter(Message):
    """A character in the scene: ``character`` is its resource name (or bare id)."""

    character: Reference = ""
    display_title: Label = ""
    character_description: Prose = ""


class Scene(Message):
    name: str = ""
    display_name: Label = ""
    description: Prose = ""
    characters: list[SceneCharacter] = Field(default_factory=list, max_length=MAX_SCENE_CHARACTERS)
    common_knowledge: References = Field(default_factory=list)

    @field_validator("characters", mode="before")
    @classmethod
    def _plain_references(cls, value: Any) -> Any:
        """``["workspaces/w/characters/a"]`` is accepted as a shorthand."""
        if isinstance(value, list):
            return [{"character": v} if isinstance(v, str) else v for v in value]
        return value

    def character_refs(self) -> list[str]:
        """The scene's characters' references, in order."""
        return [c.character for c in self.characters]

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def parse_scene(data: Any) -> Scene:
    """Validate a client's Scene body. Raises ``InvalidArgument`` naming each bad field."""
    if not isinstance(data, dict):
        raise InvalidArgument("the body must be a JSON object (a Scene)")
    try:
        return Scene.model_validate({k: v for k, v in data.items() if k not in READ_ONLY_FIELDS})
    except ValidationError as exc:
        raise invalid_argument(exc) from None


def scene_id_for(scene: Scene) -> str:
    return slug(scene.display_name, "scene")
