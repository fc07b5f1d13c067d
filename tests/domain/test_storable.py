"""What text the store can keep, and the repair of text that got in before the edge checked."""

from __future__ import annotations

import pytest

from anima.domain import storable


@pytest.mark.parametrize(
    ("value", "fine"),
    [
        ("plain", True),
        ("emoji 😀 and RTL \u202e mark, ÿ", True),
        ("\ufffd", True),
        ("\ud83d", False),
        ("x\udc00", False),
        ("\x00", False),
        ("é\x00", False),
    ],
)
def test_problem(value: str, fine: bool) -> None:
    assert (storable.problem(value) is None) is fine


def test_repair() -> None:
    assert storable.repair("Poison\ud800") == "Poison\ufffd"
    assert storable.repair("a\ud83d\ude00b") == "a😀b"  # two halves stored apart: joined
    assert storable.repair("nul\x00") == "nul"
    fixed, changed = storable.repair_tree({"a": ["ok", "\udc00"], "\ud800": 1})
    assert fixed == {"a": ["ok", "\ufffd"], "\ufffd": 1}
    assert sorted(changed) == ["a[1]", "\ufffd (a key)"]
