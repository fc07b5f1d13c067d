"""Plays a script to characters through the real engine and scores every reply.

Two targets, one way in: each character is created and deployed through the Studio API, a
session is opened for the player through the engine API (``openSession``, with the player's
name), and the script is played in order in that one session, so history accumulates.

- ``in_process(settings)``: the app built by ``create_app`` on a temporary data directory,
  reached through ``httpx.ASGITransport``; turns run on the engine's own event stream, which
  times the first utterance and the whole turn.
- ``remote(url, authorization)``: a running server; turns are ``sendText`` calls, timed whole.

Fallback lines are recognised through what ``anima.pipeline.guards`` exports: its
``FALLBACK_LINES`` (``{player}`` filled in) and, when it has one, ``is_fallback(text)``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

from anima.backends.embed import Embedder
from anima.backends.embed_registry import create_embedder
from anima.domain.events import NarratedAction, Utterance
from anima.domain.prompt import response_budget
from anima.errors import AnimaError, InvalidArgument
from anima.evaluation.instructions import instruction_texts, mood_feelings
from anima.evaluation.scorers import Score, TurnCase, instruction_ngrams, score_reply
from anima.evaluation.script import CharacterFile, Script, ScriptLine
from anima.settings import Settings

Progress = Callable[[str], None]
DEPLOY_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Reply:
    """What the character answered to one line, and how long it took."""

    texts: tuple[str, ...]
    narrated: tuple[str, ...] = ()
    turn_s: float = 0.0
    first_utterance_s: float | None = None  # known in process only
    error: str | None = None

    @property
    def text(self) -> str:
        return " ".join(t for t in self.texts if t.strip())


@dataclass(frozen=True, slots=True)
class Turn:
    index: int
    line: ScriptLine
    reply: Reply
    score: Score


@dataclass(slots=True)
class CharacterRun:
    source: str
    name: str
    turns: list[Turn] = field(default_factory=list)


class Conversation(Protocol):
    async def say(self, text: str) -> Reply: ...


class Target(Protocol):
    """Where characters live for the evaluation: an in-process app or a server."""

    description: str

    async def open(self, character: CharacterFile, player: str) -> Conversation: ...


# -- over the REST API -----------------------------------------------------------------


class _RestConversation:
    def __init__(self, client: httpx.AsyncClient, workspace: str, session: str, agent: str):
        self.client, self.workspace, self.session, self.agent = client, workspace, session, agent

    async def say(self, text: str) -> Reply:
        path = (
            f"/v1/workspaces/{self.workspace}/sessions/{self.session}"
            f"/sessionCharacters/{self.agent}:sendText"
        )
        started = time.perf_counter()
        try:
            r = await self.client.post(
                path, json={"text": text}, headers={"Grpc-Metadata-session-id": self.session}
            )
        except httpx.HTTPError as exc:
            return Reply((), turn_s=time.perf_counter() - started, error=str(exc))
        elapsed = time.perf_counter() - started
        if r.status_code != 200:
            return Reply((), turn_s=elapsed, error=_error(r))
        return Reply(tuple(r.json().get("textList", [])), turn_s=elapsed)


def _error(r: httpx.Response) -> str:
    try:
        err = r.json().get("error", {})
        return f"{r.status_code} {err.get('status', '')}: {err.get('message', '')}"
    except ValueError:
        return f"{r.status_code}: {r.text[:200]}"


class RestTarget:
    """A server reached over HTTP with a workspace key: Studio to deploy, /v1 to talk."""

    def __init__(self, client: httpx.AsyncClient, workspace: str, description: str) -> None:
        self.client = client
        self.workspace = workspace
        self.description = description

    async def _ok(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        r = await self.client.request(method, path, **kw)
        if r.status_code != 200:
            raise InvalidArgument(f"{method} {path}: {_error(r)}")
        body: dict[str, Any] = r.json()
        return body

    async def deploy(self, character: CharacterFile) -> str:
        """Create the character (a new one, whatever ``name`` the file has) and deploy it;
        its id."""
        body = {k: v for k, v in character.body.items() if k != "name"}
        created = await self._ok(
            "POST", f"/studio/v1/workspaces/{self.workspace}/characters", json=body
        )
        name = str(created["name"])
        op = await self._ok("POST", f"/studio/v1/{name}:deploy")
        deadline = time.monotonic() + DEPLOY_TIMEOUT_S
        while not op.get("done"):
            if time.monotonic() > deadline:
                raise InvalidArgument(f"deploying {character.source} did not finish")
            await asyncio.sleep(0.1)
            op = await self._ok("GET", f"/studio/v1/{op['name']}")
        if op.get("error"):
            message = op["error"].get("message", "")
            raise InvalidArgument(f"deploying {character.source} failed: {message}")
        return name.rsplit("/", 1)[-1]

    async def open_session(self, character_id: str, player: str) -> tuple[str, str]:
        """A session with the character for ``player``; (session id, agent id)."""
        resource = f"workspaces/{self.workspace}/characters/{character_id}"
        user = {"givenName": player, "endUserId": f"anima-eval-{uuid.uuid4().hex[:12]}"}
        session = await self._ok(
            "POST",
            f"/v1/{resource}:openSession",
            json={"name": resource, "user": user},
        )
        return str(session["name"]), str(session["sessionCharacters"][0]["character"])

    async def open(self, character: CharacterFile, player: str) -> Conversation:
        session, agent = await self.open_session(await self.deploy(character), player)
        return _RestConversation(self.client, self.workspace, session, agent)


def _authorization(key: str, secret: str | None) -> str:
    from anima.domain.credentials import basic_signature

    key = key.strip()
    if secret:
        return f"Basic {basic_signature(key, secret)}"
    return key if key.lower().startswith("basic ") else f"Basic {key}"


@asynccontextmanager
async def remote(
    url: str,
    workspace: str,
    key: str,
    secret: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[RestTarget]:
    """A running server; ``key`` is the Basic signature (or the public key with ``secret``)."""
    headers = {"Authorization": _authorization(key, secret)}
    async with httpx.AsyncClient(
        base_url=url.rstrip("/"), headers=headers, timeout=300, transport=transport
    ) as client:
        yield RestTarget(client, workspace, f"server {url}")


# -- in process ------------------------------------------------------------------------


class _EngineConversation:
    """Turns on the engine's event stream (what ``sendText`` runs), timed per event."""

    def __init__(self, engine: Any, workspace: str, session: str, agent: str) -> None:
        self.engine, self.workspace, self.session, self.agent = engine, workspace, session, agent

    async def say(self, text: str) -> Reply:
        from anima.pipeline.job import TurnInput

        texts: list[str] = []
        narrated: list[str] = []
        first: float | None = None
        started = time.perf_counter()
        try:
            turn = self.engine.turn(
                self.workspace, self.session, self.agent, TurnInput("text", text=text)
            )
            async for event in turn:
                if isinstance(event, Utterance | NarratedAction) and first is None:
                    first = time.perf_counter() - started
                if isinstance(event, Utterance):
                    texts.append(event.text)
                elif isinstance(event, NarratedAction):
                    narrated.append(event.text)
        except AnimaError as exc:
            return Reply((), turn_s=time.perf_counter() - started, error=exc.message)
        except Exception as exc:  # a bug in the engine: report the turn, play the next line
            error = f"{type(exc).__name__}: {exc}"
            return Reply((), turn_s=time.perf_counter() - started, error=error)
        return Reply(tuple(texts), tuple(narrated), time.perf_counter() - started, first)


class InProcessTarget(RestTarget):
    def __init__(self, client: httpx.AsyncClient, workspace: str, engine: Any) -> None:
        super().__init__(client, workspace, "in process")
        self.engine = engine

    async def open(self, character: CharacterFile, player: str) -> Conversation:
        session, agent = await self.open_session(await self.deploy(character), player)
        return _EngineConversation(self.engine, self.workspace, session, agent)


def private_settings(settings: Settings, data_dir: Path) -> Settings:
    """``settings`` on a fresh SQLite store in ``data_dir`` (never the user's database)."""
    values = settings.model_dump()
    values.update(data_dir=data_dir, database_url=f"sqlite+aiosqlite:///{data_dir / 'anima.db'}")
    values.update(database_schema=None, sealing_key_file=None)
    return Settings(**values)


@asynccontextmanager
async def in_process(settings: Settings, workspace: str = "eval") -> AsyncIterator[InProcessTarget]:
    """The app in this process on a temporary data directory, with a workspace key."""
    from anima.app import create_app
    from anima.domain.credentials import Scope, new_key_pair

    with tempfile.TemporaryDirectory(prefix="anima-eval-") as tmp:
        app = create_app(private_settings(settings, Path(tmp)))
        async with app.router.lifespan_context(app):
            state = app.state.anima
            await state.store.keys.ensure_workspace(workspace)
            pair = new_key_pair()
            await state.store.keys.add(workspace, Scope.ALL, pair)
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Basic {pair.basic}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://anima.eval", headers=headers, timeout=300
            ) as client:
                yield InProcessTarget(client, workspace, state.engine)


# -- scoring -------------------------------------------------------------------------


def fallback_hook() -> tuple[tuple[str, ...], Callable[[str], bool] | None]:
    """The guards' canned lines (empty when it has none) and its ``is_fallback``, if any."""
    from anima.pipeline import guards

    lines = tuple(str(line) for line in getattr(guards, "FALLBACK_LINES", ()))
    check = getattr(guards, "is_fallback", None)
    if not callable(check):
        return lines, None

    def is_fallback(text: str) -> bool:
        return bool(check(text))

    return lines, is_fallback


def max_sentences(character: CharacterFile) -> int | None:
    try:
        return response_budget(character.character.description.dialog_response_length).max_sentences
    except (KeyError, ValueError):
        return None


class Evaluation:
    """Plays ``script`` to each character on ``target`` and scores the replies."""

    def __init__(
        self,
        target: Target,
        embedder: Embedder,
        script: Script,
        *,
        player: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.target = target
        self.embedder = embedder
        self.script = script
        self.player = player or script.player
        self.progress = progress
        self.fallback_lines, self.is_fallback = fallback_hook()

    async def run(self, characters: Sequence[CharacterFile]) -> list[CharacterRun]:
        return [await self.play(c) for c in characters]

    async def play(self, character: CharacterFile) -> CharacterRun:
        conversation = await self.target.open(character, self.player)
        run = CharacterRun(character.source, character.given_name)
        grams = instruction_ngrams(instruction_texts(character.character, self.player))
        feelings = mood_feelings()
        budget = max_sentences(character)
        earlier: list[str] = []
        vectors: list[np.ndarray[Any, Any]] = []
        total = len(self.script.lines)
        for i, line in enumerate(self.script.lines):
            if self.progress is not None:
                self.progress(f"[{i + 1}/{total}] {character.given_name}: {line.text[:60]}")
            reply = await conversation.say(line.text)
            text = reply.text
            similarities: list[float] = []
            relevance: float | None = None
            if text.strip():
                pair = await self.embedder.embed([text, line.text])
                relevance = float(pair[0] @ pair[1])
                similarities = [float(pair[0] @ v) for v in vectors]
                vectors.append(pair[0])
            case = TurnCase(
                line=line.text,
                tags=line.tags,
                character_name=character.given_name,
                player=self.player,
                max_sentences=budget,
                instruction_ngrams=grams,
                feelings=feelings,
                fallback_lines=self.fallback_lines,
                is_fallback=self.is_fallback,
            )
            score = score_reply(text, case, earlier, similarities, relevance)
            run.turns.append(Turn(i, line, reply, score))
            earlier.append(text)
        return run


async def open_embedder(settings: Settings) -> Embedder:
    return await asyncio.to_thread(create_embedder, settings)
