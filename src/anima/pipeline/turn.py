"""One turn of a character: prompt in, domain events out, as the model streams.

    async for event in run_turn(ctx, request):
        ...

``ctx`` (``TurnContext``) holds what stays the same across a session's turns: the shared
language model, the deployed character, the player, the scene and the hooks of later stages.
``request`` (``TurnRequest``) holds this turn: the player's line, the history, and the optional
per-turn seams (mood, relationship, goal instruction, knowledge, game event).

Events, in order: for each sentence the model finishes, an ``Utterance`` (or a
``NarratedAction`` for text between asterisks, when the character has narrated actions), each
with its own ``utterance_id``, followed by what the ``on_utterance`` hooks return for it
(emotion, audio); then what the ``on_reply`` hooks return (relationship, triggers); and last
one ``InteractionEnd``.

Every sentence passes the guards (pipeline/guards.py) before it is sent. When the first one
fails a check (an AI admission, assistant talk, the hidden note said aloud, an echo of the
player, gibberish) or nothing usable came out, the reply is generated once more with a
corrective hint and another seed; when that fails too, the character deflects in its own
voice (``guards.deflection``), marked ``fallback`` so it never returns in the history.

Then each sentence passes the ``screen`` hooks (the safety stage, pipeline/safety.py): one
a screen refuses is never sent and the reply ends there, with a deflection when nothing was
said before it.

Cancelling the task that iterates, or closing the generator, stops generation at once and
yields nothing more: the caller that cancelled emits ``InteractionEnd(cancelled=True)``.
A ``BackendError`` propagates to the caller. ``run_turn`` never mutates its inputs: the caller
appends the reply to the history only after a successful turn.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from anima.backends.llm import LLM
from anima.domain.character import Character
from anima.domain.events import Event, InteractionEnd, NarratedAction, Utterance
from anima.domain.prompt import Line, Prompt, PromptInput, SceneInfo, Speaker, build_prompt
from anima.domain.session import Interaction, Player
from anima.pipeline.guards import Problem, ReplyCheck, ReplyFilter, deflection
from anima.pipeline.sentences import Segment

Said = Utterance | NarratedAction

log = logging.getLogger("anima.turn")

RECENT_REPLIES = 4  # a sentence said in one of the character's last replies is not said again
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True, slots=True)
class Reply:
    """The whole reply, handed to the ``on_reply`` hooks once the model is done."""

    request: TurnRequest
    said: tuple[Said, ...]
    fallback: bool  # True when the model produced nothing usable

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.said if isinstance(s, Utterance))


UtteranceHook = Callable[["Said", "TurnRequest"], Awaitable[Sequence[Event]]]
ScreenHook = Callable[["Said", "TurnRequest"], Awaitable[bool]]  # False: never send it
ReplyHook = Callable[[Reply], Awaitable[Sequence[Event]]]


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class TurnContext:
    llm: LLM
    character: Character
    agent_id: str
    player: Player = field(default_factory=Player)
    scene: SceneInfo | None = None
    history_token_budget: int = 1024
    max_tokens_cap: int | None = None  # Settings.llm_max_tokens
    on_utterance: tuple[UtteranceHook, ...] = ()  # emotion (issue 6), TTS
    on_reply: tuple[ReplyHook, ...] = ()  # relationship, goals and triggers
    screen: tuple[ScreenHook, ...] = ()  # safety: checked before each sentence is sent
    new_id: Callable[[], str] = _new_id


@dataclass(frozen=True, slots=True)
class TurnRequest:
    interaction_id: str
    text: str | None = None  # None: the character speaks first (an event or an instruction)
    history: tuple[Line, ...] = ()
    mood: str | None = None
    relationship: str | None = None
    instruction: str | None = None
    knowledge: tuple[str, ...] = ()
    memories: tuple[str, ...] = ()
    unknown: bool = False
    event: str | None = None


# Hints are a few words: a small model repeats longer instructions aloud, and the guards
# catch these few if it does.
_HINTS = {
    Problem.AI_ADMISSION: "Stay in the story.",
    Problem.ASSISTANT_TALK: "Stay in the story.",
    Problem.NOTE_PARROT: "Use new words.",
    Problem.ECHO: "Answer, don't repeat.",
    Problem.IDENTITY: "You are {character}.",
    Problem.GIBBERISH: "Use plain words.",
    Problem.NAMELESS: "You are {character}.",
    Problem.FORGOT_PLAYER: "You are talking to {player}.",
    Problem.LOOP: "Use new words.",
}
_EMPTY_HINT = "Answer {player}."


def repair_hint(problem: Problem | None) -> str:
    """The corrective hint for a second attempt after ``problem`` (None: nothing usable)."""
    return _HINTS.get(problem, _EMPTY_HINT) if problem is not None else _EMPTY_HINT


def turn_prompt(
    ctx: TurnContext, request: TurnRequest, *, problem: Problem | None = None, attempt: int = 0
) -> Prompt:
    return build_prompt(
        PromptInput(
            character=ctx.character,
            player=ctx.player,
            text=request.text,
            history=request.history,
            scene=ctx.scene,
            mood=request.mood,
            relationship=request.relationship,
            instruction=request.instruction,
            knowledge=request.knowledge,
            memories=request.memories,
            unknown=request.unknown,
            event=request.event,
            hint=repair_hint(problem) if attempt else None,
            attempt=attempt,
            history_token_budget=ctx.history_token_budget,
            max_tokens_cap=ctx.max_tokens_cap,
        )
    )


async def run_turn(ctx: TurnContext, request: TurnRequest) -> AsyncIterator[Event]:
    said: list[Said] = []
    screened_out: list[Said] = []  # the sentence a screen refused: the reply ends there

    async def emit(segments: list[Segment], *, fallback: bool = False) -> AsyncIterator[Event]:
        for seg in segments:
            if screened_out and not fallback:
                return
            if seg.action:
                event: Said = NarratedAction(
                    request.interaction_id, ctx.new_id(), ctx.agent_id, seg.text
                )
            else:
                event = Utterance(
                    request.interaction_id, ctx.new_id(), ctx.agent_id, seg.text, fallback
                )
            if not fallback and not await _screened(ctx, event, request):
                screened_out.append(event)
                return
            said.append(event)
            yield event
            for hook in ctx.on_utterance:
                for extra in await hook(event, request):
                    yield extra

    problem: Problem | None = None
    for attempt in range(2):  # the first reply, then one repair
        prompt = turn_prompt(ctx, request, problem=problem, attempt=attempt)
        reply = _filter(ctx, request, prompt)
        async with aclosing(ctx.llm.stream(prompt)) as chunks:
            async for chunk in chunks:
                async for event in emit(reply.feed(chunk)):
                    yield event
                if reply.done or screened_out:
                    break  # leaving the block closes the stream: generation stops
        async for event in emit(reply.close()):
            yield event
        if reply.problems or not said:
            log.debug(
                "reply %d of %s cut: %s (the model wrote %r)",
                attempt,
                request.interaction_id,
                reply.dropped,
                reply.raw,
            )
        if screened_out or any(isinstance(s, Utterance) for s in said):
            break
        problem = reply.rejected

    fallback = not any(isinstance(s, Utterance) for s in said)
    if fallback:
        previous = [line.text for line in request.history if line.speaker is Speaker.CHARACTER]
        line = deflection(
            ctx.character,
            ctx.player.name,
            request.text or request.event or "",
            previous[-1:],
            problem=Problem.UNSAFE
            if screened_out
            else reply.requirement or (problem if problem is Problem.AI_ADMISSION else None),
        )
        async for event in emit([Segment(line)], fallback=True):
            yield event
    done = Reply(request=request, said=tuple(said), fallback=fallback)
    for reply_hook in ctx.on_reply:
        for extra in await reply_hook(done):
            yield extra
    yield InteractionEnd(request.interaction_id, ctx.agent_id)


async def _screened(ctx: TurnContext, said: Said, request: TurnRequest) -> bool:
    for hook in ctx.screen:
        if not await hook(said, request):
            return False
    return True


def framing_lines(prompt: Prompt) -> list[str]:
    """The persona's lines that are instructions, not facts about the character: said aloud
    they are the prompt leaking ("talks in a way that is...", the rules)."""
    name = prompt.character_name
    return [
        line
        for line in prompt.system.splitlines()
        if line.startswith((f"{name} talks in a way", "You are talking to", "Reply as "))
    ]


def _filter(ctx: TurnContext, request: TurnRequest, prompt: Prompt) -> ReplyFilter:
    replies = [
        line.text
        for line in request.history
        if line.speaker is Speaker.CHARACTER and not line.fallback
    ]
    previous = [s for text in replies[-RECENT_REPLIES:] for s in _SENTENCE_END.split(text)]
    hidden = [
        line for line in prompt.note.splitlines() if line.strip() and line not in prompt.facts
    ]
    hidden += framing_lines(prompt)
    return ReplyFilter(
        character_name=prompt.character_name,
        player_name=prompt.player_name,
        narrated_actions=prompt.narrated_actions,
        max_sentences=prompt.max_sentences,
        previous=previous,
        check=ReplyCheck(
            character_name=prompt.character_name,
            player_name=prompt.player_name,
            player_line=request.text or "",
            instructions=tuple(hidden),
            persona=prompt.system.split("\n", 1)[-1],  # not the first line: "You are X, Y."
            fourth_wall=ctx.character.fourth_wall_contained,
        ),
    )


def history_lines(interactions: Sequence[Interaction], *, actions: bool = True) -> tuple[Line, ...]:
    """Stored interactions (oldest first) as prompt history lines."""
    lines: list[Line] = []
    for it in interactions:
        if it.input_kind == "text" and it.input_text.strip():
            lines.append(Line(Speaker.PLAYER, it.input_text))
        elif it.input_kind == "action" and it.input_text.strip():
            lines.append(Line(Speaker.PLAYER, f"*{it.input_text.strip()}*"))
        parts = [
            f"*{t}*" if narrated else t
            for t, narrated in zip(it.texts, it.narrated or (False,) * len(it.texts), strict=False)
            if actions or not narrated
        ]
        if parts:
            lines.append(Line(Speaker.CHARACTER, " ".join(parts), fallback=it.fallback))
    return tuple(lines)
