"""How long the free text of a Studio resource may be, checked where a client's body is parsed.

Each text field has a limit (a 100 KB name made every turn tokenize for seconds, a long enough
description made every prompt overflow the model's context); a longer value is a 400 naming the
field and its limit. The limits apply to what clients send: a resource read back from the store
(``STORED`` context) is not refused for a limit added after it was written. Fields typed as
``Label``, ``Prose``... are also strict: a number or a bool is not silently made a string.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, StrictBool, StrictStr
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

STORED = {"stored": True}  # the validation context of rows read back from the store

MAX_LABEL_CHARS = 100  # names, titles, adjectives, nicknames
MAX_LINE_CHARS = 200  # a character's role, a voice's name
MAX_SHORT_PROSE_CHARS = 1_000  # motivation, flaws, colloquialism
MAX_PROSE_CHARS = 3_000  # descriptions
MAX_EXAMPLE_CHARS = 2_000  # example dialog
MAX_URI_CHARS = 2_048
MAX_REFERENCE_CHARS = 400  # a resource name: workspaces/{ws}/characters/{id}
MAX_YAML_CHARS = 65_536  # a goals configuration
MAX_ITEMS = 100  # entries of a list of labels or references


class _MaxLength:
    """Annotation marker refusing a value longer than ``limit`` with an error naming the limit
    (values read back from the store, validated with context ``{"stored": True}``, pass)."""

    code = ""
    message = ""
    json_key = ""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def _check(self, value: Any, info: core_schema.ValidationInfo) -> Any:
        if len(value) > self.limit and not (info.context or {}).get("stored"):
            raise PydanticCustomError(
                self.code, self.message, {"length": len(value), "limit": self.limit}
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema[self.json_key] = self.limit
        return json_schema


class MaxChars(_MaxLength):
    """``Annotated[str, MaxChars(100)]``."""

    code = "text_too_long"
    message = "{length} characters is too long; at most {limit} are allowed"
    json_key = "maxLength"


class MaxItems(_MaxLength):
    """``Annotated[list[X], MaxItems(100)]``."""

    code = "too_many_items"
    message = "{length} items are too many; at most {limit} are allowed"
    json_key = "maxItems"


Label = Annotated[StrictStr, MaxChars(MAX_LABEL_CHARS)]
Line = Annotated[StrictStr, MaxChars(MAX_LINE_CHARS)]
ShortProse = Annotated[StrictStr, MaxChars(MAX_SHORT_PROSE_CHARS)]
Prose = Annotated[StrictStr, MaxChars(MAX_PROSE_CHARS)]
Example = Annotated[StrictStr, MaxChars(MAX_EXAMPLE_CHARS)]
Uri = Annotated[StrictStr, MaxChars(MAX_URI_CHARS)]
Reference = Annotated[StrictStr, MaxChars(MAX_REFERENCE_CHARS)]
Yaml = Annotated[StrictStr, MaxChars(MAX_YAML_CHARS)]


Labels = Annotated[list[Label], MaxItems(MAX_ITEMS)]
References = Annotated[list[Reference], MaxItems(MAX_ITEMS)]
Flag = StrictBool
