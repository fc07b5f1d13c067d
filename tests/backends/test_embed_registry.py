"""Embedders by name or 'module:Class'; bad names fail at start-up naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from anima.backends.embed_registry import create_embedder
from anima.backends.hashing import HashingEmbedder
from anima.backends.minilm import MiniLMEmbedder
from anima.errors import InvalidArgument
from anima.settings import Settings


def test_hashing_by_name(tmp_path: Path) -> None:
    embedder = create_embedder(Settings(data_dir=tmp_path, embed_backend="hashing"))
    assert isinstance(embedder, HashingEmbedder)


def test_minilm_by_name_is_the_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.embed_backend == "minilm"
    embedder = create_embedder(settings)
    assert isinstance(embedder, MiniLMEmbedder)
    assert embedder.dim == 384


def test_a_class_of_your_own_by_import_string(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, embed_backend="anima.backends.hashing:HashingEmbedder")
    assert isinstance(create_embedder(settings), HashingEmbedder)


@pytest.mark.parametrize(
    "name",
    [
        "bert",
        "anima.backends.hashing:Nope",
        "anima.no_such_module:X",
        ":X",
        "anima.backends.embed_registry:EMBED_BACKENDS",
        "anima.errors:InvalidArgument",
    ],
)
def test_bad_names_are_invalid_arguments_naming_the_setting(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        create_embedder(Settings(data_dir=tmp_path, embed_backend=name))
    assert info.value.field == "embed_backend"
