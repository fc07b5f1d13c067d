"""The safety stage: the player's line is checked before any other stage reads it, each
sentence of the reply before it is sent (pipeline/safety.py does the checking).

A blocked player line is answered with an in-character refusal and no model: the goals stage
matches it to no intent and the knowledge and memory stage recalls nothing for it. The
verdicts go to the interaction's trace and the character's session state when the turn ends.
"""

from __future__ import annotations

from anima.pipeline.safety import Safety, Screen
from anima.pipeline.stages.base import Part, Stage, Turn
from anima.pipeline.turn import Said, TurnRequest


class SafetyStage(Stage):
    def __init__(self, safety: Safety) -> None:
        self.safety = safety

    async def prepare(self, turn: Turn) -> Part:
        job = turn.job
        previous = [" ".join(i.texts) for i in job.history[-1:]]  # a refusal never repeats it
        screen = self.safety.screen(job.character, turn.player_name, previous)
        said = job.turn_input.text if job.turn_input.kind != "trigger" else ""
        if said:
            refusal = await screen.check_player(said)
            if refusal is not None:
                turn.answer(refusal)
        return Screening(turn, screen)


class Screening(Part):
    def __init__(self, turn: Turn, screen: Screen) -> None:
        self.turn = turn
        self.checks = screen

    async def screen(self, said: Said, request: TurnRequest) -> bool:
        return await self.checks.hook(said, request)

    def finish(self) -> None:
        self.checks.finish(self.turn.job.outcome.trace, self.turn.state)
