"""The safety stage: the character's ``safetyConfig`` enforced on both sides of a turn.

``Safety`` is built once per process (``await Safety.for_embedder(embedder, registry)``);
``Safety.screen(character, ...)`` gives the turn its ``Screen``:

- ``await screen.check_player(text)``: the player's line is scored (backends/safety.py) and
  judged (domain/safety.py) before the goals stage. When it is blocked, the answer is an
  in-character deflection (``guards.deflection`` with ``Problem.UNSAFE``: the character's
  dialog style and interests) and the model is never asked about the topic.
- ``screen.hook``: run by ``run_turn`` on each sentence of the reply before it is sent
  (``TurnContext.screen``); a blocked sentence is never sent and the reply ends there (with a
  deflection when nothing was said yet).
- ``screen.finish(trace, state)``: every verdict worth recording goes to the interaction's
  trace (``trace["safety"]``) and the last ``RECENT`` ones to the character's session state
  (the state view shows them); the engine copies the trace's records to the character's
  safety events (store/safety.py, ``GET .../characters/{c}/safetyEvents``).

The player's line was just embedded for the check, so the appraiser and the intent matcher
that follow read it from the embedder's cache: the player-side check costs a matrix product.
Each sentence of the reply costs one embedding. A blocked reply sentence is recorded without
its text: the trace is readable through the interactions API, and what was blocked must not
reach a client by that road either.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from anima.backends.embed import Embedder
from anima.backends.safety import SafetyClassifier
from anima.domain.character import Character
from anima.domain.safety import (
    ALWAYS_BLOCKED,
    CONFIGURABLE,
    Scores,
    Side,
    TopicScore,
    Verdict,
    first_block,
    judge,
    levels_of,
)
from anima.pipeline.guards import Problem, deflection
from anima.pipeline.turn import Said, TurnRequest

log = logging.getLogger("anima.safety")

RECENT = 10  # verdicts kept in the session character's state


def scores_of(row: dict[str, float]) -> Scores:
    """The classifier's scores per label (``violence/mild``, ``hate``...) as domain scores."""
    topics = {
        t: TopicScore(row.get(f"{t.value}/mild", 0.0), row.get(f"{t.value}/explicit", 0.0))
        for t in CONFIGURABLE
    }
    topics.update({t: TopicScore(explicit=row.get(t.value, 0.0)) for t in ALWAYS_BLOCKED})
    return Scores(topics)


def verdict_counter(registry: CollectorRegistry) -> Counter:
    """``anima_safety_verdicts_total{topic, action, side}`` on the app's /metrics."""
    return Counter(
        "anima_safety_verdicts",
        "Safety verdicts recorded, by topic, action (allow or block) and side (player or reply)",
        ["topic", "action", "side"],
        registry=registry,
    )


class Safety:
    """The classifier and the verdict counter, shared by every turn of the process."""

    def __init__(self, classifier: SafetyClassifier, verdicts: Counter | None = None) -> None:
        self.classifier = classifier
        self.verdicts = verdicts if verdicts is not None else verdict_counter(CollectorRegistry())

    @classmethod
    async def for_embedder(cls, embedder: Embedder, verdicts: Counter | None = None) -> Safety:
        return cls(await SafetyClassifier.for_embedder(embedder), verdicts)

    async def scores(self, texts: Sequence[str]) -> list[Scores]:
        return [scores_of(row) for row in await self.classifier.classify(texts)]

    def screen(
        self, character: Character, player_name: str, previous: Sequence[str] = ()
    ) -> Screen:
        """The screen of one turn; ``previous`` is the character's last reply (a deflection
        never repeats it)."""
        return Screen(self, character, player_name, previous)


class Screen:
    """One turn's checks and the records they leave."""

    def __init__(
        self, safety: Safety, character: Character, player_name: str, previous: Sequence[str]
    ) -> None:
        self.safety = safety
        self.character = character
        self.player_name = player_name
        self.previous = tuple(previous)
        self.levels = levels_of(character.safety_config)
        self.records: list[dict[str, Any]] = []

    async def check_player(self, text: str) -> str | None:
        """None when the player's line may be answered, else the deflection to say."""
        blocked = await self._check(text, Side.PLAYER)
        if blocked is None:
            return None
        return deflection(
            self.character, self.player_name, text, self.previous, problem=Problem.UNSAFE
        )

    async def hook(self, said: Said, _request: TurnRequest) -> bool:
        """``TurnContext.screen``: may this sentence of the reply be sent?"""
        return await self._check(said.text, Side.REPLY) is None

    async def _check(self, text: str, side: Side) -> Verdict | None:
        if not text.strip():
            return None
        (scores,) = await self.safety.scores([text])
        verdicts = judge(scores, self.levels)
        for v in verdicts:
            self.safety.verdicts.labels(v.topic.value, v.action.value, side.value).inc()
            self.records.append(v.record(side, text if side is Side.PLAYER else None))
        blocked = first_block(verdicts)
        if blocked is not None:
            log.info("%s line blocked: %s at %s", side.value, blocked.topic, blocked.level)
        return blocked

    def finish(self, trace: dict[str, Any], state: dict[str, Any]) -> None:
        """Write the turn's records to the interaction's trace and the character's state."""
        if not self.records:
            return
        trace["safety"] = list(self.records)
        state["safety"] = [*state.get("safety", []), *self.records][-RECENT:]
