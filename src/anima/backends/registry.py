"""Backends chosen by name: a table of lazy ``"module:Class"`` strings per kind.

Nothing is imported until a backend is chosen, so a missing optional extra only matters for
the backend that needs it, and then it fails at start-up with the command that fixes it,
never with a silent fallback. ``Settings.llm_backend`` may also be an import string of a class
of your own (``mypkg.llm:MyLLM``) with a ``from_settings(settings)`` classmethod.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, cast

from anima.backends.llm import LLM
from anima.errors import BackendError, InvalidArgument
from anima.settings import Settings

LLM_BACKENDS = {
    "embedded": "anima.backends.llama:LlamaLLM",
    "openai": "anima.backends.openai_compat:OpenAILLM",
    "scripted": "anima.backends.scripted:ScriptedLLM",
}

# top-level module of an optional dependency -> how to install it
EXTRAS = {
    "llama_cpp": "pip install 'anima[embedded]' (compiles llama-cpp-python, ~5 minutes)",
    "openai": "pip install openai",
}


def import_from_string(spec: str, *, setting: str) -> Any:
    """``"package.module:Attribute"`` -> the attribute. Errors name the setting to fix."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidArgument(
            f"{setting}={spec!r} is neither a known backend name nor a 'module:Class' string",
            field=setting,
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing in EXTRAS:
            raise BackendError(
                f"{setting}={spec!r} needs the package '{missing}', which is not installed: "
                f"{EXTRAS[missing]}",
                retryable=False,
            ) from exc
        if exc.name and module_name.startswith(exc.name):
            raise InvalidArgument(
                f"{setting}: no module named '{module_name}'", field=setting
            ) from exc
        raise
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise InvalidArgument(
            f"{setting}: module '{module_name}' has no attribute '{attr}'", field=setting
        ) from exc


def build_backend(settings: Settings, setting: str, table: Mapping[str, str]) -> Any:
    """The backend named by ``settings.<setting>``: a name from ``table`` or a
    ``"module:Class"`` string, built with the class's ``from_settings(settings)``."""
    name = str(getattr(settings, setting))
    spec = table.get(name, name)
    if ":" not in spec:
        raise InvalidArgument(
            f"unknown {setting} {name!r}: use one of {', '.join(table)} or a 'module:Class' string",
            field=setting,
        )
    cls = import_from_string(spec, setting=setting)
    factory = getattr(cls, "from_settings", None)
    if not callable(factory):
        raise InvalidArgument(
            f"{setting} {spec!r} has no from_settings(settings) classmethod", field=setting
        )
    return factory(settings)


def create_llm(settings: Settings) -> LLM:
    """The language model named by ``settings.llm_backend``. Blocking (may load a model):
    call it once per process, at start-up (``await asyncio.to_thread(create_llm, settings)``),
    and share the instance between sessions."""
    return cast(LLM, build_backend(settings, "llm_backend", LLM_BACKENDS))
