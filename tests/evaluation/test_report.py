"""Figures, the table and the thresholds of a report."""

from __future__ import annotations

from anima.evaluation.report import METRICS, build_report, missed, table
from anima.evaluation.runner import CharacterRun, Reply, Turn
from anima.evaluation.scorers import TurnCase, score_reply
from anima.evaluation.script import ScriptLine


def _turn(i: int, line: str, reply: str, tags: frozenset[str] = frozenset()) -> Turn:
    case = TurnCase(line, tags, "Mara", "Rowan", 1, frozenset(), ("calm",), ("Let me think.",))
    score = score_reply(reply, case, [], [], 0.5)
    return Turn(
        i, ScriptLine(line, tags), Reply((reply,), turn_s=0.2, first_utterance_s=0.1), score
    )


def _report() -> dict[str, object]:
    run = CharacterRun(
        "mara.json",
        "Mara",
        [
            _turn(0, "Hello!", "Welcome in, Rowan."),
            _turn(1, "Who are you?", "Let me think.", frozenset({"who"})),
            _turn(2, "What's your name?", "I'm Mara.", frozenset({"who"})),
            _turn(3, "Hi", "User: hi"),
        ],
    )
    return build_report([run], {"script": "test"})


def test_figures_per_character_and_overall() -> None:
    report = _report()
    overall = report["overall"]
    assert isinstance(overall, dict)
    assert overall["fallback"] == {"rate": 0.25, "count": 1, "of": 4}
    assert overall["own_name"] == {"rate": 0.5, "count": 1, "of": 2}
    assert overall["player_name"] == {"rate": None, "count": 0, "of": 0}
    assert overall["relevance"] == {"mean": 0.5, "of": 4}
    assert overall["first_utterance_s"]["median"] == 0.1
    assert report["characters"]["Mara"]["label_leaks"]["count"] == 1  # type: ignore[index]
    turns = report["turns"]
    assert isinstance(turns, list)
    assert turns[1]["faults"] == ["fallback", "own_name_missing"]
    text = table(report)
    assert text.splitlines()[0].split() == ["Mara", "overall"]
    assert len(text.splitlines()) == len(METRICS) + 1


def test_thresholds() -> None:
    report = _report()
    assert missed(report, {"fallback": 0.25, "own_name": 0.5, "label_leaks": 0.25}) == []
    messages = missed(report, {"fallback": 0.05, "own_name": 1.0, "player_name": 1.0})
    assert messages == [
        "fallback: 25.0% (1/4) is above --max-fallback 5.0%",
        "own_name: 50.0% (1/2) is below --min-own-name 100.0%",
        "player_name: not measured (no turn counts), needs --min-player-name 1.0",
    ]
    assert missed(report, {"echo": 0.0}) == []
