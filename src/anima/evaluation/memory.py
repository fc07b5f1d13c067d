"""How well long-term memory extraction reads player lines: precision and recall on a
labelled set (``data/eval/memory_lines.jsonl``).

Each line is labelled with the durable facts a careful reader would keep from it (a slot and
words the memory must contain); lines with no fact are questions, insults, role-play and
instructions, hypotheticals, jokes and small talk. A memory extracted from a line is right
when it has a labelled slot and all of that fact's words; any other memory is invented.
Facts labelled with slot ``other`` are stated in ways the grammar does not read: they count
against recall, never for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from anima.domain.memory import extract


@dataclass(slots=True)
class ExtractionScore:
    lines: int = 0
    facts: int = 0  # labelled facts
    extracted: int = 0
    correct: int = 0
    invented: list[dict[str, str]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.extracted if self.extracted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.facts if self.facts else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "labelled_facts": self.facts,
            "extracted": self.extracted,
            "correct": self.correct,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "invented": self.invented,
            "missed": self.missed,
        }


def labelled_lines(path: Path | None = None) -> list[dict[str, Any]]:
    text = (
        path.read_text("utf-8")
        if path is not None
        else resources.files("anima.data").joinpath("eval/memory_lines.jsonl").read_text("utf-8")
    )
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def score_extraction(lines: list[dict[str, Any]]) -> ExtractionScore:
    score = ExtractionScore()
    for item in lines:
        score.lines += 1
        facts = item.get("facts", [])
        score.facts += len(facts)
        found = extract(item["line"])
        score.extracted += len(found)
        matched: set[int] = set()
        for memory in found:
            text = memory.text.lower()
            hit = next(
                (
                    i
                    for i, fact in enumerate(facts)
                    if i not in matched
                    and fact["slot"] == memory.slot
                    and all(w.lower() in text for w in fact["has"])
                ),
                None,
            )
            if hit is None:
                score.invented.append({"line": item["line"], "memory": memory.text})
            else:
                matched.add(hit)
                score.correct += 1
        score.missed += [item["line"] for i in range(len(facts)) if i not in matched]
    return score
