"""run_turn over the scripted backend: event order, hooks, guards, fallback, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from anima.backends.scripted import Reply, ScriptedLLM
from anima.domain.character import Character
from anima.domain.events import (
    EmotionChanged,
    Event,
    InteractionEnd,
    NarratedAction,
    RelationshipChanged,
    SpaffCode,
    Strength,
    TriggerFired,
    Utterance,
)
from anima.domain.prompt import Line, Speaker
from anima.domain.session import Interaction, Player
from anima.errors import BackendError
from anima.pipeline import turn as turn_module
from anima.pipeline.guards import is_fallback
from anima.pipeline.turn import (
    Reply as TurnReply,
)
from anima.pipeline.turn import (
    Said,
    TurnContext,
    TurnRequest,
    history_lines,
    run_turn,
)

AXEON = Character.model_validate(
    {
        "defaultCharacterDescription": {
            "givenName": "Axeon",
            "narrativeActionsEnabled": True,
            "dialogResponseLength": "DIALOG_RESPONSE_LENGTH_LONG",
        }
    }
)


def context(llm: ScriptedLLM, **kw: object) -> TurnContext:
    return TurnContext(
        llm=llm, character=AXEON, agent_id="agent-1", player=Player(given_name="Ann"), **kw
    )  # type: ignore[arg-type]


async def collect(ctx: TurnContext, request: TurnRequest) -> list[Event]:
    return [e async for e in run_turn(ctx, request)]


async def test_utterances_and_actions_in_order_with_their_own_ids() -> None:
    llm = ScriptedLLM(
        ["Welcome, {player}! *wipes the counter* I am {character}. What do you need?"]
    )
    events = await collect(context(llm), TurnRequest("i-1", text="Hello"))
    assert [(type(e).__name__, getattr(e, "text", "")) for e in events] == [
        ("Utterance", "Welcome, Ann!"),
        ("NarratedAction", "wipes the counter"),
        ("Utterance", "I am Axeon."),
        ("Utterance", "What do you need?"),
        ("InteractionEnd", ""),
    ]
    said = [e for e in events if isinstance(e, Utterance | NarratedAction)]
    assert len({e.utterance_id for e in said}) == len(said)
    assert all(e.interaction_id == "i-1" and e.agent_id == "agent-1" for e in events)
    assert llm.prompts[0].messages[-1].text == "Hello"


async def test_hooks_run_per_utterance_then_per_reply() -> None:
    seen: list[str] = []

    async def emotion(said: Said, request: TurnRequest) -> Sequence[Event]:
        seen.append(said.text)
        return [
            EmotionChanged(
                request.interaction_id,
                said.utterance_id,
                said.agent_id,
                SpaffCode.JOY,
                Strength.NORMAL,
            )
        ]

    async def relationship(reply: TurnReply) -> Sequence[Event]:
        assert reply.text == "Hi. Bye."
        assert not reply.fallback
        return [
            RelationshipChanged(reply.request.interaction_id, "agent-1", trust=1),
            TriggerFired(reply.request.interaction_id, "agent-1", "greeted"),
        ]

    llm = ScriptedLLM(["Hi. Bye."])
    events = await collect(
        context(llm, on_utterance=(emotion,), on_reply=(relationship,)), TurnRequest("i", text="x")
    )
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "Utterance",
        "EmotionChanged",
        "Utterance",
        "EmotionChanged",
        "RelationshipChanged",
        "TriggerFired",
        "InteractionEnd",
    ]
    first, emo = events[0], events[1]
    assert isinstance(first, Utterance)
    assert isinstance(emo, EmotionChanged)
    assert emo.utterance_id == first.utterance_id
    assert seen == ["Hi.", "Bye."]


async def test_speaking_for_the_player_stops_generation() -> None:
    llm = ScriptedLLM(
        ["Sure. Ann: great, thanks! Axeon: you are welcome and more words follow here"]
    )
    events = await collect(context(llm), TurnRequest("i", text="x"))
    assert [getattr(e, "text", None) for e in events] == ["Sure.", None]
    assert llm.chunks_sent < 8  # the stream was closed, not read to its end


async def test_nothing_usable_is_repaired_once_then_deflected_in_character() -> None:
    llm = ScriptedLLM(["<|im_end|>"])
    events = await collect(context(llm), TurnRequest("i", text="Hello"))
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert len(llm.prompts) == 2  # the reply, then one repair
    assert len(utterances) == 1
    assert utterances[0].fallback
    assert is_fallback(utterances[0].text)
    assert isinstance(events[-1], InteractionEnd)


async def test_a_bad_first_reply_is_generated_again_with_a_hint_and_another_seed() -> None:
    llm = ScriptedLLM(["I am an AI language model. How can I help?", "Hmph. I am Axeon, smith."])
    events = await collect(context(llm), TurnRequest("i", text="Are you an AI?"))
    said = [e.text for e in events if isinstance(e, Utterance)]
    assert said == ["Hmph.", "I am Axeon, smith."]  # nothing of the first reply was sent
    first, second = llm.prompts
    assert (first.attempt, second.attempt) == (0, 1)
    assert "Stay in the story." in second.note
    assert "Stay in the story." not in first.note
    assert not any(e.fallback for e in events if isinstance(e, Utterance))


async def test_a_repair_that_fails_too_deflects_never_twice_the_same() -> None:
    llm = ScriptedLLM(["How can I help you today?"])
    history: tuple[Line, ...] = ()
    said: list[str] = []
    for i in range(4):
        events = await collect(context(llm), TurnRequest(str(i), text="Hi", history=history))
        (u,) = [e for e in events if isinstance(e, Utterance)]
        assert u.fallback
        assert not said or u.text != said[-1]
        said.append(u.text)
        history += (Line(Speaker.PLAYER, "Hi"), Line(Speaker.CHARACTER, u.text, fallback=True))
    # deflections are never fed back to the model
    assert all(m.text == "Hi" for m in llm.prompts[-1].messages)


async def test_an_echo_of_the_player_is_a_failed_reply() -> None:
    llm = ScriptedLLM(["Where is the old mill?", "Past the bridge, by the willows."])
    events = await collect(context(llm), TurnRequest("i", text="Where is the old mill?"))
    assert [e.text for e in events if isinstance(e, Utterance)] == [
        "Past the bridge, by the willows."
    ]


async def test_reply_hook_sees_the_fallback() -> None:
    flags: list[bool] = []

    async def hook(reply: TurnReply) -> Sequence[Event]:
        flags.append(reply.fallback)
        return []

    await collect(context(ScriptedLLM(["   "]), on_reply=(hook,)), TurnRequest("i", text="?"))
    assert flags == [True]


async def test_backend_failure_propagates_and_inputs_stay_untouched() -> None:
    llm = ScriptedLLM(
        [Reply("One. Two. Three.", fail_after=2, error=BackendError("boom", retryable=True))]
    )
    history = (Line(Speaker.PLAYER, "a"), Line(Speaker.CHARACTER, "b"))
    request = TurnRequest("i", text="x", history=history)
    got: list[Event] = []

    async def consume() -> None:
        async for e in run_turn(context(llm), request):
            got.append(e)

    with pytest.raises(BackendError) as info:
        await consume()
    assert info.value.retryable
    assert request.history == history  # the caller appends history only after success
    assert not any(isinstance(e, InteractionEnd) for e in got)


async def test_a_failure_before_the_first_chunk_is_retried_once() -> None:
    llm = ScriptedLLM([Reply("x", fail_after=0), "Recovered."])
    events = await collect(context(llm), TurnRequest("i", text="x"))
    assert [getattr(e, "text", None) for e in events] == ["Recovered.", None]
    assert llm.last_metrics is not None
    assert llm.last_metrics.attempts == 2


async def test_a_silent_backend_times_out_as_a_retryable_error() -> None:
    llm = ScriptedLLM(["late"], first_chunk_delay_s=5, timeout_s=0.05, retries=0)
    with pytest.raises(BackendError) as info:
        await collect(context(llm), TurnRequest("i", text="x"))
    assert info.value.retryable
    assert "no output" in info.value.message


async def test_cancelling_the_consuming_task_stops_generation() -> None:
    words = "First sentence. " + " ".join(f"word{i}" for i in range(200))
    llm = ScriptedLLM([words], chunk_delay_s=0.001)
    first = asyncio.Event()

    async def consume() -> None:
        async for e in run_turn(context(llm), TurnRequest("i", text="x")):
            if isinstance(e, Utterance):
                first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sent = llm.chunks_sent
    await asyncio.sleep(0.05)
    assert llm.chunks_sent == sent < 200
    assert llm.last_metrics is not None
    assert llm.last_metrics.cancelled


async def test_closing_the_generator_stops_generation() -> None:
    llm = ScriptedLLM(["First. " + " ".join(f"w{i}" for i in range(200))], chunk_delay_s=0.001)
    gen = run_turn(context(llm), TurnRequest("i", text="x"))
    assert isinstance(await anext(gen), Utterance)
    await gen.aclose()
    sent = llm.chunks_sent
    await asyncio.sleep(0.05)
    assert llm.chunks_sent == sent < 200


async def test_turn_started_by_an_event_without_text() -> None:
    llm = ScriptedLLM(["A dragon!"])
    events = await collect(
        context(llm), TurnRequest("i", event="A dragon lands.", instruction="Warn {player}.")
    )
    assert isinstance(events[0], Utterance)
    assert events[0].text == "A dragon!"
    prompt = llm.prompts[0]
    assert "What just happened: A dragon lands." in prompt.note
    assert "Warn Ann." in prompt.note


def test_history_lines_from_stored_interactions() -> None:
    def it(kind: str, text: str, texts: tuple[str, ...], narrated: tuple[bool, ...]) -> Interaction:
        return Interaction(
            id="i",
            session_id="s",
            agent_id="a",
            seq=1,
            created_at=0.0,
            input_kind=kind,
            input_text=text,
            texts=texts,
            narrated=narrated,
        )

    lines = history_lines(
        [
            it("text", "Hello", ("Hi!", "nods"), (False, True)),
            it("trigger", "", ("Ready.",), (False,)),
            it("action", "waves", (), ()),
        ]
    )
    assert lines == (
        Line(Speaker.PLAYER, "Hello"),
        Line(Speaker.CHARACTER, "Hi! *nods*"),
        Line(Speaker.CHARACTER, "Ready."),
        Line(Speaker.PLAYER, "*waves*"),
    )
    assert (
        turn_module.history_lines([it("text", "a", ("b", "c"), (False, True))], actions=False)[
            1
        ].text
        == "b"
    )


def test_a_deflection_stays_in_the_history_marked_so_the_prompt_leaves_it_out() -> None:
    stored = Interaction(
        id="i",
        session_id="s",
        agent_id="a",
        seq=1,
        created_at=0.0,
        input_kind="text",
        input_text="Are you an AI?",
        texts=("Hmph. Ask me about fishing.",),
        narrated=(False,),
        fallback=True,
    )
    (player, character) = history_lines([stored])
    assert not player.fallback
    assert character.fallback


@pytest.mark.parametrize("newest", [31, 32, 40, 47, 48, 62, 63, 100])
def test_the_history_window_starts_on_a_block_and_holds_enough(newest: int) -> None:
    from anima.pipeline.engine import HISTORY_BLOCK, HISTORY_INTERACTIONS, history_window

    def it(seq: int) -> Interaction:
        return Interaction(
            id=str(seq),
            session_id="s",
            agent_id="a",
            seq=seq,
            created_at=0.0,
            input_kind="text",
            input_text="x",
        )

    loaded = [it(s) for s in range(max(0, newest - 47), newest + 1)]
    kept = history_window(loaded)
    assert kept[-1].seq == newest
    assert len(kept) >= min(len(loaded), HISTORY_INTERACTIONS)
    if len(kept) < len(loaded):
        assert kept[0].seq % HISTORY_BLOCK == 0
    # the next turn keeps the same oldest interaction unless a block boundary is crossed
    after = history_window([*loaded, it(newest + 1)][-48:])
    assert after[0].seq in (kept[0].seq, kept[0].seq + HISTORY_BLOCK)
