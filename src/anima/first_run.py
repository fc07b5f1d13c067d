"""The first start on an empty store: workspace ``default``, an API key shown once, and a
deployed demo character, so a newcomer can talk to something within minutes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from anima.domain.character import parse_character
from anima.domain.credentials import Scope, new_key_pair
from anima.pipeline.deploy import Deployer
from anima.settings import Settings
from anima.store import Store

WORKSPACE = "default"
DEMO_ID = "mara"


@dataclass(frozen=True, slots=True)
class FirstRun:
    authorization: str  # "Basic ..." header value
    key: str  # the base64 signature alone, for `anima chat --key`
    character: str | None  # the demo character's id, when it deployed


async def first_run(store: Store) -> FirstRun | None:
    """Set up an empty store; None when it is not empty (or another process got there first)."""
    if await store.keys.count_workspaces() > 0:
        return None
    if not await store.keys.ensure_workspace(WORKSPACE):
        return None
    pair = new_key_pair()
    await store.keys.add(WORKSPACE, Scope.ALL, pair)
    return FirstRun(f"Basic {pair.basic}", pair.basic, await deploy_demo(store))


async def deploy_demo(store: Store) -> str | None:
    """Create and deploy the demo character in ``default``; its id, or None if that failed."""
    text = resources.files("anima.data").joinpath("demo_character.json").read_text("utf-8")
    character = parse_character(json.loads(text))
    created = await store.characters.create(WORKSPACE, character, DEMO_ID)
    op = await store.characters.start_deploy(WORKSPACE, created.id)
    if op is None:
        return None
    await Deployer(store).run(op.id)
    done = await store.operations.get(op.id)
    if done is None or done.error is not None:
        return None
    return created.id


def announce(run: FirstRun, settings: Settings) -> str:
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        f"  Created workspace '{WORKSPACE}' with an API key (scope: all).",
        f"  Authorization: {run.authorization}",
        "  This is shown once and will not be shown again: the secret is stored only as a hash.",
        f"  (Make more with `anima keys create --workspace {WORKSPACE}`.)",
    ]
    if run.character:
        path = f"/v1/workspaces/{WORKSPACE}/characters/{run.character}:simpleSendText"
        lines += [
            "",
            f"  A demo character is deployed: workspaces/{WORKSPACE}/characters/{run.character}",
            "  Talk to it with curl:",
            f"    curl -X POST {base}{path} \\",
            "      -H 'Content-Type: application/json' \\",
            f"      -H 'Authorization: {run.authorization}' \\",
            '      -d \'{"text": "Hello there!", "endUserFullname": "Tom", "endUserId": "12345"}\'',
            "  or in the terminal:",
            f"    .venv/bin/anima chat --url {base} --character {run.character} --key {run.key}",
        ]
    return "\n".join(lines) + "\n"
