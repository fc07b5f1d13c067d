"""``anima characters import FILE`` and ``anima characters export NAME``: characters as JSON
files in the Studio shape, read and written straight through the store (no server needed).

A file holds one Character, a list of them, or a list response (``{"characters": [...]}``);
or a SillyTavern Character Card (V1, V2, V3) as JSON or PNG (domain/cards.py), which becomes
a new character, with what the card held that Anima cannot keep printed. A character whose
``name`` names an existing character of the workspace replaces its draft; any other is
created (keeping the id of its ``name`` when free, else one from ``givenName``).
``export --format card`` writes a Character Card V3 (``card-v2``: V2), as PNG when the output
file ends in ``.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anima.domain.cards import (
    PNG_SIGNATURE,
    V2,
    V3,
    Import,
    card_png,
    from_card,
    is_card,
    read_character_file,
    to_card,
)
from anima.domain.character import Character, character_id_for, parse_character
from anima.domain.credentials import is_valid_workspace_name
from anima.domain.resource import slug
from anima.errors import InvalidArgument, NotFound
from anima.pipeline.deploy import Deployer
from anima.settings import Settings
from anima.store import Store
from anima.wire.text import loads


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    store_flags: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``characters import`` and ``characters export`` to the CLI."""
    characters = sub.add_parser(
        "characters", help="import and export characters (Studio JSON, Character Cards)"
    )
    actions = characters.add_subparsers(dest="characters_command", required=True, metavar="ACTION")

    imp = actions.add_parser(
        "import", help="create or replace characters from a Studio JSON or Character Card file"
    )
    imp.add_argument("file", help="JSON or Character Card PNG file ('-' for standard input)")
    imp.add_argument("--workspace", default="default", help="target workspace (default: default)")
    imp.add_argument("--deploy", action="store_true", help="deploy each imported character")
    store_flags(imp)
    imp.set_defaults(handler=import_characters)

    exp = actions.add_parser("export", help="print a character as JSON")
    exp.add_argument("name", help="character id or resource name (workspaces/W/characters/ID)")
    exp.add_argument("--workspace", default="default", help="workspace (default: default)")
    exp.add_argument("--deployed", action="store_true", help="the deployed version, not the draft")
    exp.add_argument(
        "--format",
        choices=["studio", "card", "card-v2"],
        default="studio",
        help="studio JSON (default), or a Character Card V3 (card) or V2 (card-v2)",
    )
    exp.add_argument(
        "-o", "--output", help="write to this file (a card as PNG when it ends in .png)"
    )
    store_flags(exp)
    exp.set_defaults(handler=export_character)


def _read(file: str) -> list[Any]:
    """The file's Studio bodies, or the ``Import`` of the Character Card it holds."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"cannot read {file}: {exc.strerror}") from None
    if raw.startswith(PNG_SIGNATURE):
        return [read_character_file(raw, file)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"{file} is neither UTF-8 JSON nor a PNG") from None
    data = loads(text, what=f"file {file}")
    if isinstance(data, dict) and isinstance(data.get("characters"), list):
        data = data["characters"]
    items = data if isinstance(data, list) else [data]
    return [from_card(item) if is_card(item) else item for item in items]


def _exported_id(name: Any) -> str | None:
    """The id in an exported ``name`` (from any workspace), if it is a well-formed id."""
    parts = name.split("/") if isinstance(name, str) else []
    if len(parts) == 4 and parts[0] == "workspaces" and parts[2] == "characters":
        return parts[3] if slug(parts[3], "") == parts[3] else None
    return None


async def _import_one(store: Store, workspace: str, body: Any, where: str) -> Character:
    if isinstance(body, Import):
        return await store.characters.create(
            workspace, body.character, character_id_for(body.character)
        )
    try:
        character = parse_character(body)
    except InvalidArgument as exc:
        raise InvalidArgument(f"{where}: {exc.message}") from None
    rid = _exported_id(body.get("name") if isinstance(body, dict) else None)
    if rid:
        replaced = await store.characters.update(
            workspace, rid, lambda current: character.model_copy(update={"name": current.name})
        )
        if replaced is not None:
            return replaced
    return await store.characters.create(workspace, character, rid or character_id_for(character))


async def import_characters(args: argparse.Namespace, settings: Settings) -> int:
    if not is_valid_workspace_name(args.workspace):
        raise InvalidArgument("workspace names use letters, digits, '-' and '_'")
    bodies = _read(args.file)
    async with Store.opened(settings) as store:
        failed = 0
        await store.keys.ensure_workspace(args.workspace)
        deployer = Deployer(store)
        for i, body in enumerate(bodies):
            character = await _import_one(store, args.workspace, body, f"{args.file}[{i}]")
            line = f"imported {character.name}"
            if isinstance(body, Import):
                line += f" from a {body.source}"
                if body.lost:
                    line += f" (not kept: {'; '.join(body.lost)})"
            if args.deploy:
                op = await store.characters.start_deploy(args.workspace, character.id)
                assert op is not None
                await deployer.run(op.id)
                done = await store.operations.get(op.id)
                if done is not None and done.error is not None:
                    failed += 1
                    line += f" (deploy failed: {done.error.message})"
                else:
                    line += f" (deployed version {op.version})"
            print(line)
    return 1 if failed else 0


async def export_character(args: argparse.Namespace, settings: Settings) -> int:
    workspace, rid = args.workspace, args.name
    parts = args.name.split("/")
    if len(parts) == 4 and parts[0] == "workspaces":
        workspace, rid = parts[1], parts[3]
    async with Store.opened(settings) as store:
        character: Character | None
        if args.deployed:
            deployed = await store.characters.get_deployed(workspace, rid)
            character = None if deployed is None else deployed.character
        else:
            character = await store.characters.get(workspace, rid)
    if character is None:
        what = "deployed version of " if args.deployed else ""
        raise NotFound(f"no {what}workspaces/{workspace}/characters/{rid}")
    body = character.to_json()
    if args.format != "studio":
        body = to_card(character, spec=V2 if args.format == "card-v2" else V3)
        if args.output and args.output.lower().endswith(".png"):
            await asyncio.to_thread(Path(args.output).write_bytes, card_png(body))
            return 0
    text = json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        await asyncio.to_thread(Path(args.output).write_text, text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
