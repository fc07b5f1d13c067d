"""The evaluation's outcome: figures per character and overall, a JSON report, a short text
table, and the thresholds a run must meet.

Every figure is a ``Metric``: a rate of replies with a fault (``label_leaks``), a rate of
success on the lines that ask for it (``own_name`` on lines tagged ``who``), or a mean or
median (``relevance``, ``first_utterance_s``). Each metric has one command-line threshold,
``--max-<name>`` or ``--min-<name>``, checked against the overall figure.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from anima.evaluation.runner import CharacterRun, Turn

Direction = Literal["max", "min"]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str  # the report's key and the threshold flag's stem (--max-label-leaks)
    direction: Direction  # a threshold is the most ("max") or the least ("min") allowed
    kind: Literal["rate", "mean", "median"]
    value: Callable[[Turn], float | bool | None]  # None: the turn does not count
    help: str

    @property
    def flag(self) -> str:
        return f"--{self.direction}-{self.name.replace('_', '-')}"

    @property
    def dest(self) -> str:
        return f"{self.direction}_{self.name}"


def _fault(field: str) -> Callable[[Turn], bool]:
    return lambda t: bool(getattr(t.score, field))


METRICS: tuple[Metric, ...] = (
    Metric("label_leaks", "max", "rate", _fault("label_leak"), "role labels or template tokens"),
    Metric(
        "speaks_for_player", "max", "rate", _fault("speaks_for_player"), "writes the player's part"
    ),
    Metric(
        "note_parroting", "max", "rate", _fault("note_parroting"), "prompt instructions said aloud"
    ),
    Metric("meta_talk", "max", "rate", _fault("meta_talk"), "talks of the player, a character"),
    Metric("ai_talk", "max", "rate", _fault("ai_talk"), "admits being an AI, assistant talk"),
    Metric("echo", "max", "rate", _fault("echo"), "repeats the player's line"),
    Metric("empty", "max", "rate", _fault("empty"), "empty replies"),
    Metric("fallback", "max", "rate", _fault("fallback"), "canned fallback lines"),
    Metric(
        "verbatim_repetition",
        "max",
        "rate",
        _fault("verbatim_repetition"),
        "same reply as earlier in the conversation",
    ),
    Metric(
        "near_repetition", "max", "rate", _fault("near_repetition"), "cosine >= 0.92 to an earlier"
    ),
    Metric("over_budget", "max", "rate", _fault("over_budget"), "more sentences than allowed"),
    Metric(
        "broken_contractions",
        "max",
        "rate",
        _fault("broken_contraction"),
        "contractions without apostrophe",
    ),
    Metric("gibberish", "max", "rate", _fault("gibberish"), "mostly not words"),
    Metric("errors", "max", "rate", lambda t: t.reply.error is not None, "turns that failed"),
    Metric("own_name", "min", "rate", lambda t: t.score.own_name, "own name when asked (who)"),
    Metric("player_name", "min", "rate", lambda t: t.score.player_name, "player's name when asked"),
    Metric("relevance", "min", "mean", lambda t: t.score.relevance, "MiniLM cosine reply/line"),
    Metric("non_word_ratio", "max", "mean", lambda t: t.score.non_word_ratio, "broken words"),
    Metric(
        "first_utterance_s",
        "max",
        "median",
        lambda t: t.reply.first_utterance_s,
        "seconds to the first utterance",
    ),
    Metric("turn_s", "max", "median", lambda t: t.reply.turn_s, "seconds per whole turn"),
)
BY_NAME = {m.name: m for m in METRICS}


def figure(metric: Metric, turns: Iterable[Turn]) -> dict[str, Any]:
    """One metric over some turns: ``{"rate", "count", "of"}`` or ``{"mean"|"median", "of"}``
    (the value is None when no turn counts)."""
    values = [v for v in (metric.value(t) for t in turns) if v is not None]
    if metric.kind == "rate":
        count = sum(bool(v) for v in values)
        rate = round(count / len(values), 4) if values else None
        return {"rate": rate, "count": count, "of": len(values)}
    numbers = [float(v) for v in values]
    if not numbers:
        return {metric.kind: None, "of": 0}
    center = statistics.fmean(numbers) if metric.kind == "mean" else statistics.median(numbers)
    out: dict[str, Any] = {metric.kind: round(center, 4), "of": len(numbers)}
    if metric.kind == "median":
        out["p90"] = round(sorted(numbers)[int(0.9 * (len(numbers) - 1))], 4)
    return out


def value_of(fig: Mapping[str, Any]) -> float | None:
    for key in ("rate", "mean", "median"):
        if key in fig:
            v = fig[key]
            return None if v is None else float(v)
    return None


def summary(turns: Sequence[Turn]) -> dict[str, dict[str, Any]]:
    return {m.name: figure(m, turns) for m in METRICS}


def _turn_json(character: str, turn: Turn) -> dict[str, Any]:
    s = turn.score
    faults = [
        m.name for m in METRICS if m.kind == "rate" and m.direction == "max" and m.value(turn)
    ]
    if s.own_name is False:
        faults.append("own_name_missing")
    if s.player_name is False:
        faults.append("player_name_missing")
    out: dict[str, Any] = {
        "character": character,
        "index": turn.index,
        "line": turn.line.text,
        "tags": sorted(turn.line.tags),
        "reply": turn.reply.text,
        "faults": faults,
        "relevance": s.relevance,
        "non_word_ratio": s.non_word_ratio,
        "turn_s": round(turn.reply.turn_s, 3),
        "first_utterance_s": None
        if turn.reply.first_utterance_s is None
        else round(turn.reply.first_utterance_s, 3),
    }
    if turn.reply.narrated:
        out["narrated"] = list(turn.reply.narrated)
    if s.parroted:
        out["parroted"] = s.parroted
    if turn.reply.error:
        out["error"] = turn.reply.error
    return out


def build_report(runs: Sequence[CharacterRun], about: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON report: ``about`` (model, script, target...), figures overall and per
    character, and every turn with its faults."""
    every = [t for r in runs for t in r.turns]
    return {
        **about,
        "overall": summary(every),
        "characters": {
            r.name: {"source": r.source, "turns": len(r.turns), **summary(r.turns)} for r in runs
        },
        "turns": [_turn_json(r.name, t) for r in runs for t in r.turns],
    }


def _cell(fig: Mapping[str, Any]) -> str:
    if "rate" in fig:
        return "-" if fig["rate"] is None else f"{fig['count']}/{fig['of']}"
    v = value_of(fig)
    return "-" if v is None else f"{v:.2f}"


def table(report: Mapping[str, Any]) -> str:
    """The figures as a text table: one row per metric, one column per character, overall."""
    columns = [*report["characters"].keys(), "overall"]
    figures = [*report["characters"].values(), report["overall"]]
    width = max(10, *(len(c) + 2 for c in columns))
    lines = [f"{'':<22}" + "".join(f"{c[: width - 2]:>{width}}" for c in columns)]
    for m in METRICS:
        row = "".join(f"{_cell(f[m.name]):>{width}}" for f in figures)
        lines.append(f"{m.name:<22}{row}")
    return "\n".join(lines)


def _shown(metric: Metric, v: float) -> str:
    return f"{v:.1%}" if metric.kind == "rate" else f"{v:.3f}"


def missed(report: Mapping[str, Any], thresholds: Mapping[str, float]) -> list[str]:
    """One message per threshold the overall figures miss (``thresholds``: metric → bound).
    A metric no turn measured misses a ``min`` threshold and meets a ``max`` one."""
    out = []
    for name, bound in thresholds.items():
        metric = BY_NAME[name]
        fig = report["overall"][name]
        v = value_of(fig)
        detail = f" ({fig['count']}/{fig['of']})" if "count" in fig else ""
        if v is None:
            if metric.direction == "min":
                out.append(f"{name}: not measured (no turn counts), needs {metric.flag} {bound}")
            continue
        if metric.direction == "max" and v > bound:
            out.append(
                f"{name}: {_shown(metric, v)}{detail} is above {metric.flag} {_shown(metric, bound)}"
            )
        elif metric.direction == "min" and v < bound:
            out.append(
                f"{name}: {_shown(metric, v)}{detail} is below {metric.flag} {_shown(metric, bound)}"
            )
    return out
