"""Property: arbitrary Unicode in any string field of any REST route never answers 5xx, and
never leaves anything behind that cannot be read back.

Text is drawn from everything a client can send: any code point, lone UTF-16 surrogates (what a
JavaScript string cut in an emoji serialises to), NUL, RTL and other format marks, emoji, and
very long strings. Each example writes one field of one route (in the body, the query or the
path) and then reads everything back: every list and every resource, the session's
interactions, its characters' state and its sealed state, and one more turn on every session.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anima.backends.scripted import ScriptedLLM
from anima.settings import Settings
from tests.api.websocket_helpers import WS, Rig, open_rig

EXAMPLES = 300
URL_CHARS = 1_000  # longer text goes in bodies; a client refuses URLs over 64 KB

STUDIO = f"/studio/v1/workspaces/{WS}"
V1 = f"/v1/workspaces/{WS}"

_fragments = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(categories=["L", "M", "N", "P", "S", "Zs", "Cf"]), max_size=20),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.sampled_from(["\x00", "\u200f", "\u202e", "\u2066", "\ufeff", "😀", "\ud83d", "\ude00"]),
    # very long: drawn as (character, count) to keep the examples' reprs short
    st.sampled_from([("x", 5_000), ("é", 70_000), ("😀", 30_000), ("\u202e", 3_001)]),
)
texts = st.lists(_fragments, max_size=4)


def joined(fragments: list[str | tuple[str, int]]) -> str:
    return "".join(f if isinstance(f, str) else f[0] * f[1] for f in fragments)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None
    params: dict[str, str] | None = None
    headers: dict[str, str] | None = None


def segment(value: str) -> str:
    """``value`` as one path segment or query value (a lone surrogate goes out as the bytes
    it would be), cut to what fits a URL."""
    return quote(value[:URL_CHARS].encode("utf-8", "surrogatepass"), safe="")


@dataclass
class World:
    """What exists in the workspace: ids to aim requests at and to read back."""

    rig: Rig
    character: str = ""
    scene: str = ""
    knowledge: str = ""
    session: str = ""
    agent: str = ""
    token: str = ""

    def session_headers(self) -> dict[str, str]:
        return {"Grpc-Metadata-session-id": self.session}

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **self.session_headers()}


def _character(t: str) -> dict[str, Any]:
    return {
        "defaultCharacterDescription": {
            "givenName": t,
            "description": t,
            "motivation": t,
            "nicknames": [t],
            "customDialogStyles": [{"displayName": t, "adjectives": [t], "colloquialism": t}],
        },
        "defaultCharacterAssets": {"voice": {"baseName": t, t: t}, "avatarImg": t},
        "personalKnowledge": {"facts": [{"text": t}]},
        "commonKnowledge": [t],
        "yamlConfig": t,
        "safetyConfig": {t: "SAFETY_LEVEL_MILD_CONTROL"},
    }


def _trigger(w: World, t: str) -> dict[str, Any]:
    return {
        "triggerEvent": {
            "trigger": f"workspaces/{WS}/triggers/{t}",
            "parameters": [{"name": t, "value": t}],
        },
        "endUserId": t,
    }


ROUTES: dict[str, Callable[[World, str], Request]] = {
    "create character": lambda w, t: Request("POST", f"{STUDIO}/characters", _character(t)),
    "create character with a key": lambda w, t: Request("POST", f"{STUDIO}/characters", {t: t}),
    "patch character": lambda w, t: Request(
        "PATCH", f"{STUDIO}/characters/{w.character}", _character(t)
    ),
    "patch character mask": lambda w, t: Request(
        "PATCH",
        f"{STUDIO}/characters/{w.character}",
        {"defaultCharacterDescription": {"flaws": t}},
        params={"updateMask": t},
    ),
    "get character": lambda w, t: Request("GET", f"{STUDIO}/characters/{segment(t)}"),
    "get character view": lambda w, t: Request(
        "GET", f"{STUDIO}/characters/{w.character}", params={"view": t}
    ),
    "list characters": lambda w, t: Request(
        "GET", f"{STUDIO}/characters", params={"filter": t, "pageToken": t, "view": t}
    ),
    "deploy character": lambda w, t: Request("POST", f"{STUDIO}/characters/{segment(t)}:deploy"),
    "character operation": lambda w, t: Request(
        "GET", f"{STUDIO}/characters/{w.character}/operations/{segment(t)}"
    ),
    "create scene": lambda w, t: Request(
        "POST",
        f"{STUDIO}/scenes",
        {
            "displayName": t,
            "description": t,
            "characters": [{"character": t, "displayTitle": t, "characterDescription": t}],
            "commonKnowledge": [t],
        },
    ),
    "patch scene": lambda w, t: Request("PATCH", f"{STUDIO}/scenes/{w.scene}", {"description": t}),
    "get scene": lambda w, t: Request("GET", f"{STUDIO}/scenes/{segment(t)}"),
    "list scenes": lambda w, t: Request("GET", f"{STUDIO}/scenes", params={"filter": t}),
    "create knowledge": lambda w, t: Request(
        "POST",
        f"{STUDIO}/common-knowledge",
        {"displayName": t, "description": t, "knowledgeRecords": [{"text": t}]},
    ),
    "patch knowledge": lambda w, t: Request(
        "PATCH", f"{STUDIO}/common-knowledge/{w.knowledge}", {"displayName": t}
    ),
    "delete knowledge": lambda w, t: Request("DELETE", f"{STUDIO}/common-knowledge/{segment(t)}"),
    "workspace": lambda w, t: Request("GET", f"/studio/v1/workspaces/{segment(t)}"),
    "simpleSendText": lambda w, t: Request(
        "POST",
        f"{V1}/characters/{w.character}:simpleSendText",
        {"text": t, "endUserId": t, "endUserFullname": t, "sessionId": t, "character": t},
    ),
    "simpleSendText query": lambda w, t: Request(
        "GET",
        f"{V1}/characters/{w.character}:simpleSendText",
        params={"text": t, "endUserId": t, "endUserFullname": t, "sessionId": t},
    ),
    "openSession": lambda w, t: Request(
        "POST",
        f"{V1}/characters/{w.character}:openSession",
        {"user": {"endUserId": t, "givenName": t, "gender": t, "role": t, "age": t}},
    ),
    "openSession name": lambda w, t: Request(
        "POST", f"{V1}/characters/{w.character}:openSession", {"name": t}
    ),
    "open scene session": lambda w, t: Request("POST", f"{V1}/scenes/{segment(t)}:openSession"),
    "sendText": lambda w, t: Request(
        "POST",
        f"{V1}/sessions/{w.session}/sessionCharacters/{w.agent}:sendText",
        {"text": t},
        headers=w.session_headers(),
    ),
    "sendTrigger": lambda w, t: Request(
        "POST",
        f"{V1}/sessions/{w.session}/sessionCharacters/{w.agent}:sendTrigger",
        _trigger(w, t),
        headers=w.session_headers(),
    ),
    "sendText path": lambda w, t: Request(
        "POST",
        f"{V1}/sessions/{w.session}/sessionCharacters/{segment(t)}:sendText",
        {"text": "hi"},
        headers=w.session_headers(),
    ),
    "interactions path": lambda w, t: Request("GET", f"{V1}/sessions/{segment(t)}/interactions"),
    "token": lambda w, t: Request(
        "POST", "/auth/v1/tokens/token:generate", {"key": t, "resources": [t]}
    ),
    "feedback": lambda w, t: Request(
        "POST",
        f"/v1/feedback/workspaces/{WS}/sessions/{w.session}/interactions/{segment(t)}"
        f"/groups/{segment(t)}/feedbacks",
        {"isLike": False, "type": [t], "comment": t},
        headers=w.bearer(),
    ),
    "delete feedback": lambda w, t: Request(
        "DELETE", f"/v1/feedback/{segment(t)}", headers=w.bearer()
    ),
}

SDK_ROUTES = {"feedback", "delete feedback"}


def _send(w: World, request: Request, sdk: bool) -> Any:
    headers = {} if sdk else dict(w.rig.auth)
    headers.update(request.headers or {})
    kwargs: dict[str, Any] = {"headers": headers}
    path = request.path
    if request.params:  # encoded here: a lone surrogate goes out as the bytes it would be
        path += "?" + "&".join(f"{k}={segment(v)}" for k, v in request.params.items())
    if request.body is not None:
        kwargs["content"] = json.dumps(request.body)  # escapes: a lone surrogate goes out
        headers["content-type"] = "application/json"
    return w.rig.client.request(request.method, path, **kwargs)


def _reads(w: World) -> Iterator[tuple[str, str]]:
    """(what, path) of everything there is to read back, found by listing."""
    for collection, key in (
        ("characters", "characters"),
        ("scenes", "scenes"),
        ("common-knowledge", "commonKnowledge"),
    ):
        yield collection, f"{STUDIO}/{collection}?pageSize=1000"
        listed = w.rig.client.get(f"{STUDIO}/{collection}?pageSize=1000", headers=w.rig.auth)
        if listed.status_code == 200:
            for item in listed.json()[key]:
                yield f"get {collection}", f"/studio/v1/{segment(item['name'])}".replace("%2F", "/")
    yield "characters with scenes", f"{STUDIO}/characters?view=CHARACTER_VIEW_WITH_SCENES"
    yield "interactions", f"{V1}/sessions/{w.session}/interactions?pageSize=1000"
    yield "state", f"{V1}/sessions/{w.session}/sessionCharacters/{w.agent}/state"


@pytest.fixture
def rig(db_settings: Settings) -> Iterator[Rig]:
    """On SQLite and on PostgreSQL (which refuses NUL where SQLite keeps it)."""
    with open_rig(db_settings) as r:
        r.use_llm(ScriptedLLM(["Hello there."] * 10_000))
        yield r


@pytest.mark.slow
def test_arbitrary_text_in_every_string_field_never_breaks_a_read(rig: Rig) -> None:
    w = World(rig)
    w.character = rig.character("Tony").rsplit("/", 1)[-1]
    w.scene = rig.scene("Dock", [f"workspaces/{WS}/characters/{w.character}"]).rsplit("/", 1)[-1]
    w.knowledge = rig.ok("POST", f"{STUDIO}/common-knowledge", json={"displayName": "K"})[
        "name"
    ].rsplit("/", 1)[-1]
    session = rig.ok("POST", f"{V1}/characters/{w.character}:openSession", json={})
    w.session, w.agent = session["name"], session["sessionCharacters"][0]["character"]
    token = rig.token()
    w.token = token["token"]
    stats: Counter[str] = Counter()
    problems: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(route=st.sampled_from(sorted(ROUTES)), fragments=texts)
    def example(route: str, fragments: list[str | tuple[str, int]]) -> None:
        value = joined(fragments)
        stats["examples"] += 1
        response = _send(w, ROUTES[route](w, value), route in SDK_ROUTES)
        stats[f"status {response.status_code}"] += 1
        if response.status_code >= 500:
            stats["5xx"] += 1
            problems.append(f"{route} {value[:40]!r}: {response.status_code} {response.text}")
        if route.startswith("openSession") and response.status_code == 200:
            opened = response.json()
            stats["sessions opened"] += 1
            turn = rig.client.post(
                f"{V1}/sessions/{opened['name']}/sessionCharacters/"
                f"{opened['sessionCharacters'][0]['character']}:sendText",
                json={"text": "hello"},
                headers={**rig.auth, "Grpc-Metadata-session-id": opened["name"]},
            )
            if turn.status_code != 200:
                problems.append(f"a turn after {route} {value[:40]!r}: {turn.text}")
        for what, path in _reads(w):
            stats["reads"] += 1
            read = rig.client.get(path, headers=rig.auth)
            if read.status_code != 200:
                stats["unreadable reads"] += 1
                problems.append(f"{what} after {route} {value[:40]!r}: {read.status_code}")
            else:
                read.json()
        state = rig.client.get(f"{V1}/sessions/{w.session}/state", headers=w.bearer())
        stats["reads"] += 1
        if state.status_code != 200:
            stats["unreadable reads"] += 1
            problems.append(f"session state after {route} {value[:40]!r}: {state.text}")

    example()
    print(
        f"hypothesis: {stats['examples']} examples, {stats['5xx']} answered 5xx, "
        f"{stats['reads']} reads of which {stats['unreadable reads']} failed; "
        f"{sorted(stats.items())}"
    )
    assert problems == [], "\n".join(problems[:20])
