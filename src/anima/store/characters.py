"""The Studio collections the engine reads: characters, scenes and common knowledge.

The engine talks only to deployed versions::

    deployed = await store.characters.get_deployed(workspace, character_id)
    pinned = await store.characters.get_deployed_version(workspace, character_id, version)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from anima.domain.character import Character
from anima.domain.knowledge import CommonKnowledge
from anima.domain.resource import ResourceKind
from anima.domain.scene import Scene
from anima.store.resources import (
    CharacterRow,
    CharacterVersionRow,
    KnowledgeRow,
    KnowledgeVersionRow,
    ResourceRepo,
    SceneRow,
    SceneVersionRow,
)

if TYPE_CHECKING:
    from anima.store.db import Store


@dataclass(frozen=True, slots=True)
class DeployedCharacter:
    version: int
    character: Character
    deployed_at: float


@dataclass(frozen=True, slots=True)
class DeployedScene:
    """A deployed scene: its description (the setting) and its characters' references."""

    version: int
    scene: Scene
    deployed_at: float


@dataclass(frozen=True, slots=True)
class DeployedKnowledge:
    version: int
    knowledge: CommonKnowledge
    deployed_at: float


class CharacterRepo(ResourceRepo[Character, DeployedCharacter]):
    def __init__(self, store: Store) -> None:
        super().__init__(
            store,
            ResourceKind.CHARACTER,
            Character,
            CharacterRow,
            CharacterVersionRow,
            DeployedCharacter,
        )


class SceneRepo(ResourceRepo[Scene, DeployedScene]):
    def __init__(self, store: Store) -> None:
        super().__init__(store, ResourceKind.SCENE, Scene, SceneRow, SceneVersionRow, DeployedScene)


class KnowledgeRepo(ResourceRepo[CommonKnowledge, DeployedKnowledge]):
    def __init__(self, store: Store) -> None:
        super().__init__(
            store,
            ResourceKind.COMMON_KNOWLEDGE,
            CommonKnowledge,
            KnowledgeRow,
            KnowledgeVersionRow,
            DeployedKnowledge,
        )
