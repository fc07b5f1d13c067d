"""AIP-160 filters, name filters and page tokens of the Studio list methods."""

from __future__ import annotations

import pytest

from anima.domain import aip160, paging
from anima.domain.aip160 import And, FilterSyntaxError, Not, Or, Restriction
from anima.domain.resource import ResourceKind, name_filter, parse_reference
from anima.errors import InvalidArgument


def r(field: str, op: str, value: str, pos: int) -> Restriction:
    return Restriction(field, op, value, pos)


def test_empty_filter_is_none() -> None:
    assert aip160.parse("") is None
    assert aip160.parse("   ") is None


def test_single_restriction_bare_and_quoted() -> None:
    assert aip160.parse("character.name=workspaces/w/characters/a") == r(
        "character.name", "=", "workspaces/w/characters/a", 1
    )
    assert aip160.parse('character.name = "a b\\"c"') == r("character.name", "=", 'a b"c', 1)
    assert aip160.parse("name='x'") == r("name", "=", "x", 1)


def test_or_binds_tighter_than_and() -> None:
    assert aip160.parse("a=1 AND b=2 OR c=3") == And(
        (r("a", "=", "1", 1), Or((r("b", "=", "2", 9), r("c", "=", "3", 16))))
    )


def test_parentheses_not_minus_and_implicit_and() -> None:
    assert aip160.parse("NOT (a=1 OR b=2) -c!=3 d=4") == And(
        (
            Not(Or((r("a", "=", "1", 6), r("b", "=", "2", 13)))),
            Not(r("c", "!=", "3", 19)),
            r("d", "=", "4", 24),
        )
    )


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("character.name=", 16, "expected a value"),
        ("character.name=a AND", 21, "end of the filter"),
        ("(character.name=a", 18, "expected ')'"),
        ('character.name="abc', 16, "unterminated string"),
        ("character.name=a )", 18, "unexpected ')'"),
        ("=a", 1, "expected a field name"),
        ("a=1 OR OR b=2", 8, "keyword OR"),
    ],
)
def test_syntax_errors_carry_the_position(text: str, position: int, words: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        aip160.parse(text)
    assert caught.value.position == position
    assert f"position {position}" in caught.value.message
    assert words in caught.value.message
    assert caught.value.field == "filter"
    assert isinstance(caught.value, InvalidArgument)


def test_references() -> None:
    kind = ResourceKind.CHARACTER
    assert parse_reference("workspaces/w/characters/a", "w", kind) == "a"
    assert parse_reference("workspaces/w/character/a", "w", kind) == "a"  # the seed's spelling
    assert parse_reference("a", "w", kind) == "a"
    assert parse_reference("workspaces/other/characters/a", "w", kind) is None
    assert parse_reference("workspaces/w/scenes/a", "w", kind) is None
    k = ResourceKind.COMMON_KNOWLEDGE
    assert parse_reference("workspaces/w/common-knowledge/k", "w", k) == "k"


def test_name_filter_rewrites_to_ids() -> None:
    parsed = aip160.parse(
        "character.name=workspaces/w/characters/a OR character.name=workspaces/x/characters/b"
    )
    assert name_filter(parsed, "w", ResourceKind.CHARACTER) == Or(
        (r("id", "=", "a", 1), r("id", "=", "", 45))
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("character.displayName=a", "unsupported field 'character.displayName'"),
        ("character.name>a", "unsupported comparator '>'"),
        ("axeon", "unsupported field 'axeon'"),
    ],
)
def test_name_filter_refuses_other_fields_and_comparators(text: str, words: str) -> None:
    with pytest.raises(FilterSyntaxError, match=words):
        name_filter(aip160.parse(text), "w", ResourceKind.CHARACTER)


def test_page_tokens_bind_the_other_parameters() -> None:
    params: dict[str, object] = {"ws": "w", "filter": "", "pageSize": 10, "view": 0}
    token = paging.encode_token(paging.Cursor(12.5, "axeon"), params)
    assert paging.decode_token(token, params) == paging.Cursor(12.5, "axeon")
    assert paging.decode_token("", params) is None
    for changed in ({"filter": "name=a"}, {"pageSize": 11}, {"ws": "v"}, {"view": 2}):
        with pytest.raises(InvalidArgument, match="different parameters"):
            paging.decode_token(token, {**params, **changed})
    with pytest.raises(InvalidArgument, match="not a token"):
        paging.decode_token("garbage!!", params)


def test_page_size_defaults_and_caps() -> None:
    assert paging.page_size(None) == 50
    assert paging.page_size(0) == 50
    assert paging.page_size(5000) == 1000
    with pytest.raises(InvalidArgument, match="pageSize"):
        paging.page_size(-1)
