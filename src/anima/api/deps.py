"""Resources built once in the lifespan, handed to routes as ``Annotated`` dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry

from anima.api.auth import Authenticator
from anima.pipeline.engine import Engine
from anima.pipeline.hearing import Ears
from anima.pipeline.voice import Speech
from anima.settings import Settings
from anima.store import Store


@dataclass
class AppState:
    settings: Settings
    store: Store
    authenticator: Authenticator
    registry: CollectorRegistry
    engine: Engine
    speech: Speech | None = None  # the voice stage (pipeline/voice.py); None: text only
    extras: dict[str, Any] = field(default_factory=dict)
    ears: Ears | None = None  # speech recognition for the streaming faces (None: off)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.anima
    return state


def get_store(request: Request) -> Store:
    return get_state(request).store


def get_settings(request: Request) -> Settings:
    return get_state(request).settings


StateDep = Annotated[AppState, Depends(get_state)]
StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
