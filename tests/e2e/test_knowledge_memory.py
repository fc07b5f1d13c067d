"""Knowledge and memory with the real default model and embedder, through `anima eval`:
facts hidden among 320 others are found and answered; a fact told in one session is recalled
in the next session of the same player."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anima.cli import main

pytestmark = pytest.mark.slow

MARA = Path(__file__).parents[2] / "src/anima/data/eval/characters/mara.json"


def _suite(tmp_path: Path, suite: str, limit: int) -> dict[str, float]:
    out = tmp_path / f"{suite}.json"
    args = ["eval", str(MARA), "--suite", suite, "--limit", str(limit), "--seed", "7"]
    code = main([*args, "--out", str(out)])
    assert code == 0
    overall: dict[str, float] = json.loads(out.read_text("utf-8"))["overall"]
    return overall


def test_facts_among_hundreds_are_found_and_answered(tmp_path: Path) -> None:
    overall = _suite(tmp_path, "knowledge", 5)
    assert overall["probes"] == 5
    assert overall["retrieved"] == 1.0
    assert overall["answered"] >= 0.6


def test_a_fact_told_in_one_session_is_recalled_in_the_next(tmp_path: Path) -> None:
    overall = _suite(tmp_path, "memory", 3)
    assert overall["probes"] == 3
    assert overall["retrieved"] == 1.0
    assert overall["answered"] >= 0.6
