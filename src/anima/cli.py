"""The ``anima`` command: serve, migrate, keys, doctor. Every command honours ANIMA_* variables;
flags win over variables, variables over defaults."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError

from anima import character_files
from anima.domain.credentials import Scope, is_valid_workspace_name, new_key_pair
from anima.errors import AnimaError
from anima.evaluation import command as evaluation
from anima.first_run import FirstRun, announce, first_run
from anima.settings import Settings
from anima.store import Store

Handler = Callable[[argparse.Namespace, Settings], Awaitable[int] | int]
# On SIGTERM, open connections get this long to finish (streams are closed and their turns
# stored as cancelled at once); then what is left is cancelled, so shutdown always ends.
SHUTDOWN_GRACE_SECONDS = 10


def _store_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("store (also ANIMA_DATA_DIR, ANIMA_DATABASE_URL)")
    g.add_argument("--data-dir", dest="data_dir", help="data directory (default ./.anima)")
    g.add_argument("--database-url", dest="database_url", help="SQLAlchemy async database URL")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anima", description="Self-hostable AI character engine.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP/WebSocket (and gRPC) server")
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8000)")
    serve.add_argument("--grpc-port", dest="grpc_port", type=int, help="gRPC port, 0 = off")
    serve.add_argument(
        "--proxy-port", dest="proxy_port", type=int, help="REST proxy port (default 0 = off)"
    )
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument(
        "--log-level", dest="log_level", choices=["debug", "info", "warning", "error"]
    )
    serve.add_argument("--log-format", dest="log_format", choices=["json", "text"])
    serve.add_argument("--llm-backend", dest="llm_backend", help="embedded | openai | scripted")
    _store_flags(serve)
    serve.set_defaults(handler=_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations and exit")
    _store_flags(migrate)
    migrate.set_defaults(handler=_migrate)

    keys = sub.add_parser("keys", help="manage workspaces' API keys (no server needed)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="create a key pair (and the workspace if needed)")
    create.add_argument("--workspace", required=True, help="workspace name, e.g. default")
    create.add_argument("--scope", choices=[s.value for s in Scope], default=Scope.ALL.value)
    create.add_argument("--json", action="store_true", help="print JSON instead of text")
    _store_flags(create)
    create.set_defaults(handler=_keys_create)
    listing = keys_sub.add_parser("list", help="list keys (never secrets)")
    listing.add_argument("--workspace", help="only this workspace")
    listing.add_argument("--json", action="store_true")
    _store_flags(listing)
    listing.set_defaults(handler=_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key", help="the public key to revoke")
    _store_flags(revoke)
    revoke.set_defaults(handler=_keys_revoke)

    memories = sub.add_parser(
        "memories", help="see or forget what characters remember of a player (no server needed)"
    )
    memories_sub = memories.add_subparsers(dest="memories_command", required=True, metavar="ACTION")
    for action, text in (
        ("list", "list what characters remember of a player"),
        ("delete", "forget what characters remember of a player (their right to be forgotten)"),
    ):
        cmd = memories_sub.add_parser(action, help=text)
        cmd.add_argument("--workspace", required=True, help="workspace name, e.g. default")
        cmd.add_argument("--player", required=True, help="the player's endUserId")
        cmd.add_argument("--character", help="only this character's memories (its id)")
        _store_flags(cmd)
        cmd.set_defaults(handler=_memories_list if action == "list" else _memories_delete)

    doctor = sub.add_parser(
        "doctor", help="check the store for text that cannot be read back (and --repair it)"
    )
    doctor.add_argument(
        "--repair", action="store_true", help="replace lone surrogates with U+FFFD, drop NULs"
    )
    doctor.add_argument("--json", action="store_true", help="print JSON instead of text")
    _store_flags(doctor)
    doctor.set_defaults(handler=_doctor)

    chat = sub.add_parser("chat", help="talk to a character in the terminal")
    chat.add_argument("--local", action="store_true", help="run the engine in this process")
    chat.add_argument("--character-file", dest="character_file", help="--local: Character JSON")
    chat.add_argument("--player", default="Player", help="your name (default Player)")
    chat.add_argument(
        "--llm-backend", dest="llm_backend", help="--local: embedded | openai | scripted"
    )
    chat.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    chat.add_argument("--workspace", default="default", help="workspace of the character")
    chat.add_argument("--character", help="character id on the server (not with --local)")
    chat.add_argument("--key", help="API key: the base64 signature (or ANIMA_CHAT_KEY)")
    chat.add_argument(
        "--voice", action="store_true", help="speak each reply through the system's audio player"
    )
    chat.add_argument("--voice-player", dest="voice_player", help="--voice: the player command")
    chat.set_defaults(handler=_chat)
    character_files.register(sub, _store_flags)
    evaluation.register(sub)
    return parser


_SETTING_FLAGS = (
    "host",
    "port",
    "grpc_port",
    "proxy_port",
    "workers",
    "log_level",
    "log_format",
    "llm_backend",
    "data_dir",
    "database_url",
)


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        name: getattr(args, name)
        for name in _SETTING_FLAGS
        if getattr(args, name, None) is not None
    }
    return Settings(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            print(
                f"anima: invalid setting {field} (ANIMA_{field.upper()}): {err['msg']}",
                file=sys.stderr,
            )
        return 2
    handler: Handler = args.handler
    try:
        result = handler(args, settings)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result)  # type: ignore[arg-type]
    except AnimaError as exc:
        print(f"anima: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


# -- keys ---------------------------------------------------------------------


async def _keys_create(args: argparse.Namespace, settings: Settings) -> int:
    if not is_valid_workspace_name(args.workspace):
        print(
            "anima: workspace names use letters, digits, '-' and '_' (at most 128 characters)",
            file=sys.stderr,
        )
        return 2
    async with Store.opened(settings) as store:
        await store.keys.ensure_workspace(args.workspace)
        pair = new_key_pair()
        await store.keys.add(args.workspace, Scope(args.scope), pair)
    if args.json:
        print(
            json.dumps(
                {
                    "workspace": args.workspace,
                    "scope": args.scope,
                    "key": pair.key,
                    "secret": pair.secret,
                    "authorization": f"Basic {pair.basic}",
                }
            )
        )
    else:
        print(f"workspace:     {args.workspace}")
        print(f"scope:         {args.scope}")
        print(f"key:           {pair.key}")
        print(f"secret:        {pair.secret}")
        print(f"Authorization: Basic {pair.basic}")
        print("The secret is stored only as a hash: copy it now, it cannot be shown again.")
    return 0


async def _keys_list(args: argparse.Namespace, settings: Settings) -> int:
    async with Store.opened(settings) as store:
        keys = await store.keys.list(args.workspace)
    rows = [
        {
            "key": k.key,
            "workspace": k.workspace,
            "scope": k.scope.value,
            "created_at": k.created_at,
            "revoked": not k.active,
        }
        for k in keys
    ]
    if args.json:
        print(json.dumps(rows))
    elif not rows:
        print("no keys; create one with `anima keys create --workspace NAME`")
    else:
        print(f"{'KEY':<34}{'WORKSPACE':<24}{'SCOPE':<9}STATE")
        for r in rows:
            state = "revoked" if r["revoked"] else "active"
            print(f"{r['key']:<34}{r['workspace']:<24}{r['scope']:<9}{state}")
    return 0


async def _keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async with Store.opened(settings) as store:
        done = await store.keys.revoke(args.key)
    if not done:
        print(f"anima: no active key '{args.key}' (see `anima keys list`)", file=sys.stderr)
        return 1
    print(f"revoked {args.key}")
    return 0


async def _memories_list(args: argparse.Namespace, settings: Settings) -> int:
    async with Store.opened(settings) as store:
        found = await store.memories.of_workspace_player(args.workspace, args.player)
    shown = [m for m in found if args.character in (None, m.character_id)]
    for m in shown:
        text = m.text.replace("{player}", m.player_name or args.player)
        print(f"{m.character_id:<24}{m.id}  {text}")
    if not shown:
        print(f"nothing remembered of player '{args.player}' in workspace '{args.workspace}'")
    return 0


async def _memories_delete(args: argparse.Namespace, settings: Settings) -> int:
    async with Store.opened(settings) as store:
        if args.character:
            count = await store.memories.delete(args.workspace, args.character, args.player)
        else:
            count = await store.memories.delete_player(args.workspace, args.player)
    whose = f"character '{args.character}'" if args.character else "every character"
    print(
        f"forgot {count} memories of player '{args.player}' ({whose}, workspace '{args.workspace}')"
    )
    return 0


# -- chat ---------------------------------------------------------------------


async def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from anima import chat
    from anima.voice_player import find_player

    player = find_player(args.voice_player) if args.voice else None
    if args.local:
        path = Path(args.character_file) if args.character_file else None
        return await chat.chat_local(settings, path, args.player, voice_player=player)
    key = args.key or os.environ.get("ANIMA_CHAT_KEY", "")
    if not args.character or not key:
        print(
            "anima: chat needs --character and --key (or ANIMA_CHAT_KEY), or --local",
            file=sys.stderr,
        )
        return 2
    return await chat.chat_remote(
        args.url, args.workspace, args.character, key, args.player, voice_player=player
    )


# -- doctor -------------------------------------------------------------------


async def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from anima.store.doctor import examine

    async with Store.opened(settings) as store:
        report = await examine(store, repair_rows=args.repair)
    if args.json:
        findings = [
            {"table": f.table, "key": f.key, "column": f.column, "paths": list(f.paths)}
            | {"repaired": f.repaired}
            for f in report.findings
        ]
        print(json.dumps({"rows": report.rows, "findings": findings}, default=str))
    else:
        for finding in report.findings:
            print(finding.describe())
        verdict = "repaired" if args.repair else "found"
        print(
            f"checked {report.rows} rows in {report.tables} tables: "
            f"{len(report.findings)} with text that cannot be encoded {verdict}"
        )
    if report.clean or (args.repair and all(f.repaired for f in report.findings)):
        return 0
    if not args.repair:
        print("run `anima doctor --repair` to fix them", file=sys.stderr)
    return 1


# -- migrate / serve ----------------------------------------------------------


async def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    async with Store.opened(settings) as store:
        print(f"database at revision {await store.revision()}")
    return 0


def _serve(_args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from anima.app import create_app
    from anima.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)

    async def prepare() -> FirstRun | None:
        async with Store.opened(settings) as store:
            return await first_run(store)

    fresh = asyncio.run(prepare())
    if fresh is not None:
        print(announce(fresh, settings), flush=True)
    print(f"Anima serving on http://{settings.host}:{settings.port} (docs at /docs)", flush=True)
    if settings.grpc_port:
        print(f"gRPC (node SDK) on {settings.host}:{settings.grpc_port}", flush=True)
    if settings.proxy_port:
        print(f"REST proxy on {settings.proxy_host}:{settings.proxy_port}", flush=True)
    ssl: dict[str, Any] = {}
    if settings.tls_cert_file and settings.tls_key_file:
        ssl = {
            "ssl_certfile": str(settings.tls_cert_file),
            "ssl_keyfile": str(settings.tls_key_file),
        }
    if settings.workers > 1:
        for name, value in settings.model_dump(mode="json", exclude_none=True).items():
            os.environ[f"ANIMA_{name.upper()}"] = (
                json.dumps(value) if isinstance(value, list | dict) else str(value)
            )
        uvicorn.run(
            "anima.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            **ssl,
        )
    else:
        uvicorn.run(
            create_app(settings, serve_grpc=True),
            host=settings.host,
            port=settings.port,
            log_config=None,
            ws_max_size=settings.max_body_bytes,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            **ssl,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
