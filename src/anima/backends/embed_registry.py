"""Picks the embedder named by ``Settings.embed_backend``.

Built-in names map to lazy ``"module:Class"`` strings (see registry.py), so a backend's
vendor libraries are imported only when it is chosen; any other value is taken as a
``"module:Class"`` string of the user's own, a class with a ``from_settings(settings)``
classmethod. A bad name fails loudly at start-up, naming the setting.
"""

from __future__ import annotations

from typing import cast

from anima.backends.embed import Embedder
from anima.backends.registry import build_backend
from anima.errors import InvalidArgument
from anima.settings import Settings

EMBED_BACKENDS = {
    "minilm": "anima.backends.minilm:MiniLMEmbedder",
    "hashing": "anima.backends.hashing:HashingEmbedder",
}


def create_embedder(settings: Settings) -> Embedder:
    """The embedder of ``settings.embed_backend``. Blocking (loads the model): call it once per
    process, at start-up (``await asyncio.to_thread(create_embedder, settings)``), and share it.
    """
    instance = build_backend(settings, "embed_backend", EMBED_BACKENDS)
    spec = settings.embed_backend
    if not isinstance(getattr(instance, "dim", None), int) or not callable(
        getattr(instance, "embed", None)
    ):
        raise InvalidArgument(
            f"embed_backend {spec!r} is not an Embedder (needs `dim` and `async embed`)",
            field="embed_backend",
        )
    return cast(Embedder, instance)
