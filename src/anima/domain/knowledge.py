"""The CommonKnowledge resource: records of text that characters (and scenes) share."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationError

from anima.domain.character import Message
from anima.domain.limits import Label, Prose
from anima.domain.proto import invalid_argument
from anima.domain.resource import slug
from anima.errors import InvalidArgument

MAX_RECORDS = 10_000
MAX_RECORD_CHARS = 2_000
READ_ONLY_FIELDS = frozenset({"name"})


class KnowledgeRecord(Message):
    text: Annotated[str, Field(max_length=MAX_RECORD_CHARS)] = ""


class CommonKnowledge(Message):
    name: str = ""
    display_name: Label = ""
    description: Prose = ""
    knowledge_records: Annotated[list[KnowledgeRecord], Field(max_length=MAX_RECORDS)] = Field(
        default_factory=list
    )

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def parse_common_knowledge(data: Any) -> CommonKnowledge:
    """Validate a client's CommonKnowledge body. Raises ``InvalidArgument`` naming bad fields."""
    if not isinstance(data, dict):
        raise InvalidArgument("the body must be a JSON object (a CommonKnowledge)")
    try:
        return CommonKnowledge.model_validate(
            {k: v for k, v in data.items() if k not in READ_ONLY_FIELDS}
        )
    except ValidationError as exc:
        raise invalid_argument(exc) from None


def knowledge_id_for(knowledge: CommonKnowledge) -> str:
    return slug(knowledge.display_name, "knowledge")
