"""GetSessionState, continuation from the saved state, and the Feedback calls over gRPC."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from grpc import aio

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from anima.wire.pb.ai.inworld.engine.v1 import feedback_pb2 as fb
from anima.wire.pb.ai.inworld.engine.v1 import state_serialization_pb2 as ss
from tests.api.engine_helpers import Game, open_game
from tests.api.grpc_helpers import (
    Face,
    Stream,
    access_token,
    bearer,
    configure,
    key_pair,
    load_scene,
    served,
    text,
)

REPLIES = ("The ferry leaves at noon.", "Yes, I remember you asked about the ferry.")


@pytest.fixture
async def game(settings: Settings) -> AsyncIterator[Game]:
    async with open_game(settings) as g:
        g.use_llm(ScriptedLLM(REPLIES))
        yield g


@pytest.fixture
async def face(game: Game) -> AsyncIterator[Face]:
    async with served(game.app) as f:
        yield f


async def _conversation(face: Face, game: Game) -> tuple[Stream, str, str]:
    """A session with one finished interaction: (stream, scene, interaction id)."""
    scene = f"workspaces/ws1/characters/{await game.character('Alice')}"
    key, secret = await key_pair(face.app, "ws1")
    token = await access_token(face, key, secret)
    stream = Stream(face, token, token.session_id)
    agent_id = (await stream.open(scene)).agents[0].agent_id
    await stream.converse("c1", agent_id)
    said = text("c1", "When does the ferry leave?")
    await stream.send(said)
    await stream.reply(said.packet_id.interaction_id)
    return stream, scene, said.packet_id.interaction_id


def _state_request(stream: Stream) -> ss.GetSessionStateRequest:
    return ss.GetSessionStateRequest(name=f"workspaces/ws1/sessions/{stream.session}")


async def test_get_session_state_and_continue_from_it(face: Face, game: Game) -> None:
    stream, scene, interaction_id = await _conversation(face, game)
    # The node SDK sends only `authorization` here (no session-id).
    state = await face.states.GetSessionState(_state_request(stream), metadata=bearer(stream.token))
    stream.call.cancel()
    assert state.state
    assert state.version.interaction_id == interaction_id  # the client's id
    created = state.creation_time.ToDatetime(tzinfo=dt.UTC)
    assert abs(created - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)

    # A new client continues from the saved state: previousState (spec §3.2).
    key, secret = await key_pair(face.app, "ws1")
    token = await access_token(face, key, secret)
    resumed = Stream(face, token, token.session_id)
    await resumed.send(configure(continuation=state.state), load_scene(scene))
    shown = await resumed.read_until(lambda p: p.control.HasField("current_scene_status"))
    history = await game.store.sessions.history(resumed.session)
    assert [(i.input_text, i.texts) for i in history] == [
        ("When does the ferry leave?", (REPLIES[0],))
    ]
    # The restored dialog reaches the model on the next turn.
    agent_id = shown[-1].control.current_scene_status.agents[0].agent_id
    await resumed.converse("c2", agent_id)
    again = text("c2", "Do you remember me?")
    await resumed.send(again)
    await resumed.reply(again.packet_id.interaction_id)
    assert "When does the ferry leave?" in str(game.llm.prompts[-1])
    resumed.call.cancel()


async def test_the_grpc_state_is_the_rest_state(face: Face, game: Game) -> None:
    stream, _, _ = await _conversation(face, game)
    state = await face.states.GetSessionState(_state_request(stream), metadata=bearer(stream.token))
    transport = httpx.ASGITransport(app=game.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://anima.test") as http:
        r = await http.get(
            f"/v1/workspaces/ws1/sessions/{stream.session}/state",
            headers={
                "Authorization": f"Bearer {stream.token.token}",
                "Grpc-Metadata-session-id": stream.session,
            },
        )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == {"interactionId": state.version.interaction_id}
    assert base64.b64decode(r.json()["state"])  # sealed anew each time, same format
    stream.call.cancel()


async def test_get_session_state_errors(face: Face, game: Game) -> None:
    stream, _, _ = await _conversation(face, game)
    stream.call.cancel()
    cases = [
        (_state_request(stream), (), grpc.StatusCode.UNAUTHENTICATED),
        (ss.GetSessionStateRequest(name="sessions/x"), bearer(stream.token), "INVALID_ARGUMENT"),
        (
            ss.GetSessionStateRequest(name=f"workspaces/ws1/sessions/ws1:{uuid.uuid4()}"),
            bearer(stream.token),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            ss.GetSessionStateRequest(name=f"workspaces/other/sessions/other:{uuid.uuid4()}"),
            bearer(stream.token),
            grpc.StatusCode.PERMISSION_DENIED,
        ),
    ]
    for request, metadata, code in cases:
        with pytest.raises(aio.AioRpcError) as caught:
            await face.states.GetSessionState(request, metadata=metadata)
        expected = grpc.StatusCode[code] if isinstance(code, str) else code
        assert caught.value.code() == expected, (request, caught.value.details())


async def test_feedback_create_and_delete(face: Face, game: Game) -> None:
    stream, _, interaction_id = await _conversation(face, game)
    parent = (
        f"workspaces/ws1/sessions/{stream.session}/interactions/{interaction_id}/groups/default"
    )
    metadata = bearer(stream.token, session=stream.session)
    created = await face.feedback.CreateInteractionFeedback(
        fb.CreateInteractionFeedbackRequest(
            parent=parent,
            interaction_feedback=fb.InteractionFeedback(
                is_like=False,
                type=[fb.INTERACTION_DISLIKE_TYPE_TOO_LONG, fb.INTERACTION_DISLIKE_TYPE_REPETITION],
                comment="rambles",
            ),
        ),
        metadata=metadata,
    )
    assert created.name.startswith(parent + "/feedbacks/")
    assert list(created.type) == [
        fb.INTERACTION_DISLIKE_TYPE_TOO_LONG,
        fb.INTERACTION_DISLIKE_TYPE_REPETITION,
    ]
    assert not created.is_like
    assert created.comment == "rambles"
    feedback_id = created.name.rsplit("/", 1)[-1]
    stored = await game.store.feedback.get("ws1", feedback_id)
    assert stored is not None
    assert stored.interaction_id == interaction_id

    await face.feedback.DeleteInteractionFeedback(
        fb.DeleteInteractionFeedbackRequest(name=created.name), metadata=metadata
    )
    assert await game.store.feedback.get("ws1", feedback_id) is None
    with pytest.raises(aio.AioRpcError) as caught:
        await face.feedback.DeleteInteractionFeedback(
            fb.DeleteInteractionFeedbackRequest(name=created.name), metadata=metadata
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    stream.call.cancel()


async def test_feedback_errors(face: Face, game: Game) -> None:
    stream, _, interaction_id = await _conversation(face, game)
    stream.call.cancel()
    metadata = bearer(stream.token, session=stream.session)
    for parent, code in [
        ("nonsense", grpc.StatusCode.INVALID_ARGUMENT),
        (
            f"workspaces/ws1/sessions/ws1:{uuid.uuid4()}/interactions/i/groups/default",
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            f"workspaces/other/sessions/{stream.session}/interactions/i/groups/default",
            grpc.StatusCode.PERMISSION_DENIED,
        ),
    ]:
        with pytest.raises(aio.AioRpcError) as caught:
            await face.feedback.CreateInteractionFeedback(
                fb.CreateInteractionFeedbackRequest(
                    parent=parent, interaction_feedback=fb.InteractionFeedback(is_like=True)
                ),
                metadata=metadata,
            )
        assert caught.value.code() == code, (parent, caught.value.details())
    with pytest.raises(aio.AioRpcError) as caught:
        await face.feedback.DeleteInteractionFeedback(
            fb.DeleteInteractionFeedbackRequest(name="feedbacks/x"), metadata=metadata
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert interaction_id
