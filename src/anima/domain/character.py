"""The Character resource of the Studio API, as the engine and the wire both see it.

Attributes are snake_case; the JSON spelling is the proto3 lowerCamelCase of the public schema
(``defaultCharacterDescription.givenName``), and both spellings are accepted on input. Enums take
names or numbers and are written as names. Ranges are checked here, once: sliders -100..100,
``emotionalFluidity`` 0..1, relationship ``fluidity`` -1..1, at most 10,000 facts of at most
255 characters. ``name`` is set by the store; ``meta`` and ``sharePortalInfo`` are computed and
never read from a client.
"""

from __future__ import annotations

import uuid
from enum import IntEnum
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from anima.domain.goals_yaml import validate_goals_yaml
from anima.domain.limits import (
    MAX_ITEMS,
    Example,
    Flag,
    Label,
    Labels,
    Line,
    MaxItems,
    Prose,
    References,
    ShortProse,
    Uri,
    Yaml,
)
from anima.domain.proto import Interval, ProtoEnum, invalid_argument
from anima.domain.resource import slug
from anima.errors import InvalidArgument

MAX_FACTS = 10_000
MAX_FACT_CHARS = 255

READ_ONLY_FIELDS = frozenset({"name", "meta", "sharePortalInfo", "share_portal_info", "scenes"})


# -- enums (numbered as in the public schema) ---------------------------------


class Pronoun(IntEnum):
    PRONOUN_UNSPECIFIED = 0
    PRONOUN_FEMALE = 1
    PRONOUN_MALE = 2
    PRONOUN_OTHER = 3


class LifeStage(IntEnum):
    LIFE_STAGE_UNSPECIFIED = 0
    LIFE_STAGE_ADOLESCENCE = 5
    LIFE_STAGE_YOUNG_ADULTHOOD = 6
    LIFE_STAGE_MIDDLE_ADULTHOOD = 7
    LIFE_STAGE_LATE_ADULTHOOD = 8
    LIFE_STAGE_CHILDHOOD = 9


class ExampleDialogStyle(IntEnum):
    EXAMPLE_DIALOG_STYLE_UNSPECIFIED = 0
    EXAMPLE_DIALOG_STYLE_DEFAULT = 1
    EXAMPLE_DIALOG_STYLE_BUBBLY = 2
    EXAMPLE_DIALOG_STYLE_FORMAL = 3
    EXAMPLE_DIALOG_STYLE_BLUNT = 4
    EXAMPLE_DIALOG_STYLE_INQUISITIVE = 5
    EXAMPLE_DIALOG_STYLE_COMMANDING = 6
    EXAMPLE_DIALOG_STYLE_EMPATHETIC = 7
    EXAMPLE_DIALOG_STYLE_ENTERTAINING = 8
    EXAMPLE_DIALOG_STYLE_HYPOCHONDRIAC = 9
    EXAMPLE_DIALOG_STYLE_LAIDBACK = 10
    EXAMPLE_DIALOG_STYLE_LONG_WINDED = 11
    EXAMPLE_DIALOG_STYLE_MORAL = 12
    EXAMPLE_DIALOG_STYLE_MYSTERIOUS = 13
    EXAMPLE_DIALOG_STYLE_RACONTEUR = 14
    EXAMPLE_DIALOG_STYLE_SARCASTIC = 15
    EXAMPLE_DIALOG_STYLE_TENACIOUS = 16
    EXAMPLE_DIALOG_STYLE_VILLAINOUS = 17
    EXAMPLE_DIALOG_STYLE_CUSTOM = 18


class DialogResponseLength(IntEnum):
    """The platform's five lengths. Its numbers are not published; these are Anima's own
    (the first four kept from earlier releases, so stored characters read the same)."""

    DIALOG_RESPONSE_LENGTH_UNSPECIFIED = 0
    DIALOG_RESPONSE_LENGTH_SHORT = 1
    DIALOG_RESPONSE_LENGTH_MEDIUM = 2
    DIALOG_RESPONSE_LENGTH_LONG = 3
    DIALOG_RESPONSE_LENGTH_VERY_SHORT = 4
    DIALOG_RESPONSE_LENGTH_VERY_LONG = 5


class FourthWall(IntEnum):
    """Whether the character may step out of its world (admit it is an AI, a program or part
    of a game). Containment is on unless a character turns it off."""

    FOURTH_WALL_UNSPECIFIED = 0
    FOURTH_WALL_CONTAINMENT_ENABLED = 1
    FOURTH_WALL_CONTAINMENT_DISABLED = 2


class CognitiveControl(IntEnum):
    COGNITIVE_CONTROL_UNSPECIFIED = 0
    COGNITIVE_CONTROL_NONE = 1
    COGNITIVE_CONTROL_MILD = 2
    COGNITIVE_CONTROL_STRICT = 3


class SafetyLevel(IntEnum):
    SAFETY_LEVEL_UNSPECIFIED = 0
    SAFETY_LEVEL_NO_CONTROL = 1
    SAFETY_LEVEL_MILD_CONTROL = 2
    SAFETY_LEVEL_STRICT_CONTROL = 3


class AvatarType(IntEnum):
    AVATAR_TYPE_UNSPECIFIED = 0
    AVATAR_TYPE_RPM = 1
    AVATAR_TYPE_INWORLD = 2


class AvatarDisplayImageSource(IntEnum):
    AVATAR_DISPLAY_IMAGE_SOURCE_UNSPECIFIED = 0
    RPM_IMAGE = 1
    INNEQUIN_IMAGE = 2
    USER_PROVIDED_IMAGE = 3


class CharacterItemView(IntEnum):
    CHARACTER_ITEM_VIEW_UNSPECIFIED = 0
    CHARACTER_ITEM_VIEW_DEFAULT = 1
    CHARACTER_ITEM_VIEW_WITH_META = 2


class CharacterView(IntEnum):
    CHARACTER_VIEW_UNSPECIFIED = 0
    CHARACTER_VIEW_DEFAULT = 1
    CHARACTER_VIEW_WITH_SCENES = 2


# -- messages -----------------------------------------------------------------

Slider = Annotated[int, Interval(-100, 100)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Message(BaseModel):
    """A proto message: camelCase on the wire, snake_case accepted, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
    )


class CustomDialogStyle(Message):
    uuid: Label = ""
    display_name: Label = ""
    is_active: Flag = False
    adjectives: Labels = Field(default_factory=list)
    colloquialism: ShortProse = ""


class CharacterDescription(Message):
    given_name: Label = ""
    description: Prose = ""
    pronoun: Annotated[Pronoun, ProtoEnum] = Pronoun.PRONOUN_UNSPECIFIED
    nicknames: Labels = Field(default_factory=list)
    motivation: ShortProse = ""
    wikipedia_uri: Uri = ""
    example_dialog: Example = ""
    example_dialog_style: Annotated[ExampleDialogStyle, ProtoEnum] = (
        ExampleDialogStyle.EXAMPLE_DIALOG_STYLE_UNSPECIFIED
    )
    personality_adjectives: Labels = Field(default_factory=list)
    life_stage: Annotated[LifeStage, ProtoEnum] = LifeStage.LIFE_STAGE_UNSPECIFIED
    hobby_or_interests: Labels = Field(default_factory=list)
    character_role: Line = ""
    narrative_actions_enabled: Flag = False
    custom_dialog_styles: Annotated[list[CustomDialogStyle], MaxItems(MAX_ITEMS)] = Field(
        default_factory=list
    )
    flaws: ShortProse = ""
    dialog_response_length: Annotated[DialogResponseLength, ProtoEnum] = (
        DialogResponseLength.DIALOG_RESPONSE_LENGTH_UNSPECIFIED
    )

    @property
    def name_or_default(self) -> str:
        """The character's name as spoken: ``givenName``, or 'Character' when empty."""
        return self.given_name.strip() or "Character"


class Voice(Message):
    """Voice settings. The public schema leaves this message open: known fields are typed,
    any other field is kept as sent and written back."""

    model_config = ConfigDict(extra="allow")

    base_name: Line = ""
    tts_type: Line = ""
    gender: Line = ""
    pitch: Finite = 0.0
    speaking_rate: Finite = 0.0
    robotic_voice_filter_level: Finite = 0.0


class RpmAvatar(Message):
    rpm_model_uri: Uri = ""
    rpm_image_uri: Uri = ""
    rpm_image_uri_portrait: Uri = ""
    rpm_image_uri_posture: Uri = ""


class InnequinAvatar(Message):
    avatar_background: Line = ""
    avatar_material: Line = ""
    avatar_img_uri: Uri = ""


class CharacterAssets(Message):
    voice: Voice = Field(default_factory=Voice)
    avatar_img: Uri = ""
    avatar_img_original: Uri = ""
    avatar_type: Annotated[AvatarType, ProtoEnum] = AvatarType.AVATAR_TYPE_UNSPECIFIED
    avatar_display_image_source: Annotated[AvatarDisplayImageSource, ProtoEnum] = (
        AvatarDisplayImageSource.AVATAR_DISPLAY_IMAGE_SOURCE_UNSPECIFIED
    )
    rpm_avatar: RpmAvatar = Field(default_factory=RpmAvatar)
    innequin_avatar: InnequinAvatar = Field(default_factory=InnequinAvatar)


class InitialMood(Message):
    """Sliders -100..100: sadness/joy, anger/fear, disgust/trust, anticipation/surprise."""

    joy: Slider = 0
    fear: Slider = 0
    trust: Slider = 0
    surprise: Slider = 0


class Personality(Message):
    """Sliders -100..100: negative/positive, aggressive/peaceful, cautious/open,
    introvert/extravert."""

    positive: Slider = 0
    peaceful: Slider = 0
    open: Slider = 0
    extravert: Slider = 0


class Fact(Message):
    text: Annotated[str, Field(max_length=MAX_FACT_CHARS)] = ""


class PersonalKnowledge(Message):
    uuid: Label = ""
    facts: Annotated[list[Fact], Field(max_length=MAX_FACTS)] = Field(default_factory=list)


class Relationship(Message):
    enabled: Flag = False
    fluidity: Annotated[float, Interval(-1, 1)] = 0.0


class LongTermCoherence(Message):
    """Whether the character remembers what each player (``endUserId``) told it, across
    sessions. On by default."""

    enabled: Flag = True


class Meta(Message):
    """Read-only counts of the WITH_META view."""

    total_common_knowledge: int = 0
    goals_version: int = 0


class Character(Message):
    name: str = ""
    description: CharacterDescription = Field(
        default_factory=CharacterDescription,
        validation_alias=AliasChoices(
            "defaultCharacterDescription", "default_character_description"
        ),
        serialization_alias="defaultCharacterDescription",
    )
    assets: CharacterAssets = Field(
        default_factory=CharacterAssets,
        validation_alias=AliasChoices("defaultCharacterAssets", "default_character_assets"),
        serialization_alias="defaultCharacterAssets",
    )
    initial_mood: InitialMood = Field(default_factory=InitialMood)
    personality: Personality = Field(default_factory=Personality)
    common_knowledge: References = Field(default_factory=list)
    social_rank: Finite = 0.0
    personal_knowledge: PersonalKnowledge = Field(default_factory=PersonalKnowledge)
    emotional_fluidity: Annotated[float, Interval(0, 1)] = 0.0
    yaml_config: Yaml = ""
    safety_config: dict[str, Annotated[SafetyLevel, ProtoEnum]] = Field(default_factory=dict)
    relationship: Relationship = Field(default_factory=Relationship)
    cognitive_control: Annotated[CognitiveControl, ProtoEnum] = (
        CognitiveControl.COGNITIVE_CONTROL_UNSPECIFIED
    )
    fourth_wall: Annotated[FourthWall, ProtoEnum] = FourthWall.FOURTH_WALL_UNSPECIFIED
    long_term_coherence: LongTermCoherence = Field(default_factory=LongTermCoherence)

    @property
    def fourth_wall_contained(self) -> bool:
        """True unless the author switched containment off."""
        return self.fourth_wall is not FourthWall.FOURTH_WALL_CONTAINMENT_DISABLED

    @property
    def id(self) -> str:
        """The last segment of ``name`` (``workspaces/w/characters/{id}``)."""
        return self.name.rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        """The wire shape (camelCase, enum names, every field)."""
        return self.model_dump(mode="json", by_alias=True)

    def meta(self) -> Meta:
        return Meta(
            total_common_knowledge=len(self.common_knowledge),
            goals_version=2 if self.yaml_config.strip() else 0,
        )


# -- input --------------------------------------------------------------------


def strip_read_only(data: dict[str, Any]) -> dict[str, Any]:
    """A client's body without the fields it may not set (``name``, ``meta``...)."""
    return {k: v for k, v in data.items() if k not in READ_ONLY_FIELDS}


def _safety_config_as_map(data: dict[str, Any]) -> dict[str, Any]:
    """``safetyConfig`` is a proto map: accept its JSON object and the ``[{key, value}]`` list."""
    for spelling in ("safetyConfig", "safety_config"):
        value = data.get(spelling)
        if isinstance(value, list) and all(isinstance(e, dict) and "key" in e for e in value):
            data = {**data, spelling: {e["key"]: e.get("value", 0) for e in value}}
    return data


def parse_character(data: Any) -> Character:
    """Validate a client's Character body. Raises ``InvalidArgument`` naming each bad field."""
    if not isinstance(data, dict):
        raise InvalidArgument("the body must be a JSON object (a Character)")
    try:
        return Character.model_validate(_safety_config_as_map(strip_read_only(data)))
    except ValidationError as exc:
        raise invalid_argument(exc) from None


def with_generated_uuids(character: Character) -> Character:
    """Fill the system-generated ``uuid`` fields a client left empty."""
    knowledge = character.personal_knowledge
    if not knowledge.uuid:
        knowledge = knowledge.model_copy(update={"uuid": str(uuid.uuid4())})
    styles = [
        s if s.uuid else s.model_copy(update={"uuid": str(uuid.uuid4())})
        for s in character.description.custom_dialog_styles
    ]
    description = character.description.model_copy(update={"custom_dialog_styles": styles})
    return character.model_copy(
        update={"personal_knowledge": knowledge, "description": description}
    )


def character_id_for(character: Character) -> str:
    """The id a new character gets: its givenName, lower case, words joined by ``_``."""
    return slug(character.description.given_name, "character")


# -- deploy-time checks -------------------------------------------------------


def deploy_problems(character: Character) -> list[tuple[str, str]]:
    """(field, problem) for everything in the draft itself that stops a deploy. References
    to other resources are checked by the deploy job, which can see the store."""
    return [("yamlConfig", f"yamlConfig {p}") for p in validate_goals_yaml(character.yaml_config)]
