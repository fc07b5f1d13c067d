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
one ``InteractionEnd``. When nothing usable came out, a short fallback line is spoken.

Cancelling the task that iterates, or closing the generator, stops generation at once and
yields nothing more: the caller that cancelled emits ``InteractionEnd(cancelled=True)``.
A ``BackendError`` propagates to the caller. ``run_turn`` never mutates its inputs: the caller
appends the reply to the history only after a successful turn.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from anima.backends.llm import LLM
from anima.domain.character import Character
from anima.domain.events import Event, InteractionEnd, NarratedAction, Utterance
from anima.domain.prompt import Line, Prompt, PromptInput, SceneInfo, Speaker, build_prompt
from anima.domain.session import Interaction, Player
from anima.pipeline.guards import ReplyFilter, fallback_line
from anima.pipeline.sentences import Segment

Said = Utterance | NarratedAction


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
    event: str | None = None


def turn_prompt(ctx: TurnContext, request: TurnRequest) -> Prompt:
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
            event=request.event,
            history_token_budget=ctx.history_token_budget,
            max_tokens_cap=ctx.max_tokens_cap,
        )
    )


async def run_turn(ctx: TurnContext, request: TurnRequest) -> AsyncIterator[Event]:
    prompt = turn_prompt(ctx, request)
    previous = [line.text for line in request.history if line.speaker is Speaker.CHARACTER]
    reply = ReplyFilter(
        character_name=prompt.character_name,
        player_name=prompt.player_name,
        narrated_actions=prompt.narrated_actions,
        max_sentences=prompt.max_sentences,
        previous=previous[-1:],
    )
    said: list[Said] = []

    async def emit(segments: list[Segment]) -> AsyncIterator[Event]:
        for seg in segments:
            kind = NarratedAction if seg.action else Utterance
            event = kind(request.interaction_id, ctx.new_id(), ctx.agent_id, seg.text)
            said.append(event)
            yield event
            for hook in ctx.on_utterance:
                for extra in await hook(event, request):
                    yield extra

    async with aclosing(ctx.llm.stream(prompt)) as chunks:
        async for chunk in chunks:
            async for event in emit(reply.feed(chunk)):
                yield event
            if reply.done:
                break  # leaving the block closes the stream: generation stops
    async for event in emit(reply.close()):
        yield event

    fallback = not any(isinstance(s, Utterance) for s in said)
    if fallback:
        line = fallback_line(prompt.player_name, request.text or request.event or "")
        async for event in emit([Segment(line)]):
            yield event
    done = Reply(request=request, said=tuple(said), fallback=fallback)
    for reply_hook in ctx.on_reply:
        for extra in await reply_hook(done):
            yield extra
    yield InteractionEnd(request.interaction_id, ctx.agent_id)


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
            lines.append(Line(Speaker.CHARACTER, " ".join(parts)))
    return tuple(lines)
