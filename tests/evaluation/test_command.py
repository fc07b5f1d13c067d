"""`anima eval` end to end on the scripted model: the real app in process, two characters,
a few lines; and the same evaluation against a server reached over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from anima.cli import main
from anima.evaluation.runner import Evaluation, remote
from anima.evaluation.script import bundled_characters, bundled_script, parse_script
from anima.settings import Settings
from tests.conftest import make_key

CHARACTERS = Path(__file__).parents[2] / "src/anima/data/eval/characters"


def test_bundled_script_and_characters() -> None:
    script = bundled_script()
    assert len(script.lines) >= 40
    assert script.player == "Rowan"
    assert sum("who" in line.tags for line in script.lines) >= 3
    assert sum("player_name" in line.tags for line in script.lines) >= 2
    characters = bundled_characters()
    assert len(characters) >= 5
    assert "Mara" in {c.given_name for c in characters}


def test_script_formats() -> None:
    yaml_script = parse_script('- Hello\n- {text: "Who are you?", tags: [who]}\n', "s.yaml")
    jsonl = parse_script(
        '{"text": "Hello"}\n{"text": "Who are you?", "tags": "who"}\n', "s", jsonl=True
    )
    assert yaml_script.lines == jsonl.lines
    assert yaml_script.lines[1].tags == frozenset({"who"})


def test_eval_in_process_writes_a_report_and_checks_thresholds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(
        'player: Ada\nlines:\n  - Hello!\n  - {text: "Who are you?", tags: [who]}\n'
        '  - {text: "What is my name?", tags: [player_name]}\n',
        encoding="utf-8",
    )
    out = tmp_path / "report.json"
    args = [
        "eval",
        str(CHARACTERS / "mara.json"),
        str(CHARACTERS / "guard.json"),
        "--script",
        str(script),
        "--llm-backend",
        "scripted",
        "--embed-backend",
        "hashing",
        "--out",
        str(out),
    ]
    assert main([*args, "--max-label-leaks", "0", "--min-own-name", "1.0"]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["player"] == "Ada"
    assert report["target"] == "in process"
    assert list(report["characters"]) == ["Mara", "Brom"]
    assert report["overall"]["errors"]["count"] == 0
    # The scripted model's first reply greets the player by name.
    first = report["turns"][0]
    assert first["reply"].startswith("Well met, Ada!")
    assert first["first_utterance_s"] is not None
    captured = capsys.readouterr()
    assert "[3/3] Brom: What is my name?" in captured.err
    assert "own_name" in captured.out

    # The scripted replies never name the player when asked: the engine answers from the
    # character's fields instead, a fallback the threshold catches.
    assert main([*args, "--max-fallback", "0.05"]) == 1
    assert "threshold missed: fallback: 33.3% (2/6) is above --max-fallback 5.0%" in (
        capsys.readouterr().err
    )


async def test_eval_against_a_server(app: FastAPI, settings: Settings) -> None:
    key = await make_key(app, "ws1")
    script = parse_script("- Hello!\n- Hello!\n", "s.yaml")
    transport = httpx.ASGITransport(app=app)
    from anima.backends.hashing import HashingEmbedder

    async with remote("http://anima.test", "ws1", key, transport=transport) as target:
        evaluation = Evaluation(target, HashingEmbedder(), script, player="Ada")
        runs = await evaluation.run([bundled_characters()[0]])
    turns = runs[0].turns
    assert [t.reply.error for t in turns] == [None, None]
    assert turns[0].reply.text.startswith("Well met, Ada!")
    assert turns[0].reply.first_utterance_s is None  # only the whole turn is timed over HTTP
