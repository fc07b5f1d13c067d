"""The REST proxy face: the platform's Node.js RESTful proxy, served natively on its own port.

    anima serve --proxy-port 3000        (ANIMA_PROXY_PORT; 0, the default, turns it off)

Game engines without a gRPC or WebSocket client (the proxy's own example is Roblox) open a
session, send messages and poll events over plain HTTP. Every route, status, body and quirk
follows spec rest-proxy.md §2-§4, as Express serves them: paths match case-insensitively with
an optional trailing slash, HEAD is served by GET, a param is percent-decoded after matching
(so a characterId holding ``/`` must be sent ``%2F``), the first registered route wins (hence
``/session/closeall/close`` reaching the close route), and anything else is 404
``"Route Not Found"``. Bodies are parsed as ``express.json()`` does (JSON content type only,
100 kB, objects or arrays) and validated with the original's joi texts (wire/proxy.py).

Unlike the original the proxy binds ``proxy_host`` (127.0.0.1 unless told otherwise) and, when
``proxy_token`` is set, every request needs ``Authorization: Bearer <token>``. State is in the
store (pipeline/proxy.py), so any worker serves any session and a restart loses none.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from anima.api.auth import authorize
from anima.api.deps import AppState
from anima.domain import credentials
from anima.errors import AnimaError, FailedPrecondition
from anima.pipeline.job import TurnInput
from anima.pipeline.proxy import OpenFailed, ProxySessions, current_character
from anima.wire.proxy import MESSAGE_SCHEMA, OPEN_SCHEMA, character_json, encode, validate

log = logging.getLogger("anima.proxy")

BODY_LIMIT = 100 * 1024  # express.json()'s default
_STOP_SECONDS = 5.0
_CORS = [(b"access-control-allow-origin", b"*")]


# -- responses, as Express writes them ---------------------------------------------------------


def _json(value: Any, status: int = 200) -> Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status, media_type="application/json; charset=utf-8")


def _status(status: int) -> Response:
    """``res.sendStatus(n)``: the reason phrase as text."""
    return Response(HTTPStatus(status).phrase, status, media_type="text/plain; charset=utf-8")


def _not_found(session_id: str) -> Response:
    return _json(f"Session {session_id} Not Found", 404)


def _html_error(status: int, text: str) -> Response:
    """Express's default error page (malformed JSON, a body over the limit)."""
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Error</title>\n</head>\n<body>\n<pre>{_escape(text)}</pre>\n</body>\n</html>\n"
    )
    return Response(page, status, media_type="text/html; charset=utf-8")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Invalid(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


# -- the routes -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    request: Request
    params: dict[str, str]

    async def body(self) -> Any:
        """The parsed body as ``express.json()`` gives it ({} unless the type is JSON)."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > BODY_LIMIT:  # stop reading: never hold more than the limit
                raise _Invalid(_html_error(413, "PayloadTooLargeError: request entity too large"))
            chunks.append(chunk)
        raw = b"".join(chunks)
        kind = self.request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json" or not raw.strip():
            return {}
        try:
            text = raw.decode("utf-8")
            if text.lstrip()[:1] not in ("{", "["):
                raise ValueError(f"Unexpected token {text.lstrip()[:1]!r} in JSON at position 0")
            return json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise _Invalid(_html_error(400, f"SyntaxError: {exc}")) from exc

    async def validated(self, schema: Any) -> dict[str, str]:
        body = await self.body()
        problem = validate(body, schema)
        if problem is not None:
            raise _Invalid(Response(problem, 400))  # res.end(): no Content-Type
        return dict(body)


Handler = Callable[["ProxyRoutes", Call], Awaitable[Response]]


KeyCheck = Callable[[], Awaitable[str]]  # the workspace the proxy's key may open sessions in


class ProxyRoutes:
    """The route handlers, over ``ProxySessions``."""

    def __init__(self, sessions: ProxySessions, key_check: KeyCheck | None = None) -> None:
        self.sessions = sessions
        self.key_check = key_check

    async def index(self, call: Call) -> Response:
        return Response("Inworld.AI RESTful Server", media_type="text/html; charset=utf-8")

    async def status(self, call: Call) -> Response:
        return _status(200)

    async def character(self, call: Call) -> Response:
        sid = call.params["sessionId"]
        live = await self.sessions.live(sid)
        current = current_character(live[1], live[0]) if live else None
        if live is None or current is None:
            return _not_found(sid)
        return _json(character_json(current, live[0].workspace))

    async def set_character(self, call: Call) -> Response:
        sid = call.params["sessionId"]
        live = await self.sessions.live(sid)
        if live is None:
            return _not_found(sid)
        found, session = live
        picked = await self.sessions.set_character(found, session, call.params["characterId"])
        if picked is None:
            return _not_found(sid)
        return _json(character_json(picked, found.workspace))

    async def characters(self, call: Call) -> Response:
        sid = call.params["sessionId"]
        live = await self.sessions.live(sid)
        if live is None:
            return _not_found(sid)
        return _json([character_json(c, live[0].workspace) for c in live[1].characters])

    async def close(self, call: Call) -> Response:
        sid = call.params["sessionId"]
        if not await self.sessions.close([sid]):
            return _not_found(sid)
        return _status(200)

    async def close_user(self, call: Call) -> Response:
        await self.sessions.close_user(call.params["uid"], call.params.get("serverId"))
        return _status(200)  # always: the original's 404 here is unreachable (§5 item 4)

    async def session_status(self, call: Call) -> Response:
        sid = call.params["sessionId"]
        return _json(True) if await self.sessions.live(sid) else _not_found(sid)

    async def custom(self, call: Call) -> Response:
        live = await self.sessions.live(call.params["sessionId"])
        if live is None:
            return _status(404)  # sendStatus(404): text, unlike the other routes (§5 item 5)
        self.sessions.send(live[0], TurnInput("trigger", trigger=call.params["customId"]))
        return _status(202)

    async def message(self, call: Call) -> Response:
        text = (await call.validated(MESSAGE_SCHEMA))["message"]
        limit = self.sessions.settings.max_text_chars
        if len(text) > limit:  # joi's text for a .max(limit) string
            problem = f'"message" length must be less than or equal to {limit} characters long'
            return Response(f"Error validating request body. {problem}.", 400)
        sid = call.params["sessionId"]
        live = await self.sessions.live(sid)
        if live is None:
            return _not_found(sid)
        self.sessions.send(live[0], TurnInput("text", text=text))
        return _status(202)

    async def open(self, call: Call) -> Response:
        body = await call.validated(OPEN_SCHEMA)
        try:
            allowed = await self.key_check() if self.key_check is not None else None
            found, session = await self.sessions.open(
                body["uid"],
                body["sceneId"],
                body.get("characterId"),
                body.get("playerName"),
                body.get("serverId"),
                workspace=allowed,
            )
        except (OpenFailed, AnimaError) as exc:
            log.info("proxy open refused: %s", exc)
            return _json("Unable to create session", 409)
        current = current_character(session, found)
        answer: dict[str, Any] = {"sessionId": found.id}
        if current is not None:
            answer["character"] = character_json(current, found.workspace)
        answer["characters"] = [character_json(c, found.workspace) for c in session.characters]
        return _json(answer)

    async def set_server(self, call: Call) -> Response:
        sid = call.params["sessionId"]
        live = await self.sessions.live(sid)
        if live is None:
            return _not_found(sid)
        await self.sessions.set_server(live[0], call.params["serverId"])
        return _status(202)

    async def events(self, call: Call) -> Response:
        drained = await self.sessions.drain(call.params.get("serverId"))
        return _json([e if isinstance(e, dict) else encode(e) for e in drained])


# Registration order is the original's: the first match wins (route shadowing, §2).
_TABLE: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/", ProxyRoutes.index),
    ("GET", "/status", ProxyRoutes.status),
    ("GET", "/session/:sessionId/character", ProxyRoutes.character),
    ("POST", "/session/:sessionId/character/:characterId", ProxyRoutes.set_character),
    ("GET", "/session/:sessionId/characters", ProxyRoutes.characters),
    ("GET", "/session/:sessionId/close", ProxyRoutes.close),
    ("GET", "/session/:sessionId/status", ProxyRoutes.session_status),
    ("GET", "/session/closeall/:uid", ProxyRoutes.close_user),
    ("GET", "/session/closeall/:uid/server/:serverId", ProxyRoutes.close_user),
    ("GET", "/session/:sessionId/custom/:customId", ProxyRoutes.custom),
    ("POST", "/session/:sessionId/message", ProxyRoutes.message),
    ("POST", "/session/open", ProxyRoutes.open),
    ("GET", "/session/:sessionId/server/:serverId", ProxyRoutes.set_server),
    ("GET", "/events", ProxyRoutes.events),
    ("GET", "/events/:serverId", ProxyRoutes.events),
)


def _pattern(path: str) -> re.Pattern[str]:
    """An Express path as a regex: ``:name`` is one non-empty segment; case-insensitive;
    an optional trailing slash."""
    parts = [
        f"(?P<{p[1:]}>[^/]+)" if p.startswith(":") else re.escape(p)
        for p in path.strip("/").split("/")
        if p
    ]
    return re.compile("^/" + "/".join(parts) + "/?$", re.IGNORECASE)


_ROUTES = tuple((method, _pattern(path), handler) for method, path, handler in _TABLE)


class ProxyApp:
    """The ASGI app of the proxy port."""

    def __init__(
        self,
        sessions: ProxySessions,
        *,
        token: str | None = None,
        key_check: KeyCheck | None = None,
    ) -> None:
        self.routes = ProxyRoutes(sessions, key_check)
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan, no WebSocket on this port
        request = Request(scope, receive)
        response = await self._respond(request, scope)
        response.raw_headers.extend(_CORS)
        if request.method == "HEAD":
            response.body = b""
        await response(scope, receive, send)

    async def _respond(self, request: Request, scope: Scope) -> Response:
        if request.method == "OPTIONS":
            return self._preflight(request)
        if self.token is not None and not self._authorized(request):
            return _json("Unauthorized: send 'Authorization: Bearer <ANIMA_PROXY_TOKEN>'", 401)
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        method = "GET" if request.method == "HEAD" else request.method
        for route_method, pattern, handler in _ROUTES:
            matched = pattern.match(path)
            if matched is None or route_method != method:
                continue
            params = {k: unquote(v) for k, v in matched.groupdict().items()}
            try:
                return await handler(self.routes, Call(request, params))
            except _Invalid as invalid:
                return invalid.response
            except Exception:
                log.exception("proxy %s %s failed", request.method, path)
                return _json("Internal Server Error", 500)
        return _json("Route Not Found", 404)

    def _authorized(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        assert self.token is not None
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        )

    @staticmethod
    def _preflight(request: Request) -> Response:
        """cors() defaults: every method, the requested headers, 204."""
        response = Response(status_code=204)
        response.headers["access-control-allow-methods"] = "GET,HEAD,PUT,PATCH,POST,DELETE"
        requested = request.headers.get("access-control-request-headers")
        if requested:
            response.headers["access-control-allow-headers"] = requested
        response.headers["vary"] = "Access-Control-Request-Headers"
        return response


# -- serving on its own port ------------------------------------------------------------------


def _socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise FailedPrecondition(
            f"cannot serve the REST proxy on {host}:{port} ({exc.strerror}); is the port in "
            "use? Choose another with --proxy-port / ANIMA_PROXY_PORT, or 0 to turn it off"
        ) from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _key_check(state: AppState) -> KeyCheck | None:
    """With ``proxy_key``/``proxy_secret``: each open authenticates the pair (so a revoked key
    stops the proxy opening sessions) and may open sessions in its workspace only."""
    key, secret = state.settings.proxy_key, state.settings.proxy_secret
    if key is None or secret is None:
        return None
    header = f"Basic {credentials.basic_signature(key, secret)}"

    async def check() -> str:
        api_key = await state.authenticator.authenticate(header)
        authorize(api_key, None, credentials.Scope.RUNTIME)
        return api_key.workspace

    return check


@asynccontextmanager
async def serving(state: AppState, *, port: int | None = None) -> AsyncIterator[int | None]:
    """Serve the proxy while the block runs; yields the bound port (None when turned off).
    ``port`` overrides ``settings.proxy_port`` (0: any free port)."""
    settings = state.settings
    if port is None:
        port = settings.proxy_port
        if not port:
            yield None
            return
    sessions = ProxySessions(state.engine, settings)
    if settings.proxy_scene:  # what the original's start-up "Hello World" checked
        problem = await sessions.check_scene(settings.proxy_scene)
        if problem is not None:
            log.warning("REST proxy: the default scene cannot be opened: %s", problem)
    sock = _socket(settings.proxy_host, port, settings.workers > 1)
    bound = int(sock.getsockname()[1])
    config = uvicorn.Config(
        ProxyApp(sessions, token=settings.proxy_token, key_check=_key_check(state)),
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(_STOP_SECONDS),
    )
    config.load()
    server = uvicorn.Server(config)
    # Run inside the app's lifespan, on its loop: no signal handlers (the main server owns
    # them), the steps of ``Server.serve`` done here.
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    loop = asyncio.create_task(server.main_loop())
    log.info("REST proxy listening on %s:%d", settings.proxy_host, bound)
    try:
        yield bound
    finally:
        server.should_exit = True
        await sessions.shutdown()
        await loop
        await server.shutdown(sockets=[sock])
        sock.close()
