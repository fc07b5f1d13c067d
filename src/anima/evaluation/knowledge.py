"""``anima eval --suite knowledge`` and ``--suite memory``: does the character know its facts
and remember the player?

Knowledge: each bundled character gets its probe facts (``data/eval/knowledge.yaml``) hidden
among ``DISTRACTORS`` unrelated facts in its personal knowledge, is deployed, and is asked each
probe's question in a new session. Scored: the probe fact among the facts retrieved for the
turn (the interaction's trace), and one of the probe's answer words in the reply.

Memory: for each probe a new player (``endUserId``) states something in one session; once
the memory is stored, a new session of the same player asks about it. Scored: a memory
recalled for the turn, and the answer in the reply.

Both go through the REST API, in process or against a server (``--url``).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from anima.errors import InvalidArgument
from anima.evaluation.runner import RestTarget
from anima.evaluation.script import CharacterFile

DISTRACTORS = 320
MEMORY_WAIT_S = 10.0

_PLACES = (
    "Brackenford", "Oldmere", "the Salt Road", "Quarry Hill", "Wrenfield", "the east docks",
    "Tallow Lane", "Greyhaven", "the Sunken Market", "Mossbridge", "Corvin Square",
    "the High Moor", "Lowwater", "the Glass Quarter", "Pennick", "Fallowmere",
)  # fmt: skip
_THINGS = (
    "clock tower", "fish market", "weaving guild", "bell foundry", "apple orchard",
    "granary", "rope walk", "chapel", "toll bridge", "lamp works", "tannery", "library",
    "bathhouse", "windmill", "salt pans", "printing house", "horse fair", "lighthouse",
    "brewery", "candle shop",
)  # fmt: skip
_FACTS = (
    "was rebuilt after the great fire",
    "opens an hour after sunrise",
    "is run by three sisters",
    "pays its workers in salt",
    "was founded by a retired admiral",
    "closes for the whole of winter",
    "is said to be haunted by a drummer",
    "trades mostly with river barges",
    "burned down twice in one century",
    "keeps its records in red ink",
    "has a weathervane shaped like a pike",
    "hires only left-handed apprentices",
    "smells of tar and vinegar",
    "is older than the town walls",
    "was won in a card game",
    "sells its goods by the bushel",
)


def distractor_facts(n: int = DISTRACTORS, seed: int = 1) -> list[str]:
    """``n`` unrelated facts about an invented town, the same every run."""
    combos = [(p, t, f) for p in _PLACES for t in _THINGS for f in _FACTS]
    random.Random(seed).shuffle(combos)
    return [f"The {t} of {p} {f}." for p, t, f in combos[:n]]


@dataclass(frozen=True, slots=True)
class KnowledgeProbe:
    character: str  # bundled character file stem
    fact: str
    question: str
    answers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MemoryProbe:
    character: str
    statement: str
    question: str
    answers: tuple[str, ...]


def load_probes() -> tuple[list[KnowledgeProbe], list[MemoryProbe]]:
    text = resources.files("anima.data").joinpath("eval/knowledge.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    knowledge = [
        KnowledgeProbe(stem, p["fact"], p["question"], tuple(str(a) for a in p["answer"]))
        for stem, items in data["knowledge"].items()
        for p in items
    ]
    memory = [
        MemoryProbe(
            p["character"], p["statement"], p["question"], tuple(str(a) for a in p["answer"])
        )
        for p in data["memory"]
    ]
    return knowledge, memory


def answered(reply: str, answers: Sequence[str]) -> bool:
    low = reply.lower()
    return any(a.lower() in low for a in answers)


@dataclass(slots=True)
class ProbeResult:
    character: str
    question: str
    reply: str
    retrieved: bool  # the probe's fact (or a memory) was found for the turn
    answered: bool
    turn_s: float
    found: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "character": self.character,
            "question": self.question,
            "reply": self.reply,
            "retrieved": self.retrieved,
            "answered": self.answered,
            "turn_s": round(self.turn_s, 3),
            "found": self.found,
        }


def summary(results: Sequence[ProbeResult]) -> dict[str, Any]:
    n = len(results)
    times = sorted(r.turn_s for r in results)
    return {
        "probes": n,
        "retrieved": round(sum(r.retrieved for r in results) / n, 3) if n else 0.0,
        "answered": round(sum(r.answered for r in results) / n, 3) if n else 0.0,
        "turn_s_p50": round(times[n // 2], 3) if n else 0.0,
    }


class Prober:
    """Talks to a target over REST and reads each turn's trace."""

    def __init__(self, target: RestTarget, player: str, progress: Callable[[str], None]):
        self.target = target
        self.player = player
        self.progress = progress

    async def _ok(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        r = await self.target.client.request(method, path, **kw)
        if r.status_code != 200:
            raise InvalidArgument(f"{method} {path}: HTTP {r.status_code} {r.text[:300]}")
        body: dict[str, Any] = r.json()
        return body

    async def open(self, character_id: str, end_user_id: str) -> tuple[str, str]:
        ws = self.target.workspace
        resource = f"workspaces/{ws}/characters/{character_id}"
        user = {"givenName": self.player, "endUserId": end_user_id}
        s = await self._ok(
            "POST", f"/v1/{resource}:openSession", json={"name": resource, "user": user}
        )
        return str(s["name"]), str(s["sessionCharacters"][0]["character"])

    async def ask(self, session: str, agent: str, text: str) -> tuple[str, dict[str, Any], float]:
        ws = self.target.workspace
        started = time.perf_counter()
        body = await self._ok(
            "POST",
            f"/v1/workspaces/{ws}/sessions/{session}/sessionCharacters/{agent}:sendText",
            json={"text": text},
            headers={"Grpc-Metadata-session-id": session},
        )
        took = time.perf_counter() - started
        listed = await self._ok("GET", f"/v1/workspaces/{ws}/sessions/{session}/interactions")
        trace = listed["interactions"][-1].get("trace", {}) if listed["interactions"] else {}
        return " ".join(body.get("textList", [])), trace, took

    async def memories(self, character_id: str, end_user_id: str) -> list[dict[str, Any]]:
        ws = self.target.workspace
        path = f"/v1/workspaces/{ws}/characters/{character_id}/players/{end_user_id}/memories"
        found: list[dict[str, Any]] = (await self._ok("GET", path))["memories"]
        return found


def _with_facts(character: CharacterFile, facts: list[str]) -> CharacterFile:
    body = dict(character.body)
    body["personalKnowledge"] = {"facts": [{"text": f} for f in facts]}
    return CharacterFile(character.source, body, character.character)


async def run_knowledge(
    prober: Prober, characters: dict[str, CharacterFile], probes: Sequence[KnowledgeProbe]
) -> list[ProbeResult]:
    results: list[ProbeResult] = []
    stems = list(dict.fromkeys(p.character for p in probes))
    for stem in stems:
        mine = [p for p in probes if p.character == stem]
        facts = distractor_facts() + [p.fact for p in mine]
        random.Random(stem).shuffle(facts)
        prober.progress(f"knowledge: deploying {stem} with {len(facts)} facts")
        cid = await prober.target.deploy(_with_facts(characters[stem], facts))
        for p in mine:
            session, agent = await prober.open(cid, f"anima-eval-{uuid.uuid4().hex[:12]}")
            reply, trace, took = await prober.ask(session, agent, p.question)
            found = [k["text"] for k in trace.get("knowledge", [])]
            result = ProbeResult(
                stem, p.question, reply, p.fact in found, answered(reply, p.answers), took, found
            )
            results.append(result)
            prober.progress(
                f"  {'R' if result.retrieved else '-'}{'A' if result.answered else '-'} "
                f"{p.question} -> {reply}"
            )
    return results


async def run_memory(
    prober: Prober, characters: dict[str, CharacterFile], probes: Sequence[MemoryProbe]
) -> list[ProbeResult]:
    results: list[ProbeResult] = []
    deployed: dict[str, str] = {}
    for p in probes:
        if p.character not in deployed:
            deployed[p.character] = await prober.target.deploy(characters[p.character])
        cid = deployed[p.character]
        player = f"anima-eval-{uuid.uuid4().hex[:12]}"
        session, agent = await prober.open(cid, player)
        await prober.ask(session, agent, p.statement)
        for _ in range(int(MEMORY_WAIT_S / 0.05)):  # stored off the reply path: poll
            if await prober.memories(cid, player):
                break
            await asyncio.sleep(0.05)
        session, agent = await prober.open(cid, player)  # a new session, the same player
        reply, trace, took = await prober.ask(session, agent, p.question)
        found = [m["text"] for m in trace.get("memories", [])]
        result = ProbeResult(
            p.character, p.question, reply, bool(found), answered(reply, p.answers), took, found
        )
        results.append(result)
        prober.progress(
            f"  {'R' if result.retrieved else '-'}{'A' if result.answered else '-'} "
            f"{p.statement} / {p.question} -> {reply}"
        )
    return results
