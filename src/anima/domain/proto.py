"""Proto3 JSON conventions shared by the Studio resources: enums and validation errors.

An enum field accepts its value's name (``"PRONOUN_FEMALE"``) or number (``1``) and is always
written back as the name. A bad value is a 400 that names the field path
(``defaultCharacterDescription.pronoun``) and lists the allowed values.
"""

from __future__ import annotations

from enum import IntEnum
from functools import partial
from typing import Any, TypeVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import ErrorDetails, PydanticCustomError, core_schema

from anima.errors import InvalidArgument

E = TypeVar("E", bound=IntEnum)


def allowed_values(enum: type[IntEnum]) -> str:
    return ", ".join(f"{m.name} ({m.value})" for m in enum)


def parse_enum(enum: type[E], value: Any) -> E:
    """``value`` as a member of ``enum``: a member, a name or a number (also as a string)."""
    if isinstance(value, enum):
        return value
    if isinstance(value, bool):
        pass  # a JSON true/false is never an enum value
    elif isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        try:
            return enum(int(value))
        except ValueError:
            pass
    elif isinstance(value, str):
        text = value.strip()
        if text in enum.__members__:
            return enum[text]
        if text.lstrip("-").isdigit():
            return parse_enum(enum, int(text))
    raise PydanticCustomError(
        "enum_value",
        "{got} is not a {enum} value; allowed: {allowed}",
        {"got": repr(value), "enum": enum.__name__, "allowed": allowed_values(enum)},
    )


def _dump_name(value: IntEnum) -> str:
    return value.name


class _ProtoEnumCodec:
    """Annotation marker: ``Annotated[Pronoun, ProtoEnum]`` takes names or numbers, dumps names."""

    def __get_pydantic_core_schema__(
        self, source: type[IntEnum], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(
            partial(parse_enum, source),
            handler(source),
            serialization=core_schema.plain_serializer_function_ser_schema(
                _dump_name, return_schema=core_schema.str_schema()
            ),
        )


ProtoEnum = _ProtoEnumCodec()


class Interval:
    """Annotation marker: ``Annotated[int, Interval(-100, 100)]``; the error names the range."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def _check(self, value: float) -> float:
        if value != value or not self.low <= value <= self.high:  # NaN fails too
            raise PydanticCustomError(
                "out_of_range",
                "{got} is out of range; allowed range is {low}..{high}",
                {"got": value, "low": self.low, "high": self.high},
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(minimum=self.low, maximum=self.high)
        return json_schema


def field_path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """``("personalKnowledge", "facts", 3, "text")`` -> ``personalKnowledge.facts[3].text``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out or "body"


def invalid_argument(exc: ValidationError, prefix: str = "") -> InvalidArgument:
    """One 400 for every violation of a validation error, each with its field path."""
    violations = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        violations.append({"field": field_path(loc, prefix), "description": _describe(err)})
    message = "; ".join(f"{v['field']}: {v['description']}" for v in violations)
    details = [
        {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}
    ]
    return InvalidArgument(message or "invalid request", details=details)


def _describe(err: ErrorDetails) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters allowed"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items allowed, got {ctx.get('actual_length')}"
    return err["msg"].removeprefix("Value error, ")
