"""``create_app(settings)``: the ASGI application, with its resources built in the lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry

from anima import __version__
from anima.api import engine as engine_api
from anima.api import errors, health, memories, session_state, studio, tokens, websocket, workspaces
from anima.api import grpc as grpc_face
from anima.api import proxy as proxy_face
from anima.api import safety as safety_api
from anima.api import speech as speech_api
from anima.api.auth import Authenticator
from anima.api.cache_metrics import StateCacheCollector
from anima.api.deps import AppState
from anima.api.middleware import HttpMetrics, RequestContextMiddleware
from anima.backends.embed_registry import create_embedder
from anima.backends.registry import create_llm
from anima.backends.state_cache import StateCache
from anima.backends.tts_registry import create_tts
from anima.logs import configure_logging
from anima.pipeline.appraiser import Appraiser
from anima.pipeline.engine import Engine
from anima.pipeline.hearing import Ears
from anima.pipeline.recall import Recall
from anima.pipeline.runner import TurnRunner
from anima.pipeline.safety import Safety, verdict_counter
from anima.pipeline.voice import Speech
from anima.settings import Settings
from anima.store import Store
from anima.web import router as web_router


def create_app(settings: Settings | None = None, *, serve_grpc: bool = False) -> FastAPI:
    """The app; with ``serve_grpc`` its lifespan also runs the gRPC face on ``grpc_port`` and
    the REST proxy on ``proxy_port`` (when set)."""
    settings = settings or Settings()
    registry = CollectorRegistry()
    metrics = HttpMetrics(registry)
    verdicts = verdict_counter(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await Store.open(settings)
        try:
            llm = await asyncio.to_thread(create_llm, settings)
            embedder = await asyncio.to_thread(create_embedder, settings)
            appraiser = await Appraiser.for_embedder(embedder)
            tts = await asyncio.to_thread(create_tts, settings)
            safety = await Safety.for_embedder(embedder, verdicts)
            ears = await asyncio.to_thread(Ears.from_settings, settings)
        except BaseException:
            await store.close()
            raise
        recall = Recall.create(store, embedder, settings)
        runner = TurnRunner(
            settings, llm, appraiser=appraiser, embedder=embedder, recall=recall, safety=safety
        )
        cache = getattr(llm, "state_cache", None)
        collector = StateCacheCollector(cache) if isinstance(cache, StateCache) else None
        if collector is not None:
            registry.register(collector)
        engine = Engine(settings, store, runner)
        app.state.anima = AppState(
            settings=settings,
            store=store,
            authenticator=Authenticator(store),
            registry=registry,
            engine=engine,
            speech=None if tts is None else Speech(tts),
            ears=ears,
        )
        face: AbstractAsyncContextManager[int | None] = (
            grpc_face.serving(app.state.anima) if serve_grpc else nullcontext(None)
        )
        proxy: AbstractAsyncContextManager[int | None] = (
            proxy_face.serving(app.state.anima) if serve_grpc else nullcontext(None)
        )
        try:
            async with face, proxy:
                yield
        finally:
            await engine.aclose()
            await recall.memory.settle()
            if collector is not None:
                registry.unregister(collector)
            await llm.aclose()
            if tts is not None:
                await tts.aclose()
            if ears is not None:
                await ears.stt.aclose()
            await store.close()

    app = FastAPI(
        title="Anima",
        version=__version__,
        description="Self-hostable engine for conversational AI characters.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(workspaces.router)
    app.include_router(studio.router)
    app.include_router(safety_api.router)
    app.include_router(engine_api.router)
    app.include_router(memories.router)
    app.include_router(tokens.router)
    app.include_router(session_state.router)
    app.include_router(websocket.router)
    app.include_router(speech_api.router)
    app.include_router(web_router)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["x-request-id"],
    )
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes
    )
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and multi-worker serving: settings from ANIMA_*.

    Each worker process configures its own logging (the parent's does not carry over)."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, serve_grpc=True)
